"""Image networks. Every model takes raw uint8 images (N, H, W, C) and starts with Rescaling,
so a saved .keras file stands alone."""

from __future__ import annotations

import numpy as np

from ..backend import keras
from ..layers import ChannelBias, MeanOverViews, StackViews, Temperature, ViewsWhenUnsure, trained_network
from ..tasks.image import ImagePreset


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


def whitening_kernel(images: np.ndarray, eps: float = 5e-4) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of a 2×2 conv that whitens image patches (airbench's stem).

    Each eigenvector of the patch covariance, scaled by 1/sqrt(eigenvalue), becomes one
    filter, and so does its negative, so a following GELU keeps both signs.
    """
    x = images.astype(np.float32) / 255.0
    patches = np.concatenate([x[:, i:i + x.shape[1] - 1, j:j + x.shape[2] - 1, :]
                              for i in (0, 1) for j in (0, 1)], axis=-1)  # (N, H-1, W-1, 4C), order (i, j, c)
    flat = patches.reshape(-1, patches.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(flat, rowvar=False))
    scaled = eigenvectors / np.sqrt(eigenvalues + eps * eigenvalues.mean())  # columns are filters
    filters = np.concatenate([scaled, -scaled], axis=1)
    kernel = filters.reshape(2, 2, x.shape[-1], -1)
    return kernel.astype(np.float32), (-mean @ filters).astype(np.float32)


def _convnet(x, n, preset: ImagePreset, sample: np.ndarray | None):
    """airbench-style: per stage conv -> pool -> BN-GELU -> conv, then global max pool."""
    if preset.whiten:
        if sample is None:
            raise ValueError("A whitening stem needs training images to fit.")
        kernel, bias = whitening_kernel(sample)
        stem = keras.layers.Conv2D(kernel.shape[-1], 2, padding="valid",
                                   trainable=False, name="whiten")
        x = keras.layers.Activation(preset.activation)(stem(x))
        stem.set_weights([kernel, bias])
    else:
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


def airbench_whitening(images: np.ndarray, eps: float = 5e-4) -> tuple[np.ndarray, np.ndarray]:
    """airbench94's whitening conv (airbench94.py lines 242-257), folded onto [0, 1] pixels.

    airbench normalises each channel by CIFAR-10's mean and standard deviation (lines 69-70, 111),
    takes the uncentred covariance of 2×2 patches of 5,000 images, and makes each eigenvector,
    scaled by 1/sqrt(eigenvalue + 5e-4), a filter, beside its negative. Here the mean and deviation
    come from the training images themselves (any data set, not only CIFAR-10), and the
    normalisation is folded into the kernel and bias, so the model reads raw pixels / 255.
    """
    x = images.astype(np.float64) / 255.0
    mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2)) + 1e-8
    z = (x - mean) / std
    h, w = z.shape[1] - 1, z.shape[2] - 1
    patches = np.concatenate([z[:, i:i + h, j:j + w, :] for i in (0, 1) for j in (0, 1)], axis=-1)
    flat = patches.reshape(-1, patches.shape[-1])
    eigenvalues, eigenvectors = np.linalg.eigh(flat.T @ flat / len(flat))
    order = np.argsort(-eigenvalues)  # largest first, as airbench flips eigh's order
    scaled = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + eps)
    filters = np.concatenate([scaled, -scaled], axis=1)  # rows in (i, j, c) order
    per_row_std, per_row_mean = np.tile(std, 4), np.tile(mean, 4)
    kernel = (filters / per_row_std[:, None]).reshape(2, 2, x.shape[-1], -1)
    bias = -(per_row_mean / per_row_std) @ filters
    return kernel.astype(np.float32), bias.astype(np.float32)


def _torch_like_init(layer, rng: np.random.Generator, *, dirac: bool) -> None:
    """PyTorch's default init, U(±1/sqrt(fan_in)), which airbench keeps, and for convs its identity
    ("dirac") on the first in-channels filters (lines 183-188), so each stage starts near a pass-through."""
    kernel = layer.kernel
    shape = tuple(kernel.shape)
    fan_in = int(np.prod(shape[:-1]))
    w = rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
    if dirac:
        kh, kw, c_in, c_out = shape
        n = min(c_in, c_out)
        w[..., :n] = 0
        w[kh // 2, kw // 2, np.arange(n), np.arange(n)] = 1
    kernel.assign(w.astype(np.float32))


# airbench94.py lines 53-60, 171-177: widths, BatchNorm momentum 0.6 (PyTorch's sense: the new
# batch's weight, so Keras's 0.4), eps 1e-12, no learnt scale, and the output scaled by 1/9.
AIRBENCH_BN = dict(momentum=0.4, epsilon=1e-12, scale=False)
AIRBENCH_SCALE = 1 / 9


def _airbench(x, n, preset: ImagePreset, sample: np.ndarray | None):
    """airbench94's net (lines 190-236): a frozen 2×2 whitening conv with a learnt bias, then per
    stage conv → max-pool → BN → GELU → conv → BN → GELU, a global max pool, a bias-free linear
    layer and a fixed 1/9 scale, then softmax."""
    if sample is None:
        raise ValueError("A whitening stem needs training images to fit.")
    rng = np.random.default_rng(np.random.randint(2 ** 31))  # numpy's global state: seeded by the run's seed
    kernel, bias = airbench_whitening(sample[:5000])  # line 402: 5,000 training images
    stem = keras.layers.Conv2D(kernel.shape[-1], 2, padding="valid", trainable=False, name="whiten")
    x = stem(x)
    stem.set_weights([kernel, bias])
    x = keras.layers.Activation(preset.activation)(ChannelBias(name="whiten_bias")(x))
    convs = []
    for width in preset.widths:
        conv = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)
        x = keras.layers.BatchNormalization(**AIRBENCH_BN)(keras.layers.MaxPooling2D(2)(conv(x)))
        x = keras.layers.Activation(preset.activation)(x)
        conv2 = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)
        x = keras.layers.Activation(preset.activation)(keras.layers.BatchNormalization(**AIRBENCH_BN)(conv2(x)))
        convs += [conv, conv2]
    x = keras.layers.GlobalMaxPooling2D()(x)
    head = keras.layers.Dense(n, use_bias=False, name="logits")
    x = keras.layers.Rescaling(AIRBENCH_SCALE, name="logit_scale")(head(x))
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    for conv in convs:
        _torch_like_init(conv, rng, dirac=True)
    _torch_like_init(head, rng, dirac=False)
    return outputs


IMAGE_ARCHITECTURES = {
    "seed_cifar10": lambda x, n: _seed_two_conv(x, n, 64),
    "seed_mnist": lambda x, n: _seed_two_conv(x, n, 128),
    "seed_mnist_deep": _seed_mnist_deep,
    "seed_binary": _seed_binary,
}


def build_image_model(preset: ImagePreset, input_shape: tuple[int, int, int], num_classes: int,
                      sample: np.ndarray | None = None) -> keras.Model:
    """A classifier from uint8 (N, H, W, C) to class probabilities.

    `sample`: training images (uint8), needed when the preset has a whitening stem.
    """
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    if preset.architecture == "convnet":
        outputs = _convnet(x, num_classes, preset, sample)
    elif preset.architecture == "airbench":
        outputs = _airbench(x, num_classes, preset, sample)
    else:
        outputs = IMAGE_ARCHITECTURES[preset.architecture](x, num_classes)
    return keras.Model(inputs, outputs, name=f"image_{preset.name}")


def export(model: keras.Model, *, flip: bool = False, shifts: tuple[tuple[int, int], ...] = (),
           gate: float | None = None) -> keras.Model:
    """The model to save: a fresh uncompiled wrapper (no optimizer state) around the trained
    network, nested as the layer "classifier", with optional test-time augmentation and a
    Temperature layer (T = 1 until training/calibrate.py fits it).

    TTA views are stacked into one batch (StackViews), so the classifier runs once per call
    however many views there are; with shifts, half the weight stays on the unshifted pair,
    as airbench does. With a `gate`, the classifier answers from the image alone and runs the
    other views only for images it is unsure of (ViewsWhenUnsure, which holds the classifier).
    Explanations (explain/image.py) read the same structure.
    """
    # Re-exporting a saved model (recalibrate): keep only its trained network.
    name, model = model.name, trained_network(model) or model
    classifier = keras.Model(model.inputs[0], model.outputs[0], name="classifier")
    inputs = keras.Input(shape=model.input_shape[1:], dtype="uint8", name="image")
    if flip or shifts:
        views = StackViews(flip=flip, shifts=shifts).views
        weights = [2.0 if (dy, dx) == (0, 0) else 1.0 for _, dy, dx in views] if shifts else [1.0] * len(views)
        if gate is None:
            probs = MeanOverViews(weights, name="view_mean")(classifier(StackViews(flip, shifts, name="views")(inputs)))
        else:
            probs = ViewsWhenUnsure(classifier, flip, shifts, gate, weights, name="views_when_unsure")(inputs)
    else:
        probs = classifier(inputs)
    return keras.Model(inputs, Temperature(1.0, name="temperature")(probs), name=name)
