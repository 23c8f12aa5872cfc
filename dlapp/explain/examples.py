"""The test examples behind a confusion-matrix cell, for a cached model: the card keeps a few
test-split indices per (true, predicted) cell (evaluate.metrics_from), and the examples themselves
are kept beside the model (`<id>.examples.npz`, written at save time, a few per cell within
limits.CELL_EXAMPLES_BYTES), so cells open on any machine. For a model saved before that, the
data set is read again (once per process) if it is here."""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..card import ModelCard
from ..data import BUILTINS, load_dataset
from ..errors import DlappError, UsageError

log = logging.getLogger(__name__)
SUFFIX = ".examples.npz"  # beside <id>.keras and <id>.json; store.py deletes and adopts it with the model


@dataclass(frozen=True)
class TestExample:
    index: int  # in the test split
    x: Any  # uint8 (H, W, C) image, or the review's text
    true: str
    predicted: str


def examples_file(root: Path, model_id: str) -> Path:
    return Path(root) / f"{model_id}{SUFFIX}"


# ---------------------------------------------------------------- writing (at save time)

def kept_indices(card: ModelCard, x_test, *, max_bytes: int = limits.CELL_EXAMPLES_BYTES) -> list[int]:
    """The card's per-cell test indices to keep: round by round (every cell's first, then every
    cell's second, ...), so that every cell keeps some before any keeps many, up to `max_bytes`."""
    cells = [card.metrics.cell_examples[k] for k in sorted(card.metrics.cell_examples)]
    kept, used = [], 0
    for depth in range(max((len(c) for c in cells), default=0)):
        for cell in cells:
            if depth < len(cell):
                size = _nbytes(x_test[cell[depth]])
                if used + size > max_bytes:
                    return kept
                kept.append(int(cell[depth]))
                used += size
    return kept


def _nbytes(x) -> int:
    return len(x.encode()) if isinstance(x, str) else int(np.asarray(x).nbytes)


