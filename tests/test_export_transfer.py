"""A model of the `transfer` preset (the frozen cifar10-best trunk, a new head; trained on a visitor's own photos)
exports to every image format, each checked in a fresh process, and its example script answers as Keras does.

Trained on uploaded images, such a model has no data set on this machine to check against or to set int8 ranges
from: the test examples kept beside it (`<id>.examples.npz`) serve for both. Before: ONNX asked its user for the
head's Normalization mean and variance as inputs (tf2onnx turned the captured constants into graph inputs), and
int8 refused for want of DLAPP_DATA_DIR."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
from test_export import run_example  # tests/ is on sys.path (no __init__.py: pytest prepends it)

from dlapp.settings import SHIPPED_MODEL_DIR

FORMATS = ("keras", "savedmodel", "litert", "litert-int8", "onnx")


def striped_colours(root, per_class: int = 30, size: int = 32):
    """Three colour classes, each picture striped at a random angle and frequency: photo-like structure for the
    trunk to respond to. (Flat colour fills are what the ported cifar10-best learnt to answer "none of these" to:
    its features for them are faint, and int8's ranges, set from a few dozen of them, lost a third of them.)"""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for name, rgb in (("red", (220, 30, 30)), ("blue", (30, 30, 220)), ("green", (30, 200, 30))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(2, 6), rng.uniform(0, 2 * np.pi)
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
            arr = np.array(rgb) * (0.35 + 0.65 * wave[..., None]) + rng.normal(0, 12, (size, size, 3))
            Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def transfer_model(tmp_path_factory):
    """(store root, model id): a tiny transfer model trained on three colours, as tests/test_transfer.py trains it,
    in a model cache of its own, with no data folder (the visitor's photos are all there is)."""
    root = tmp_path_factory.mktemp("transfer-models")
    data = striped_colours(tmp_path_factory.mktemp("colours") / "colours")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLAPP_MODEL_DIR", str(root))
        mp.delenv("DLAPP_DATA_DIR", raising=False)
        for suffix in (".keras", ".json"):
            shutil.copy(SHIPPED_MODEL_DIR / f"cifar10-best{suffix}", root / f"cifar10-best{suffix}")
        from dlapp.training import TrainConfig, train

        result = train(TrainConfig(str(data), preset="transfer"))
    assert result.card.hyperparameters["architecture"] == "transfer"
    return root, result.model_id, data


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_transfer_model_exports_to_every_image_format_checked(transfer_model, fmt, tmp_path, monkeypatch):
    from dlapp.export import export_model
    from dlapp.store import get_store

    root, model_id, data = transfer_model
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(root))
    monkeypatch.delenv("DLAPP_DATA_DIR", raising=False)
    result = export_model(model_id, fmt, tmp_path)  # raises ExportCheckError if the fresh process disagrees
    assert "kept beside the model" in result.source  # its own labelled test examples, not CIFAR-10's
    assert result.keras_accuracy is not None and result.examples >= 3
    if fmt == "litert-int8":
        assert any("test examples kept beside it" in c for c in result.changes)
        assert result.model_bytes < 0.35 * get_store().model_path(model_id).stat().st_size
    else:
        assert result.agreement == 1.0 and result.max_prob_diff < 1e-3, result.summary()
    with zipfile.ZipFile(result.path) as z:
        z.extractall(tmp_path / "unpacked")
    folder = tmp_path / "unpacked" / f"{model_id}-{fmt}"
    assert "| passed | yes |" in (folder / "README.md").read_text()
    labels = json.loads((folder / "labels.json").read_text())
    assert labels == ["blue", "green", "red"]

    from PIL import Image

    # The green picture Keras is surest of: int8 may flip a borderline one (its check allows that), the example not.
    model = get_store().load(model_id)
    photos = sorted((data / "green").glob("*.png"))
    probs = np.asarray(model(np.stack([np.asarray(Image.open(p).convert("RGB")) for p in photos])))
    photo = photos[int(np.argmax(probs.max(axis=1)))]
    expected = labels[int(np.argmax(probs[int(np.argmax(probs.max(axis=1)))]))]
    assert run_example(folder, fmt, str(photo)).split()[0] == expected
