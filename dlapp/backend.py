"""TensorFlow and Keras, imported once and quietly.

Every engine module that needs them imports them from here, so the log levels
are set before TensorFlow first loads. TensorFlow's C++ side prints a few lines
(oneDNN, CUDA stubs, a `failed call to cuInit` "error" on machines without a
GPU) through absl before any log level applies, so while it loads, stderr is
pointed at /dev/null. DLAPP_DEBUG=1 shows everything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

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


with _quiet_stderr():
    import keras
    import tensorflow as tf

    tf.config.list_physical_devices("GPU")  # CUDA probing logs here, once, while stderr is quiet

if not settings.DEBUG:
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)

from . import layers  # noqa: E402  registers dlapp's serializable pieces before any model is built or loaded

__all__ = ["tf", "keras", "layers"]


def compiled(model, spec):
    """`model` behind one tf.function with a fixed input signature, traced once: calling a Keras
    model eagerly costs milliseconds for a CNN and seconds for an LSTM (benchmarks/infer_bench.py)."""
    import numpy as np

    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec], reduce_retracing=True)
    return lambda x: np.asarray(fn(x), dtype=np.float64)
