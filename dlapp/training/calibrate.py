"""Calibrated confidences and "none of these", fitted on held-out data after training.

- A temperature T (one number) is fitted on the validation split by minimising the negative
  log-likelihood, and saved inside the model as its last layer (layers.Temperature), so the
  probabilities that anyone loading the .keras file gets are calibrated too.
- For image models, "none of these" is a threshold on the highest calibrated probability
  (max-softmax), set so that NONE_ACCEPT of held-out in-distribution images are accepted, both as
  they are and as a visitor uploads them (enlarged to 256 px, then fitted back to the model's size).
  It works for any classifier dlapp builds, including ones users train on their own classes.
- Expected calibration error (15 equal-width confidence bins) and the reliability diagram's
  bins are measured on the test split (evaluate.metrics_from).
"""

from __future__ import annotations

import numpy as np

from ..card import Calibration

ECE_BINS = 15
MIN_FIT = 50  # held-out examples below which T is not fitted: 20 reviews gave T = 0.05 and 10% ECE
# Share of held-out in-distribution images "none of these" must accept (as they are and as uploaded). The aim is
# at most 10% of genuine uploads declined; 93% leaves a margin for a quantile fitted on 1,000 validation images.
# On cifar10-best it declines more real non-CIFAR photos than 95% did (openset_bench.py --compare; docs/benchmarks.md).
NONE_ACCEPT = 0.93
_LOG_T = np.linspace(np.log(0.05), np.log(20.0), 400)  # search grid for T: one parameter, so a grid is exact enough


def as_columns(probs: np.ndarray) -> np.ndarray:
    """(N, K) class probabilities; one sigmoid column becomes two."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.concatenate([1.0 - probs, probs], axis=1) if probs.shape[1] == 1 else probs


def scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): what layers.Temperature computes, in NumPy."""
    logits = np.log(np.clip(as_columns(probs), 1e-7, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the held-out negative log-likelihood (1.0 with no data)."""
    if len(y) == 0:
        return 1.0
    log_p = np.log(np.clip(as_columns(probs), 1e-7, 1.0))
    nll = []
    for log_t in _LOG_T:
        z = log_p / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        nll.append(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())
    return float(np.exp(_LOG_T[int(np.argmin(nll))]))


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> tuple[float, list[list[float]]]:
    """(expected calibration error, [[mean confidence, accuracy, count] per non-empty bin]).

    ECE = sum over bins of (bin count / N) * |accuracy - mean confidence|, with the bins
    equal-width over the top-class confidence, as in Guo et al. (2017).
    """
    probs = as_columns(probs)
    if len(y) == 0:
        return 0.0, []
    confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == y).astype(np.float64)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    ece, table = 0.0, []
    for b in range(bins):
        mask = which == b
        if mask.any():
            conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
            ece += mask.mean() * abs(acc - conf)
            table.append([round(conf, 4), round(acc, 4), int(mask.sum())])
    return float(ece), table


def none_threshold(probs: np.ndarray) -> float | None:
    """The top-probability threshold below which an input is "none of these": the
    (1 - NONE_ACCEPT) quantile of held-out in-distribution top probabilities."""
    if len(probs) < 20:  # too few held-out examples to place a 5% quantile honestly
        return None
    return float(np.quantile(as_columns(probs).max(axis=1), 1.0 - NONE_ACCEPT))


def calibrate(model, task, x_val, y_val: np.ndarray, *, held_out: bool) -> tuple[object, Calibration]:
    """The model with its Temperature layer fitted on the validation split, and what was fitted
    (for an open-set task, i.e. images, the "none of these" threshold too).

    `held_out` False means the "validation split" is the test split (the seed tutorials
    validate on it): nothing is fitted on the data the model is measured on, T stays 1.
    Nor is anything fitted on fewer than MIN_FIT held-out examples: one number fitted to a
    handful of answers swings to an extreme and hurts more than it helps.
    """
    from .evaluate import probabilities

    if not held_out or len(y_val) < MIN_FIT:
        return with_temperature(model, 1.0), Calibration()
    val_probs = probabilities(model, task.evaluate_inputs(x_val))  # uncalibrated: T = 1 until replaced
    t = fit_temperature(val_probs, y_val)
    threshold = none_threshold(scale(val_probs, t)) if task.open_set else None
    if threshold is not None and (uploaded := task.as_uploaded(x_val)) is not None:
        # The images as a visitor sends them (enlarged, then fitted back by the upload path) are a little
        # softer, and less sure: the threshold accepts NONE_ACCEPT of those too.
        threshold = min(threshold, none_threshold(scale(probabilities(model, uploaded), t)))
    return with_temperature(model, t), Calibration(temperature=round(t, 4), fitted_on=int(len(y_val)),
                                                   none_threshold=threshold)


def with_temperature(model, temperature: float):
    """The same model whose last layer is Temperature(temperature) (replacing any such layer)."""
    from ..backend import keras
    from ..layers import Temperature

    last = model.layers[-1]
    x = last.input if isinstance(last, Temperature) else model.outputs[0]
    return keras.Model(model.inputs[0], Temperature(temperature, name="temperature")(x), name=model.name)
