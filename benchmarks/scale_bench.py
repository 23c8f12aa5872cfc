"""The same preset trained by 1 worker and by N workers (MultiWorkerMirroredStrategy) on this machine.

    DLAPP_DATA_DIR=../shared/data python benchmarks/scale_bench.py --dataset cifar10 --preset fast \
        --subset 1000 --epochs 4 --batch-size 64

Each run is `python -m dlapp train … --force --quiet` into a scratch model cache; the N-worker run starts
N such processes on 127.0.0.1 (free ports) with `--workers … --rank i`, and reads the chief's card. The
table gives training examples per second (examples × epochs / the card's training time, which includes
building the model), test accuracy on the full test split, and the wall time of the slowest command.
On one machine the workers share its cores, so more workers are not faster here: the point is equal
accuracy at the same global batch, and the overhead of the collectives, measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dlapp.testing import free_port  # noqa: E402  (light: neither TensorFlow nor Gradio)


def run(workers: int, train_args: list[str], scratch: Path) -> dict:
    """Train with `workers` processes; the chief's card and the wall time of the slowest one."""
    addresses = ",".join(f"127.0.0.1:{free_port()}" for _ in range(workers))
    procs = []
    t0 = time.perf_counter()
    for rank in range(workers):
        models = scratch / f"{workers}w-rank{rank}"
        env = {**os.environ, "DLAPP_MODEL_DIR": str(models), "GRADIO_ANALYTICS_ENABLED": "False"}
        env.pop("TF_CONFIG", None)
        cluster = ["--workers", addresses, "--rank", str(rank)] if workers > 1 else []
        procs.append(subprocess.Popen([sys.executable, "-m", "dlapp", "train", *train_args, "--force", "--quiet",
                                       *cluster], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t0
    for p, (out, err) in zip(procs, outputs, strict=True):
        if p.returncode:
            raise SystemExit(f"{workers} worker(s) failed:\n{out}\n{err[-3000:]}")
    [card_path] = [p for p in (scratch / f"{workers}w-rank0").glob("*.json") if p.name != "defaults.json"]
    card = json.loads(card_path.read_text())
    examples = card["dataset"]["train_examples"] * len(card["history"])
    return {"workers": workers, "examples_per_s": examples / card["provenance"]["training_time_s"],
            "test_accuracy": card["metrics"]["test_accuracy"], "train_s": card["provenance"]["training_time_s"],
            "wall_s": wall, "device": card["provenance"]["device"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--preset", default="fast")
    p.add_argument("--subset", type=int, help="examples per class (quick runs)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="the global batch (every cluster size trains with it)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes to compare (default 1 2)")
    args = p.parse_args()
    train_args = ["--dataset", args.dataset, "--preset", args.preset]
    train_args += ["--subset", str(args.subset)] if args.subset else []
    train_args += ["--epochs", str(args.epochs)] if args.epochs else []
    train_args += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    with tempfile.TemporaryDirectory(prefix="dlapp-scale-") as tmp:
        rows = [run(n, train_args, Path(tmp)) for n in args.workers]
    print(f"python -m dlapp train {' '.join(train_args)}  ({os.cpu_count()} CPU cores on this machine)\n")
    print("| workers | examples/s | test accuracy | training (card) | wall |\n|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['examples_per_s']:,.0f} | {r['test_accuracy']:.2%} | {r['train_s']:.0f} s "
              f"| {r['wall_s']:.0f} s |")
    print("\n" + "\n".join(f"{r['workers']} worker(s): {r['device']}" for r in rows))


if __name__ == "__main__":
    main()
