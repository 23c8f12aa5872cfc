"""One interface for every data set: built-in names, class folders, zips, CSV/JSONL.

Built-ins are looked up in this order: the local data folder (DLAPP_DATA_DIR),
Keras's own dataset cache, then a real download. Offline with nothing local,
one DatasetNotFoundError says what is missing and how to provide it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from . import settings as settings_mod
from .archives import extract_zip
from .errors import DatasetNotFoundError, InvalidDatasetError, InvalidImageError
from .images import load_for_model

Task = Literal["image", "text"]

IMAGE_DATASETS = ("cifar10", "mnist", "fashion_mnist")
TEXT_DATASETS = ("imdb",)
BUILTIN = IMAGE_DATASETS + TEXT_DATASETS

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
SENTIMENT_CLASSES = ("negative", "positive")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_FOLDER_IMAGE_SIZE = (64, 64)  # folder images come in any size; 64 px keeps training quick
MAX_TEXT_ROWS = 200_000


@dataclass
class Dataset:
    """A train/test split held in memory. Images are uint8 (N, H, W, C); texts are str arrays."""

    name: str
    task: Task
    class_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def fingerprint(self) -> str:
        """sha256 over the arrays: identical data gives the identical cache key."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for arr in (self.x_train, self.y_train, self.x_test, self.y_test):
                if arr.dtype == object:
                    for s in arr:
                        h.update(s.encode("utf-8", "surrogatepass"))
                        h.update(b"\0")
                else:
                    h.update(str(arr.shape).encode())
                    h.update(np.ascontiguousarray(arr).tobytes())
            h.update("\n".join(self.class_names).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def subset(self, per_class: int | None) -> "Dataset":
        """The first `per_class` examples of each class in train and in test, keeping order."""
        if not per_class:
            return self
        train, test = _first_per_class(self.y_train, per_class), _first_per_class(self.y_test, per_class)
        return Dataset(name=f"{self.name}[{per_class}/class]", task=self.task, class_names=self.class_names,
                       x_train=self.x_train[train], y_train=self.y_train[train],
                       x_test=self.x_test[test], y_test=self.y_test[test], source=self.source)


def _first_per_class(y: np.ndarray, n: int) -> np.ndarray:
    keep = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        keep[np.flatnonzero(y == c)[:n]] = True
    return np.flatnonzero(keep)


# ---------------------------------------------------------------- public entry

def load_dataset(
    name: str,
    *,
    subset: int | None = None,
    image_size: tuple[int, int] | None = None,
    data_dir: Path | None = None,
) -> Dataset:
    """Load a built-in data set by name, or custom data from a path.

    Args:
        name: "cifar10", "mnist", "fashion_mnist", "imdb", or a path to a class
            folder, a .zip of one, or a .csv/.jsonl with text and label columns.
        subset: keep the first N examples per class (train and test).
        image_size: (height, width) for custom image folders.
        data_dir: local data folder; defaults to DLAPP_DATA_DIR.

    Raises:
        DatasetNotFoundError: a built-in set is not local and cannot be downloaded.
        InvalidDatasetError: custom data is malformed or hostile.
        UsageError: the name is neither built in nor an existing path.
    """
    if subset is not None and subset < 1:
        raise InvalidDatasetError(f"subset must be at least 1 example per class, got {subset}.")
    data_dir = data_dir if data_dir is not None else settings_mod.load().data_dir
    key = name.strip().lower().replace("-", "_")
    if key in BUILTIN:
        ds = _LOADERS[key](data_dir)
    else:
        path = Path(name).expanduser()
        if not path.exists():
            from .errors import UsageError

            raise UsageError(
                f"Unknown dataset {name!r}. Use one of {', '.join(BUILTIN)}, or a path to a class folder, "
                ".zip, .csv or .jsonl file."
            )
        ds = load_custom(path, image_size=image_size or DEFAULT_FOLDER_IMAGE_SIZE)
    return ds.subset(subset)


def dataset_task(name: str) -> Task:
    """Which task a data set name or path feeds, without loading it."""
    key = name.strip().lower().replace("-", "_")
    if key in IMAGE_DATASETS:
        return "image"
    if key in TEXT_DATASETS:
        return "text"
    return "text" if Path(name).suffix.lower() in (".csv", ".jsonl", ".json", ".gz") else "image"


# ---------------------------------------------------------------- built-ins

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


def _load_npz_images(name: str, path: Path, classes: tuple[str, ...]) -> Dataset:
    with np.load(path, allow_pickle=False) as z:
        x_train, y_train, x_test, y_test = (z[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        if "class_names" in z.files:
            classes = tuple(str(c) for c in z["class_names"])
    return _image_dataset(name, classes, x_train, y_train, x_test, y_test, str(path))


def _image_dataset(name, classes, x_train, y_train, x_test, y_test, source) -> Dataset:
    if x_train.ndim == 3:  # MNIST-style (N, H, W) -> (N, H, W, 1)
        x_train, x_test = x_train[..., None], x_test[..., None]
    return Dataset(
        name=name,
        task="image",
        class_names=classes,
        x_train=x_train.astype(np.uint8),
        y_train=y_train.reshape(-1).astype(np.int64),
        x_test=x_test.astype(np.uint8),
        y_test=y_test.reshape(-1).astype(np.int64),
        source=source,
    )


def _keras_images(name: str, classes: tuple[str, ...], data_dir: Path | None) -> Dataset:
    local = _local(data_dir, f"{name}.npz")
    if local:
        return _load_npz_images(name, local, classes)
    import keras  # Keras's loaders use its own cache (~/.keras/datasets) before downloading

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, socket and HTTP errors all mean "not reachable"
        raise _offline_error(name, f"{name}.npz", exc) from None
    return _image_dataset(name, classes, x_train, y_train, x_test, y_test, f"keras.datasets.{name}")


_IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


def _load_imdb(data_dir: Path | None) -> Dataset:
    local = _local(data_dir, "imdb.jsonl.gz")
    if local:
        return _imdb_from_jsonl(local)
    for folder in ([data_dir / "aclImdb"] if data_dir else []) + [Path.home() / ".keras" / "datasets" / "aclImdb"]:
        if (folder / "train" / "pos").is_dir():
            return _imdb_from_folder(folder)
    import keras

    try:
        archive = keras.utils.get_file("aclImdb_v1.tar.gz", _IMDB_URL, extract=True)
    except Exception as exc:
        raise _offline_error("imdb", "imdb.jsonl.gz (or the aclImdb/ folder)", exc) from None
    found = next(Path(archive).parent.rglob("aclImdb"), None)
    if found is None:
        raise DatasetNotFoundError("The IMDB download finished but held no aclImdb/ folder.")
    return _imdb_from_folder(found)


def _imdb_from_jsonl(path: Path) -> Dataset:
    split: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts, labels = split[row["split"]]
            texts.append(row["text"])
            labels.append(int(row["label"]))
    return _text_dataset("imdb", SENTIMENT_CLASSES, split["train"], split["test"], str(path))


def _imdb_from_folder(folder: Path) -> Dataset:
    split = {}
    for name in ("train", "test"):
        texts, labels = [], []
        for label, cls in enumerate(("neg", "pos")):
            for f in sorted((folder / name / cls).glob("*.txt"), key=lambda p: int(p.stem.split("_")[0])):
                texts.append(f.read_text(encoding="utf-8"))
                labels.append(label)
        split[name] = (texts, labels)
    return _text_dataset("imdb", SENTIMENT_CLASSES, split["train"], split["test"], str(folder))


def _text_dataset(name, classes, train, test, source) -> Dataset:
    return Dataset(
        name=name,
        task="text",
        class_names=tuple(classes),
        x_train=np.array(train[0], dtype=object),
        y_train=np.array(train[1], dtype=np.int64),
        x_test=np.array(test[0], dtype=object),
        y_test=np.array(test[1], dtype=np.int64),
        source=source,
    )


_LOADERS = {
    "cifar10": lambda d: _keras_images("cifar10", CIFAR10_CLASSES, d),
    "mnist": lambda d: _keras_images("mnist", MNIST_CLASSES, d),
    "fashion_mnist": lambda d: _keras_images("fashion_mnist", FASHION_CLASSES, d),
    "imdb": _load_imdb,
}


# ---------------------------------------------------------------- custom data

def load_custom(path: Path, *, image_size: tuple[int, int] = DEFAULT_FOLDER_IMAGE_SIZE) -> Dataset:
    """A class folder, a .zip of one, or a .csv/.jsonl text table."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".jsonl", ".json") or path.name.lower().endswith(".jsonl.gz"):
        return load_text_table(path)
    if suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="dlapp-zip-") as tmp:
            root = extract_zip(path, tmp)
            return load_image_folder(_unwrap(root), image_size=image_size, name=path.stem)
    if path.is_dir():
        return load_image_folder(path, image_size=image_size)
    raise InvalidDatasetError(
        f"{path.name}: expected a folder of class subfolders, a .zip of one, or a .csv/.jsonl file."
    )


def _unwrap(root: Path) -> Path:
    """A zip often holds one top folder (plus __MACOSX); descend into it."""
    while True:
        entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        subdirs = [p for p in entries if p.is_dir()]
        if len(entries) == 1 and subdirs and any(q.is_dir() for q in subdirs[0].iterdir()):
            root = subdirs[0]
        else:
            return root


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX")))


def load_image_folder(
    folder: Path, *, image_size: tuple[int, int] = DEFAULT_FOLDER_IMAGE_SIZE, name: str | None = None,
    test_fraction: float = 0.2, seed: int = 0,
) -> Dataset:
    """Read `folder/<class>/*.jpg` (or `folder/train/<class>` + `folder/test/<class>`).

    Raises:
        InvalidDatasetError: fewer than 2 classes, an empty class, or no readable image.
    """
    from . import settings as s

    max_pixels = s.load().max_image_pixels
    train_dir, test_dir = folder, None
    if (folder / "train").is_dir() and len(_class_dirs(folder / "train")) >= 2:
        train_dir = folder / "train"
        test_dir = next((folder / n for n in ("test", "validation", "val") if (folder / n).is_dir()), None)
    classes = [d.name for d in _class_dirs(train_dir)]
    if len(classes) < 2:
        raise InvalidDatasetError(
            f"{folder.name}: found {len(classes)} class folder(s); need at least 2 (one subfolder per class)."
        )
    channels = 3

    def read(split_dir: Path) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for label, cls in enumerate(classes):
            files = sorted(p for p in (split_dir / cls).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) \
                if (split_dir / cls).is_dir() else []
            count = 0
            for f in files:
                try:
                    xs.append(load_for_model(f, image_size, channels, max_pixels=max_pixels))
                except InvalidImageError:
                    continue  # one bad file should not sink the whole data set
                ys.append(label)
                count += 1
            if count == 0 and split_dir is train_dir:
                raise InvalidDatasetError(f"Class folder {cls!r} has no readable images.")
        return np.stack(xs), np.array(ys, dtype=np.int64)

    x, y = read(train_dir)
    if test_dir is not None:
        x_test, y_test = read(test_dir)
    else:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        test_idx = np.concatenate([order[y[order] == c][: max(1, int(round(test_fraction * (y == c).sum())))]
                                   for c in range(len(classes))])
        mask = np.zeros(len(y), dtype=bool)
        mask[test_idx] = True
        x_test, y_test, x, y = x[mask], y[mask], x[~mask], y[~mask]
        if any((y == c).sum() == 0 for c in range(len(classes))):
            raise InvalidDatasetError("Each class needs at least 2 images so that one can be held out for testing.")
    return Dataset(name=name or folder.name, task="image", class_names=tuple(classes),
                   x_train=x, y_train=y, x_test=x_test, y_test=y_test, source=str(folder))


def _read_rows(path: Path) -> list[dict]:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            raise InvalidDatasetError(f"{path.name} is empty.")
        return [{(k or "").strip().lower(): v for k, v in row.items()} for row in reader]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise InvalidDatasetError(f"{path.name}, line {n}: not valid JSON.") from None
            if not isinstance(obj, dict):
                raise InvalidDatasetError(f"{path.name}, line {n}: expected an object with text and label.")
            rows.append({str(k).lower(): v for k, v in obj.items()})
    return rows


def _class_order(labels: list[str]) -> tuple[str, ...]:
    found = sorted(set(labels))
    lowered = {s.lower() for s in found}
    for negative, positive in (("0", "1"), ("neg", "pos"), ("negative", "positive")):
        if lowered == {negative, positive}:
            return tuple(sorted(found, key=lambda s: s.lower() != negative))
    return tuple(found)


def load_text_table(path: Path, *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Read a .csv or .jsonl of reviews with `text` and `label` (optional `split`).

    Raises:
        InvalidDatasetError: missing columns, empty text, or labels that are not two classes.
    """
    rows = _read_rows(path)
    if not rows:
        raise InvalidDatasetError(f"{path.name} has no rows.")
    if len(rows) > MAX_TEXT_ROWS:
        raise InvalidDatasetError(f"{path.name} has {len(rows):,} rows; the limit is {MAX_TEXT_ROWS:,}.")
    missing = {"text", "label"} - set(rows[0])
    if missing:
        raise InvalidDatasetError(
            f"{path.name} is missing column(s) {', '.join(sorted(missing))}; it needs 'text' and 'label'."
        )
    texts = [str(r.get("text") or "") for r in rows]
    labels = [str(r.get("label", "")).strip() for r in rows]
    if any(not t.strip() for t in texts):
        raise InvalidDatasetError(f"{path.name} has rows with empty text.")
    classes = _class_order(labels)
    if len(classes) != 2:
        raise InvalidDatasetError(
            f"{path.name}: sentiment needs exactly 2 label values, found {len(classes)} "
            f"({', '.join(classes[:5])}{'…' if len(classes) > 5 else ''})."
        )
    y = np.array([classes.index(lbl) for lbl in labels], dtype=np.int64)
    x = np.array(texts, dtype=object)
    splits = [str(r.get("split", "")).lower() for r in rows]
    if "test" in splits and "train" in splits:
        is_test = np.array([s == "test" for s in splits])
    else:
        rng = np.random.default_rng(seed)
        is_test = np.zeros(len(y), dtype=bool)
        is_test[rng.permutation(len(y))[: max(2, int(round(test_fraction * len(y))))]] = True
    if len(set(y[~is_test])) < 2:
        raise InvalidDatasetError(f"{path.name}: each label needs several rows to train on.")
    return Dataset(name=path.stem, task="text", class_names=classes, x_train=x[~is_test], y_train=y[~is_test],
                   x_test=x[is_test], y_test=y[is_test], source=str(path))
