"""Run an unpacked export on held-out inputs with its own runtime alone, in a fresh process.

    python -I run_check.py FORMAT FOLDER INPUTS.npz|INPUTS.json OUTPUTS.npz

dlapp/export/verify.py starts this file as a script (`python -I`: dlapp is not on the path). For
every format but `keras` it also marks dlapp and keras as not installed before any import, so
TensorFlow (which imports keras when it can) loads a SavedModel without them; it reports what it
imported. What runs is only the runtime a user of the archive would have: onnxruntime,
ai-edge-litert's interpreter, or TensorFlow's SavedModel loader. Text archives
turn reviews into token ids with the `encode` of their own example script (classify.py), so
the check also proves the standardisation rules shipped with the vocabulary.

INPUTS.npz holds `x`: uint8 images (N, H, W, C); reviews come as INPUTS.json, a list of str
(a fixed-width NumPy array of 25,000 reviews would take 1.4 GB). OUTPUTS.npz gets
`probs` (N, K): class probabilities as float32 (a one-unit sigmoid model gives (N, 1)).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

BLOCKED = ("dlapp", "keras", "tf_keras")


def _encoder(folder: Path):
    sys.path.insert(0, str(folder))
    from classify import encode  # the archive's own example script

    return encode


def _litert(folder: Path, x: np.ndarray, text: bool) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(folder / "model.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    encode = _encoder(folder) if text else None
    probs = []
    for item in x:  # LiteRT exports take one input at a time, as a phone does
        batch = encode(str(item)) if text else item[None]
        scale, zero = inp["quantization"]
        if inp["dtype"] != batch.dtype:  # float input: quantization (1.0, 0) or none means raw values
            batch = (batch / scale + zero if scale else batch).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])[0].astype(np.float32)
        scale, zero = out["quantization"]
        probs.append((y - zero) * scale if scale else y)
    return np.stack(probs)


def _onnx(folder: Path, x: np.ndarray, text: bool) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    if text:
        encode = _encoder(folder)
        return np.concatenate([session.run(None, {name: encode(str(t))})[0] for t in x]).astype(np.float32)
    return np.concatenate([session.run(None, {name: x[i:i + 64]})[0] for i in range(0, len(x), 64)])


def _savedmodel(folder: Path, x: np.ndarray, text: bool) -> np.ndarray:
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
    out = []
    for i in range(0, len(x), 64):
        batch = tf.constant(x[i:i + 64].astype(object) if text else x[i:i + 64])
        out.append(next(iter(serve(batch).values())).numpy())
    return np.concatenate(out).astype(np.float32)


def _keras(folder: Path, x: np.ndarray, text: bool) -> np.ndarray:
    import keras
    import tensorflow as tf

    import dlapp.layers  # noqa: F401  the .keras format needs dlapp's layers, and nothing else of dlapp

    model = keras.saving.load_model(folder / "model.keras", compile=False, safe_mode=True)
    serve = tf.function(lambda b: model(b, training=False))  # a graph, as dlapp serves it: eager strings are slow
    batches = [tf.constant(x[i:i + 64].astype(object)) if text else x[i:i + 64] for i in range(0, len(x), 64)]
    return np.concatenate([np.asarray(serve(b), np.float32) for b in batches])


def main(argv: list[str]) -> int:
    fmt, folder, inputs, outputs = argv[1], Path(argv[2]), argv[3], argv[4]
    if fmt != "keras":
        for name in BLOCKED:
            sys.modules[name] = None  # import fails, importlib.util.find_spec says "not installed"
    text = inputs.endswith(".json")
    if text:
        x = np.array(json.loads(Path(inputs).read_text(encoding="utf-8")), dtype=object)
    else:
        with np.load(inputs, allow_pickle=False) as z:
            x = z["x"]
    run = {"litert": _litert, "litert-int8": _litert, "onnx": _onnx, "savedmodel": _savedmodel, "keras": _keras}[fmt]
    start = time.perf_counter()
    probs = run(folder, x, text)
    seconds = time.perf_counter() - start
    np.savez(outputs, probs=probs)
    print(json.dumps({"seconds": seconds, "imported": sorted(m for m in BLOCKED if sys.modules.get(m) is not None)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
