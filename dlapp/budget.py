"""One storage budget (DLAPP_STORAGE_MB) for everything visitors can make the server keep on disk.

Five kinds of item count against it:
  collection   a visitor's sample collection (`dlapp-collection-*` in the temp dir, collection.py)
  upload       a training upload staged for a run (`dlapp-upload-*` in the temp dir, ui/api.stage_upload)
  checkpoint   a run's per-epoch checkpoint (`<model folder>/.runs/<key>/`)
  gradio       files in Gradio's upload cache (the web app registers them with `watch_files`)
  session      a visitor's private models (`<model folder>/.sessions/<hash>/`, store.SessionStore)

`make_room(n)` is called before something new is stored. When the budget would overflow, it removes
abandoned items first (a collection whose session is gone, a staged upload or checkpoint no run
uses), then the items idle the longest; it never removes what a run in progress holds (`hold`), nor
anything used within limits.STORAGE_IN_USE_S (GRADIO_UPLOAD_IN_USE_S for Gradio's uploads), which is
someone's work in progress. If that is not enough, it raises StorageFullError with a message for people.
`expire()` removes what has been idle too long whatever the usage; the web app calls `sweep()` (both)
at start-up and every limits.STORAGE_SWEEP_S (`start_sweeper`). Trained models are not visitors' data
and never count.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import limits
from . import settings as settings_mod
from .errors import StorageFullError

log = logging.getLogger(__name__)
ItemKind = Literal["collection", "upload", "checkpoint", "gradio", "session"]
COLLECTION_PREFIX = "dlapp-collection-"  # folder names under the temp dir (collection.py)
UPLOAD_PREFIX = "dlapp-upload-"  # folder names under the temp dir (ui/api.stage_upload)
_MB = 2**20

_lock = threading.RLock()  # one make_room at a time: two visitors never both take the last free bytes
_held: dict[Path, int] = {}  # path -> how many holders; never removed while held
_sources: dict[str, Callable[[], Iterable[str | Path]]] = {}  # kind -> the files it keeps (watch_files)
_last_expire = float("-inf")  # time.monotonic() of make_room's last expire()


@dataclass(frozen=True)
class Item:
    """Something visitors made the server store: a folder or a file, its bytes, and when it was last used."""

    kind: ItemKind
    path: Path
    size: int
    last_used: float  # seconds since the epoch (the folder's or file's mtime)
    abandoned: bool  # nobody can use it any more: removed before anything that may still be in use


def limit_bytes() -> int:
    """The budget in bytes (DLAPP_STORAGE_MB)."""
    return settings_mod.load().storage_mb * _MB


def runs_dir(store_root: Path) -> Path:
    """Where runs keep their per-epoch checkpoints (`<key>/checkpoint.keras`, `state.json`), for resume."""
    return Path(store_root) / ".runs"


@contextmanager
def hold(path: Path) -> Iterator[None]:
    """Protect `path` (and whatever item holds it or lies under it) from removal while the block runs."""
    path = Path(path).absolute()
    with _lock:
        _held[path] = _held.get(path, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _held[path] -= 1
            if not _held[path]:
                del _held[path]


def watch_files(kind: ItemKind, files: Callable[[], Iterable[str | Path]]) -> None:
    """Count the files that `files()` lists (e.g. Gradio's upload cache) against the budget, as `kind` items."""
    with _lock:
        _sources[kind] = files


def items() -> list[Item]:
    """Everything counted against the budget now."""
    from . import collection  # collection.py calls make_room, so it is imported late
    from .store import SESSIONS_DIR, get_store, live_session_folders

    tmp = Path(tempfile.gettempdir())
    live = collection.live_usage()
    out: list[Item] = []
    for root, size in live.items():
        try:
            out.append(Item("collection", root, size, root.stat().st_mtime, abandoned=False))  # touched on change
        except OSError:
            continue
    for root in tmp.glob(f"{COLLECTION_PREFIX}*"):
        if root.absolute() not in live:  # a collection whose session or server is gone
            out += _folder("collection", root, abandoned=True)
    now = time.time()
    for root in tmp.glob(f"{UPLOAD_PREFIX}*"):  # staged, then read by its run; unused once that ends
        out += _folder("upload", root, abandoned=lambda i: not _is_held(i.path)
                       and now - i.last_used > limits.STORAGE_IN_USE_S)
    runs = runs_dir(get_store().root)
    for root in runs.iterdir() if runs.is_dir() else ():
        out += _folder("checkpoint", root, abandoned=lambda i: not _is_held(i.path))  # a stopped or killed run
    sessions, live_sessions = get_store().root / SESSIONS_DIR, live_session_folders()
    for root in sessions.iterdir() if sessions.is_dir() else ():  # a session this process no longer serves
        out += _folder("session", root, abandoned=lambda i: not _is_held(i.path) and i.path.absolute()
                       not in live_sessions)
    for kind, files in list(_sources.items()):
        for f in files():
            try:
                st = os.lstat(f)
            except OSError:
                continue
            out.append(Item(kind, Path(f), st.st_size, st.st_mtime, abandoned=False))
    return out


def usage() -> dict[str, int]:
    """Bytes in use per kind, and "total"."""
    out: dict[str, int] = {"collection": 0, "upload": 0, "checkpoint": 0, "gradio": 0, "session": 0}
    for item in items():
        out[item.kind] += item.size
    out["total"] = sum(out.values())
    return out


def make_room(nbytes: int, *, keep: Path | None = None, what: str = "this") -> None:
    """Make sure `nbytes` more fit in the budget, removing abandoned, then long-idle items, oldest first.

    Args:
        nbytes: what the caller is about to store.
        keep: the caller's own item (its collection, say), which is never removed to make room for itself.
        what: the thing being stored, for the message ("these pictures", "this upload").

    Raises:
        StorageFullError: even after removing everything removable, `nbytes` do not fit.
    """
    global _last_expire
    with _lock:
        if time.monotonic() - _last_expire > limits.STORAGE_SWEEP_S:  # not before every webcam frame
            expire()
            _last_expire = time.monotonic()
        limit = limit_bytes()
        found = items()
        used = sum(i.size for i in found)
        if used + nbytes <= limit:
            return
        now = time.time()
        protected = [p for p in (keep,) if p is not None]
        removable = [i for i in found if not _is_held(i.path, also=protected)
                     and (i.abandoned or now - i.last_used > _in_use_s(i))]
        for item in sorted(removable, key=lambda i: (not i.abandoned, i.last_used)):
            if used + nbytes <= limit:
                break
            if _remove(item, "to make room for newer data"):
                used -= item.size
        if used + nbytes > limit:
            raise StorageFullError(
                f"The server's storage for visitors' data is full ({used / _MB:,.0f} of {limit / _MB:,.0f} MB, "
                f"all of it in use), so {what} ({max(nbytes, 1) / _MB:,.1f} MB) cannot be stored. "
                f"Try again in a few minutes, when idle data is removed, or store less.")


def expire(now: float | None = None) -> int:
    """Remove what has been idle too long, whatever the usage: collections after
    limits.COLLECTION_MAX_AGE_H (a session opened through the API never closes), staged uploads no run
    uses, and checkpoints of runs stopped or killed more than limits.RUNS_MAX_AGE_H ago. Returns how many."""
    from .store import forget_idle_sessions

    now = time.time() if now is None else now
    forget_idle_sessions(limits.SESSION_MAX_IDLE_S, now)  # their registry entries too, not only their folders
    max_idle = {"collection": limits.COLLECTION_MAX_AGE_H * 3600, "checkpoint": limits.RUNS_MAX_AGE_H * 3600,
                "session": limits.SESSION_MAX_IDLE_S}
    removed = 0
    with _lock:
        for item in items():
            idle = now - item.last_used
            due = (item.kind in ("upload", "session") and item.abandoned) or idle > max_idle.get(item.kind,
                                                                                                  float("inf"))
            if due and not _is_held(item.path) and _remove(item, "after being idle too long"):
                removed += 1
    return removed


def sweep() -> None:
    """Expire idle items and bring what is stored back under the budget; never raises (start-up, the sweeper):
    when everything left is in use, that is logged, and the next `make_room` says so to its visitor."""
    global _last_expire
    try:
        with _lock:
            expire()
            _last_expire = time.monotonic()
            make_room(0, what="data already stored")
    except StorageFullError as exc:
        log.warning("storage budget: %s", exc)
    except Exception:  # never let the sweeper die: it is the only bound on Gradio's raw uploads
        log.exception("storage sweep failed")


def start_sweeper(interval_s: float | None = None) -> threading.Thread:
    """A daemon thread that calls `sweep()` every limits.STORAGE_SWEEP_S: files that arrive without
    dlapp's code running (Gradio's upload route) are brought back under the budget too."""
    def loop() -> None:
        while True:
            sweep()
            time.sleep(interval_s if interval_s is not None else limits.STORAGE_SWEEP_S)

    thread = threading.Thread(target=loop, name="dlapp-storage-sweeper", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- inside

def _folder(kind: ItemKind, root: Path, *, abandoned) -> list[Item]:
    """The folder as one item ([] if it vanished or is not a real folder); `abandoned` may be a
    function of the item."""
    try:
        if root.is_symlink() or not root.is_dir():
            return []
        size, last = 0, root.stat().st_mtime
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                size += st.st_size
                last = max(last, st.st_mtime)
    except OSError:
        return []
    item = Item(kind, root, size, last, abandoned=False)
    flag = abandoned(item) if callable(abandoned) else abandoned
    return [Item(kind, root, size, last, abandoned=bool(flag))]


def _in_use_s(item: Item) -> float:
    return limits.GRADIO_UPLOAD_IN_USE_S if item.kind == "gradio" else limits.STORAGE_IN_USE_S


def _is_held(path: Path, *, also: Iterable[Path] = ()) -> bool:
    path = Path(path).absolute()
    for held in [*_held, *(Path(p).absolute() for p in also)]:
        if held == path or held.is_relative_to(path) or path.is_relative_to(held):
            return True
    return False


def _remove(item: Item, why: str) -> bool:
    from . import collection
    from .store import forget_session_folder

    try:
        if item.kind == "collection" and collection.delete_live(item.path, why):
            pass  # a live collection removes itself, under its own lock, and says why to its session
        elif item.kind == "session" and forget_session_folder(item.path):
            pass  # a live session's store is forgotten with its folder
        elif item.path.is_dir() and not item.path.is_symlink():
            shutil.rmtree(item.path)
        else:
            item.path.unlink(missing_ok=True)
    except OSError as exc:  # gone meanwhile, or not ours to remove
        log.info("storage budget: could not remove %s: %s", item.path.name, exc)
        return False
    log.info("storage budget: removed %s %s (%.1f MB) %s", item.kind, item.path.name, item.size / _MB, why)
    return True
