"""A confusion-matrix cell shows its test examples without the data set: a few per cell are kept
beside the model (`<id>.examples.npz`, bounded in bytes, no pickle), written when it is saved, removed
when it is deleted; a model saved before that says plainly why its cells cannot show examples."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest

from dlapp import limits
from dlapp.data import load_dataset
from dlapp.errors import UsageError
from dlapp.explain.examples import cell_examples, examples_file, kept_indices, save_cell_examples
from dlapp.store import ModelStore, get_store
from dlapp.testing import class_folder, needs_data, toy_card
from dlapp.training import TrainConfig, train


@pytest.fixture()
def trained_on_a_zip(model_dir, tmp_path):
    """A tiny model trained on an uploaded .zip (as the Train tab's upload road does), and that zip's test split;
    the zip itself is gone afterwards, as a staged upload is."""
    folder = class_folder(tmp_path / "three_classes", classes=("blue", "green", "red"), per_class=10, size=16)
    archive = tmp_path / "three_classes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*.png")):
            zf.write(p, p.relative_to(folder).as_posix())
    shutil.rmtree(folder)
    result = train(TrainConfig(str(archive), preset="seed-cifar10", epochs=1, batch_size=4, image_size=16))
    data = load_dataset(str(archive), image_size=(16, 16))
    archive.unlink()
    return result.card, data


def test_cells_of_a_model_trained_on_an_upload_show_their_examples_after_the_upload_is_gone(trained_on_a_zip,
                                                                                             model_dir):
    card, data = trained_on_a_zip
    sidecar = examples_file(model_dir, card.id)
    assert sidecar.is_file() and sidecar.stat().st_size < 1_000_000
    with np.load(sidecar, allow_pickle=False) as f:  # plain arrays: nothing to unpickle
        assert f["x"].dtype == np.uint8 and f["x"].shape[1:] == (16, 16, 3)
    shown = 0
    for key, indices in card.metrics.cell_examples.items():
        true, predicted = map(int, key.split(","))
        examples = cell_examples(card, true, predicted)
        assert [e.index for e in examples] == indices  # tiny data: every listed example is kept
        for e in examples:
            assert np.array_equal(e.x, data.x_test[e.index]) and e.true == card.class_names[true]
        shown += len(examples)
    assert shown == card.metrics.test_examples


def test_the_models_tab_cell_click_shows_the_examples(trained_on_a_zip):
    from dlapp.ui.explained import open_cell

    card, _ = trained_on_a_zip
    key, indices = next(iter(card.metrics.cell_examples.items()))
    true, predicted = map(int, key.split(","))
    title, gallery, _ = open_cell(card.id, f"{true},{predicted}")  # what the page script sends for a click
    assert f"{card.class_names[true]} → {card.class_names[predicted]}" in title
    assert gallery["visible"] and len(gallery["value"]) == len(indices)


def test_a_model_saved_without_examples_says_why_its_cells_cannot_show_them(trained_on_a_zip, model_dir):
    card, _ = trained_on_a_zip
    examples_file(model_dir, card.id).unlink()  # as saved before dlapp kept them
    key = next(iter(card.metrics.cell_examples))
    with pytest.raises(UsageError) as err:
        cell_examples(card, *map(int, key.split(",")))
    message = str(err.value)
    assert "saved without its test examples" in message and "trained on uploaded data ('three_classes')" in message
    assert "Unknown dataset" not in message


def test_deleting_a_model_deletes_its_examples(trained_on_a_zip, model_dir):
    card, _ = trained_on_a_zip
    get_store().delete(card.id)
    assert sorted(p.name for p in model_dir.iterdir() if not p.name.startswith(".")) == []


def test_the_examples_file_stays_within_its_byte_budget_and_every_cell_keeps_some(tmp_path):
    """CIFAR-10's worst case: 100 cells with 8 listed examples each, 3 KB apiece (2.4 MB raw)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (800, 32, 32, 3), dtype=np.uint8)  # noise: the compression's worst case
    y = np.repeat(np.arange(10), 80)
    cells = {f"{t},{p}": [int(i) for i in np.flatnonzero(y == t)[p * 8:p * 8 + 8]]
             for t in range(10) for p in range(10)}
    card = toy_card(class_names=[str(i) for i in range(10)], input={"shape": [32, 32, 3]},
                    metrics={"cell_examples": cells, "test_examples": 800})
    kept = kept_indices(card, x)
    assert len(kept) * x[0].nbytes <= limits.CELL_EXAMPLES_BYTES
    assert all(set(indices) & set(kept) for indices in cells.values())  # round by round: every cell has some
    path = tmp_path / "toy.examples.npz"
    save_cell_examples(path, card, x, y)
    assert path.stat().st_size < 1_000_000
    assert not list(tmp_path.glob(".tmp-*"))


def test_shipped_models_say_plainly_why_their_cells_need_the_data(shipped_dir, monkeypatch, tmp_path):
    # The repository ships models, never data-set files, so a shipped model's cells read its data set.
    monkeypatch.delenv("DLAPP_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached copy of the data set either
    card = ModelStore(shipped_dir).card("cifar10-fast")
    assert not examples_file(shipped_dir, card.id).exists()
    key = max(card.metrics.cell_examples, key=lambda k: len(card.metrics.cell_examples[k]))
    with pytest.raises(UsageError, match="DLAPP_DATA_DIR"):
        cell_examples(card, *map(int, key.split(",")), root=shipped_dir)


@needs_data
def test_shipped_models_show_their_cells_from_the_data_set(shipped_dir):
    store = ModelStore(shipped_dir)
    for card in store.list():
        if card.task == "generate":  # a generator has no confusion matrix, so no cells
            assert card.metrics.cell_examples == {}
            continue
        key = max(card.metrics.cell_examples, key=lambda k: len(card.metrics.cell_examples[k]))
        examples = cell_examples(card, *map(int, key.split(",")), root=shipped_dir)
        assert examples, (card.id, key)
        if card.task == "text":
            assert all(isinstance(e.x, str) and len(e.x) > 20 for e in examples)
        else:
            assert all(e.x.shape == tuple(card.input.shape) for e in examples)
