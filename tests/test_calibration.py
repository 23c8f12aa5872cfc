"""Calibration: temperature fitting, expected calibration error, the "none of these" threshold,
and the Temperature layer the fitted value lives in."""

import numpy as np
import pytest

from dlapp.training.calibrate import NONE_ACCEPT, fit_temperature, none_threshold, reliability, scale


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sample(temperature: float, n: int = 20_000, k: int = 10, seed: int = 0):
    """Probabilities a model reports, and labels drawn from the truth: softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, k))
    truth = _softmax(logits / temperature)
    y = np.array([rng.choice(k, p=p) for p in truth])
    return _softmax(logits), y


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.0])
def test_fit_temperature_recovers_the_miscalibration(true_t):
    probs, y = _sample(true_t)
    assert fit_temperature(probs, y) == pytest.approx(true_t, rel=0.1)


def test_calibrating_lowers_the_error_on_fresh_data():
    probs, y = _sample(0.5)  # the model is under-confident: the truth is sharper than it says
    fresh, y_fresh = _sample(0.5, seed=1)
    t = fit_temperature(probs, y)
    before, _ = reliability(fresh, y_fresh)
    after, bins = reliability(scale(fresh, t), y_fresh)
    assert before > 0.05 and after < 0.02
    assert sum(b[2] for b in bins) == len(y_fresh) and all(0 <= b[0] <= 1 and 0 <= b[1] <= 1 for b in bins)


def test_ece_of_a_perfectly_calibrated_model_is_near_zero_and_of_an_overconfident_one_is_not():
    probs, y = _sample(1.0)
    assert reliability(probs, y)[0] < 0.015
    always_sure = np.eye(10)[np.zeros(len(y), int)]  # says class 0 with 100% every time
    assert reliability(always_sure, y)[0] == pytest.approx(1 - np.mean(y == 0))


def test_one_sigmoid_column_is_two_classes():
    p = np.array([[0.9], [0.2]])
    np.testing.assert_allclose(scale(p, 1.0), [[0.1, 0.9], [0.8, 0.2]], atol=1e-6)
    sharper = scale(p, 0.5)
    assert sharper[0, 1] > 0.9 and sharper[1, 0] > 0.8


def test_none_threshold_accepts_the_share_it_promises():
    probs, _ = _sample(1.0)
    threshold = none_threshold(probs)
    assert np.mean(probs.max(axis=1) >= threshold) == pytest.approx(NONE_ACCEPT, abs=0.005)
    assert none_threshold(probs[:10]) is None  # too few held-out examples to place a 5% quantile
    assert fit_temperature(probs[:0], np.zeros(0, int)) == 1.0
