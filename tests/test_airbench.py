"""The airbench94 port and outlier exposure, piece by piece (training/optim.py, nets/image.py,
data/outliers.py, training/augment.add_outliers): each rule checked on a tiny model in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from dlapp.backend import keras, tf
from dlapp.data.outliers import KINDS, outlier_bank
from dlapp.nets.image import airbench_whitening, build_image_model
from dlapp.tasks.image import PRESETS, TASK
from dlapp.training.augment import add_outliers
from dlapp.training.optim import AirbenchSGD, KnownClassAccuracy, WarmupWarmdown, keras_units


def test_keras_units_reproduce_airbench_step_sizes():
    """airbench94.py: lr = 11.5 / (1024·(1 + 1/(1 − 0.85))) per summed example; a mean-loss batch of 1024
    needs 1024 times that, and the decay per step is wd·B/kilostep/(1 − m) at any batch size."""
    lr, wd = keras_units(11.5, 0.0153, 1024)
    kilostep = 1024 * (1 + 1 / 0.15)
    assert lr == pytest.approx(11.5 / kilostep * 1024)
    assert lr * wd == pytest.approx(0.0153 * 1024 / kilostep / 0.15)
    lr256, wd256 = keras_units(11.5, 0.0153, 256)
    assert lr256 == pytest.approx(lr / 4) and lr256 * wd256 == pytest.approx(lr * wd / 4)


def test_schedule_warms_up_then_down_as_airbench_does():
    s = WarmupWarmdown(1.5, 100)
    values = [float(s(step)) for step in (0, 23, 100, 500)]
    assert values == pytest.approx([0.3, 1.5, 1.5 * 0.07, 1.5 * 0.07])
    assert WarmupWarmdown.from_config(s.get_config()).get_config() == s.get_config()


def _tiny(steps_whiten: int, total: int, lookahead: bool = True):
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, use_bias=False, name="first")(inputs)
    from dlapp.layers import ChannelBias

    x = ChannelBias(name="whiten_bias")(x)
    x = keras.layers.BatchNormalization(scale=False)(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    opt = AirbenchSGD(0.1, total_steps=total, whiten_bias_steps=steps_whiten, lookahead=lookahead, weight_decay=0.5)
    model.compile(optimizer=opt, loss="categorical_crossentropy")
    return model


def _fit(model, steps: int):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8 * steps, 4)).astype("float32"), np.eye(2, dtype="float32")[rng.integers(0, 2, 8 * steps)]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)


def test_whitening_bias_learns_for_its_steps_then_never_moves_or_decays():
    model = _tiny(steps_whiten=3, total=1000, lookahead=False)
    bias = model.get_layer("whiten_bias").bias
    _fit(model, 3)
    learnt = np.array(bias)
    assert np.abs(learnt).max() > 0  # it learnt while it was allowed to
    _fit(model, 5)
    np.testing.assert_array_equal(np.array(bias), learnt)  # frozen: no step, no decay


def test_batchnorm_biases_step_further_than_other_weights():
    """The same gradient moves a BN beta 64× as far (airbench's bias_scaler), nothing else."""
    bn, dense = keras.layers.BatchNormalization(scale=False), keras.layers.Dense(3, use_bias=False)
    bn.build((None, 3))
    dense.build((None, 1))
    var, other = bn.beta, dense.kernel
    other.assign(np.zeros((1, 3), "float32"))
    opt = AirbenchSGD(0.01, total_steps=100, lookahead=False)
    opt.build([var, other])
    opt.apply([np.ones(3, "float32"), np.ones((1, 3), "float32")], [var, other])
    np.testing.assert_allclose(np.array(var), 64 * np.array(other)[0], rtol=1e-6)
    assert np.array(other)[0, 0] == pytest.approx(-0.01 * (1 + 0.85))  # Nesterov's first step: (1 + m)·lr·g


def test_lookahead_leaves_the_average_in_the_weights_after_the_last_step():
    model = _tiny(steps_whiten=0, total=10)
    _fit(model, 10)
    ema = model.optimizer._ema
    for var, avg in zip(model.trainable_variables, ema, strict=True):
        np.testing.assert_allclose(np.array(var), np.array(avg), rtol=1e-6, atol=1e-7)


def test_known_class_accuracy_ignores_uniform_targets():
    metric = KnownClassAccuracy()
    y_true = np.array([[1, 0], [0, 1], [0.5, 0.5]], "float32")
    y_pred = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]], "float32")
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(0.5)  # 1 of the 2 known-class rows; the outlier row not counted


