"""Transfer learning for images: the trunk of an image model dlapp trained (by default the
shipped `cifar10-best`), frozen, with a small new head for the user's classes.

The trunk runs once per training image and view (features()), not once per epoch: a head
on 256 numbers per image trains in a second, where pushing the pictures through the trunk
every epoch would cost most of a minute. Augmentation happens at that point: each image's
features are taken for VIEWS views (itself, its mirror, shifted copies of both), and each
epoch the head sees one view per image drawn at random (random_view). The saved model is
one flat network, trunk layers then head, so Grad-CAM and "inside the model" read it like
any other dlapp image model.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import keras, tf
from ..errors import UsageError
from ..layers import trained_network

VIEWS = 8  # features per training image: itself, its mirror, and 3 random shifts of each
MAX_AUGMENTED = 4_000  # beyond this many images the trunk runs on the originals and mirrors only (time)
SHIFT = 4  # px, at most, for the shifted views: an eighth of a 32-px image, as in training from scratch


@functools.lru_cache(maxsize=2)
def trunk(backbone: str, sha256: str, store=None):
    """(trunk model: uint8 images -> features, its image input shape), the backbone read from `store` (a
    ModelStore; None: the shared one). `sha256` keys the cache, so a retrained backbone is read afresh. The trunk
    is a private copy (store.load(fresh=True)): the predictors' copy of the same model is never touched.

    The features are the max and the mean over the picture of each stage's output below the
    input's resolution, not only the last stage's: new classes lean on the middle stages' edges
    and textures more than on what the backbone's own classes needed at the end
    (benchmarks/transfer_bench.py: 5 held-out CIFAR-10 classes, 20 pictures each, 75.7% against 68.6%).
    """
    from ..explain.image import feature_stage_layers
    from ..store import get_store

    model = (store or get_store()).load(backbone, fresh=True)
    classifier = trained_network(model) or model
    side = classifier.input_shape[1]
    stages = [classifier.get_layer(name).output for name in feature_stage_layers(model)]
    stages = [out for out in stages if out.shape[1] <= side // 2] or stages[-1:]  # not the full-size stem
    pooled = []
    for i, out in enumerate(stages):
        pooled += [keras.layers.GlobalMaxPooling2D(name=f"trunk_max_{i}")(out),
                   keras.layers.GlobalAveragePooling2D(name=f"trunk_mean_{i}")(out)]
    # Frozen by construction: only the separate head model is ever fitted. Its layers keep their own
    # `trainable` flags, which explanations read (the whitening stem is the one never trained).
    features = keras.Model(classifier.inputs[0], keras.layers.Concatenate(name="trunk_features")(pooled),
                           name=f"{backbone}_trunk")
    return features, tuple(int(d) for d in classifier.input_shape[1:])


def check_input(backbone: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    if tuple(shape) != tuple(expected):
        h, w, c = expected
        raise UsageError(f"The transfer preset reuses {backbone}, which reads {h}×{w} "
                         f"{'colour' if c == 3 else 'grey'} pictures; these are {'×'.join(map(str, shape))}. "
                         "Leave the image size empty, or pick the fast preset.")


def views(images: np.ndarray, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """`count` versions of a uint8 (N, H, W, C) batch: itself, its mirror, then shifted copies of
    both (reflect padding, up to SHIFT px each way)."""
    mirror = images[:, :, ::-1]
    out = [images, mirror][:count]
    padded = [np.pad(v, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT), (0, 0)), mode="reflect") for v in (images, mirror)]
    h, w = images.shape[1:3]
    while len(out) < count:
        source = padded[len(out) % 2]
        dy, dx = rng.integers(0, 2 * SHIFT + 1, size=2)
        out.append(source[:, dy:dy + h, dx:dx + w])
    return out


@functools.lru_cache(maxsize=2)  # one per cached trunk: traced once, not once per call
def _predict(features_model):
    from ..backend import compiled

    return compiled(features_model, tf.TensorSpec((None, *features_model.input_shape[1:]), tf.uint8))


def features(features_model, images: np.ndarray, *, augmented: bool, seed: int = 0,
             batch: int = 256) -> np.ndarray:
    """Trunk features: (N, D) for the images as they are; with `augmented`, (N, V, D) over V views."""
    fn = _predict(features_model)

    def run(x):
        return np.concatenate([fn(x[i:i + batch]) for i in range(0, len(x), batch)]).astype(np.float32) \
            if len(x) else np.zeros((0, features_model.output_shape[-1]), np.float32)

    if not augmented:
        return run(images)
    count = VIEWS if len(images) <= MAX_AUGMENTED else 2
    return np.stack([run(v) for v in views(images, np.random.default_rng(seed), count)], axis=1)


def random_view(feats, labels):
    """tf.data map over a training batch: one of each image's V feature views, at random."""
    shape = tf.shape(feats)
    pick = tf.random.uniform([shape[0]], 0, shape[1], dtype=tf.int32)
    return tf.gather(feats, pick, axis=1, batch_dims=1), labels


def head(train_features: np.ndarray, num_classes: int, dropout: float) -> keras.Model:
    """The trainable part: standardised features -> dropout -> softmax. The standardisation is
    fixed from the training features (BatchNormalization's running averages would still be near
    their start after the few dozen steps a few-shot head trains for, and answer differently
    from training)."""
    inputs = keras.Input(shape=(train_features.shape[-1],), name="features")
    x = keras.layers.Normalization(mean=train_features.mean(axis=0), variance=train_features.var(axis=0) + 1e-6,
                                   name="head_norm")(inputs)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name="transfer_head")


def combined(features_model, head_model) -> keras.Model:
    """One flat classifier, uint8 images in: the trunk's layers, then the head's."""
    x = features_model.outputs[0]
    for layer in head_model.layers[1:]:  # [0] is the head's InputLayer
        x = layer(x)
    return keras.Model(features_model.inputs[0], x, name="image_transfer")