def save_cell_examples(path: Path, card: ModelCard, x_test, y_test) -> int:
    """Write the examples `card` lists per cell (kept_indices) to `path`, atomically. Returns their count.

    Images are stored as the uint8 arrays the model read; reviews as UTF-8 with offsets. Nothing
    needs pickle to read back.
    """
    index = np.array(kept_indices(card, x_test), dtype=np.int64)
    arrays: dict[str, np.ndarray] = {"fingerprint": np.array(card.dataset.fingerprint), "index": index,
                                     "y": np.asarray(y_test)[index].astype(np.int64)}
    if card.task == "text":
        encoded = [str(x_test[i]).encode() for i in index]
        arrays["text"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        arrays["offsets"] = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
    else:
        arrays["x"] = (np.stack([np.asarray(x_test[i], dtype=np.uint8) for i in index]) if len(index)
                       else np.zeros((0, *card.input.shape), np.uint8))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(index)


def keep_with_model(root: Path, card: ModelCard, x_test, y_test) -> None:
    """save_cell_examples for a model just saved in `root`; a failure only costs the cells their
    examples where the data set is missing, so it is logged, not raised."""
    try:
        save_cell_examples(examples_file(root, card.id), card, x_test, y_test)
    except (OSError, ValueError) as exc:
        log.warning("%s saved without its cell examples: %s", card.id, exc)


# ---------------------------------------------------------------- reading (a clicked cell)

def _from_file(path: Path, card: ModelCard, indices: list[int], true: int) -> list[tuple[int, Any]] | None:
    """(index, example) for those of `indices` the file keeps; None if there is no usable file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) != card.dataset.fingerprint:
                return None  # kept for other data (a model saved again under this id)
            rows = {int(i): r for r, i in enumerate(f["index"])}
            wanted = [i for i in indices if i in rows and int(f["y"][rows[i]]) == true]
            if card.task == "text":
                text, offsets = f["text"], f["offsets"]
                return [(i, text[offsets[rows[i]]:offsets[rows[i] + 1]].tobytes().decode()) for i in wanted]
            x = f["x"]
            return [(i, x[rows[i]]) for i in wanted]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:  # truncated, or not ours: the data set may still serve
        log.warning("ignoring %s: %s", path.name, exc)
        return None


@functools.lru_cache(maxsize=4)
def _test_split(name: str, subset: int | None, size: tuple[int, int] | None, seed: int):
    data = load_dataset(name, subset=subset, image_size=size, seed=seed)
    return data.x_test, data.y_test, tuple(data.class_names)


def _from_data(card: ModelCard, indices: list[int], true: int) -> list[tuple[int, Any]]:
    """The examples read from the model's data set, for models saved without their examples file."""
    if card.dataset.name not in BUILTINS:
        raise UsageError(f"{card.id} was saved without its test examples (before dlapp kept them with the "
                         f"model), and it was trained on uploaded data ({card.dataset.name!r}), which dlapp does "
                         "not keep, so its cells cannot show examples.")
    size = card.input.picture_size
    try:
        x, y, classes = _test_split(card.dataset.name, card.dataset.subset_per_class, size, card.provenance.seed)
    except DlappError:
        # The shipped models keep no examples file: the repository ships no data set, only models.
        raise UsageError(f"{card.id}'s cells show test examples of {card.dataset.label}, which is not on this "
                         "machine and could not be downloaded. Point DLAPP_DATA_DIR at a folder holding it, or "
                         "run once with a network so Keras can fetch it; the counts above stay true.") from None
    if classes != card.class_names or max(indices) >= len(y) or np.any(y[indices] != true):
        raise UsageError(f"The {card.dataset.label} data on this machine is not the data {card.id} was "
                         "measured on, so its examples cannot be shown.")
    return [(i, x[i]) for i in indices]


def cell_examples(card: ModelCard, true: int, predicted: int, *, root: Path | None = None) -> list[TestExample]:
    """The test examples the card lists for the cell (true class `true`, predicted `predicted`): from
    the examples file beside the model (in `root`, default: the model cache), else from its data set.

    Raises:
        UsageError: no such cell, the card predates per-cell examples, or neither the examples file
            nor the data set is here (the message says which).
    """
    from ..store import get_store

    n = len(card.class_names)
    if not (0 <= true < n and 0 <= predicted < n):
        raise UsageError(f"No cell ({true}, {predicted}) in a {n}×{n} confusion matrix.")
    if not card.metrics.cell_examples:
        raise UsageError(f"{card.id}'s card lists no examples per cell; "
                         f"`python -m dlapp models recalibrate {card.id}` adds them.")
    indices = [int(i) for i in card.metrics.cell_examples.get(f"{true},{predicted}", [])]
    if not indices:
        return []
    found = _from_file(examples_file(root or get_store().root, card.id), card, indices, true)
    if not found:  # no file, or it keeps none of this cell (its byte budget ran out first)
        found = _from_data(card, indices, true)
    return [TestExample(i, x, card.class_names[true], card.class_names[predicted]) for i, x in found]


def backfill(card: ModelCard, root: Path) -> Path:
    """Write the examples file of a model saved before they were kept, from its data set (which must be
    here: DLAPP_DATA_DIR). Returns the file's path.

    Raises:
        UsageError: no per-cell examples on the card, or the data set is missing or differs.
    """
    if not card.metrics.cell_examples:
        raise UsageError(f"{card.id}'s card lists no examples per cell.")
    all_indices = sorted({i for cell in card.metrics.cell_examples.values() for i in cell})
    size = card.input.picture_size
    x, y, classes = _test_split(card.dataset.name, card.dataset.subset_per_class, size, card.provenance.seed)
    if classes != card.class_names or max(all_indices) >= len(y) or any(
            int(y[i]) != int(key.split(",")[0]) for key, cell in card.metrics.cell_examples.items() for i in cell):
        raise UsageError(f"The {card.dataset.label} data here is not the data {card.id} was measured on.")
    path = examples_file(root, card.id)
    save_cell_examples(path, card, x, y)
    return path
