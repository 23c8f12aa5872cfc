"""Test-split metrics: accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

import numpy as np


def probabilities(model, x: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """(N, classes) probabilities, turning a single sigmoid unit into two columns."""
    out = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = np.concatenate([1.0 - out, out], axis=1)
    return out


def evaluate_predictions(y_true: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Metrics as plain JSON-ready types, for the model card and the UI."""
    y_pred = probs.argmax(axis=1)
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    per_class = {name: (float(confusion[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)}
    wrong = np.flatnonzero(y_pred != y_true)
    return {
        "test_accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "test_examples": int(len(y_true)),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),  # rows: true class, columns: predicted
        "misclassified": [{"index": int(i), "true": class_names[y_true[i]], "predicted": class_names[y_pred[i]],
                           "confidence": float(probs[i, y_pred[i]])} for i in wrong[:12]],
    }


def evaluate_model(model, x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...]) -> dict:
    return evaluate_predictions(y, probabilities(model, x), class_names)
