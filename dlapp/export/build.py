"""The TensorFlow side of an export: what each format holds, and the converters that write it.

What is exported differs from the served model only where a runtime cannot run it, and each
change is named (its accuracy effect is what verify.py and benchmarks/export_bench.py measure):
- ViewsWhenUnsure (cifar10-best) decides per batch with a `tf.cond` whether to run the mirror
  view; onnxruntime cannot load that graph, so portable formats run every view for every image
  and choose per image with `where`: the served model's answers, at every view's cost.
- Exact GELU in TensorFlow is 0.5·x·erfc(-x/√2); ONNX has Erf but no Erfc, so the ONNX file
  computes the same function as 0.5·x·(1 + erf(x/√2)).
- A text model's string front end (regex standardisation, vocabulary lookup) exists only in
  TensorFlow; LiteRT and ONNX get the token-ids network, at batch size 1, with the vocabulary
  and the rules to apply (archive.py), and the temperature's log1p written as log(1 - p).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import keras, tf
from ..errors import MissingDependencyError
from ..layers import MeanOverViews, StackViews, Temperature, ViewsWhenUnsure, trained_network

ONNX_OPSET = 17  # onnxruntime 1.32 runs 7-23; 17 is what tf2onnx 1.17 tests most


def _erf_gelu(x):
    return 0.5 * x * (1.0 + keras.ops.erf(x * (1.0 / math.sqrt(2.0))))


# ---------------------------------------------------------------------------------------------------- image models

def portable_image_model(model, *, erf_gelu: bool) -> tuple[Any, list[str]]:
    """(a model every runtime can run, the changes made to get it) from a served image model."""
    changes: list[str] = []
    gated = next((layer for layer in model.layers if isinstance(layer, ViewsWhenUnsure)), None)
    served = trained_network(model)
    net = served or model
    if erf_gelu and any(getattr(layer, "activation", None) is keras.activations.gelu for layer in net.layers):
        clone = keras.models.clone_model(net, clone_function=lambda layer: (
            keras.layers.Activation(_erf_gelu, name=layer.name)
            if isinstance(layer, keras.layers.Activation) and layer.activation is keras.activations.gelu
            else layer.__class__.from_config(layer.get_config())))
        clone.set_weights(net.get_weights())
        net = clone
        changes.append("GELU written as 0.5·x·(1 + erf(x/√2)) (ONNX has no Erfc; the same function)")
    if served is None:
        return net, changes  # a flat network: cloned whole, or as it is
    if gated is None and not changes:
        return model, changes
    temperature = model.get_layer("temperature").temperature if "temperature" in [x.name for x in model.layers] else 1
    inputs = keras.Input(shape=model.input_shape[1:], dtype="uint8", name="image")
    if gated is not None:  # the same gate, without tf.cond: every view for every image, then a per-row choice
        every = net(StackViews(gated.stack.flip, gated.stack.shifts)(inputs))
        first = keras.ops.reshape(every, (len(gated.views), -1, every.shape[-1]))[0]
        top = keras.ops.max(first, axis=-1) if first.shape[-1] > 1 else keras.ops.maximum(first[:, 0], 1 - first[:, 0])
        unsure = keras.ops.expand_dims(top < gated.gate, -1)
        probs = keras.ops.where(unsure, MeanOverViews(gated.view_weights)(every), keras.ops.cast(first, "float32"))
        changes.append(f"the test-time gate without tf.cond (which onnxruntime cannot load): every image runs all "
                       f"{len(gated.views)} views, and the views' mean replaces the image's own answer only below "
                       f"{gated.gate:.0%} confidence, as in the served model (same answers, {len(gated.views)} "
                       "views' compute)")
    else:
        stack = next((layer for layer in model.layers if isinstance(layer, StackViews)), None)
        mean = next((layer for layer in model.layers if isinstance(layer, MeanOverViews)), None)
        x = stack(inputs) if stack is not None else inputs
        probs = mean(net(x)) if mean is not None else net(x)
    return keras.Model(inputs, Temperature(temperature)(probs), name=model.name), changes


def _frozen(fn):
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(fn.get_concrete_function())


def write_litert(fn, path: Path, *, calibration: np.ndarray | None = None) -> None:
    """A .tflite file of `fn` (a tf.function with a fixed input signature), built-in ops only, so
    ai-edge-litert's interpreter (and every phone runtime) runs it. With `calibration` (float32
    pixels 0..255): full-integer int8, uint8 in and out; input scale 1, zero point 0 (raw pixels)."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_frozen(fn)])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: no Python runtime has it
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None]] for x in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.uint8
    path.write_bytes(converter.convert())


