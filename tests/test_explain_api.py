"""Explanations and "none of these" through the public API and the CLI, on the shipped models."""

import json

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from dlapp.cli import main
from dlapp.tasks.image import EXAMPLES_DIR
from dlapp.testing import encode, error_of, sample_rgb

pytestmark = pytest.mark.app

CAT = next(EXAMPLES_DIR.glob("*-cat.png"))


def test_a_picture_of_nothing_is_none_of_these_with_the_ranking_kept(client, tmp_path):
    black = tmp_path / "black.png"
    black.write_bytes(encode(Image.new("RGB", (64, 64)), "PNG"))
    label, _ = client.predict(handle_file(str(black)), None, api_name="/classify_image")
    assert label["label"] == "none of these"
    ranked = [c["confidence"] for c in label["confidences"]]
    assert len(ranked) == 5 and ranked == sorted(ranked, reverse=True) and ranked[0] < 0.6
    label, _ = client.predict(handle_file(str(CAT)), None, api_name="/classify_image")
    assert label["label"] == "cat"  # a CIFAR-10 test cat is one of its classes
    table = client.predict([handle_file(str(black)), handle_file(str(CAT))], None, api_name="/classify_images")
    assert [row[1] for row in table["data"]] == ["none of these", "cat"]


def test_explain_image_returns_the_overlay_and_the_raw_heat_map(client):
    overlay, heat = client.predict(handle_file(str(CAT)), None, "cat", api_name="/explain_image")
    assert Image.open(overlay).size[0] >= 160
    heat = np.asarray(heat)
    assert heat.ndim == 2 and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    _, other = client.predict(handle_file(str(CAT)), None, "truck", api_name="/explain_image")
    assert np.abs(np.asarray(other) - heat).max() > 0.1  # a different class has its evidence elsewhere
    _, top = client.predict(handle_file(str(CAT)), None, None, api_name="/explain_image")  # None: the top class
    np.testing.assert_allclose(top, heat)
    message = error_of(client.predict, handle_file(str(CAT)), None, "unicorn", api_name="/explain_image")
    assert "'unicorn' is not one of this model's classes" in message


def test_explain_sentiment_scores_each_word_in_reading_order(client):
    review = "A dull, lifeless script and wooden acting. Only the music is lovely."
    out = client.predict(review, None, api_name="/explain_sentiment")
    assert out["label"] == "negative" and 0.5 < out["probability"] <= 1
    words = [w for w, _ in out["tokens"]]
    assert words == "a dull lifeless script and wooden acting only the music is lovely".split()
    score = dict(out["tokens"])
    assert score["dull"] > 0 > score["lovely"]  # towards the verdict, and against it
    assert out["read"] >= out["total"] == len(words) and out["unread"] == []
    long = client.predict("bad " * 2000, None, api_name="/explain_sentiment")
    assert len(long["tokens"]) == long["read"] < long["total"] == 2000 and len(long["unread"]) == 2000 - long["read"]
    assert "empty" in error_of(client.predict, "   ", None, api_name="/explain_sentiment").lower()


def test_cli_explains_an_image_and_a_review(shipped_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    out = tmp_path / "cam.png"
    assert main(["explain", str(CAT), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == result["class"] == "cat" and Image.open(out).mode == "RGB"
    assert main(["explain", "--text", "Wonderful, moving and brilliant.", "--words", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("positive") and len(lines) == 4
    photo = tmp_path / "p.jpg"
    photo.write_bytes(encode(sample_rgb(), "JPEG"))
    assert main(["explain", str(photo), "--class", "unicorn"]) == 1
    with pytest.raises(SystemExit):
        main(["explain"])  # neither an image nor --text
