"""The nbsvm text preset: NBSVM's n-gram evidence as a Keras layer, trained, saved and explained."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlapp.explain.text import explain_review
from dlapp.layers import NGramNB, _first_seen, ngram_ids
from dlapp.nets.text import build_text_model, inference_model, make_vectorizer, nb_counts, nb_log_ratios
from dlapp.tasks import with_overrides
from dlapp.tasks.text import PRESETS

TEXTS = np.array(["a great great movie", "awful bad film", "great fun , truly great", "bad acting and bad plot",
                  "not bad at all", "not good at all"] * 6, dtype=object)
LABELS = np.array([1, 0, 1, 0, 1, 0] * 6)


def _preset():
    return with_overrides(PRESETS["nbsvm"], vocab_size=40, sequence_length=8, epochs=1)


def test_an_ngram_counts_once_per_review_wherever_it_repeats():
    ids = np.array([[5, 3, 5, 0, 0], [2, 2, 2, 7, 0]], dtype="int64")
    np.testing.assert_array_equal(np.asarray(_first_seen(tf.constant(ids))), [[1, 1, 0, 0, 0], [1, 0, 0, 1, 0]])
    # the layer hashes like its NumPy twin, and an n-gram never reaches into padding or before the review
    tri = ngram_ids(ids, 3, 10, 101)
    assert (tri[:, :2] == 0).all() and tri[0, 2] > 0 and tri[0, 3] == 0 and tri[1, 3] > 0
    layer = NGramNB(10, 101, order=3, folded=True)  # the saved form: one table per order
    layer.build(ids.shape)
    for table in layer.ratios:
        table.assign(np.ones(table.shape, "float32"))
    evidence = np.asarray(layer(tf.constant(ids)))
    np.testing.assert_array_equal(evidence[1, :, 0], [1, 0, 0, 1, 0])  # "2" once, then "7"
    np.testing.assert_array_equal(evidence[1, :, 1], [0, 1, 0, 1, 0])  # bigram (2,2) once, then (2,7)


def test_nbsvm_trains_then_saves_one_folded_table_per_order(tmp_path):
    preset = _preset()
    vectorizer = make_vectorizer(preset, TEXTS)
    with pytest.raises(ValueError, match="training texts"):
        build_text_model(preset, vectorizer)
    model = build_text_model(preset, vectorizer, TEXTS, LABELS)
    nb = model.get_layer("nb")
    ids = np.asarray(vectorizer(TEXTS.astype(str)))
    np.testing.assert_allclose(np.asarray(nb.ratios[0]), nb_log_ratios(*nb_counts(ids, LABELS, nb.vocab_size),
                                                                        min_docs=2), atol=1e-6)
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    model.fit(tf.constant(TEXTS.tolist()), LABELS.astype("float32"), epochs=3, verbose=0)
    assert any(np.abs(np.asarray(w)).max() > 0 for w in nb.gains)  # the per-n-gram weights learnt
    final = inference_model(model)
    assert final.get_layer("nb").folded and not final.get_layer("nb").trainable_weights
    batch = tf.constant(TEXTS.tolist())
    expected = model.predict(batch, verbose=0)
    np.testing.assert_allclose(final.predict(batch, verbose=0), expected, atol=2e-3)  # 16-bit tables
    path = tmp_path / "m.keras"
    final.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), expected, atol=2e-3)
    # a linear model's words are explained exactly: the scores add up to the logit
    e = explain_review(loaded, "not bad at all, a great movie")
    assert sum(s for _, s in e.tokens) == pytest.approx(e.logit_change, abs=1e-3)
    assert dict(e.tokens)["great"] > 0

