"""A train/test split held in memory, whatever it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..card import TaskName


@dataclass
class Dataset:
    """Images are uint8 (N, H, W, C); texts are object arrays of str. Labels are int64 (N,)."""

    name: str  # base name: "cifar10", or an upload's stem
    task: TaskName
    class_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""
    subset_per_class: int | None = None  # set by `subset`
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def label(self) -> str:
        return f"{self.name} ({self.subset_per_class}/class)" if self.subset_per_class else self.name

    def fingerprint(self) -> str:
        """sha256 over the arrays: identical data gives the identical cache key."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for arr in (self.x_train, self.y_train, self.x_test, self.y_test):
                if arr.dtype == object:
                    for s in arr:
                        h.update(s.encode("utf-8", "surrogatepass"))
                        h.update(b"\0")
                else:
                    h.update(str(arr.shape).encode())
                    h.update(np.ascontiguousarray(arr).tobytes())
            h.update("\n".join(self.class_names).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def subset(self, per_class: int | None, *, seed: int = 0) -> Dataset:
        """`per_class` examples of each class in train and in test, drawn at random across the whole
        split (IMDB lists a film's reviews together, so the first N would hold few films), kept in file order."""
        if not per_class:
            return self
        rng = np.random.default_rng(seed)
        train, test = _draw_per_class(self.y_train, per_class, rng), _draw_per_class(self.y_test, per_class, rng)
        return replace(self, x_train=self.x_train[train], y_train=self.y_train[train],
                       x_test=self.x_test[test], y_test=self.y_test[test], subset_per_class=per_class,
                       _fingerprint=None)


def _draw_per_class(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.permutation(np.flatnonzero(y == c))[:n] for c in np.unique(y)]
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.int64)
