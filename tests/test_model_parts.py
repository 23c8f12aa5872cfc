"""The pieces inside the shipped presets: whitening stem, test-time augmentation, NB features."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlapp.errors import UsageError
from dlapp.layers import NBEvidence, ShiftImage, bigram_ids  # importing dlapp.layers registers the custom layers
from dlapp.nets.image import build_image_model, export, whitening_kernel
from dlapp.nets.text import (
    BIGRAM_BUCKETS,
    NB_FOLDS,
    build_text_model,
    inference_model,
    make_vectorizer,
    nb_counts,
    nb_folds,
    nb_log_ratios,
    nb_tables,
)
from dlapp.tasks import with_overrides
from dlapp.tasks.image import PRESETS as IMAGE_PRESETS
from dlapp.tasks.image import ImagePreset
from dlapp.tasks.text import PRESETS as TEXT_PRESETS
from dlapp.training.calibrate import scale, with_temperature


def _roundtrip(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def test_whitening_kernel_decorrelates_patches():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (64, 17, 17, 3)).astype(np.float32)
    images = ((base + np.roll(base, 1, axis=1) + base[..., :1]) / 3).astype(np.uint8)  # correlated pixels
    kernel, bias = whitening_kernel(images)
    assert kernel.shape == (2, 2, 3, 24) and bias.shape == (24,)
    x = images.astype(np.float32) / 255
    patches = np.concatenate([x[:, i:i + 16, j:j + 16, :] for i in (0, 1) for j in (0, 1)], axis=-1).reshape(-1, 12)
    out = patches @ kernel.reshape(12, -1)[:, :12] + bias[:12]
    cov = np.cov(out, rowvar=False)
    assert np.abs(out.mean(axis=0)).max() < 1e-3
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 1e-3  # decorrelated
    assert np.diag(cov).max() < 1.01  # and at most unit variance


def test_whitened_model_freezes_its_stem_and_needs_data():
    from dlapp.nets.image import airbench_whitening

    preset = IMAGE_PRESETS["fast"]  # airbench94's net: its stem is fitted on the training images
    with pytest.raises(ValueError, match="training images"):
        build_image_model(preset, (32, 32, 3), 10)
    sample = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    model = build_image_model(preset, (32, 32, 3), 10, sample=sample)
    stem = model.get_layer("whiten")
    assert not stem.trainable
    np.testing.assert_allclose(stem.get_weights()[0], airbench_whitening(sample)[0], rtol=1e-5, atol=1e-6)


def test_shift_image_translates_with_reflection():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    down_right = np.asarray(ShiftImage(1, 1)(x))[0, ..., 0]
    # Shifting by +1 reads one pixel further down and right; the edge reflects.
    np.testing.assert_array_equal(down_right[:3, :3], x[0, 1:, 1:, 0])
    np.testing.assert_array_equal(down_right[3, :3], x[0, 2, 1:, 0])
    np.testing.assert_array_equal(np.asarray(ShiftImage(0, 0)(x)), x)


def test_tta_wrapper_averages_views_and_survives_safe_mode(tmp_path):
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    base = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(flat))
    images = np.random.default_rng(1).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)

    def p(m, x):
        return np.asarray(m.predict(x, verbose=0))

    flip = p(export(base, flip=True), images)
    np.testing.assert_allclose(flip, (p(base, images) + p(base, images[:, :, ::-1])) / 2, atol=1e-6)
    both = export(base, flip=True, shifts=((-1, -1), (1, 1)))
    shifted = [np.asarray(ShiftImage(d, d)(images)) for d in (-1, 1)]
    expected = flip / 2 + sum((p(base, s) + p(base, s[:, :, ::-1])) / 2 for s in shifted) / 4
    np.testing.assert_allclose(p(both, images), expected, atol=1e-6)
    np.testing.assert_allclose(p(_roundtrip(both, tmp_path), images), expected, atol=1e-6)
    # A fitted temperature sits inside the saved model: loading it gives calibrated probabilities.
    sharp = _roundtrip(with_temperature(both, 0.5), tmp_path)
    np.testing.assert_allclose(p(sharp, images), scale(expected, 0.5), atol=1e-5)
    assert sharp.layers[-1].temperature == 0.5 and len(sharp.layers) == len(both.layers)


def test_gated_views_answer_sure_images_alone_and_unsure_ones_from_every_view(tmp_path):
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    keras.utils.set_random_seed(2)
    conv = keras.layers.Conv2D(3, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    base = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(conv)))
    images = np.random.default_rng(1).integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)
    alone = np.asarray(base.predict(images, verbose=0))
    every = np.asarray(export(base, flip=True).predict(images, verbose=0))
    gate = float(np.median(alone.max(axis=1)))  # half the images sure, half not
    sure = alone.max(axis=1) >= gate
    assert 0 < sure.sum() < len(images)
    gated = _roundtrip(with_temperature(export(base, flip=True, gate=gate), 0.5), tmp_path)
    assert [type(la).__name__ for la in gated.layers] == ["InputLayer", "ViewsWhenUnsure", "Temperature"]
    expected = scale(np.where(sure[:, None], alone, every), 0.5)
    np.testing.assert_allclose(gated.predict(images, verbose=0), expected, atol=1e-5)
    # All sure (the second pass gets no image: TensorFlow's Conv2D mishandles empty batches) and all unsure.
    np.testing.assert_allclose(gated.predict(images[sure], verbose=0), expected[sure], atol=1e-5)
    np.testing.assert_allclose(gated.predict(images[~sure], verbose=0), expected[~sure], atol=1e-5)
    one = tf.function(lambda x: gated(x, training=False))
    for i in (int(np.argmax(sure)), int(np.argmin(sure))):  # one image at a time, as the app serves uploads
        np.testing.assert_allclose(one(images[i:i + 1]), expected[i:i + 1], atol=1e-5)
    with pytest.raises(UsageError, match="gate needs tta_flip"):
        with_overrides(IMAGE_PRESETS["seed-cifar10"], tta_gate=0.5)


def test_nb_evidence_reads_the_right_table_row_and_hashes_like_numpy():
    ids = np.array([[5, 7, 2, 0, 0], [1, 1, 9, 4, 3]])
    bigrams = bigram_ids(ids, 10, 101)
    assert bigrams[0, 0] == 0 and (bigrams[0, 3:] == 0).all()  # no bigram before the first token or into padding
    assert (bigrams[1, 1:] > 0).all() and len(set(bigrams[1, 1:])) == 4
    layer = NBEvidence(10, 101, tables=3)
    layer.build(ids.shape)
    unigram, bigram = np.arange(30.0).reshape(3, 10), np.arange(303.0).reshape(3, 101)
    layer.set_weights([unigram, bigram])
    out = np.asarray(layer(ids))  # no fold: the last row, fitted on everything
    np.testing.assert_array_equal(out[..., 0], unigram[2][ids])
    np.testing.assert_array_equal(out[..., 1], bigram[2][bigrams])
    out = np.asarray(layer(ids, np.array([0, 1])))
    np.testing.assert_array_equal(out[0, :, 0], unigram[0][ids[0]])
    np.testing.assert_array_equal(out[1, :, 1], bigram[1][bigrams[1]])


def test_nb_ratios_point_towards_the_class_a_word_belongs_to():
    ids = np.array([[2, 3, 0], [2, 2, 4], [5, 3, 0], [5, 0, 0]])  # docs 0,1 positive; 2,3 negative
    r = nb_log_ratios(*nb_counts(ids, np.array([1, 1, 0, 0]), 6), min_docs=1)
    assert r[0] == 0  # padding
    assert r[2] > 0 > r[5]  # "2" only in positive documents, "5" only in negative
    assert abs(r[3]) < 1e-6  # "3" in one document of each class
    # Binarised counts: "2" is in two positive documents (3 with smoothing) and "4" in one (2),
    # so the ratio gap is log(3/2); counting doc 1's repeated "2" twice would make it log(4/2).
    assert r[2] - r[4] == pytest.approx(np.log(3 / 2), abs=1e-6)


def test_nb_ratios_ignore_ids_seen_in_few_documents():
    # A bigram in one review would just encode that review's label: the network memorises it.
    ids = np.array([[2, 3], [2, 0], [2, 0], [4, 0], [4, 0], [4, 0]])
    r = nb_log_ratios(*nb_counts(ids, np.array([1, 1, 1, 0, 0, 0]), 5), min_docs=3)
    assert r[3] == 0 and r[2] > 0 > r[4]


def test_cross_fitted_tables_never_see_their_own_fold():
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 8, (200, 6))
    labels = rng.integers(0, 2, 200)
    folds = nb_folds(200)
    assert sorted(np.bincount(folds)) == [40] * NB_FOLDS
    tables = nb_tables(ids, labels, 8, folds, NB_FOLDS)
    assert tables.shape == (NB_FOLDS + 1, 8)
    for k in range(NB_FOLDS):
        keep = folds != k
        np.testing.assert_allclose(tables[k], nb_log_ratios(*nb_counts(ids[keep], labels[keep], 8)), atol=1e-6)
    np.testing.assert_allclose(tables[-1], nb_log_ratios(*nb_counts(ids, labels, 8)), atol=1e-6)


def test_nb_text_model_trains_with_folds_and_saves_strings_only(tmp_path):
    preset = with_overrides(TEXT_PRESETS["fast"], nb_features=True, sequence_length=16)
    texts = np.array(["a great great movie", "awful bad film", "great fun", "bad acting"] * 5, dtype=object)
    labels = np.array([1, 0, 1, 0] * 5)
    vectorizer = make_vectorizer(preset, texts)
    with pytest.raises(ValueError, match="training texts"):
        build_text_model(preset, vectorizer)
    model = build_text_model(preset, vectorizer, texts, labels, nb_folds(20))
    assert set(model.input) == {"text", "fold"}
    model.compile("adam", "binary_crossentropy")
    model.fit({"text": tf.constant(texts.tolist()), "fold": nb_folds(20)}, labels.astype("float32"), verbose=0)
    final = inference_model(model)
    batch = tf.constant(texts.tolist())
    expected = model.predict({"text": batch, "fold": np.full(20, NB_FOLDS)}, verbose=0)
    np.testing.assert_allclose(final.predict(batch, verbose=0), expected, atol=1e-6)
    loaded = _roundtrip(final, tmp_path)
    assert loaded.get_layer("nb").tables == 1  # the per-fold tables are not shipped
    assert loaded.get_layer("nb").buckets < BIGRAM_BUCKETS  # a small data set gets a small bigram table
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), expected, atol=1e-6)


def test_batched_flip_and_translate_yields_shifted_copies():
    from dlapp.training.augment import flip_and_translate, random_jpeg

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (64, 12, 12, 3), dtype=np.uint8)
    out, labels = flip_and_translate(tf.constant(images), tf.range(64), pad=2)
    out = np.asarray(out)
    assert out.shape == images.shape and out.dtype == np.uint8
    seen = set()
    for image, result in zip(images, out, strict=True):
        padded = {m: np.pad(im, [(2, 2), (2, 2), (0, 0)], mode="reflect")
                  for m, im in ((False, image), (True, image[:, ::-1]))}
        matches = [(m, dy, dx) for m, p in padded.items() for dy in range(5) for dx in range(5)
                   if np.array_equal(p[dy:dy + 12, dx:dx + 12], result)]
        assert matches, "every output must be a mirrored and/or shifted copy of its input"
        seen.add(matches[0])
    assert len({m for m, _, _ in seen}) == 2 and len({(dy, dx) for _, dy, dx in seen}) > 10  # really random

    batch = tf.constant(images[:8])
    lossy = np.asarray(random_jpeg(batch, None, 1.0)[0])
    assert lossy.shape == (8, 12, 12, 3)
    assert all(not np.array_equal(a, b) for a, b in zip(lossy, images[:8], strict=True))
    np.testing.assert_array_equal(np.asarray(random_jpeg(batch, None, 0.0)[0]), images[:8])
    some = np.asarray(random_jpeg(tf.constant(images), None, 0.5)[0])
    changed = sum(not np.array_equal(a, b) for a, b in zip(some, images, strict=True))
    assert 16 < changed < 48  # about half of 64



def test_presets_check_their_choices_and_overrides():
    with pytest.raises(UsageError, match="Unknown cell 'transformer'"):
        with_overrides(TEXT_PRESETS["fast"], cell="transformer")
    with pytest.raises(UsageError, match="Unknown optimizer"):
        with_overrides(IMAGE_PRESETS["fast"], optimizer="sgd")
    with pytest.raises(UsageError, match="Unknown architecture"):
        ImagePreset(name="x", description="x", architecture="resnet", epochs=1, batch_size=1, learning_rate=0.1)
    with pytest.raises(UsageError, match="no setting"):
        with_overrides(IMAGE_PRESETS["fast"], whiten_stride=2)  # a knob that was removed
    kept = with_overrides(TEXT_PRESETS["fast"], cell=None, epochs=7)
    assert kept.cell == TEXT_PRESETS["fast"].cell and kept.epochs == 7 and TEXT_PRESETS["fast"].epochs != 7
