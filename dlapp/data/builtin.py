"""Built-in data sets: the local data folder (DLAPP_DATA_DIR), then Keras's own cache,
then a real download. Offline with nothing local, one DatasetNotFoundError says what
is missing and how to provide it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetNotFoundError
from .dataset import Dataset

if TYPE_CHECKING:
    from .registry import BuiltinDataset

_IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


def _offline_error(name: str, filename: str, exc: Exception) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"Data set {name!r} is not available locally and could not be downloaded "
        f"({type(exc).__name__}). Put {filename} in a folder and set DLAPP_DATA_DIR to it, "
        "or connect to the internet and try again."
    )


def _local(data_dir: Path | None, filename: str) -> Path | None:
    if data_dir is not None and (data_dir / filename).is_file():
        return data_dir / filename
    return None


def image_dataset(entry: BuiltinDataset, x_train, y_train, x_test, y_test, source: str,
                  classes: tuple[str, ...] | None = None) -> Dataset:
    if x_train.ndim == 3:  # MNIST-style (N, H, W) -> (N, H, W, 1)
        x_train, x_test = x_train[..., None], x_test[..., None]
    return Dataset(name=entry.name, task="image", class_names=classes or entry.class_names,
                   x_train=x_train.astype(np.uint8), y_train=y_train.reshape(-1).astype(np.int64),
                   x_test=x_test.astype(np.uint8), y_test=y_test.reshape(-1).astype(np.int64), source=source)


def keras_images(entry: BuiltinDataset, data_dir: Path | None) -> Dataset:
    """An image set in Keras's .npz layout: local file, else keras.datasets (its cache, then the web)."""
    local = _local(data_dir, entry.file_name)
    if local:
        with np.load(local, allow_pickle=False) as z:
            arrays = [z[k] for k in ("x_train", "y_train", "x_test", "y_test")]
            classes = tuple(str(c) for c in z["class_names"]) if "class_names" in z.files else None
        return image_dataset(entry, *arrays, source=str(local), classes=classes)
    from ..backend import keras  # Keras's loaders use its own cache (~/.keras/datasets) before downloading

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, entry.name).load_data()
    except Exception as exc:  # urllib, socket and HTTP errors all mean "not reachable"
        raise _offline_error(entry.name, entry.file_name, exc) from None
    return image_dataset(entry, x_train, y_train, x_test, y_test, source=f"keras.datasets.{entry.name}")


def imdb(entry: BuiltinDataset, data_dir: Path | None) -> Dataset:
    """IMDB reviews: imdb.jsonl.gz, an aclImdb/ folder (local or Keras's cache), else the Stanford download."""
    local = _local(data_dir, entry.file_name)
    if local:
        return _imdb_from_jsonl(entry, local)
    for folder in ([data_dir / "aclImdb"] if data_dir else []) + [Path.home() / ".keras" / "datasets" / "aclImdb"]:
        if (folder / "train" / "pos").is_dir():
            return _imdb_from_folder(entry, folder)
    from ..backend import keras

    try:
        archive = keras.utils.get_file("aclImdb_v1.tar.gz", _IMDB_URL, extract=True)
    except Exception as exc:
        raise _offline_error(entry.name, f"{entry.file_name} (or the aclImdb/ folder)", exc) from None
    found = next(Path(archive).parent.rglob("aclImdb"), None)
    if found is None:
        raise DatasetNotFoundError("The IMDB download finished but held no aclImdb/ folder.")
    return _imdb_from_folder(entry, found)


def _imdb_from_jsonl(entry: BuiltinDataset, path: Path) -> Dataset:
    split: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts, labels = split[row["split"]]
            texts.append(row["text"])
            labels.append(int(row["label"]))
    return text_dataset(entry.name, entry.class_names, split["train"], split["test"], str(path))


def _imdb_from_folder(entry: BuiltinDataset, folder: Path) -> Dataset:
    split = {}
    for name in ("train", "test"):
        texts, labels = [], []
        for label, cls in enumerate(("neg", "pos")):
            for f in sorted((folder / name / cls).glob("*.txt"), key=lambda p: int(p.stem.split("_")[0])):
                texts.append(f.read_text(encoding="utf-8"))
                labels.append(label)
        split[name] = (texts, labels)
    return text_dataset(entry.name, entry.class_names, split["train"], split["test"], str(folder))


def text_dataset(name: str, classes, train, test, source: str) -> Dataset:
    return Dataset(name=name, task="text", class_names=tuple(classes),
                   x_train=np.array(train[0], dtype=object), y_train=np.array(train[1], dtype=np.int64),
                   x_test=np.array(test[0], dtype=object), y_test=np.array(test[1], dtype=np.int64), source=source)
