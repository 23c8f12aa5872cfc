"""What goes into an export archive besides the model: the example script (classify.py, run by
the tests), labels.json and the README with the verification figures."""

from __future__ import annotations

import json
from pathlib import Path

_IMAGE_HEAD = '''"""Classify an image with {runtime} alone: python classify.py picture.png   (pip install {pip})"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
labels = json.loads((HERE / "labels.json").read_text())
h, w, c = {shape}
pixels = np.asarray(Image.open(sys.argv[1]).convert("RGB" if c == 3 else "L").resize((w, h)), np.uint8)
batch = pixels.reshape(1, h, w, c)
'''
_IMAGE_RUN = {
    "keras": '''import keras
import dlapp.layers  # noqa: F401  registers dlapp's layers (pip install dlapp)

probs = keras.saving.load_model(HERE / "model.keras", safe_mode=True).predict(batch, verbose=0)[0]
''',
    "savedmodel": '''import tensorflow as tf

serve = tf.saved_model.load(str(HERE / "saved_model")).signatures["serving_default"]
probs = next(iter(serve(tf.constant(batch)).values())).numpy()[0]
''',
    "litert": '''from ai_edge_litert.interpreter import Interpreter

interpreter = Interpreter(model_path=str(HERE / "model.tflite"))
interpreter.allocate_tensors()
inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
interpreter.set_tensor(inp["index"], batch)
interpreter.invoke()
scale, zero = out["quantization"]  # int8 exports answer in uint8: probability = (q - zero) * scale
probs = (interpreter.get_tensor(out["index"])[0].astype(np.float32) - zero) * (scale or 1.0)
''',
    "onnx": '''import onnxruntime as ort

session = ort.InferenceSession(str(HERE / "model.onnx"))
probs = session.run(None, {session.get_inputs()[0].name: batch})[0][0]
''',
}
_IMAGE_TAIL = '''probs = np.array([1 - probs[0], probs[0]]) if len(probs) == 1 else probs  # one sigmoid unit
best = int(np.argmax(probs))
print(f"{labels[best]} {probs[best]:.1%}")
'''

_TEXT_HEAD = '''"""Judge a review with {runtime} alone: python classify.py "A wonderful film."   (pip install {pip})"""
import json
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
labels = json.loads((HERE / "labels.json").read_text())
'''
_TEXT_ENCODE = '''rules = json.loads((HERE / "standardize.json").read_text())
vocabulary = {word: i for i, word in enumerate(json.loads((HERE / "vocabulary.json").read_text()))}


def encode(review: str) -> np.ndarray:
    """The model's token ids (1, length), exactly as its TensorFlow front end makes them."""
    text = re.sub("[A-Z]", lambda m: m[0].lower(), review)
    for pattern, replacement in rules["replace"]:
        text = re.sub(pattern, replacement, text)
    ids = [vocabulary.get(word, rules["unknown_id"]) for word in text.split()][:rules["length"]]
    return np.array([ids + [rules["padding_id"]] * (rules["length"] - len(ids))], np.int64)


'''
_TEXT_RUN = {
    "keras": '''if __name__ == "__main__":
    import keras
    import dlapp.layers  # noqa: F401  registers dlapp's layers (pip install dlapp)

    model = keras.saving.load_model(HERE / "model.keras", safe_mode=True)
    p = float(model.predict(np.array([sys.argv[1]], dtype=object), verbose=0)[0, 0])
''',
    "savedmodel": '''if __name__ == "__main__":
    import tensorflow as tf

    serve = tf.saved_model.load(str(HERE / "saved_model")).signatures["serving_default"]
    p = float(next(iter(serve(tf.constant([sys.argv[1]])).values())).numpy()[0, 0])
''',
    "litert": '''if __name__ == "__main__":
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(HERE / "model.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], encode(sys.argv[1]))
    interpreter.invoke()
    p = float(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, 0])
''',
    "onnx": '''if __name__ == "__main__":
    import onnxruntime as ort

    session = ort.InferenceSession(str(HERE / "model.onnx"))
    p = float(session.run(None, {session.get_inputs()[0].name: encode(sys.argv[1])})[0][0, 0])
''',
}
_TEXT_TAIL = '''    print(f"{labels[1]} {p:.1%}" if p >= 0.5 else f"{labels[0]} {1 - p:.1%}")
'''

RUNTIMES = {  # format -> (runtime in words, what to pip install, model file in the archive)
    "keras": ("Keras 3 and dlapp's layers", "dlapp pillow", "model.keras"),
    "savedmodel": ("TensorFlow", "tensorflow pillow", "saved_model/"),
    "litert": ("LiteRT", "ai-edge-litert pillow", "model.tflite"),
    "litert-int8": ("LiteRT", "ai-edge-litert pillow", "model.tflite"),
    "onnx": ("ONNX Runtime", "onnxruntime pillow", "model.onnx"),
}


def example_script(task: str, fmt: str, shape: tuple[int, ...]) -> str:
    """classify.py for an archive: about 15 lines that need only the format's runtime."""
    runtime, pip, _ = RUNTIMES[fmt]
    run = fmt.replace("-int8", "")
    if task == "image":
        return _IMAGE_HEAD.format(runtime=runtime, pip=pip, shape=tuple(shape)) + _IMAGE_RUN[run] + _IMAGE_TAIL
    pip = pip.replace(" pillow", "")
    encode = _TEXT_ENCODE if run in ("litert", "onnx") else ""
    return _TEXT_HEAD.format(runtime=runtime, pip=pip) + encode + _TEXT_RUN[run] + _TEXT_TAIL


def write_labels(folder: Path, class_names: list[str]) -> None:
    (folder / "labels.json").write_text(json.dumps(class_names, ensure_ascii=False) + "\n")


def readme(*, model_id: str, fmt: str, task: str, inputs: str, changes: list[str], figures: list[tuple[str, str]],
           text_rules: bool) -> str:
    runtime, pip, model_file = RUNTIMES[fmt]
    pip = pip if task == "image" else pip.replace(" pillow", "")
    lines = [f"# {model_id} as {fmt}", "",
             f"Exported by dlapp. Runs with {runtime} alone: `pip install {pip}`, then",
             "", "    python classify.py " + ("picture.png" if task == "image" else '"A wonderful film."'), "",
             f"- `{model_file}`: the model. Input: {inputs}.",
             "- `labels.json`: the class names, in output order.",
             "- `classify.py`: the example above (about 15 lines)."]
    if text_rules:
        lines += ["- `vocabulary.json`: the words; a word's token id is its index (0 pads, 1 is any unknown word).",
                  "- `standardize.json`: the exact rules that turn a review into token ids (`encode` in "
                  "classify.py applies them); TensorFlow's regexes are RE2's, so `\\w` and `\\s` are spelled "
                  "out as ASCII classes."]
    lines += ["", "## What differs from the Keras model", ""]
    lines += [f"- {c}" for c in changes] or ["- Nothing: the same graph."]
    lines += ["", "## Verification", "",
              "Before this archive was offered, it was re-loaded in a fresh process that imported neither "
              "dlapp nor Keras (except the `keras` format itself), run on held-out examples, and compared "
              "with the Keras model.", "", "| check | result |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in figures]
    return "\n".join(lines) + "\n"
