"""A visitor's own image data set, built sample by sample in the Train tab (webcam frames, files, pastes).

One Collection per browser session, each in its own folder: `<root>/classes/<class name>/000001.jpg`,
which is the class-folder layout training already reads (data/custom.py), so `as_dataset_folder()` goes
straight to `data.load_dataset` and `to_zip()` makes the .zip the Train tab takes.

Every sample is decoded (with the deployment's pixel cap), shrunk so its longer side is at most
limits.COLLECTION_MAX_SIDE, and re-encoded as a JPEG: the stored file holds pixels only (no metadata,
nothing left of a hostile original) and is small, since models read 32-64 px anyway. Caps on classes,
samples and bytes live in limits.py and are read at call time; all collections together, with the
other data visitors leave, share the server's storage budget (budget.py), which removes an idle
collection when room is needed, or one untouched for limits.COLLECTION_MAX_AGE_H.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import time
import unicodedata
import weakref
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import budget, limits
from . import settings as settings_mod
from .archives import extract_zip
from .data.custom import class_dirs, image_splits, unwrap_folder
from .errors import CollectionFullError, InvalidImageError, StorageFullError, UsageError
from .images import ImageSource, open_image
from .tasks.image import NONE_OF_THESE

PREFIX = budget.COLLECTION_PREFIX  # folder names under the temp dir; expire_collections() removes only these
_SUFFIX = ".jpg"
_LIVE: weakref.WeakValueDictionary[Path, Collection] = weakref.WeakValueDictionary()  # root -> its open collection


@dataclass(frozen=True)
class AddReport:
    """What a batch of additions did: how many samples were stored, and what was skipped, with why."""

    added: int
    skipped: tuple[tuple[str, str], ...] = ()  # (file name, or "image 3" for arrays; why it was skipped)

    def __add__(self, other: AddReport) -> AddReport:
        return AddReport(self.added + other.added, self.skipped + other.skipped)

    @property
    def message(self) -> str:
        """A few lines for people: "Added 12 pictures. Skipped 2. a.txt, b.doc: This file is not an image…"."""
        text = f"Added {self.added:,} picture{'' if self.added == 1 else 's'}."
        if not self.skipped:
            return text
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.skipped:
            by_reason.setdefault(reason, []).append(name)
        parts = [f"{', '.join(names[:3])}{f' and {len(names) - 3:,} more' if len(names) > 3 else ''}: {reason}"
                 for reason, names in by_reason.items()]
        return "\n".join([f"{text} Skipped {len(self.skipped):,}.", *parts])


class Collection:
    """Named classes of image samples in one folder; every method is safe to call from several threads.

    Make one with `Collection.create()`; `delete()` removes its folder (gr.State's delete_callback is
    the place to call it). Class order is creation order; sample order is insertion order.
    """

    def __init__(self, root: Path):
        """Start an empty collection in `root`, an empty folder this collection now owns (see create())."""
        self._root = Path(root)
        self._dir = self._root / "classes"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # a webcam stream adds while a click removes or renames
        self._classes: dict[str, list[str]] = {}  # class name -> its sample file names, in insertion order
        self._sizes: dict[str, int] = {}  # sample file name (unique in the collection) -> bytes on disk
        self._next = 1  # the next sample's number: names sort in insertion order and never repeat
        self._deleted: str | None = None  # why it was deleted, once it is
        _LIVE[self._root.absolute()] = self

    @classmethod
    def create(cls, parent: Path | None = None) -> Collection:
        """A new, empty collection in a fresh folder under `parent` (default: the system temp dir)."""
        return cls(Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent)))

    def __copy__(self) -> Collection:
        return self  # a handle on a folder: a copy would share the folder but not the lock or the counts

    def __deepcopy__(self, memo: dict) -> Collection:
        return self  # gr.State deep-copies its values; every copy must stay this one collection

    def __repr__(self) -> str:
        return f"Collection({self._root}, {self.counts()})"

    # ------------------------------------------------------------ reading

    @property
    def root(self) -> Path:
        return self._root

    @property
    def classes(self) -> list[str]:
        with self._lock:
            return list(self._classes)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {name: len(files) for name, files in self._classes.items()}

    def samples(self, name: str) -> list[Path]:
        """The class's sample files, oldest first.

        Raises:
            UsageError: no class has that name.
        """
        with self._lock:
            return [self._dir / name / f for f in self._files(name)]

    def total_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def as_dataset_folder(self) -> Path:
        """The folder of class folders to train on (`data.load_dataset(str(folder))`). Training reads it once,
        when it starts; samples are written whole (temp file + rename), so a read never sees half a file."""
        return self._dir

    # ------------------------------------------------------------ classes

    def add_class(self, name: str | None = None) -> str:
        """Add an empty class and return its name (None picks "Class 1", "Class 2", ... whichever is free).

        Raises:
            UsageError: the name is empty, too long, reserved, has a path separator or is taken.
            CollectionFullError: the collection already has limits.COLLECTION_MAX_CLASSES classes.
        """
        with self._lock:
            self._alive()
            if len(self._classes) >= limits.COLLECTION_MAX_CLASSES:
                raise CollectionFullError(f"A collection holds at most {limits.COLLECTION_MAX_CLASSES} classes. "
                                          "Remove one before adding another.")
            name = self._free_name() if name is None else self._valid_name(name)
            (self._dir / name).mkdir()
            self._classes[name] = []
            self._touch()
            return name

    def rename_class(self, old: str, new: str) -> str:
        """Rename a class (its samples move with it) and return the new name as stored (trimmed).

        Raises:
            UsageError: no class is called `old`, or `new` is not a valid, free name.
        """
        with self._lock:
            self._alive()
            self._files(old)
            new = self._valid_name(new, renaming=old)
            if new != old:
                os.rename(self._dir / old, self._dir / new)
                self._classes = {(new if k == old else k): v for k, v in self._classes.items()}  # keeps the order
                self._touch()
            return new

    def remove_class(self, name: str) -> None:
        """Remove a class and its samples.

        Raises:
            UsageError: no class has that name.
        """
        with self._lock:
            self._alive()
            for f in self._files(name):
                del self._sizes[f]
            del self._classes[name]
            shutil.rmtree(self._dir / name, ignore_errors=True)
            self._touch()

    def clear(self) -> None:
        """Remove every class and sample; the collection stays usable."""
        with self._lock:
            self._alive()
            for name in list(self._classes):
                self.remove_class(name)

    @property
    def deleted(self) -> bool:
        return self._deleted is not None

    def delete(self, reason: str = "This collection was deleted; start a new one.") -> None:
        """Remove the collection's folder, zips and all. Safe to call twice; later changes raise UsageError
        with `reason`."""
        with self._lock:
            self._deleted = self._deleted or reason
            self._classes, self._sizes = {}, {}
            shutil.rmtree(self._root, ignore_errors=True)

    # ------------------------------------------------------------ samples

    def add_image(self, name: str, image: ImageSource) -> Path:
        """Store one picture in class `name`: an array (H,W), (H,W,3), (H,W,4), or a file any Pillow format.

        Returns the stored file. Decoding happens outside the lock, so a slow upload never stalls a webcam.

        Raises:
            InvalidImageError: not an image, damaged, or over the deployment's pixel cap.
            CollectionFullError: the collection is at its sample or byte cap.
            UsageError: no class has that name, or the collection was deleted.
        """
        self._check_room(name, 0)  # fail before decoding when full
        data = _encoded(image)
        # Outside the lock: the budget may delete other collections, each under its own lock.
        budget.make_room(len(data), keep=self._root, what="this picture")
        with self._lock:
            self._check_room(name, len(data))
            file = f"{self._next:06d}{_SUFFIX}"
            self._next += 1
            path = self._dir / name / file
            tmp = path.with_name(f".{file}.tmp")  # training reads image suffixes only, so never this
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self._classes[name].append(file)
            self._sizes[file] = len(data)
            self._touch()
            return path

    def add_images(self, name: str, sources: Iterable[ImageSource]) -> AddReport:
        """Add many pictures to class `name`; unreadable ones, and any past a cap, are skipped with a reason.

        Raises:
            UsageError: no class has that name, or the collection was deleted.
        """
        return self._add_many(name, [(_label(s, i), s) for i, s in enumerate(sources)])

    def remove_sample(self, name: str, sample: Path | str | int) -> None:
        """Remove one sample of class `name`, given as its path (from `samples()`) or its index there.

        Raises:
            UsageError: no such class, or no such sample in it.
        """
        with self._lock:
            self._alive()
            files = self._files(name)
            if isinstance(sample, int) and not isinstance(sample, bool):
                if not -len(files) <= sample < len(files):
                    raise UsageError(f"Class '{name}' has {len(files)} samples; there is no sample {sample}.")
                file = files[sample]
            else:
                file = Path(sample).name
                if file not in files or Path(sample).parent.resolve() != (self._dir / name).resolve():
                    raise UsageError(f"{Path(sample).name} is not a sample of class '{name}'.")
            files.remove(file)
            del self._sizes[file]
            (self._dir / name / file).unlink(missing_ok=True)
            self._touch()

    # ------------------------------------------------------------ zips

    def to_zip(self, path: Path | None = None) -> Path:
        """Write every class as `<class>/<file>` into a .zip (default: dataset.zip in the collection's folder),
        atomically; the Train tab reads it back as a data set, and `load_zip` as a collection.

        Raises:
            StorageFullError: the server's storage budget has no room for the zip.
        """
        budget.make_room(self.total_bytes(), keep=self._root, what="this collection's .zip")  # ~ its samples
        with self._lock:
            self._alive()
            path = Path(path) if path is not None else self._root / "dataset.zip"
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:  # JPEGs
                    for name, files in self._classes.items():
                        zf.mkdir(name)  # an empty class survives the round trip
                        for file in files:
                            zf.write(self._dir / name / file, f"{name}/{file}")
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return path

    def load_zip(self, path: Path) -> AddReport:
        """Merge a .zip of class folders (as `to_zip` writes, or any the Train tab takes) into this collection.

        Classes are matched by name, case-insensitively, and created as needed (in alphabetical order);
        every picture goes through `add_image`, so it is re-encoded and counted against the caps. A class
        folder whose name is not valid, files that are not pictures, and anything past a cap are skipped
        with a reason.

        Raises:
            InvalidDatasetError: the file is not a zip, or it is hostile (archives.py); nothing is added.
            UsageError: the collection was deleted.
        """
        self._alive()
        with tempfile.TemporaryDirectory(prefix=".unpack-", dir=self._root, ignore_cleanup_errors=True) as tmp:
            base = unwrap_folder(extract_zip(path, tmp))
            train_dir, test_dir = image_splits(base)
            report = AddReport(0, tuple((p.name, "not inside a class folder") for p in sorted(base.iterdir())
                                        if p.is_file() and not p.name.startswith(".")))
            for split in (d for d in (train_dir, test_dir) if d is not None):
                for folder in class_dirs(split):
                    report += self._load_class(folder, base)
            return report

    # ------------------------------------------------------------ inside

    def _load_class(self, folder: Path, base: Path) -> AddReport:
        label = folder.relative_to(base).as_posix()
        name = next((c for c in self.classes if c.casefold() == _normal(folder.name).casefold()), None)
        if name is None:
            try:
                name = self.add_class(folder.name)
            except UsageError as exc:  # a bad name or the class cap: say so, go on with the other folders
                return AddReport(0, ((f"{label}/", str(exc)),))
        entries = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")]  # ._x.png: macOS metadata
        skipped = tuple((f"{label}/{p.name}/", "a folder inside a class folder") for p in entries if not p.is_file())
        items = [(f"{label}/{p.name}", p) for p in entries if p.is_file()]
        return AddReport(0, skipped) + self._add_many(name, items)

    def _add_many(self, name: str, items: list[tuple[str, ImageSource]]) -> AddReport:
        added, skipped = 0, []
        for n, (label, source) in enumerate(items):
            try:
                self.add_image(name, source)
            except (CollectionFullError, StorageFullError) as exc:  # nothing after this fits either
                skipped += [(rest, str(exc)) for rest, _ in items[n:]]
                break
            except InvalidImageError as exc:
                skipped.append((label, str(exc)))
            else:
                added += 1
        return AddReport(added, tuple(skipped))

    def _check_room(self, name: str, nbytes: int) -> None:
        with self._lock:
            self._alive()
            self._files(name)
            if len(self._sizes) >= limits.COLLECTION_MAX_SAMPLES:
                raise CollectionFullError(f"This collection is full: {limits.COLLECTION_MAX_SAMPLES:,} samples is "
                                          "the limit. Remove some, or train on what you have.")
            if sum(self._sizes.values()) + nbytes > limits.COLLECTION_MAX_BYTES:
                raise CollectionFullError(f"This collection is full: {limits.COLLECTION_MAX_BYTES / 2**20:,.0f} MB "
                                          "is the limit. Remove some samples, or train on what you have.")

    def _files(self, name: str) -> list[str]:
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise UsageError(f"There is no class called {name!r}; add it first.") from None

    def _alive(self) -> None:
        if self._deleted:
            raise UsageError(self._deleted)

    def _touch(self) -> None:
        os.utime(self._root)  # the folder's time says when it was last used (see expire_collections)

    def _free_name(self) -> str:
        taken = {c.casefold() for c in self._classes}
        return next(f"Class {n}" for n in range(1, len(taken) + 2) if f"class {n}" not in taken)

    def _valid_name(self, name: str, *, renaming: str | None = None) -> str:
        """The name as stored (trimmed, NFC), or a UsageError saying what is wrong with it."""
        name = _normal(name)
        if not name:
            raise UsageError("A class needs a name.")
        if len(name) > limits.COLLECTION_MAX_NAME:
            raise UsageError(f"Class names have at most {limits.COLLECTION_MAX_NAME} characters; "
                             f"'{name[:20]}…' has {len(name)}.")
        if "/" in name or "\\" in name or any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
            raise UsageError(f"A class name cannot contain / or \\ or control characters: {name!r}.")
        if name.startswith((".", "__MACOSX")):  # training ignores such folders (data/custom.py)
            raise UsageError(f"A class name cannot start with '.' or '__MACOSX': {name!r}.")
        if name.casefold() == NONE_OF_THESE.casefold():
            raise UsageError(f"'{NONE_OF_THESE}' is what a model answers when a picture fits no class; "
                             "pick another name.")
        taken = next((c for c in self._classes if c.casefold() == name.casefold() and c != renaming), None)
        if taken is not None:
            raise UsageError(f"There is already a class called '{taken}'; class names must differ "
                             "(ignoring upper and lower case).")
        return name


def _normal(name: object) -> str:
    return unicodedata.normalize("NFC", name).strip() if isinstance(name, str) else ""  # é typed two ways is one é


def _label(source: ImageSource, index: int) -> str:
    return Path(source).name if isinstance(source, str | Path) else f"image {index + 1}"


def _encoded(image: ImageSource) -> bytes:
    """Decode with the pixel cap, shrink to limits.COLLECTION_MAX_SIDE, and re-encode as a JPEG of pixels only."""
    img = open_image(image, max_pixels=settings_mod.load().max_image_pixels)
    side = limits.COLLECTION_MAX_SIDE
    img.thumbnail((side, side), Image.Resampling.LANCZOS)  # only ever shrinks
    clean = Image.fromarray(np.asarray(img))  # a new image: no EXIF, ICC or text chunks of the original
    buf = io.BytesIO()
    clean.save(buf, format="JPEG", quality=limits.COLLECTION_JPEG_QUALITY)
    return buf.getvalue()


def live_usage() -> dict[Path, int]:
    """The folders of the collections open in this process (not deleted) and their bytes on disk, from memory
    (the budget asks before every sample: walking 2,000 files each time would be quadratic)."""
    out = {}
    for c in list(_LIVE.values()):
        if not c.deleted:
            zips = 0  # to_zip's outputs (the training zip, downloads) beside the samples
            for z in c.root.glob("*.zip"):
                try:
                    zips += z.stat().st_size
                except OSError:  # replaced meanwhile
                    continue
            out[c.root.absolute()] = c.total_bytes() + zips
    return out


def delete_live(root: Path, why: str) -> bool:
    """Delete the open collection in `root` (under its lock), telling its session why. False if none is open."""
    c = _LIVE.get(Path(root).absolute())
    if c is None or c.deleted:
        return False
    c.delete(f"This collection was removed {why} (the server keeps visitors' data within its storage budget); "
             "start a new one.")
    return True


def expire_collections(max_age_h: float | None = None, parent: Path | None = None) -> int:
    """Remove collections untouched for `max_age_h` hours (default limits.COLLECTION_MAX_AGE_H), as left by
    closed tabs or a crashed server; call it when the server starts. Returns how many were removed."""
    hours = limits.COLLECTION_MAX_AGE_H if max_age_h is None else max_age_h
    cutoff = time.time() - hours * 3600
    removed = 0
    for path in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            if path.is_dir() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path)
                removed += 1
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return removed
