"""Issue #23, item 11: inputs that broke the answers. Accented reviews and reviews in which the model
knows no word, through the engine, the real app (gradio_client) and the CLI."""

import os
import subprocess
import sys

import keras
import pytest

import dlapp.layers  # noqa: F401  registers the layers the saved models use
from dlapp.explain.text import explain_review
from dlapp.tasks.text import NO_VERDICT
from dlapp.testing import REPO

ACCENTED = "C'était un film großartige, vraiment génial! Wonderful acting, naïve but moving."
NO_KNOWN_WORD = {"chinese": "这部电影很好看，演员非常出色。", "emoji": "😀 🎉 👍👍", "unknown-words": "xyzzy qwzxyv"}


@pytest.fixture(scope="module")
def fast(shipped_dir):
    return keras.saving.load_model(shipped_dir / "imdb-fast.keras", safe_mode=True)


# ---------------------------------------------------------------- accented words (engine)


def test_accented_words_are_shown_as_written_with_the_score_of_what_the_model_read(fast):
    e = explain_review(fast, ACCENTED)
    assert [w.text for w in e.words] == ACCENTED.split()  # "était" is not cut to "tait"
    words = {w.text: w for w in e.words}
    assert words["C'était"].tokens == ("c'", "tait")  # what the model made of it: TF's lower/regex are ASCII-only
    assert words["großartige,"].tokens == ("gro", "artige")
    assert words["naïve"].tokens == ("na", "ve")
    tokens = iter(e.tokens)  # each word has the sum of its own tokens' scores: nothing lost, nothing twice
    for w in e.words:
        mine = [next(tokens) for _ in w.tokens]
        assert tuple(t for t, _ in mine) == w.tokens and w.score == pytest.approx(sum(s for _, s in mine))
    assert e.known > 0


def test_a_word_the_model_cannot_read_at_all_is_shown_as_not_read(fast):
    e = explain_review(fast, "Wonderful 电影 film <br /><br />ça")
    assert [(w.text, w.tokens, w.score is None) for w in e.words] == [
        ("Wonderful", ("wonderful",), False), ("电影", (), True), ("film", ("film",), False), ("ça", ("a",), False)]


@pytest.mark.parametrize("text", NO_KNOWN_WORD.values(), ids=NO_KNOWN_WORD.keys())
def test_a_review_without_a_known_word_is_flagged(fast, text):
    assert explain_review(fast, text).known == 0
    assert explain_review(fast, text + " wonderful").known == 1


# ---------------------------------------------------------------- through the real app


@pytest.mark.app
def test_explain_sentiment_gives_the_words_as_written(client):
    out = client.predict(ACCENTED, None, api_name="/explain_sentiment")
    assert [w["word"] for w in out["words"]] == ACCENTED.split()
    words = {w["word"]: w for w in out["words"]}
    assert words["C'était"]["read_as"] == ["c'", "tait"] and words["C'était"]["score"] is not None
    assert out["label"] in ("positive", "negative") and out["known"] > 0 and out["note"] == ""


@pytest.mark.app
@pytest.mark.parametrize("text", NO_KNOWN_WORD.values(), ids=NO_KNOWN_WORD.keys())
def test_no_verdict_for_a_review_without_a_known_word(client, text):
    label = client.predict(text, None, api_name="/analyze_sentiment")
    assert label["label"] == NO_VERDICT and not label.get("confidences")
    out = client.predict(text, None, api_name="/explain_sentiment")
    assert out["label"] is None and out["probability"] is None and out["known"] == 0
    assert "knows none of this review's words" in out["note"]
    assert client.predict("Wonderful, I loved it.", None, api_name="/analyze_sentiment")["label"] == "positive"


def test_cli_predict_gives_no_verdict_without_a_known_word(shipped_dir):
    out = subprocess.run([sys.executable, "-m", "dlapp", "predict", "--text", NO_KNOWN_WORD["chinese"],
                          "--text", "Wonderful, I loved it."], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "DLAPP_MODEL_DIR": str(shipped_dir)}, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"{NO_VERDICT} (it knows none of its words)") and "%" not in lines[0]
    assert lines[1].startswith("positive (")
