"""Issue #23, item 11: inputs that broke the answers. Accented reviews, reviews in which the model
knows no word, and phone photos over 25 MP, through the engine, the real app (gradio_client) and the CLI."""

import io
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

import dlapp.layers  # noqa: F401  registers the layers the saved models use
from dlapp.errors import InvalidImageError
from dlapp.explain.text import explain_review
from dlapp.images import open_image
from dlapp.tasks.text import NO_VERDICT
from dlapp.testing import REPO, broken_images, error_of

ACCENTED = "C'était un film großartige, vraiment génial! Wonderful acting, naïve but moving."
NO_KNOWN_WORD = {"chinese": "这部电影很好看，演员非常出色。", "emoji": "😀 🎉 👍👍", "unknown-words": "xyzzy qwzxyv"}
MAX = 25_000_000  # the default DLAPP_MAX_IMAGE_PIXELS


def phone_jpeg(path: Path, size: tuple[int, int] = (8000, 6000), *, progressive: bool = False) -> Path:
    """A photo-like JPEG (smooth shapes plus sensor noise) of `size`: 8000×6000 is a 48 MP phone's, ~18 MB."""
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    noise = Image.effect_noise(size, 24).convert("RGB")
    Image.blend(img, noise, 0.15).save(path, "JPEG", quality=90, progressive=progressive)
    return path


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


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


# ---------------------------------------------------------------- big phone photos (engine)


def test_a_48_megapixel_phone_jpeg_decodes_reduced_under_the_cap(tmp_path):
    img = open_image(phone_jpeg(tmp_path / "phone.jpg"), max_pixels=MAX)
    assert img.size == (4000, 3000)  # libjpeg's 1/2 scale: 12 MP held, never 48


def test_jpegs_past_their_cap_and_progressive_ones_over_the_cap_are_refused(tmp_path):
    header_bomb = bytearray(io.BytesIO(_jpeg((16, 16))).getvalue())
    sof = header_bomb.index(b"\xff\xc0")  # SOF0: length (2), precision (1), height (2), width (2)
    header_bomb[sof + 5:sof + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")  # 3,600 MP claimed
    with pytest.raises(InvalidImageError, match="limit is 200 megapixels for a JPEG"):
        open_image(bytes(header_bomb), max_pixels=MAX)
    with pytest.raises(InvalidImageError, match="limit is 25 megapixels for a progressive JPEG"):
        open_image(phone_jpeg(tmp_path / "p.jpg", (6000, 4500), progressive=True), max_pixels=MAX)
    with pytest.raises(InvalidImageError, match="megapixels; the limit"):
        open_image(broken_images()["bomb.png"], max_pixels=MAX)  # 100k×100k PNG: refused as before


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "gray").save(out, "JPEG")
    return out.getvalue()


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


@pytest.mark.app
def test_a_48_megapixel_phone_photo_is_classified_within_a_memory_bound(app_server, client, tmp_path):
    """The decoded photo is 12 MP (36 MB as RGB) after libjpeg's 1/2 scale; peak RSS rose by 97 MB
    with the upload's handling. Decoded whole (the cap raised, without the reduction) it rose by
    384 MB: the 144 MB picture and its crop and resize copies. +200 MB tells the two apart."""
    small = tmp_path / "small.jpg"
    small.write_bytes(_jpeg((64, 48)))
    client.predict(handle_file(str(small)), None, api_name="/classify_image")  # the model is loaded and warm
    photo = phone_jpeg(tmp_path / "phone.jpg")
    pid = app_server.proc.pid
    before = rss_kb(pid)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM restarts from the current RSS
    label, _ = client.predict(handle_file(str(photo)), None, api_name="/classify_image")
    peak = rss_kb(pid, "VmHWM")
    assert label["confidences"], label
    assert peak - before < 200_000, f"peak RSS rose by {(peak - before) / 1e3:.0f} MB"
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(broken_images()["bomb.png"])
    assert "megapixels" in error_of(client.predict, handle_file(str(bomb)), None, api_name="/classify_image")


def test_cli_predict_gives_no_verdict_without_a_known_word(shipped_dir):
    out = subprocess.run([sys.executable, "-m", "dlapp", "predict", "--text", NO_KNOWN_WORD["chinese"],
                          "--text", "Wonderful, I loved it."], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "DLAPP_MODEL_DIR": str(shipped_dir)}, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"{NO_VERDICT} (it knows none of its words)") and "%" not in lines[0]
    assert lines[1].startswith("positive (")


@pytest.mark.app
def test_csv_rows_without_a_known_word_get_no_verdict(client, tmp_path):
    import csv

    reviews = tmp_path / "mixed.csv"
    reviews.write_text("text\nA wonderful film\n这部电影很好看\n🎬🍿🎉\n", encoding="utf-8")
    out_path, _ = client.predict(handle_file(str(reviews)), None, api_name="/analyze_csv")
    rows = list(csv.DictReader(open(out_path, encoding="utf-8")))
    assert rows[0]["label"] in ("positive", "negative") and rows[0]["confidence"]
    for row in rows[1:]:
        assert (row["label"], row["confidence"]) == ("no verdict", ""), row
        assert "knows none of its words" in row["note"]
