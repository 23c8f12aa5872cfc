"""From arrays to what `fit` reads: the validation split, targets and tf.data pipelines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..data import Dataset


def split_validation(data: Dataset, fraction: float, seed: int, *, in_blocks: bool = False):
    """(x_train, y_train, x_val, y_val): hold out `fraction` of train; 0 -> the test split.

    `in_blocks`: per class, one contiguous run of examples in file order, at a seeded offset,
    instead of a random draw. IMDB lists a film's reviews together, and its test films are
    not in train; a random draw would validate on films the model trained on, and the curve
    would promise more than the test split gives.
    """
    if fraction == 0:
        return data.x_train, data.y_train, data.x_test, data.y_test
    rng, y = np.random.default_rng(seed), data.y_train
    if in_blocks:
        parts = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            k = max(1, int(round(fraction * len(idx))))
            start = int(rng.integers(0, len(idx) - k + 1))
            parts.append(idx[start:start + k])
        val = np.sort(np.concatenate(parts))
    else:
        val = np.sort(rng.permutation(len(y))[:max(1, int(round(fraction * len(y))))])
    tr = np.setdiff1d(np.arange(len(y)), val)  # file order kept (see nets.text.nb_folds)
    return data.x_train[tr], y[tr], data.x_train[val], y[val]


def targets(y: np.ndarray, *, num_outputs: int, num_classes: int, one_hot: bool) -> np.ndarray:
    """Labels as the loss wants them: a float column for one sigmoid unit, one-hot for label smoothing
    and outlier exposure (whose made-up images get uniform targets), else integers."""
    if num_outputs == 1:
        return y.astype("float32").reshape(-1, 1)
    if one_hot:
        return np.eye(num_classes, dtype="float32")[y]
    return y.astype("int64")


def make_pipeline(x, y: np.ndarray, *, batch_size: int, training: bool, seed: int,
                  augmentations: Sequence[Callable] = (), drop_remainder: bool = False, shard_by_data: bool = False):
    """tf.data: shuffle, batch, augment whole batches on the fly, prefetch.

    `batch_size` is the global batch. `shard_by_data`: several workers read this same pipeline (same seed,
    same order) and each keeps its share of every batch, so a step sees the batch one process would.
    """
    from ..backend import tf

    def tensor(a):
        return tf.constant(a.tolist()) if a.dtype == object else a

    features = {k: tensor(v) for k, v in x.items()} if isinstance(x, dict) else tensor(x)
    ds = tf.data.Dataset.from_tensor_slices((features, y))
    if training:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    for fn in augmentations if training else ():
        ds = ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    if shard_by_data:  # arrays have no files to shard by
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)
