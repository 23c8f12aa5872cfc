"""TensorFlow and Keras, imported once and quietly.

Every engine module that needs them imports them from here, so the log levels
are set before TensorFlow first loads. TensorFlow's C++ side prints a few lines
(oneDNN, CUDA stubs, a `failed call to cuInit` "error" on machines without a
GPU) through absl before any log level applies, so while it loads, stderr is
pointed at /dev/null. DLAPP_DEBUG=1 shows everything.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys

import numpy as np

from . import settings


@contextlib.contextmanager
def _quiet_stderr():
    if settings.DEBUG:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# TensorFlow and Keras are over 600,000 objects that live as long as the process: the cyclic GC rescanned them all
# in each of the 6 full collections while they loaded (about 1.2 s of the import's 3 s of CPU), and in every full
# collection after. Loaded with the GC off and frozen, no collection scans them.
_collecting = gc.isenabled()
gc.disable()
try:
    with _quiet_stderr():
        import keras
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # CUDA probing logs here, once, while stderr is quiet
    gc.freeze()
finally:
    if _collecting:  # app.py loads with it off and turns it on itself, once the app is built
        gc.enable()

if not settings.DEBUG:
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)

from . import layers  # noqa: E402  registers dlapp's serializable pieces before any model is built or loaded

__all__ = ["tf", "keras", "layers"]


def compiled(model, spec):
    """`model` behind one tf.function with a fixed input signature, traced once: calling a Keras
    model eagerly costs milliseconds for a CNN and seconds for an LSTM (benchmarks/infer_bench.py)."""
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec], reduce_retracing=True)
    return lambda x: np.asarray(fn(x), dtype=np.float64)


XLA_BATCHES = (1, 2, 4, 8, 16, 32)  # batch sizes XLA compiles (about 0.6 s each, once); others pad up to one


class CompiledXlaAfter:
    """`model` in two steps: its layer `first` (one XLA cannot compile, such as TextVectorization
    on strings) as a plain graph, then the rest through XLA. XLA fuses a recurrent net's small
    per-step ops: a review costs about a tenth of the CPU (benchmarks/infer_bench.py). Above
    XLA_BATCHES[-1] rows the plain graph is as fast in wall time, so big batches take it.

    Raises ValueError if the model has no layer `first`.
    """

    def __init__(self, model, spec, first: str):
        layer = model.get_layer(first)
        rest = keras.Model(layer.output, model.output)
        self._prepare = tf.function(lambda x: layer(x), input_signature=[spec])
        self._fused = tf.function(lambda x: rest(x, training=False), jit_compile=True)
        self._plain = compiled(model, spec)

    def __call__(self, x):
        n = len(x)
        if n > XLA_BATCHES[-1]:
            return self._plain(x)
        inputs = self._prepare(x)
        rows = next(b for b in XLA_BATCHES if b >= n) - n  # padded rows keep XLA to a few shapes
        inputs = tf.pad(inputs, [[0, rows]] + [[0, 0]] * (len(inputs.shape) - 1))
        return np.asarray(self._fused(inputs)[:n], dtype=np.float64)

    def warm_up(self, example) -> None:
        """Compile every batch size now: compiling one while requests wait took seconds under load."""
        for n in (*XLA_BATCHES, XLA_BATCHES[-1] + 1):
            self(np.repeat(example, n, axis=0))
