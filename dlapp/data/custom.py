"""A user's own data: a folder of class subfolders, a .zip of one, or a table of labelled reviews."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .. import limits
from ..archives import extract_zip
from ..errors import InvalidDatasetError, InvalidImageError
from ..images import load_for_model
from .builtin import text_dataset
from .dataset import Dataset
from .tables import csv_rows, jsonl_rows

IMAGE_FILE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")  # inside class folders


# ---------------------------------------------------------------- images

def load_image_zip(path: Path, *, image_size: tuple[int, int], max_pixels: int) -> Dataset:
    """A .zip of class folders, extracted safely (see archives.py) into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="dlapp-zip-") as tmp:
        root = extract_zip(path, tmp)
        return load_image_folder(unwrap_folder(root), image_size=image_size, max_pixels=max_pixels, name=path.stem)


def unwrap_folder(root: Path) -> Path:
    """A zip often holds one top folder (plus __MACOSX); descend into it."""
    while True:
        entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        subdirs = [p for p in entries if p.is_dir()]
        if len(entries) == 1 and subdirs and any(q.is_dir() for q in subdirs[0].iterdir()):
            root = subdirs[0]
        else:
            return root


def class_dirs(folder: Path) -> list[Path]:
    """The class folders of one split, in label order (hidden and macOS resource folders are not classes)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX")))


def image_splits(folder: Path) -> tuple[Path, Path | None]:
    """The folder whose subfolders are the training classes, and the test split's folder if it has one."""
    if (folder / "train").is_dir() and len(class_dirs(folder / "train")) >= 2:
        test_dir = next((folder / n for n in ("test", "validation", "val") if (folder / n).is_dir()), None)
        return folder / "train", test_dir
    return folder, None


def image_files(class_dir: Path) -> list[Path]:
    """The files training reads from one class folder (by suffix; unreadable ones are skipped when read)."""
    return sorted(p for p in class_dir.glob("*") if p.suffix.lower() in IMAGE_FILE_SUFFIXES) \
        if class_dir.is_dir() else []


def load_image_folder(folder: Path, *, image_size: tuple[int, int], max_pixels: int, name: str | None = None,
                      test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Read `folder/<class>/*.jpg` (or `folder/train/<class>` + `folder/test/<class>`).

    Files that are not readable images are skipped (dlapp.data.checks names them before a training).

    Raises:
        InvalidDatasetError: fewer than 2 classes, an empty class, or no readable image.
    """
    train_dir, test_dir = image_splits(folder)
    classes = [d.name for d in class_dirs(train_dir)]
    if len(classes) < 2:
        raise InvalidDatasetError(
            f"{folder.name}: found {len(classes)} class folder(s); need at least 2 (one subfolder per class)."
        )
    x, y = _read_split(train_dir, classes, image_size, max_pixels, required=True)
    if test_dir is not None:
        x_test, y_test = _read_split(test_dir, classes, image_size, max_pixels, required=False)
    else:
        x, y, x_test, y_test = _hold_out(x, y, len(classes), test_fraction, seed)
    return Dataset(name=name or folder.name, task="image", class_names=tuple(classes),
                   x_train=x, y_train=y, x_test=x_test, y_test=y_test, source=str(folder))


def _read_split(split_dir: Path, classes: list[str], size: tuple[int, int], max_pixels: int, *,
                required: bool) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for label, cls in enumerate(classes):
        count = 0
        for f in image_files(split_dir / cls):
            try:
                xs.append(load_for_model(f, size, 3, max_pixels=max_pixels))
            except InvalidImageError:
                continue  # one bad file should not sink the whole data set
            ys.append(label)
            count += 1
        if count == 0 and required:
            raise InvalidDatasetError(f"Class folder {cls!r} has no readable images.")
    if not xs:  # an optional split (test/) whose class folders are all missing, empty or unreadable
        raise InvalidDatasetError(f"The {split_dir.name!r} folder has no readable images in its class folders.")
    return np.stack(xs), np.array(ys, dtype=np.int64)


def _hold_out(x, y, n_classes: int, fraction: float, seed: int):
    """A stratified test split: `fraction` of each class, at least one image."""
    order = np.random.default_rng(seed).permutation(len(y))
    test_idx = np.concatenate([order[y[order] == c][: max(1, int(round(fraction * (y == c).sum())))]
                               for c in range(n_classes)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    if any((y[~mask] == c).sum() == 0 for c in range(n_classes)):
        raise InvalidDatasetError("Each class needs at least 2 images so that one can be held out for testing.")
    return x[~mask], y[~mask], x[mask], y[mask]


# ---------------------------------------------------------------- text

def _read_rows(path: Path) -> list[dict]:
    """The rows as {lower-cased column: value}, read as a stream (tables.py) and stopped at MAX_TEXT_ROWS.

    Raises:
        InvalidDatasetError: not a readable table (see tables.py), or more rows than MAX_TEXT_ROWS.
    """
    name = path.name.lower().removesuffix(".gz")
    rows: list[dict] = []
    if name.endswith(".csv"):
        header: list[str] | None = None
        for cells in csv_rows(path):
            if header is None:
                header = [c.strip().lower() for c in cells] or None  # blank lines before the header are skipped
                continue
            if cells:  # a blank line is no row (as csv.DictReader has it); a short row's missing cells are empty
                rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False)))
            _count_row(path, rows)
        if header is None:
            raise InvalidDatasetError(f"{path.name} is empty.")
        return rows
    for n, obj in jsonl_rows(path):
        if not isinstance(obj, dict):
            raise InvalidDatasetError(f"{path.name}, line {n}: expected an object with text and label.")
        rows.append({str(k).lower(): v for k, v in obj.items()})
        _count_row(path, rows)
    return rows


def _count_row(path: Path, rows: list) -> None:
    """Stop reading at the row limit: the rest of the file is never read."""
    if len(rows) > limits.MAX_TEXT_ROWS:
        raise InvalidDatasetError(f"{path.name} has more than {limits.MAX_TEXT_ROWS:,} rows; the limit is "
                                  f"{limits.MAX_TEXT_ROWS:,}. Upload a sample of it.")


def _class_order(labels: list[str]) -> tuple[str, ...]:
    found = sorted(set(labels))
    lowered = {s.lower() for s in found}
    for negative, positive in (("0", "1"), ("neg", "pos"), ("negative", "positive")):
        if lowered == {negative, positive}:
            return tuple(sorted(found, key=lambda s: s.lower() != negative))
    return tuple(found)


def load_text_table(path: Path, *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Read a .csv or .jsonl (optionally .gz) of reviews with `text` and `label` (optional `split`).

    Raises:
        InvalidDatasetError: missing columns, empty text, or labels that are not two classes.
    """
    rows = _read_rows(path)
    if not rows:
        raise InvalidDatasetError(f"{path.name} has no rows.")
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
    splits = [str(r.get("split", "")).lower() for r in rows]
    if "test" in splits and "train" in splits:
        is_test = np.array([s == "test" for s in splits])
    else:
        is_test = np.zeros(len(y), dtype=bool)
        is_test[np.random.default_rng(seed).permutation(len(y))[: max(2, int(round(test_fraction * len(y))))]] = True
    if len(set(y[~is_test])) < 2:
        raise InvalidDatasetError(f"{path.name}: each label needs several rows to train on.")
    x = np.array(texts, dtype=object)
    stem = path.name.split(".")[0] or path.stem
    return text_dataset(stem, classes, (x[~is_test], y[~is_test]), (x[is_test], y[is_test]), str(path))
