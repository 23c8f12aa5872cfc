"""Every shipped model in every export format, in one run: size, load time, p50 latency for one
input, accuracy on the full test split, agreement with Keras.

    DLAPP_DATA_DIR=/path/to/data python benchmarks/export_bench.py [--task image|text] [--models ID ...]
                                                                     [--formats F ...] [--examples N] [--runs 200]

Each export goes through dlapp.export.export_model, so its figures are the check's: the export
re-loaded in a fresh process that imports neither dlapp nor keras (except the keras format),
run on the whole test split (or --examples N of it), against the Keras model's answers. Load
time and p50 latency are measured in another fresh process per archive, with the runtime alone
(`python -I export_bench.py --time ...`): load = model file to first answer ready, latency = one
image, or one review through classify.py's encode for text LiteRT/ONNX, over --runs calls.
Prints a Markdown table (docs/benchmarks.md, "Export").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

MODELS = ("cifar10-seed", "cifar10-fast", "cifar10-best", "imdb-fast", "imdb-best")


# ------------------------------------------------------------ the timing process (runtime alone, python -I)

def _time(fmt: str, folder: Path, inputs: Path, runs: int) -> dict:
    for name in ("dlapp", "keras", "tf_keras"):
        if fmt != "keras":
            sys.modules[name] = None  # as dlapp/export/run_check.py does: the runtime alone
    text = inputs.suffix == ".json"
    if text:
        x = np.array(json.loads(inputs.read_text(encoding="utf-8")), dtype=object)
    else:
        with np.load(inputs) as z:
            x = z["x"]
    start = time.perf_counter()
    if fmt == "keras":
        import keras
        import tensorflow as tf

        import dlapp.layers  # noqa: F401

        model = keras.saving.load_model(folder / "model.keras", compile=False, safe_mode=True)
        spec = tf.TensorSpec((None,), tf.string) if text else tf.TensorSpec((None, *x.shape[1:]), tf.uint8)
        serve = tf.function(lambda b: model(b, training=False), input_signature=[spec])  # as dlapp serves it

        def run(item):
            return serve(tf.constant(np.array([item], dtype=object)) if text else item[None])
    elif fmt == "savedmodel":
        import tensorflow as tf

        serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]

        def run(item):
            return serve(tf.constant(np.array([item], dtype=object) if text else item[None]))
    elif fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        encode = _encoder(folder) if text else None

        def run(item):
            return session.run(None, {name: encode(str(item)) if text else item[None]})
    else:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(folder / "model.tflite"))
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        encode = _encoder(folder) if text else None

        def run(item):
            batch = encode(str(item)) if text else item[None]
            interpreter.set_tensor(inp["index"], batch.astype(inp["dtype"]))
            interpreter.invoke()
            return interpreter.get_tensor(out["index"])
    run(x[0])  # the first answer: part of loading (tracing, allocation)
    load_s = time.perf_counter() - start
    times = []
    for i in range(runs):
        t = time.perf_counter()
        run(x[i % len(x)])
        times.append(time.perf_counter() - t)
    return {"load_s": load_s, "p50_ms": 1000 * float(np.median(times))}


def _encoder(folder: Path):
    sys.path.insert(0, str(folder))
    from classify import encode

    return encode


# ------------------------------------------------------------ the benchmark

def _timed_in_fresh_process(fmt: str, archive: Path, x: np.ndarray, runs: int, repo: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        folder = next(p for p in Path(tmp).iterdir() if p.is_dir())
        inputs = Path(tmp) / ("x.json" if x.dtype.kind in "OU" else "x.npz")
        if x.dtype.kind in "OU":
            inputs.write_text(json.dumps([str(t) for t in x]), encoding="utf-8")
        else:
            np.savez(inputs, x=x)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        flags = ["-I"]
        if fmt == "keras":
            flags, env["PYTHONPATH"] = [], str(repo)
        out = subprocess.run([sys.executable, *flags, __file__, "--time", fmt, str(folder), str(inputs),
                              str(runs)], capture_output=True, text=True, env=env, cwd=tmp, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--time":
        fmt, folder, inputs, runs = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(_time(fmt, folder, inputs, runs)))
        return 0
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from dlapp.errors import DlappError
    from dlapp.export import export_model, formats_for
    from dlapp.export.verify import held_out
    from dlapp.settings import load
    from dlapp.store import get_store

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--task", choices=("image", "text"), help="only the models of this task (the text rows: "
                   "--task text, all 25,000 IMDB test reviews per format)")
    p.add_argument("--formats", nargs="+", default=["keras", "savedmodel", "litert", "litert-int8", "onnx"])
    p.add_argument("--examples", type=int, help="check on N test examples (default: the whole test split)")
    p.add_argument("--runs", type=int, default=200, help="single-input calls for the p50 latency")
    args = p.parse_args()
    settings = load()
    if settings.data_dir is None:
        print("Set DLAPP_DATA_DIR: accuracy is measured on the full test split.", file=sys.stderr)
        return 2
    store = get_store()
    models = [m for m in args.models if args.task is None or store.card(m).task == args.task]
    print(f"python benchmarks/export_bench.py  ({os.cpu_count()} CPUs; test split: "
          f"{'all' if args.examples is None else args.examples} examples)\n")
    print("| model | format | model size | load | p50, one input | accuracy (Keras) | top-1 agreement "
          "| largest prob. diff | what differs |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as out_dir:
        for model_id in models:
            card = store.card(model_id)
            total = held_out(card, settings.data_dir, limit=None).total
            sample = held_out(card, settings.data_dir, limit=min(args.runs, 1000)).x
            for fmt in [f for f in args.formats if f in formats_for(card.task)]:
                t0 = time.perf_counter()
                try:
                    r = export_model(model_id, fmt, Path(out_dir), examples=args.examples or total)
                except DlappError as exc:
                    print(f"| {model_id} | {fmt} | not offered: {exc} |||||||")
                    continue
                timing = _timed_in_fresh_process(fmt, r.path, sample, args.runs, repo)
                changes = "; ".join(c.split(":")[0].split(" (")[0][:60] for c in r.changes) or "nothing"
                print(f"| {model_id} | {fmt} | {r.model_bytes / 1e6:.2f} MB | {timing['load_s']:.2f} s "
                      f"| {timing['p50_ms']:.2f} ms | {r.export_accuracy:.2%} ({r.keras_accuracy:.2%}) "
                      f"| {r.agreement:.2%} | {r.max_prob_diff:.1e} | {changes} |", flush=True)
                print(f"  {model_id} {fmt}: {r.examples:,} examples, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
