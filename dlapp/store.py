"""The model cache: `<id>.keras` + `<id>.json` card per model, and defaults.json.

Writes are atomic (temp file, fsync, os.replace), and the card is written
after the model, so a crash mid-save leaves either the old model or nothing
listed. Loads check the card's sha256 and use safe_mode; anything broken is
skipped with a logged reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import settings as settings_mod
from .card import TASK_NAMES, ModelCard
from .errors import ModelLoadError, ModelNotFoundError, ModelSaveError, TrainingCancelled, UsageError

log = logging.getLogger(__name__)
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write, *, suffix: str) -> None:
    """Write via `write(tmp_path)` to a temp file beside `path`, then rename over it."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide shipped models from other users
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n"), suffix=".json")


def check_model_id(model_id: str) -> str:
    if not _ID_RE.match(model_id or ""):
        raise UsageError(f"Invalid model id {model_id!r}: use lowercase letters, digits, '-', '_' and '.'.")
    return model_id


class ModelStore:
    """A folder of models. One instance per folder per process (see `get_store`)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock = threading.RLock()
        self._models: dict[tuple[str, str], Any] = {}  # (id, sha256) -> deserialized keras.Model
        self._verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256
        self._cards: dict[tuple[str, int, int], ModelCard | None] = {}  # (path, mtime, size) -> parsed card

    # ------------------------------------------------------------ reading

    def _paths(self, model_id: str) -> tuple[Path, Path]:
        check_model_id(model_id)
        return self.root / f"{model_id}.keras", self.root / f"{model_id}.json"

    def _read_card(self, card_path: Path) -> ModelCard | None:
        """The card beside an existing model file, or None (logged). Parsed once per version of the file."""
        try:
            st = card_path.stat()
        except OSError:
            return None
        key = (str(card_path), st.st_mtime_ns, st.st_size)  # a replaced card has a new mtime: parsed afresh
        if key not in self._cards:
            self._cards = {k: v for k, v in self._cards.items() if k[0] != key[0]}
            self._cards[key] = self._parse_card(card_path)
        card = self._cards[key]
        model_path = card_path.with_suffix(".keras")
        if not model_path.is_file() and card is not None:
            self._recover(card_path.stem)  # a first save that crashed after writing its card
        try:
            size = model_path.stat().st_size
        except OSError:
            log.warning("skipping %s: %s is missing", card_path.name, model_path.name)
            return None
        return card.with_runtime(card_path.stem, size) if card is not None else None

    def _parse_card(self, card_path: Path) -> ModelCard | None:
        try:
            card = ModelCard.from_json(json.loads(card_path.read_text()))
        except (OSError, ValueError) as exc:  # CardError is a ValueError
            log.warning("skipping %s: unreadable card (%s)", card_path.name, exc)
            return None
        if not card.sha256:
            log.warning("skipping %s: card lacks the model's sha256", card_path.name)
            return None
        return card

    def list(self, task: str | None = None) -> list[ModelCard]:
        """Valid-looking cards (file present), newest first. Hashes are checked at load."""
        if not self.root.is_dir():
            return []
        cards = [c for p in sorted(self.root.glob("*.json")) if p.name != "defaults.json"
                 and _ID_RE.match(p.stem) and (c := self._read_card(p)) is not None]
        if task:
            cards = [c for c in cards if c.task == task]
        return sorted(cards, key=lambda c: c.provenance.created, reverse=True)

    def card(self, model_id: str) -> ModelCard:
        _, card_path = self._paths(model_id)
        card = self._read_card(card_path) if card_path.is_file() else None
        if card is None:
            raise ModelNotFoundError(f"No model {model_id!r} in {self.root}. `python -m dlapp models list` shows them.")
        return card

    def _pending(self, model_id: str) -> Path:
        return self.root / f".pending-{model_id}.keras"

    def _recover(self, model_id: str) -> bool:
        """Finish a save that crashed after its card was written: True if the pending file was moved in."""
        pending, (model_path, card_path) = self._pending(model_id), self._paths(model_id)
        with self._lock:
            try:
                expected = json.loads(card_path.read_text()).get("sha256")
                if pending.is_file() and sha256_file(pending) == expected:
                    os.replace(pending, model_path)
                    log.warning("completed an interrupted save of %s", model_id)
                    return True
            except (OSError, ValueError):
                pass
        return False

    def _verify(self, model_path: Path, expected: str) -> None:
        if self._pending(model_path.stem).is_file():
            self._recover(model_path.stem)  # a save that crashed after writing its card: finish it first
        st = model_path.stat()
        key = (str(model_path), st.st_size, st.st_mtime_ns)
        digest = self._verified.get(key) or sha256_file(model_path)
        if digest != expected:
            raise ModelLoadError(f"{model_path.name} does not match its card's sha256; "
                                 "the file is corrupt or was changed.")
        self._verified[key] = digest

    def load(self, model_id: str, *, fresh: bool = False):
        """The keras.Model for `model_id`, deserialized once per process (`fresh`: a private copy,
        for code that builds on its layers, never shared with the predictors).

        Raises:
            ModelNotFoundError: no such model.
            ModelLoadError: hash mismatch, or Keras cannot load it safely.
        """
        from .backend import keras  # also registers dlapp's serializable layers

        card = self.card(model_id)
        with self._lock:
            cached = None if fresh else self._models.get((model_id, card.sha256))
            if cached is not None:
                return cached
            model_path, _ = self._paths(model_id)
            self._verify(model_path, card.sha256)
            try:
                model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
            except Exception as exc:
                raise ModelLoadError(f"{model_path.name} cannot be loaded "
                                     f"({type(exc).__name__}: {str(exc)[:200]}).") from None
            if not fresh:
                self._models[(model_id, card.sha256)] = model
            return model

    def signature(self) -> tuple:
        """Changes whenever a model is added, replaced or removed, or a default changes (cheap: no file is read)."""
        if not self.root.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.root.glob("*.json")))

    def find_by_key(self, cache_key: str) -> ModelCard | None:
        return next((c for c in self.list() if c.provenance.cache_key == cache_key), None)

    # ------------------------------------------------------------ defaults

    def defaults(self) -> dict[str, str]:
        try:
            data = json.loads((self.root / "defaults.json").read_text())
            return {k: v for k, v in data.items() if k in TASK_NAMES and isinstance(v, str)}
        except (OSError, ValueError):
            return {}

    def default_id(self, task: str) -> str:
        """The default model for a task; falls back to the most accurate loadable one.

        Raises:
            ModelNotFoundError: there is no usable model for the task.
        """
        wanted = self.defaults().get(task)
        candidates = self.list(task)
        ordered = sorted(candidates, key=lambda c: (c.id != wanted, -c.test_accuracy))
        for card in ordered:
            try:
                self.load(card.id)
                return card.id
            except ModelLoadError as exc:
                log.warning("default candidate %s unusable: %s", card.id, exc)
        raise ModelNotFoundError(f"No usable {task} model in {self.root}. Train one: python -m dlapp train --help")

    def set_default(self, task: str, model_id: str) -> None:
        card = self.card(model_id)
        if card.task != task:
            raise UsageError(f"{model_id} is for the {card.task} task, not the {task} task.")
        with self._lock:
            defaults = self.defaults()
            defaults[task] = model_id
            write_json_atomic(self.root / "defaults.json", defaults)

    # ------------------------------------------------------------ writing

    def _write(self, model_id: str, write_model, card: ModelCard, cancel: threading.Event | None = None) -> ModelCard:
        """Atomically write the model (via `write_model(tmp_path)`), then its card with the file's sha256.

        Raises:
            ModelSaveError: the disk is full, read-only, or the write failed; the previous files are intact.
            TrainingCancelled: `cancel` was set before the commit point; the previous files are intact.
        """
        model_path, card_path = self._paths(model_id)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._lock:
                # Three steps, each atomic: the complete new file waits beside the old one; the card
                # naming its sha256 is the commit point; then the file moves into place. A crash
                # between the last two is rolled forward by `_recover` (the pending file matches the card).
                pending = self._pending(model_id)
                _atomic_write(pending, write_model, suffix=".keras")
                if cancel is not None and cancel.is_set():  # Stop pressed while saving: never commit
                    pending.unlink(missing_ok=True)
                    raise TrainingCancelled("Training was stopped while its model was being saved; nothing "
                                            "was saved and the previous model is intact.")
                created = card.provenance.created or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                card = replace(card, sha256=sha256_file(pending),
                               provenance=replace(card.provenance, created=created))
                write_json_atomic(card_path, card.to_json())
                try:
                    os.replace(pending, model_path)
                except FileNotFoundError:  # another process's _recover already moved it in
                    if sha256_file(model_path) != card.sha256:
                        raise
                self._models = {k: v for k, v in self._models.items() if k[0] != model_id}
        except OSError as exc:
            raise ModelSaveError(f"Could not save model {model_id} to {self.root}: {exc.strerror or exc}. "
                                 "Any previous version is intact; free some disk space and try again.") from None
        return self.card(model_id)

    def save(self, model, card: ModelCard, model_id: str, *, cancel: threading.Event | None = None) -> ModelCard:
        """Atomically write a Keras model then its card. On any failure the previous files are intact.

        Raises:
            ModelSaveError: the disk is full, read-only, or the write failed.
            TrainingCancelled: `cancel` was set before the card (the commit point) was written.
        """
        return self._write(model_id, lambda p: model.save(p), card, cancel)

    def import_file(self, source: Path, card: ModelCard, model_id: str) -> ModelCard:
        """Copy an existing .keras file in byte for byte (atomically), then write its card.

        Raises:
            ModelLoadError: the file does not load as a Keras model (nothing is kept).
            ModelSaveError: the copy failed; any previous version is intact.
        """
        import shutil

        self._write(model_id, lambda p: shutil.copyfile(source, p), card)
        try:
            self.load(model_id)
        except ModelLoadError:
            self.delete(model_id)
            raise
        return self.card(model_id)

    def adopt_missing(self, source_dir: Path) -> list[str]:
        """Copy in the models of `source_dir` (e.g. the shipped ones) that this cache lacks.

        Used when the cache lives elsewhere (a Space's persistent storage), so a first start
        still has working defaults. Broken sources are logged and skipped.
        """
        source = ModelStore(source_dir)
        if source.root.resolve() == self.root.resolve():
            return []
        have = {c.id for c in self.list()}
        adopted = []
        for card in source.list():
            if card.id in have:
                continue
            try:
                self.import_file(source.root / f"{card.id}.keras", card, card.id)
                adopted.append(card.id)
            except (ModelLoadError, ModelSaveError) as exc:
                log.warning("not adopting %s: %s", card.id, exc)
        defaults = self.defaults()
        for task, model_id in source.defaults().items():
            if task not in defaults and model_id in adopted:
                self.set_default(task, model_id)
        return adopted

    def delete(self, model_id: str) -> None:
        model_path, card_path = self._paths(model_id)
        if not card_path.exists() and not model_path.exists():
            raise ModelNotFoundError(f"No model {model_id!r} to delete.")
        with self._lock:
            card_path.unlink(missing_ok=True)  # card first: a half-deleted model is never listed
            model_path.unlink(missing_ok=True)
            self._models = {k: v for k, v in self._models.items() if k[0] != model_id}
            defaults = self.defaults()
            if model_id in defaults.values():
                write_json_atomic(self.root / "defaults.json", {k: v for k, v in defaults.items() if v != model_id})

    def clean_temp_files(self) -> int:
        """Finish or remove the leftovers of saves that crashed (they are never listed anyway)."""
        removed = 0
        for p in self.root.glob(".pending-*.keras") if self.root.is_dir() else []:
            model_id = p.name[len(".pending-"):-len(".keras")]
            if _ID_RE.match(model_id) and self._recover(model_id):
                continue
            p.unlink(missing_ok=True)  # crashed before its card was written: the old model is intact
            removed += 1
        for p in self.root.glob(".tmp-*") if self.root.is_dir() else []:
            p.unlink(missing_ok=True)
            removed += 1
        return removed


_STORES: dict[Path, ModelStore] = {}
_STORES_LOCK = threading.Lock()


def get_store(root: Path | None = None) -> ModelStore:
    """The process-wide store for `root` (default: DLAPP_MODEL_DIR or models/)."""
    root = Path(root or settings_mod.load().model_dir).resolve()
    with _STORES_LOCK:
        if root not in _STORES:
            _STORES[root] = ModelStore(root)
        return _STORES[root]
