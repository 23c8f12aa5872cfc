"""From arrays to what `fit` reads: the validation split, targets and tf.data pipelines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..data import Dataset


def split_validation(data: Dataset, fraction: float, seed: int):
    """(x_train, y_train, x_val, y_val): hold out `fraction` of train at random; 0 -> the test split."""
    if fraction == 0:
        return data.x_train, data.y_train, data.x_test, data.y_test
    order = np.random.default_rng(seed).permutation(len(data.y_train))
    n_val = max(1, int(round(fraction * len(order))))
    val, tr = np.sort(order[:n_val]), np.sort(order[n_val:])  # file order kept (see nets.text.nb_folds)
    return data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val]


def targets(y: np.ndarray, *, num_outputs: int, num_classes: int, label_smoothing: float) -> np.ndarray:
    """Labels as the loss wants them: a float column for one sigmoid unit, one-hot when smoothing."""
    if num_outputs == 1:
        return y.astype("float32").reshape(-1, 1)
    if label_smoothing:
        return np.eye(num_classes, dtype="float32")[y]
    return y.astype("int64")


def make_pipeline(x, y: np.ndarray, *, batch_size: int, training: bool, seed: int,
                  augmentations: Sequence[Callable] = ()):
    """tf.data: shuffle, batch, augment whole batches on the fly, prefetch."""
    from ..backend import tf

    def tensor(a):
        return tf.constant(a.tolist()) if a.dtype == object else a

    features = {k: tensor(v) for k, v in x.items()} if isinstance(x, dict) else tensor(x)
    ds = tf.data.Dataset.from_tensor_slices((features, y))
    if training:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    for fn in augmentations if training else ():
        ds = ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
