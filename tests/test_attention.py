"""The `attention` text preset (dlapp/attention.py, nets/text.py) and its attention view
(explain/attention.py): tiny untrained models for the pieces, the shipped imdb-attention for the
card, the CLI and the API. No training beyond one epoch of a few dozen toy reviews."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from dlapp.explain import attention as view_of
from dlapp.explain.text import explain_review
from dlapp.nets.text import inference_model
from dlapp.tasks import with_overrides
from dlapp.tasks.text import PRESETS, TASK
from dlapp.testing import REPO, error_of
from dlapp.training.calibrate import with_temperature

WORDS = [f"word{i}" for i in range(40)]
TEXT = "word1 word2 word3 unknown word4. word5 word6 word7 word8 word9 word10 word11 word12 word13"


def toy(*, nb: bool = True, blocks: int = 1, pooling: str = "attention", seed: int = 0):
    """A tiny attention model, fitted one epoch on random toy reviews, as it is saved (strings in)."""
    preset = with_overrides(PRESETS["attention"], vocab_size=60, sequence_length=16, embedding_dim=8, units=(16,),
                            nb_features=nb, blocks=blocks, pooling=pooling)
    rng = np.random.default_rng(seed)
    texts = np.array([" ".join(rng.choice(WORDS, rng.integers(2, 14))) for _ in range(64)], dtype=object)
    labels = rng.integers(0, 2, len(texts))
    model = TASK.build(preset, texts, labels, num_classes=2, input_shape=())
    model.compile("adam", "binary_crossentropy")
    model.fit(TASK.training_inputs(model, texts, validation=False, preset=preset), labels, epochs=1, verbose=0)
    saved = inference_model(model)
    embed = saved.get_layer("embed")  # +-0.05 embeddings barely move the answer; N(0, 1) makes them matter
    embed.set_weights([rng.normal(size=embed.get_weights()[0].shape).astype("float32")])
    return saved


@pytest.fixture(scope="module", params=["nb", "plain"])
def model(request):
    return toy(nb=request.param == "nb", blocks=2)


def _p(model, texts) -> np.ndarray:
    return np.asarray(model.predict(np.array(texts, dtype=object), verbose=0))[:, 0]


def test_the_preset_is_a_self_attention_encoder_with_an_attention_pooling_head():
    preset = TASK.preset("attention", dataset="imdb")
    assert preset.architecture == "attention" and preset.blocks >= 1 and preset.pooling == "attention"
    head = toy().get_layer("head")
    kinds = [type(layer).__name__ for layer in head.layers]
    assert {"PositionEmbedding", "SelfAttentionBlock", "AttentionPooling"} <= set(kinds)


@pytest.mark.parametrize("nb", [True, False], ids=["nb", "plain"])
def test_a_saved_attention_model_stands_alone(nb, tmp_path):
    model = toy(nb=nb)
    path = tmp_path / "attention.keras"
    model.save(path)
    back = keras.saving.load_model(path, safe_mode=True)  # dlapp.layers is imported: its layers are registered
    texts = [TEXT, "word5 word5 word9", "nothing known here"]
    np.testing.assert_allclose(_p(back, texts), _p(model, texts), atol=1e-6)
    assert back.input.dtype == "string" and not isinstance(back.input, dict)  # strings only, no fold input


def test_padding_takes_no_attention_and_changes_no_answer(model):
    weights, maps, p = view_of.head_outputs(model, [TEXT, "word3 word4"])
    n = len(TEXT.split())  # every toy word is one token
    assert weights[0, :n].sum() == pytest.approx(1.0, abs=1e-5) and np.all(weights[0, n:] == 0)
    assert weights[1, :2].sum() == pytest.approx(1.0, abs=1e-5) and np.all(weights[1, 2:] == 0)
    assert np.all(maps[:, 1, :, 2:] == 0)  # no query attends to a padding key
    np.testing.assert_allclose(p, _p(model, [TEXT, "word3 word4"]), atol=1e-5)  # the probe is the model


def test_integrated_gradients_add_up_on_an_attention_model(model):
    for m in (model, with_temperature(model, 0.7)):
        e = explain_review(m, TEXT)
        total = sum(score for _, score in e.tokens)
        assert abs(total - e.logit_change) <= 0.05 * max(abs(e.logit_change), 1.0)
        p = float(_p(m, [TEXT])[0])
        assert e.probability == pytest.approx(max(p, 1 - p), abs=1e-5)


def test_the_view_pooling_rollout_and_drop_effect(model):
    view = view_of.explain_attention(model, TEXT)
    tokens = TEXT.replace(".", "").split()
    assert view.tokens == tokens and len(view.pooled) == len(view.drop_effect) == len(tokens)
    assert sum(view.pooled) == pytest.approx(1.0, abs=1e-5) and sum(view.rollout) == pytest.approx(1.0, abs=1e-5)
    assert view.rollout != pytest.approx(view.pooled)  # two blocks mix positions
    # The drop effect of the third token, by hand: the label's logit without it.
    p = float(_p(model, [TEXT])[0])
    q = float(_p(model, [" ".join(tokens[:2] + tokens[3:])])[0])
    sign = 1.0 if p >= 0.5 else -1.0
    expected = sign * (math.log(p / (1 - p)) - math.log(q / (1 - q)))
    assert view.drop_effect[2] == pytest.approx(expected, abs=1e-3)
    assert view.agreement == pytest.approx(view_of.spearman(view.pooled, np.abs(view.drop_effect)))
    assert [w.text for w in view.words] == TEXT.split()  # as written: "word4." keeps its full stop
    assert view.words[4].score == pytest.approx(view.pooled[4])
    assert "not why" in view.caution


def test_uniform_pooling_is_the_mean_over_the_tokens(model):
    weights, _, p = view_of.head_outputs(model, [TEXT], uniform=True)
    n = len(TEXT.split())
    np.testing.assert_allclose(weights[0, :n], 1.0 / n, rtol=1e-5)
    assert abs(float(p[0]) - float(_p(model, [TEXT])[0])) > 1e-6  # the learnt weights are not uniform


def test_a_mean_pooling_model_is_no_attention_view_and_without_blocks_there_is_no_rollout():
    assert not view_of.is_attention_model(toy(pooling="mean"))
    flat = toy(blocks=0)
    assert view_of.is_attention_model(flat)
    view = view_of.explain_attention(flat, TEXT)
    assert view.rollout is None and view.agreement_rollout is None and view.rollout_words is None


def test_rollout_and_spearman_by_hand():
    pooled = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(view_of.rollout(pooled, np.zeros((0, 3, 3))), pooled)
    everything_on_first = np.zeros((1, 3, 3))
    everything_on_first[0, :, 0] = 1.0  # every position reads the first word only
    np.testing.assert_allclose(view_of.rollout(pooled, everything_on_first), [0.75, 0.15, 0.1])
    assert view_of.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert view_of.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert view_of.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(0.9486833)  # ties: ranks 1, 2.5, 2.5, 4
    assert view_of.spearman([1, 2], [2, 1]) is None and view_of.spearman([1, 1, 1], [1, 2, 3]) is None


def test_drop_effects_reads_the_tokens_past_the_cut(model):
    tokens = [WORDS[i % 20] for i in range(20)]  # 20 tokens, 16 read: deleting one brings the 17th in
    effects = view_of.drop_effects(model, tokens, 16, positive=True)
    p = _p(model, [" ".join(tokens), " ".join(tokens[1:])])
    assert effects[0] == pytest.approx(math.log(p[0] / (1 - p[0])) - math.log(p[1] / (1 - p[1])), abs=1e-3)


def test_non_attention_models_get_no_attention_view(shipped_dir):
    fast = keras.saving.load_model(shipped_dir / "imdb-fast.keras", safe_mode=True)
    assert not view_of.is_attention_model(fast) and view_of.attention_dict(fast, "a fine film") is None
    assert "Not an attention model" in error_of(view_of.explain_attention, fast, "a fine film")


# ---------------------------------------------------------------- the shipped imdb-attention

SHIPPED = (REPO / "models" / "imdb-attention.json").exists()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="imdb-attention is not shipped yet (models/)")


@needs_shipped
def test_the_shipped_attention_model_meets_its_target_and_stays_small():
    card = json.loads((REPO / "models" / "imdb-attention.json").read_text())
    assert card["preset"] == "attention" and card["dataset"]["name"] == "imdb"
    assert card["metrics"]["test_accuracy"] >= 0.885 and card["metrics"]["test_examples"] == 25_000
    assert card["provenance"]["training_time_s"] <= 15 * 60
    assert "--preset attention" in card["provenance"]["command"]
    assert card["metrics"]["ece"] < 0.03 and card["calibration"]["temperature"] > 0
    assert (REPO / "models" / "imdb-attention.keras").stat().st_size < 15 * 2**20


@needs_shipped
def test_cli_explain_shows_the_attention_view_only_for_attention_models(shipped_dir, monkeypatch, capsys):
    from dlapp.cli import main

    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    review = "A wonderful film: the acting is superb, though the ending drags."
    assert main(["explain", "--text", review, "--model", "imdb-attention"]) == 0
    out = capsys.readouterr().out
    assert "where the model pooled" in out and "agreement with removing each word" in out and "not why" in out
    assert main(["explain", "--text", review, "--model", "imdb-attention", "--json"]) == 0
    attention = json.loads(capsys.readouterr().out)["attention"]
    words = "a wonderful film the acting is superb though the ending drags".split()
    assert [t for t, _ in attention["pooled"]] == words
    assert sum(w for _, w in attention["pooled"]) == pytest.approx(1.0, abs=1e-3)
    assert -1 <= attention["agreement"] <= 1 and len(attention["drop_effect"]) == len(attention["pooled"])
    assert main(["explain", "--text", review, "--model", "imdb-fast"]) == 0
    assert "pooled" not in capsys.readouterr().out
    assert main(["explain", "--text", review, "--model", "imdb-fast", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["attention"] is None


@needs_shipped
@pytest.mark.app
def test_explain_sentiment_api_adds_the_attention_view_for_attention_models(client):
    review = "A dull, lifeless script and wooden acting. Only the music is lovely."
    out = client.predict(review, "imdb-attention", api_name="/explain_sentiment")
    attention = out["attention"]
    assert [t for t, _ in attention["pooled"]] == [t for t, _ in out["tokens"]]
    assert sum(w for _, w in attention["pooled"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(w for _, w in attention["rollout"]) == pytest.approx(1.0, abs=1e-3)
    assert -1 <= attention["agreement"] <= 1 and "not why" in attention["caution"]
    assert client.predict(review, "imdb-fast", api_name="/explain_sentiment")["attention"] is None
    unknown = client.predict("这部电影很好看", "imdb-attention", api_name="/explain_sentiment")
    assert unknown["label"] is None and unknown["attention"] is None