def test_whitening_conv_whitens_the_patches_it_was_fitted_on():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (200, 8, 8, 1)).astype(np.float64)
    images = np.clip(np.concatenate([base, base * 0.5 + 60, 255 - base], -1), 0, 255).astype(np.uint8)  # correlated
    kernel, bias = airbench_whitening(images)
    out = tf.nn.conv2d(images.astype("float32") / 255, kernel, 1, "VALID").numpy() + bias
    half = out[..., :kernel.shape[-1] // 2].reshape(-1, kernel.shape[-1] // 2)  # the + filters (the rest are −)
    cov = np.cov(half, rowvar=False)
    big = np.diag(cov) > 0.5  # directions with real variance come out with unit variance, uncorrelated
    np.testing.assert_allclose(np.diag(cov)[big], 1.0, atol=0.1)
    off = cov[np.ix_(big, big)] - np.diag(np.diag(cov)[big])
    assert np.abs(off).max() < 0.1


def test_airbench_net_starts_with_identity_convs_and_a_frozen_stem():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    model = build_image_model(PRESETS["fast"], (32, 32, 3), 10, sample=images)
    assert not model.get_layer("whiten").trainable and model.get_layer("whiten_bias").trainable
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.trainable]
    k = np.array(convs[1].kernel)  # 32 -> 32: the identity on every channel
    assert k[1, 1, np.arange(32), np.arange(32)].tolist() == [1.0] * 32 and np.abs(k).sum() == 32
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(not b.scale and b.momentum == pytest.approx(0.4) for b in bns)
    assert model.get_layer("logits").use_bias is False


def test_outlier_bank_is_seeded_and_covers_every_kind():
    a, b = outlier_bank(40, (32, 32, 3), seed=3), outlier_bank(40, (32, 32, 3), seed=3)
    assert a.dtype == np.uint8 and a.shape == (40, 32, 32, 3)
    np.testing.assert_array_equal(a, b)
    assert outlier_bank(4, (28, 28, 1), seed=0).shape == (4, 28, 28, 1)
    rng = np.random.default_rng(0)
    for kind, draw in KINDS.items():
        out = draw(rng)
        assert out.shape[:2] == (64, 64) and np.isfinite(out).all(), kind


def test_outlier_exposure_weights_give_mean_known_loss_plus_lambda_mean_outlier_loss():
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    labels = np.eye(10, dtype="float32")[np.arange(16) % 10]
    bank = outlier_bank(8, (32, 32, 3))
    x, y, w = (t.numpy() for t in add_outliers(tf.constant(images), tf.constant(labels), bank, share=0.25,
                                                  weight=0.5))
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:16], images)
    np.testing.assert_allclose(y[16:], 0.1)  # uniform targets for the 4 outliers
    losses = np.random.default_rng(1).uniform(size=20)
    assert (w * losses).sum() / 20 == pytest.approx(losses[:16].mean() + 0.5 * losses[16:].mean())


def test_uploaded_view_of_held_out_images_matches_the_upload_path():
    from PIL import Image

    from dlapp.images import fit_image

    x = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    up = TASK.as_uploaded(x)
    expected = fit_image(Image.fromarray(x[1]).resize((256, 256), Image.BICUBIC), (32, 32), 3)
    np.testing.assert_array_equal(up[1], expected)
    assert TASK.as_uploaded(np.zeros((1, 300, 300, 3), np.uint8)) is None
