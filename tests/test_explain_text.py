"""Review explanations (dlapp/explain/text.py) on the shipped imdb-fast model and on tiny
untrained stacked and pooled models: the prediction, the tokens, completeness, the trajectory."""

import math

import keras
import numpy as np
import pytest

from dlapp.errors import InvalidTextError
from dlapp.explain.text import explain_review, reading_trajectory, standardized_tokens, tokens_read
from dlapp.layers import Temperature
from dlapp.nets.text import build_text_model, make_vectorizer
from dlapp.tasks import with_overrides
from dlapp.tasks.text import PRESETS
from dlapp.training.calibrate import with_temperature

CLEAR = "this film was wonderful, brilliant and moving"
MIXED = ("The plot was thin and the pacing slow.<br /><br />But the cast is charming, "
         "and the ending moved me! Would I watch it again? Probably.")


def _without_temperature(model):
    last = model.layers[-1]
    return keras.Model(model.inputs[0], last.input, name=model.name) if isinstance(last, Temperature) else model


@pytest.fixture(scope="module")
def shipped(shipped_dir):
    return keras.saving.load_model(shipped_dir / "imdb-fast.keras", safe_mode=True)


@pytest.fixture(scope="module", params=["plain", "temperature"])
def fast(request, shipped):
    """imdb-fast without and with a final Temperature layer (whichever the shipped file has)."""
    plain = _without_temperature(shipped)
    return plain if request.param == "plain" else with_temperature(plain, 0.8)


def _predict(model, text: str) -> float:
    return float(model.predict(np.array([text], dtype=object), verbose=0)[0, 0])


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _assert_complete(e, tolerance: float = 0.05):
    """IG's completeness: the scores add up to the logit's change from the baseline, and that
    change is what the probabilities say (checked from P, by another route than the logits)."""
    total = sum(score for _, score in e.tokens)
    assert abs(total - e.logit_change) <= tolerance * max(abs(e.logit_change), 1.0), (total, e.logit_change)
    assert e.logit_change == pytest.approx(_logit(e.probability) - _logit(e.baseline_probability), abs=1e-3)


def test_probability_is_the_models_own_prediction(fast):
    for text in (CLEAR, MIXED, "awful, boring, a waste of time"):
        e = explain_review(fast, text, class_names=("neg", "pos"))
        p = _predict(fast, text)
        assert e.label == ("pos" if p >= 0.5 else "neg")
        assert e.probability == pytest.approx(p if p >= 0.5 else 1 - p, abs=1e-6)


def test_a_strongly_positive_word_pushes_towards_positive(fast):
    e = explain_review(fast, CLEAR)
    scores = dict(e.tokens)
    assert e.label == "positive"
    assert scores["wonderful"] > 0 and max(scores, key=scores.get) in {"wonderful", "brilliant", "moving"}
    negative = explain_review(fast, "awful, boring, a waste of time")
    assert negative.label == "negative" and dict(negative.tokens)["awful"] > 0  # towards the predicted label


def test_tokens_are_what_the_vectorizer_reads(shipped):
    text = "It's GREAT!<br />Really,great... <i>qwzxyv</i>"
    words = standardized_tokens(shipped, text)
    assert words == ["it's", "great", "really", "great", "qwzxyv"]
    vectorizer = shipped.get_layer("vectorize")
    vocabulary, ids = vectorizer.get_vocabulary(), np.asarray(vectorizer(np.array([text], dtype=object)))[0]
    assert [vocabulary[i] for i in ids[:len(words)]] == ["it's", "great", "really", "great", "[UNK]"]
    e = explain_review(shipped, text)
    assert [w for w, _ in e.tokens] == words and e.read == e.total == 5 and e.unread == []
    assert dict(e.tokens)["qwzxyv"] != 0.0  # out-of-vocabulary tokens are read too, so they get a score
    odd = "Café naïve\u00a0—  ünïcode's <b>bold</b>"  # TF's regex strips non-ASCII letters; so do we
    assert explain_review(shipped, odd).read == len(standardized_tokens(shipped, odd)) == 6


def test_a_long_review_reports_what_is_not_read(shipped):
    words = [f"w{i % 50}" for i in range(300)]
    e = explain_review(shipped, "Great. " + " ".join(words))
    assert tokens_read(shipped) == 256 == e.read == len(e.tokens)
    assert e.total == 301 and e.unread == words[255:]


def test_scores_add_up_to_the_logit_change(fast):
    _assert_complete(explain_review(fast, MIXED))


@pytest.fixture(scope="module", params=[("stacked", False), ("stacked", True), ("pooled", True)],
                ids=["stacked", "stacked-temperature", "pooled-temperature"])
def tiny(request):
    """An untrained seed-style model on a tiny vocabulary (shapes and completeness only)."""
    architecture, temperature = request.param
    base = PRESETS["seed-imdb"] if architecture == "stacked" else PRESETS["fast"]
    preset = with_overrides(base, vocab_size=60, sequence_length=12, embedding_dim=8, units=(8, 8)[:len(base.units)],
                            nb_features=False)
    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(40)]
    texts = np.array([" ".join(rng.choice(words, 6)) for _ in range(36)], dtype=object)
    model = build_text_model(preset, make_vectorizer(preset, texts))
    embed = model.get_layer("embed")
    # Keras initialises embeddings at +-0.05, too small for the logit to move; N(0, 1) makes it move.
    embed.set_weights([rng.normal(size=embed.get_weights()[0].shape).astype("float32")])
    return with_temperature(model, 0.7) if temperature else model


def test_tiny_stacked_and_pooled_models_are_explained(tiny):
    text = "word1 word2 word3 unknown word4. word5 word6 word7 word8 word9 word10 word11 word12 word13"
    e = explain_review(tiny, text)
    p = _predict(tiny, text)
    assert e.probability == pytest.approx(max(p, 1 - p), abs=1e-6)
    assert e.read == 12 == len(e.tokens) and e.total == 14 and e.unread == ["word12", "word13"]
    _assert_complete(e)


def test_trajectory_follows_the_sentences(fast):
    points = reading_trajectory(fast, MIXED)
    assert [s for s, _ in points] == ["The plot was thin and the pacing slow.", "But the cast is charming, and the "
                                      "ending moved me!", "Would I watch it again?", "Probably."]
    assert points[-1][1] == pytest.approx(_predict(fast, MIXED), abs=1e-6)
    assert points[0][1] == pytest.approx(_predict(fast, "The plot was thin and the pacing slow."), abs=1e-6)


def test_trajectory_of_a_very_long_review_is_capped(fast):
    text = " ".join(f"Scene {i} was {'good' if i % 3 else 'dull'}." for i in range(150)) + "<br /><br />"
    points = reading_trajectory(fast, text)
    assert len(points) == 60 and points[0][0].startswith("Scene 0 was dull. Scene 1 was good.")
    assert points[-1][1] == pytest.approx(_predict(fast, text), abs=1e-6)


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_empty_text_is_refused(shipped, text):
    for call in (explain_review, reading_trajectory, standardized_tokens):
        with pytest.raises(InvalidTextError):
            call(shipped, text)
