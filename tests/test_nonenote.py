"""An answer that is "none of these", or unsure, says what the model knows, with its own class list (issue #24):
the engine's sentence, the CLI's `predict`, and the /classify_image answer through gradio_client."""

from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from dlapp import limits
from dlapp.cli import TEACH_HINT, main
from dlapp.tasks.image import EXAMPLES_DIR, NONE_OF_THESE, answer_note
from dlapp.testing import a_picture_of_nothing, constant_model

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CAT = next(EXAMPLES_DIR.glob("*-cat.png"))
MUG_PEN = ["mug", "pen"]


def test_the_sentence_names_the_models_own_classes():
    assert answer_note(CIFAR10, declined=True, unsure=True) == (
        "This looks like none of the 10 things this model knows (airplane, automobile, bird, cat, deer, dog, frog, "
        "horse, ship, truck).")
    assert answer_note(["mug", "pen"], declined=False, unsure=True) == (
        "Not sure: this may be none of the 2 things this model knows (mug, pen).")
    assert answer_note(["mug", "pen"], declined=False, unsure=False) == ""  # a confident answer needs no note


def test_a_long_class_list_is_cut_and_counted():
    names = [f"class{i}" for i in range(limits.NOTE_MAX_CLASSES + 5)]
    note = answer_note(names, declined=True, unsure=True)
    assert note.startswith(f"This looks like none of the {len(names)} things this model knows (class0, class1, ")
    assert note.endswith(f"class{limits.NOTE_MAX_CLASSES - 1} and 5 more).")


@pytest.fixture()
def toys(tmp_path):
    """Three "mug, pen" models in a store of their own: one that declines everything (0.5 < 0.6), one unsure of
    everything (0.5, no threshold), one sure of everything (98% mug)."""
    from dlapp.store import ModelStore

    store = ModelStore(tmp_path / "models", tmp_path / "none-shipped")
    constant_model(store, "declines", MUG_PEN, bias=(0, 0), none_threshold=0.6)
    constant_model(store, "unsure", MUG_PEN, bias=(0, 0), none_threshold=None)
    constant_model(store, "sure", MUG_PEN, bias=(4, 0), none_threshold=0.6)
    return store


def test_every_image_model_notes_with_its_own_classes(toys, tmp_path):
    from dlapp.inference import get_predictor

    grey = np.full((4, 4, 3), 128, np.uint8)
    declines = get_predictor("image", "declines", store=toys)
    top = declines.classify(grey, k=2)
    assert declines.top_label(top) == NONE_OF_THESE
    assert declines.note(top) == "This looks like none of the 2 things this model knows (mug, pen)."
    unsure = get_predictor("image", "unsure", store=toys)
    top = unsure.classify(grey, k=2)
    assert unsure.top_label(top) == "mug" and top[0][1] < limits.UNSURE_BELOW
    assert unsure.note(top) == "Not sure: this may be none of the 2 things this model knows (mug, pen)."
    sure = get_predictor("image", "sure", store=toys)
    assert sure.note(sure.classify(grey, k=2)) == ""


def grey_png(path: Path, size: int = 64) -> Path:
    Image.new("RGB", (size, size), (128, 128, 128)).save(path)
    return path


def test_cli_predict_prints_the_note_and_how_to_teach_it(toys, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(toys.root))
    monkeypatch.setenv("DLAPP_SHIPPED_MODEL_DIR", str(tmp_path / "none-shipped"))
    photo = grey_png(tmp_path / "grey.png")
    assert main(["predict", "--model", "declines", str(photo), str(photo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{photo}: none of these (closest: mug 50.0%")
    assert lines[1] == "  This looks like none of the 2 things this model knows (mug, pen)."
    assert lines[-1] == TEACH_HINT and lines.count(TEACH_HINT) == 1  # once, after all the answers
    assert "--preset transfer" in TEACH_HINT
    assert main(["predict", "--model", "sure", str(photo)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{photo}: mug 98.2%") and "things this model knows" not in out and TEACH_HINT not in out


# ---------------------------------------------------------------- the API answer (the real app)

@pytest.mark.app
def test_the_api_answer_carries_the_note(client, app_server, tmp_path):
    grey = grey_png(tmp_path / "grey.png")
    constant_model(app_server.store(), "mug-pen", MUG_PEN, bias=(0, 0), none_threshold=0.6)
    answer, _ = client.predict(handle_file(str(grey)), "mug-pen", api_name="/classify_image")
    assert answer["label"] == NONE_OF_THESE
    assert answer["note"] == "This looks like none of the 2 things this model knows (mug, pen)."
    assert [c["label"] for c in answer["confidences"]] == ["mug", "pen"]  # the ranking is still there
    # The default model: a picture of nothing (one it declines, asked first through the engine) gets its class list,
    # and a CIFAR-10 test cat, which it knows, no note.
    from dlapp.inference import get_predictor

    default = get_predictor("image", None, store=app_server.store())
    nothing = a_picture_of_nothing(tmp_path, default)
    answer, _ = client.predict(handle_file(str(nothing)), None, api_name="/classify_image")
    assert answer["note"] == default.note(default.classify(nothing, k=5))
    names = default.class_names
    assert f"the {len(names)} things this model knows ({', '.join(names)})" in answer["note"]
    answer, _ = client.predict(handle_file(str(CAT)), None, api_name="/classify_image")
    assert answer["label"] == "cat" and answer["note"] == ""
