"""Model builders. Every model takes raw input: uint8 images or raw strings.

Image models start with Rescaling; text models start with TextVectorization
(adapted on the training texts), so a saved .keras file stands alone.
"""

from __future__ import annotations

import keras
import numpy as np

from .layers import MirrorImage, standardize_review
from .presets import ImagePreset, TextPreset


# ---------------------------------------------------------------- image

def _seed_two_conv(x, n, dense_units):
    """The tutorials' CNN: two conv/pool stages, one dense layer (64 units for CIFAR-10, 128 for MNIST)."""
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


def _seed_mnist_deep(x, n):
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


def _seed_binary(x, n):
    for width in (32, 64, 128):
        x = keras.layers.Conv2D(width, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    if n == 2:  # the tutorial's single sigmoid unit
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


def _conv_bn(x, width, activation):
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    return keras.layers.Activation(activation)(x)


def _convnet(x, n, preset: ImagePreset):
    """airbench-style: per stage conv -> pool -> BN-GELU -> conv, then global max pool."""
    x = _conv_bn(x, preset.widths[0] // 2, preset.activation)  # cheap stem at full resolution
    for width in preset.widths:
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.Activation(preset.activation)(x)
        x = _conv_bn(x, width, preset.activation)
    x = keras.layers.GlobalMaxPooling2D()(x)
    if preset.dropout:
        x = keras.layers.Dropout(preset.dropout)(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


IMAGE_ARCHITECTURES = {
    "seed_cifar10": lambda x, n: _seed_two_conv(x, n, 64),
    "seed_mnist": lambda x, n: _seed_two_conv(x, n, 128),
    "seed_mnist_deep": _seed_mnist_deep,
    "seed_binary": _seed_binary,
}


def build_image_model(preset: ImagePreset, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """A classifier from uint8 (N, H, W, C) to class probabilities."""
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    if preset.architecture == "convnet":
        outputs = _convnet(x, num_classes, preset)
    else:
        outputs = IMAGE_ARCHITECTURES[preset.architecture](x, num_classes)
    return keras.Model(inputs, outputs, name=f"image_{preset.name}")


def with_flip_tta(model: keras.Model) -> keras.Model:
    """Wrap a trained classifier so it averages its output over the image and its mirror."""
    inner = keras.Model(model.inputs[0], model.outputs[0], name=model.name)  # uncompiled: no optimizer state saved
    inputs = keras.Input(shape=model.input_shape[1:], dtype="uint8", name="image")
    outputs = keras.layers.Average(dtype="float32")([inner(inputs), inner(MirrorImage()(inputs))])
    return keras.Model(inputs, outputs, name=model.name + "_tta")


# ---------------------------------------------------------------- text

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simplernn": keras.layers.SimpleRNN}


def make_vectorizer(preset: TextPreset, texts: np.ndarray) -> keras.layers.TextVectorization:
    """TextVectorization adapted on the training texts (the vocabulary is saved in the model)."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=preset.vocab_size,
        output_sequence_length=preset.sequence_length,
        standardize=standardize_review,
        ngrams=preset.ngrams,
        name="vectorize",
    )
    vectorizer.adapt(np.asarray(texts, dtype=str), batch_size=1024)
    return vectorizer


def build_text_model(preset: TextPreset, vectorizer: keras.layers.TextVectorization) -> keras.Model:
    """A classifier from raw strings (N,) to P(positive), shape (N, 1)."""
    cell = _CELLS[preset.cell]
    inputs = keras.Input(shape=(), dtype="string", name="text")
    x = vectorizer(inputs)
    x = keras.layers.Embedding(vectorizer.vocabulary_size(), preset.embedding_dim, name="embed")(x)
    if preset.architecture == "stacked":  # the seed tutorials: recurrent layers, last state -> sigmoid
        for i, units in enumerate(preset.units):
            x = cell(units, return_sequences=i < len(preset.units) - 1)(x)
    else:
        if preset.dropout:
            x = keras.layers.SpatialDropout1D(preset.dropout / 2)(x)
        for units in preset.units:
            layer = cell(units, return_sequences=True)
            x = keras.layers.Bidirectional(layer)(x) if preset.bidirectional else layer(x)
        # Pooling over every step lets a long review's key sentence count wherever it sits.
        x = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)])
        if preset.dropout:
            x = keras.layers.Dropout(preset.dropout)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(x)
    return keras.Model(inputs, outputs, name=f"text_{preset.name}")
