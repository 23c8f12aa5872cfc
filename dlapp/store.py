"""The model cache: `<id>.keras` + `<id>.json` card per model, and defaults.json, in two layers:
the shipped models (read-only: never written, deleted or shadowed) and the user's own folder
(DLAPP_MODEL_DIR, by default ~/.cache/dlapp/models), where every write goes. Both are listed
together; the user's defaults.json overrides the shipped one, task by task.

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
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import settings as settings_mod
from .card import TASK_NAMES, ModelCard
from .errors import ModelLoadError, ModelNotFoundError, ModelSaveError, TrainingCancelled, UsageError

log = logging.getLogger(__name__)
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
BESIDE = (".examples.npz",)  # optional files kept beside a model (explain/examples.py): deleted with it
DEFAULTS_FILE = "defaults.json"
# Names of the store's own files (`<id>.json` would overwrite them). Its other files (.pending-*,
# .tmp-*, .runs/) start with a dot, which no id can.
RESERVED_IDS = frozenset({"defaults"})


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


def _is_id(name: str) -> bool:
    return bool(_ID_RE.match(name or "")) and name not in RESERVED_IDS


def check_model_id(model_id: str) -> str:
    if model_id in RESERVED_IDS:
        raise UsageError(f"{model_id!r} is reserved for the model cache's own files; choose another id.")
    if not _is_id(model_id):
        raise UsageError(f"Invalid model id {model_id!r}: use lowercase letters, digits, '-', '_' and '.'.")
    return model_id


class ModelStore:
    """The user's folder of models (`root`, written) over the shipped ones (`shipped`, read-only).
    One instance per folder per process (see `get_store`)."""

    def __init__(self, root: Path, shipped: Path | None = None):
        self.root = Path(root)
        # A cache pointed at the shipped folder itself (a maintainer re-training them) is one writable layer.
        same = shipped is not None and Path(shipped).resolve() == self.root.resolve()
        self.shipped_root = None if shipped is None or same else Path(shipped)
        self._shadow_warned: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._models: dict[tuple[str, str], Any] = {}  # (id, sha256) -> deserialized keras.Model
        self._verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256
        self._cards: dict[tuple[str, int, int], ModelCard | None] = {}  # (path, mtime, size) -> parsed card

    # ------------------------------------------------------------ reading

    def _paths(self, model_id: str) -> tuple[Path, Path]:
        """The user's files for `model_id` (where writes go)."""
        check_model_id(model_id)
        return self.root / f"{model_id}.keras", self.root / f"{model_id}.json"

    def is_shipped(self, model_id: str) -> bool:
        """Whether `model_id` names a shipped (read-only) model."""
        return self.shipped_root is not None and (self.shipped_root / f"{check_model_id(model_id)}.json").is_file()

    def _locate(self, model_id: str) -> ModelCard | None:
        """The card of `model_id`: the shipped one first (a shipped id is never shadowed), then the user's."""
        check_model_id(model_id)
        layers = [(self.shipped_root, True)] if self.shipped_root is not None else []
        for root, shipped in [*layers, (self.root, False)]:
            card_path = root / f"{model_id}.json"
            if card_path.is_file() and (card := self._read_card(card_path, shipped=shipped)) is not None:
                return card
        return None

    def model_path(self, model_id: str) -> Path:
        """The .keras file of a listed model (shipped or the user's).

        Raises:
            ModelNotFoundError: no such model.
        """
        card = self.card(model_id)
        return (self.shipped_root if card.shipped else self.root) / f"{model_id}.keras"

    def _read_card(self, card_path: Path, *, shipped: bool = False) -> ModelCard | None:
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
        if not model_path.is_file() and card is not None and not shipped:
            self._recover(card_path.stem)  # a first save that crashed after writing its card
        try:
            size = model_path.stat().st_size
        except OSError:
            log.warning("skipping %s: %s is missing", card_path.name, model_path.name)
            return None
        return card.with_runtime(card_path.stem, size, shipped=shipped) if card is not None else None

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

    def _layer(self, root: Path | None, *, shipped: bool) -> dict[str, ModelCard]:
        if root is None or not root.is_dir():
            return {}
        return {p.stem: c for p in sorted(root.glob("*.json"))
                if _is_id(p.stem) and (c := self._read_card(p, shipped=shipped)) is not None}

    def list(self, task: str | None = None) -> list[ModelCard]:
        """Valid-looking cards (file present), shipped and the user's, newest first. Hashes are checked at load."""
        shipped = self._layer(self.shipped_root, shipped=True)
        cards = list(shipped.values())
        for model_id, card in self._layer(self.root, shipped=False).items():
            if model_id not in shipped:
                cards.append(card)
            elif card.sha256 != shipped[model_id].sha256 and (model_id, card.sha256) not in self._shadow_warned:
                # Not silently: a copy of the shipped file is harmless (an older cache adopted them), a
                # different model is hidden behind the shipped one until it is renamed.
                self._shadow_warned.add((model_id, card.sha256))
                log.warning("ignoring %s in %s: that id is a shipped model's; rename both of its files "
                            "(%s.keras, %s.json) to list it", model_id, self.root, model_id, model_id)
        if task:
            cards = [c for c in cards if c.task == task]
        return sorted(cards, key=lambda c: c.provenance.created, reverse=True)

    def card(self, model_id: str) -> ModelCard:
        card = self._locate(model_id)
        if card is None:
            raise ModelNotFoundError(f"No model {model_id!r}. `python -m dlapp models list` shows them.")
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
        if model_path.parent == self.root and self._pending(model_path.stem).is_file():
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
            model_path = self.model_path(model_id)
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
        return tuple(sorted((str(p), p.stat().st_mtime_ns) for root in (self.shipped_root, self.root)
                            if root is not None and root.is_dir() for p in root.glob("*.json")))

    def find_by_key(self, cache_key: str) -> ModelCard | None:
        return next((c for c in self.list() if c.provenance.cache_key == cache_key), None)

    # ------------------------------------------------------------ defaults

    @staticmethod
    def _read_defaults(root: Path | None) -> dict[str, str]:
        if root is None:
            return {}
        try:
            data = json.loads((root / DEFAULTS_FILE).read_text())
            return {k: v for k, v in data.items() if k in TASK_NAMES and isinstance(v, str)}
        except (OSError, ValueError, AttributeError):  # AttributeError: JSON that is not an object
            return {}

    def shipped_defaults(self) -> dict[str, str]:
        """The shipped defaults.json (task -> id), as shipped."""
        return self._read_defaults(self.shipped_root)

    def defaults(self) -> dict[str, str]:
        """Task -> default model id: the user's choice where it names a listed model of that task, else the
        shipped one. Entries naming missing models (a deleted one, a crash mid-delete) are ignored."""
        tasks = {c.id: c.task for c in self.list()}
        user, shipped = self._read_defaults(self.root), self.shipped_defaults()
        out = {}
        for task in TASK_NAMES:
            chosen = next((m for m in (user.get(task), shipped.get(task)) if m and tasks.get(m) == task), None)
            if chosen:
                out[task] = chosen
        return out

    def _ranked(self, task: str) -> list[ModelCard]:
        """The task's models in the order a default is picked: the user's choice, the shipped default,
        then shipped models before the user's, each most accurate first (never a toy of another data set
        just because it scored 100%, as long as a shipped model is there)."""
        user, shipped = self._read_defaults(self.root).get(task), self.shipped_defaults().get(task)
        return sorted(self.list(task), key=lambda c: (c.id != user, c.id != shipped, not c.shipped, -c.headline.value))

    def default_id(self, task: str) -> str:
        """The default model for a task (see `_ranked`), the first that loads.

        Raises:
            ModelNotFoundError: there is no usable model for the task.
        """
        for card in self._ranked(task):
            try:
                self.load(card.id)
                return card.id
            except ModelLoadError as exc:
                log.warning("default candidate %s unusable: %s", card.id, exc)
        raise ModelNotFoundError(f"No usable {task} model. Train one: python -m dlapp train --help")

    def set_default(self, task: str, model_id: str) -> None:
        """Record the user's default for `task` (in the user's folder; the shipped defaults.json is never written)."""
        card = self.card(model_id)
        if card.task != task:
            raise UsageError(f"{model_id} is for the {card.task} task, not the {task} task.")
        with self._lock:
            defaults = self._read_defaults(self.root)
            defaults[task] = model_id
            self.root.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.root / DEFAULTS_FILE, defaults)

    # ------------------------------------------------------------ writing

    def _write(self, model_id: str, write_model, card: ModelCard, cancel: threading.Event | None = None) -> ModelCard:
        """Atomically write the model (via `write_model(tmp_path)`), then its card with the file's sha256.

        Raises:
            ModelSaveError: the disk is full, read-only, or the write failed; the previous files are intact.
            TrainingCancelled: `cancel` was set before the commit point; the previous files are intact.
        """
        model_path, card_path = self._paths(model_id)
        self._refuse_shipped(model_id, "replaced", "Save under another id (--name); to change the shipped models "
                             "on purpose, set DLAPP_MODEL_DIR to their folder.")
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
            raise ModelSaveError(f"Could not save model {model_id}: {exc.strerror or exc}. "
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
        self._write(model_id, lambda p: shutil.copyfile(source, p), card)
        try:
            self.load(model_id)
        except ModelLoadError:
            self.delete(model_id)
            raise
        return self.card(model_id)

    def _refuse_shipped(self, model_id: str, what: str, instead: str) -> None:
        if self.is_shipped(model_id):
            raise UsageError(f"{model_id} is a shipped model: it is read-only and can't be {what}. {instead}")

    def delete(self, model_id: str) -> str:
        """Delete one of the user's models; returns what happened, naming the model that now answers
        for its task when it was the default.

        Raises:
            UsageError: a shipped model (read-only) or a reserved id.
            ModelNotFoundError: no such model.
        """
        self._refuse_shipped(model_id, "deleted", "Your own models can be; to stop it answering, make another "
                             "model its task's default.")
        model_path, card_path = self._paths(model_id)
        if not card_path.exists() and not model_path.exists():
            raise ModelNotFoundError(f"No model {model_id!r} to delete.")
        card = self._locate(model_id)
        answering = self._ranked(card.task) if card is not None else []
        was_default = bool(answering) and answering[0].id == model_id  # the model its task's requests got
        with self._lock:
            # Card first, the commit point: from then on the model is not listed. A crash before the
            # other two steps leaves an orphan file and a stale default, which `tidy` clears at the next start.
            card_path.unlink(missing_ok=True)
            self._drop_stale_defaults()
            model_path.unlink(missing_ok=True)
            for suffix in BESIDE:
                (self.root / f"{model_id}{suffix}").unlink(missing_ok=True)
            self._models = {k: v for k, v in self._models.items() if k[0] != model_id}
        if not was_default:
            return f"Deleted {model_id}."
        ranked = self._ranked(card.task)
        if not ranked:
            return f"Deleted {model_id}. No {card.task} model is left: train one."
        now = ranked[0]
        return (f"Deleted {model_id}. The {card.task} default is now {now.id}"
                + (" (shipped)." if now.shipped else "."))

    def _drop_stale_defaults(self) -> bool:
        """Remove the user's defaults that name a model no longer listed for their task."""
        user = self._read_defaults(self.root)
        tasks = {c.id: c.task for c in self.list()}
        kept = {task: m for task, m in user.items() if tasks.get(m) == task}
        if kept == user:
            return False
        write_json_atomic(self.root / DEFAULTS_FILE, kept)
        return True

    def tidy(self) -> int:
        """Clear what a crash mid-delete leaves in the user's folder: a model file without its card
        (never listed, never removed otherwise) and defaults naming missing models. Safe while other
        processes use the folder: a save writes its card before its model file appears."""
        if not self.root.is_dir():
            return 0
        removed = 0
        with self._lock:
            for p in self.root.glob("*.keras"):
                if _is_id(p.stem) and not p.with_suffix(".json").exists():
                    log.warning("removing %s: its card is gone (a delete that was interrupted)", p.name)
                    p.unlink(missing_ok=True)
                    removed += 1
            if self._drop_stale_defaults():
                log.warning("dropped defaults naming deleted models from %s", DEFAULTS_FILE)
                removed += 1
        return removed

    def clean_temp_files(self) -> int:
        """At app start: finish or remove the leftovers of saves that crashed (they are never listed
        anyway), then `tidy`. Not while another process may be saving (it would lose its pending file)."""
        removed = 0
        for p in self.root.glob(".pending-*.keras") if self.root.is_dir() else []:
            model_id = p.name[len(".pending-"):-len(".keras")]
            if _is_id(model_id) and self._recover(model_id):
                continue
            p.unlink(missing_ok=True)  # crashed before its card was written: the old model is intact
            removed += 1
        for p in self.root.glob(".tmp-*") if self.root.is_dir() else []:
            p.unlink(missing_ok=True)
            removed += 1
        return removed + self.tidy()

_STORES: dict[tuple[Path, Path], ModelStore] = {}
_STORES_LOCK = threading.Lock()


def get_store(root: Path | None = None) -> ModelStore:
    """The process-wide store for `root` (default: DLAPP_MODEL_DIR or ~/.cache/dlapp/models) over the
    shipped models; tidied when first opened (see `ModelStore.tidy`)."""
    settings = settings_mod.load()
    root = Path(root or settings.model_dir).resolve()
    shipped = settings.shipped_model_dir.resolve()
    with _STORES_LOCK:
        if (root, shipped) not in _STORES:
            _STORES[(root, shipped)] = store = ModelStore(root, shipped)
            store.tidy()
        return _STORES[(root, shipped)]


# ---------------------------------------------------------------- per-visitor models (DLAPP_TRAINING=private)

SESSIONS_DIR = ".sessions"  # under the user's folder: one folder per visitor's session, never listed as models


def session_folder(shared_root: Path, session: str) -> Path:
    """The folder of one visitor's models. The name is a hash of the session id: a client chooses its own
    session id, so it never becomes a path as given."""
    digest = hashlib.sha256(session.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Path(shared_root) / SESSIONS_DIR / digest


class SessionStore(ModelStore):
    """One visitor's models (written to `<user folder>/.sessions/<hash>/`) layered over the shared store, which
    it only reads: it lists and loads both, never writes the shared folder or its defaults.json, and no other
    session sees its models. Keeps at most `keep` models; saving one more removes the oldest (`pruned`)."""

    def __init__(self, shared: ModelStore, session: str, *, keep: int = 3):
        super().__init__(session_folder(shared.root, session), None)
        self.shared, self.keep = shared, keep
        self.pruned: list[str] = []  # ids removed by the last save to stay within `keep`
        self.last_seen = time.time()  # the visitor's last event (see `touch`)

    def touch(self) -> None:
        """The visitor is here (an event of theirs): their folder is not idle. Its mtime is what the storage
        budget reads, refreshed at most once a minute."""
        now = time.time()
        if now - self.last_seen > 60:
            try:
                os.utime(self.root)
            except OSError:
                pass  # no folder yet: nothing trained
        self.last_seen = now

    def owns(self, model_id: str) -> bool:
        """Whether `model_id` is one of this visitor's own models (not a shared one)."""
        return self.shared._locate(model_id) is None and super()._locate(model_id) is not None

    def own(self) -> list[ModelCard]:
        """This visitor's own models, newest first."""
        shared = {c.id for c in self.shared.list()}
        return [c for c in super().list() if c.id not in shared]

    def _locate(self, model_id: str) -> ModelCard | None:
        return self.shared._locate(model_id) or super()._locate(model_id)  # a shared id is never shadowed

    def model_path(self, model_id: str) -> Path:
        return super().model_path(model_id) if self.owns(model_id) else self.shared.model_path(model_id)

    def list(self, task: str | None = None) -> list[ModelCard]:
        cards = self.shared.list(task) + [c for c in self.own() if not task or c.task == task]
        return sorted(cards, key=lambda c: c.provenance.created, reverse=True)

    def load(self, model_id: str, *, fresh: bool = False):
        return super().load(model_id, fresh=fresh) if self.owns(model_id) else self.shared.load(model_id, fresh=fresh)

    def signature(self) -> tuple:
        own = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.root.glob("*.json"))) \
            if self.root.is_dir() else ()
        return self.shared.signature() + own

    def shipped_defaults(self) -> dict[str, str]:
        return self.shared.shipped_defaults()

    def defaults(self) -> dict[str, str]:
        return self.shared.defaults()  # a visitor's models are never anyone's default

    def default_id(self, task: str) -> str:
        return self.shared.default_id(task)

    def set_default(self, task: str, model_id: str) -> None:
        raise UsageError("A model you trained here is yours alone, so it cannot be everyone's default. "
                         "Use it by picking it; the admin can add it to the shared models.")

    def is_shipped(self, model_id: str) -> bool:
        return self.shared.is_shipped(model_id)

    def save(self, model, card: ModelCard, model_id: str, *, cancel: threading.Event | None = None) -> ModelCard:
        if self.shared._locate(model_id) is not None:
            raise UsageError(f"{model_id} is a shared model's id; save yours under another name.")
        saved = super().save(model, card, model_id, cancel=cancel)
        self.pruned = [c.id for c in self.own()[self.keep:]]  # newest first: the oldest beyond `keep` go
        for old in self.pruned:
            super().delete(old)
        return saved

    def delete(self, model_id: str) -> str:
        if not self.owns(model_id):
            raise ModelNotFoundError(f"No model {model_id!r} of yours.")
        return super().delete(model_id)

    def remove_all(self) -> None:
        """Remove the visitor's folder and everything in it (their session ended)."""
        with self._lock:
            self._models.clear()
            shutil.rmtree(self.root, ignore_errors=True)


