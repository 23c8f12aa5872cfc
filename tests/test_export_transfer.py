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
from dlapp.testing import class_folder

FORMATS = ("keras", "savedmodel", "litert", "litert-int8", "onnx")


@pytest.fixture(scope="module")
def transfer_model(tmp_path_factory):
    """(store root, model id): a tiny transfer model trained on three colours, as tests/test_transfer.py trains it,
    in a model cache of its own, with no data folder (the visitor's photos are all there is)."""
    root = tmp_path_factory.mktemp("transfer-models")
    data = class_folder(tmp_path_factory.mktemp("colours") / "colours", classes=("red", "blue", "green"),
                        per_class=40, size=32)
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

    photo = data / "green" / "0.png"
    model = get_store().load(model_id)
    expected = labels[int(np.argmax(np.asarray(model(np.asarray(Image.open(photo).convert("RGB"))[None]))[0]))]
    assert run_example(folder, fmt, str(photo)).split()[0] == expected
