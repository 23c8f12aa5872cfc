"""Test-split metrics (accuracy, per class, confusion matrix), for a fresh model or a cached one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..card import Metrics, ModelCard
from ..data import load_dataset
from ..errors import UsageError
from ..store import ModelStore, get_store
from ..tasks import get_task


def probabilities(model, x, *, batch_size: int = 512) -> np.ndarray:
    """(N, classes) probabilities, turning a single sigmoid unit into two columns."""
    from .calibrate import as_columns

    return as_columns(model.predict(x, batch_size=batch_size, verbose=0))


def metrics_from(y_true: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...], *,
                 keep_misclassified: int = 12, none_threshold: float | None = None,
                 per_cell: int = 8) -> Metrics:
    """Accuracy, per-class accuracy, confusion matrix (with up to `per_cell` example indices
    per cell), calibration error and reliability bins, and the share "none of these" accepts."""
    from .calibrate import reliability

    y_pred = probs.argmax(axis=1)
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    ece, bins = reliability(probs, y_true)
    cells: dict[str, list[int]] = {}
    for i in range(len(y_true)):
        cell = cells.setdefault(f"{y_true[i]},{y_pred[i]}", [])
        if len(cell) < per_cell:
            cell.append(i)
    return Metrics(
        test_accuracy=float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        test_examples=int(len(y_true)),
        per_class_accuracy={name: (float(confusion[i, i] / support[i]) if support[i] else None)
                            for i, name in enumerate(class_names)},
        confusion_matrix=confusion.tolist(),
        misclassified=[{"index": int(i), "true": class_names[y_true[i]], "predicted": class_names[y_pred[i]],
                        "confidence": float(probs[i, y_pred[i]])} for i in wrong[:keep_misclassified]],
        ece=round(ece, 5), reliability=bins, cell_examples=cells,
        accepted=(float((probs.max(axis=1) >= none_threshold).mean())
                  if none_threshold is not None and len(y_true) else None),
    )


def evaluate_model(model, task_name: str, x, y: np.ndarray, class_names: tuple[str, ...], *,
                   none_threshold: float | None = None) -> Metrics:
    return metrics_from(y, probabilities(model, get_task(task_name).evaluate_inputs(x)), class_names,
                        none_threshold=none_threshold)


@dataclass(frozen=True)
class Evaluation:
    model_id: str
    dataset: str
    card: ModelCard
    metrics: Metrics


def evaluate_cached(model_id: str | None = None, *, task: str = "image", dataset: str | None = None,
                    subset: int | None = None, store: ModelStore | None = None) -> Evaluation:
    """Re-measure a cached model on a test split: its own data set's by default.

    Raises:
        ModelNotFoundError, ModelLoadError: no usable model.
        DatasetNotFoundError: the data is not here.
        UsageError: the data's classes differ from the model's.
    """
    store = store or get_store()
    model_id = model_id or store.default_id(task)
    card = store.card(model_id)
    dataset = dataset or card.dataset.name
    size = card.input.picture_size  # image folders: read at the model's size
    data = load_dataset(dataset, image_size=size, subset=subset)  # a subset trims the test split too
    if tuple(data.class_names) != card.class_names:
        raise UsageError(f"{dataset}'s classes differ from the model's; evaluate it on matching data.")
    task = get_task(card.task)
    metrics = task.evaluate(store.load(model_id), data, card.calibration, preset=task.presets.get(card.preset),
                            store=store)
    return Evaluation(model_id, dataset, card, metrics)