_SESSIONS: dict[tuple[Path, str], SessionStore] = {}


def get_session_store(session: str, shared: ModelStore | None = None) -> SessionStore:
    """The store of one visitor's session over the shared one (made on first use; its folder only on a save)."""
    shared = shared or get_store()
    keep = settings_mod.load().session_models
    with _STORES_LOCK:
        key = (shared.root, session)
        if key not in _SESSIONS:
            _SESSIONS[key] = SessionStore(shared, session, keep=keep)
        return _SESSIONS[key]


def forget_idle_sessions(max_idle_s: float, now: float | None = None) -> int:
    """Forget the sessions with no event for `max_idle_s` (a Client that never closed), folders and all."""
    now = time.time() if now is None else now
    with _STORES_LOCK:
        idle = [k for k, s in _SESSIONS.items() if now - s.last_seen > max_idle_s]
        stores = [_SESSIONS.pop(k) for k in idle]
    for store in stores:
        store.remove_all()
    return len(stores)


def live_session_folders() -> set[Path]:
    """The folders of the sessions this process serves (those not listed are abandoned)."""
    with _STORES_LOCK:
        return {s.root.absolute() for s in _SESSIONS.values()}


def drop_session(session: str, shared: ModelStore | None = None) -> bool:
    """Forget a visitor's session and remove its models from disk. True if it had a folder."""
    shared = shared or get_store()
    with _STORES_LOCK:
        store = _SESSIONS.pop((shared.root, session), None)
    folder = session_folder(shared.root, session)
    existed = folder.exists()
    if store is not None:
        store.remove_all()
    shutil.rmtree(folder, ignore_errors=True)
    return existed


def forget_session_folder(folder: Path) -> bool:
    """Remove a session folder found by the storage budget (idle too long, or its session gone), with its
    store if the session is live. False if no live session owns it (the caller removes the folder)."""
    folder = Path(folder).absolute()
    with _STORES_LOCK:
        key = next((k for k, s in _SESSIONS.items() if s.root.absolute() == folder), None)
        store = _SESSIONS.pop(key) if key is not None else None
    if store is None:
        return False
    store.remove_all()
    return True
