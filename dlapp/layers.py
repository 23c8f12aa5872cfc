"""Custom pieces that live inside saved models, registered so that
`keras.saving.load_model(path, safe_mode=True)` works after `import dlapp`."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dlapp")
def standardize_review(text):
    """Lowercase, turn IMDB's <br /> tags into spaces, strip punctuation (kept: apostrophes)."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    text = tf.strings.regex_replace(text, r"<[^>]{0,40}>", " ")
    text = tf.strings.regex_replace(text, r"[^\w\s']", " ")
    return text


@keras.saving.register_keras_serializable(package="dlapp")
class MirrorImage(keras.layers.Layer):
    """Flip a (N, H, W, C) batch left-right; used for test-time augmentation."""

    def call(self, x):
        return keras.ops.flip(x, axis=2)