def write_onnx(fn, path: Path) -> None:
    try:
        import tf2onnx
    except ImportError:
        from . import missing_message

        raise MissingDependencyError(missing_message("onnx", ["tf2onnx"])) from None
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    patch_tf2onnx()  # tf2onnx 1.17 still calls NumPy 1 names; Keras's own ONNX export patches them the same way
    spec = fn.input_signature
    # tf2onnx turns every tensor the function captures into a graph input: a Keras Normalization built with a
    # given mean and variance (the transfer preset's head) holds them as constant tensors, not variables, so the
    # file would ask its user for them. Such a function is converted through its frozen copy, which captures
    # nothing; the others as they are (a frozen recurrent text network comes out as a graph onnxruntime refuses).
    if any(t.dtype != tf.resource for t in fn.get_concrete_function().captured_inputs):
        frozen = _frozen(fn)
        fn = tf.function(lambda x: frozen(x), input_signature=spec)
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=ONNX_OPSET, output_path=str(path))


def write_savedmodel(model, folder: Path, spec) -> None:
    """A SavedModel whose "serving_default" signature takes what the Keras model takes."""
    model.export(str(folder), format="tf_saved_model", input_signature=[spec], verbose=False)


def image_function(model, *, batch: int | None, dtype=tf.uint8):
    shape = model.input_shape[1:]
    return tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec((batch, *shape), dtype)])


# ---------------------------------------------------------------------------------------------------- text models

def text_ids_function(model):
    """The token-ids network of a text model at batch size 1: int64 ids (1, length) -> P(positive) (1, 1)."""
    vectorize = model.get_layer("vectorize")
    length = int(vectorize.get_config()["output_sequence_length"])
    layers = {layer.name: layer for layer in model.layers}
    temperature = layers["temperature"].temperature if "temperature" in layers else 1.0
    body = keras.Model(vectorize.output, layers["temperature"].input if "temperature" in layers else model.output)

    @tf.function(input_signature=[tf.TensorSpec((1, length), tf.int64, name="token_ids")])
    def serve(ids):
        p = tf.clip_by_value(tf.cast(body(ids, training=False), tf.float32), 1e-7, 1.0 - 1e-7)
        return tf.sigmoid((tf.math.log(p) - tf.math.log(1.0 - p)) / temperature)  # Temperature, without log1p

    return serve


def text_rules(model) -> tuple[list[str], dict]:
    """(vocabulary, standardisation rules) of a text model, as Python's `re` must apply them to
    give the model's token ids exactly.

    TensorFlow's regexes are RE2's: `\\w` is [0-9A-Za-z_] and `\\s` is [\\t\\n\\f\\r ] (no \\v), and
    tf.strings.lower lowercases ASCII only, so the rules spell their classes out."""
    from ..layers import standardize_review

    vectorize = model.get_layer("vectorize")
    config = vectorize.get_config()
    if config["standardize"] is not standardize_review and config["standardize"] != standardize_review:
        raise ValueError("only dlapp's standardize_review is written out as rules")
    if config["split"] != "whitespace" or config.get("ngrams"):
        raise ValueError("only whitespace-split single words are written out as rules")
    space = r"[\t\n\f\r ]"
    rules = {
        "lowercase": "ASCII letters only (A-Z -> a-z), first",
        "replace": [[rf"<br{space}*/?>", " "], [r"<[^>]{0,40}>", " "], [r"[^0-9A-Za-z_\t\n\f\r ']", " "]],
        "split": "on runs of whitespace (str.split())",
        "unknown_id": 1, "padding_id": 0,
        "length": int(config["output_sequence_length"]),
        "pad": "cut after `length` words; pad with 0 at the end",
    }
    for pattern, _ in rules["replace"]:
        re.compile(pattern)
    return [str(w) for w in vectorize.get_vocabulary()], rules


def write_text_rules(model, folder: Path) -> None:
    vocabulary, rules = text_rules(model)
    (folder / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
    (folder / "standardize.json").write_text(json.dumps(rules, indent=2) + "\n")
