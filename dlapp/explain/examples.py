"""The test examples behind a confusion-matrix cell, for a cached model: the card keeps a few
test-split indices per (true, predicted) cell (evaluate.metrics_from); the data set is read
again (once per process) to show them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..card import ModelCard
from ..data import load_dataset
from ..errors import UsageError


@dataclass(frozen=True)
class TestExample:
    index: int  # in the test split
    x: Any  # uint8 (H, W, C) image, or the review's text
    true: str
    predicted: str


@functools.lru_cache(maxsize=4)
def _test_split(name: str, subset: int | None, size: tuple[int, int] | None, seed: int):
    data = load_dataset(name, subset=subset, image_size=size, seed=seed)
    return data.x_test, data.y_test, tuple(data.class_names)


def cell_examples(card: ModelCard, true: int, predicted: int) -> list[TestExample]:
    """The test examples the card lists for the cell (true class `true`, predicted `predicted`).

    Raises:
        UsageError: no such cell, or the card predates per-cell examples.
        DatasetNotFoundError: the model's data set is not on this machine.
    """
    n = len(card.class_names)
    if not (0 <= true < n and 0 <= predicted < n):
        raise UsageError(f"No cell ({true}, {predicted}) in a {n}×{n} confusion matrix.")
    if not card.metrics.cell_examples:
        raise UsageError(f"{card.id}'s card lists no examples per cell; "
                         f"`python -m dlapp models recalibrate {card.id}` adds them.")
    indices = card.metrics.cell_examples.get(f"{true},{predicted}", [])
    if not indices:
        return []
    size = card.input.shape[:2] if len(card.input.shape) == 3 else None
    x, y, classes = _test_split(card.dataset.name, card.dataset.subset_per_class, size, card.provenance.seed)
    if classes != card.class_names or max(indices) >= len(y) or np.any(y[indices] != true):
        raise UsageError(f"The {card.dataset.label} data on this machine is not the data {card.id} was "
                         "measured on, so its examples cannot be shown.")
    return [TestExample(int(i), x[i], card.class_names[true], card.class_names[predicted]) for i in indices]
