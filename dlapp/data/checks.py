"""Checks on an image data set of class folders before a training starts.

Training (data/custom.py) quietly skips files it cannot read, and learns badly from too few,
lopsided, copied or tiny pictures. These checks say so up front, name the files involved, and
say what to do. They read exactly the class folders and files training reads (the same helpers),
decode every file for real with the same pixel cap, and never follow a link out of the folder.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import limits
from .. import settings as settings_mod
from ..archives import extract_zip
from ..errors import DatasetNotFoundError, InvalidDatasetError, InvalidImageError, UsageError
from ..images import open_image
from .custom import class_dirs, image_files, image_splits, unwrap_folder

ProblemKind = Literal[
    "bad_archive",  # the .zip is hostile or not a zip (archives.py's message)
    "too_many_files",  # more image files than limits.ZIP_MAX_MEMBERS: nothing else was checked
    "too_few_classes",  # fewer than two class folders
    "too_few",  # classes with too few readable samples (blocking below CHECK_MIN_SAMPLES, else a warning)
    "unreadable",  # files with image names that do not decode: training skips them
    "links",  # links pointing out of the folder: not followed, so not checked
    "duplicates_across_classes",  # the same picture in two classes: contradictory labels
    "duplicates",  # the same picture twice in one class
    "imbalance",  # largest:smallest class over CHECK_MAX_IMBALANCE
    "tiny",  # pictures smaller than CHECK_MIN_SIDE on a side
]


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with a data set, in words fit for the person who made it."""

    kind: ProblemKind
    message: str  # plain words: what is wrong and what to do
    files: tuple[str, ...] = ()  # paths relative to the checked folder, at most limits.CHECK_FILES_KEPT
    blocking: bool = False  # True: training cannot start until it is fixed


@dataclass(frozen=True)
class _Sample:
    rel: str  # relative to the checked folder, with "/"
    cls: str
    train: bool  # in the training split (counts toward the class's samples)
    digest: bytes = b""
    size: tuple[int, int] = (0, 0)  # (width, height) as training sees it; (0, 0) if unreadable
    error: str = ""  # why it is unreadable, in a few words


# ---------------------------------------------------------------- entry points

def check_image_folder(root: Path) -> list[DataProblem]:
    """Every problem with `root/<class>/<images>` (or one folder wrapping it, or train/ + test/), blocking first.

    Raises:
        DatasetNotFoundError: `root` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root} is not a folder.")
    classes, files, outside, test_split = _listing(root)
    if len(files) > limits.ZIP_MAX_MEMBERS:
        return [DataProblem("too_many_files", f"This data set has more than {limits.ZIP_MAX_MEMBERS:,} image files, "
                            "the limit. Remove some, or keep a sample of each class.", blocking=True)]
    max_pixels = settings_mod.load().max_image_pixels
    samples = [_inspect(root, cls, path, train, max_pixels) for cls, path, train in files]
    problems = [*_class_problems(classes, samples, min_samples=1 if test_split else limits.CHECK_MIN_SAMPLES),
                *_test_split(samples, test_split), *_unreadable(samples), *_links(root, outside),
                *_duplicates(samples), *_tiny(samples)]
    return sorted(problems, key=lambda p: not p.blocking)  # stable: blocking first, each group in check order


def check_image_zip(path: Path, workdir: Path) -> list[DataProblem]:
    """Extract a .zip of class folders into `workdir` (safely: archives.py), then check the folder.

    A hostile or unreadable archive comes back as one blocking "bad_archive" problem carrying
    archives.py's message, not as an exception, so the Train tab shows every problem one way.
    `workdir` must be empty or absent; the caller owns it (and removes it, extracted files and all).

    Raises:
        UsageError: `workdir` is not empty.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise UsageError(f"{workdir} is not empty; check a .zip in a fresh folder.")
    try:
        extract_zip(path, workdir)
    except InvalidDatasetError as exc:
        return [DataProblem("bad_archive", f"{exc} Upload a .zip holding one folder of pictures per class.",
                            blocking=True)]
    return check_image_folder(workdir)


# ---------------------------------------------------------------- reading

def _listing(root: Path) -> tuple[list[str], list[tuple[str, Path, bool]], list[Path], bool]:
    """The class names, the files training would read as (class, path, in training split), the links
    pointing out of `root` (not followed), and whether there is a test split. Stops once over the file cap."""
    top = root.resolve()
    base = unwrap_folder(root)
    if not base.resolve().is_relative_to(top):
        return [], [], [base], False
    train_dir, test_dir = image_splits(base)
    classes = [d.name for d in class_dirs(train_dir)]
    files: list[tuple[str, Path, bool]] = []
    outside: list[Path] = []
    splits = [s for s in (train_dir, test_dir) if s is not None]
    for split, cls in ((s, c) for s in splits for c in classes):  # the test split is read by the training names
        folder = split / cls
        if not folder.resolve().is_relative_to(top):
            outside.append(folder)
            continue
        for path in image_files(folder):
            if path.is_symlink() and not path.resolve().is_relative_to(top):
                outside.append(path)
            elif path.is_file():  # a folder named x.png is no picture, and nothing training reads
                files.append((cls, path, split == train_dir))
        if len(files) > limits.ZIP_MAX_MEMBERS:
            break
    return classes, files, outside, test_dir is not None


def _inspect(root: Path, cls: str, path: Path, train: bool, max_pixels: int) -> _Sample:
    """Hash the bytes and decode the picture as training will (same decoder, same pixel cap)."""
    rel = path.relative_to(root).as_posix()
    try:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").digest()
            empty = f.tell() == 0
    except OSError:
        return _Sample(rel, cls, train, error="cannot be opened")
    try:
        img = open_image(path, max_pixels=max_pixels)
    except InvalidImageError as exc:
        return _Sample(rel, cls, train, digest, error="empty file" if empty else _reason(str(exc)))
    return _Sample(rel, cls, train, digest, img.size)


def _reason(message: str) -> str:
    """images.py's sentence, cut to the few words a list of files has room for."""
    if "megapixels" in message:
        return "too large"
    if "not an image" in message:
        return "not an image"
    return "damaged or truncated"


# ---------------------------------------------------------------- problems

def _class_problems(classes: list[str], samples: list[_Sample], *, min_samples: int) -> list[DataProblem]:
    """Too few classes, too few samples per class (blocking or not), and imbalance."""
    if len(classes) < 2:
        found = f"only {_quoted(classes)}" if classes else "none"
        return [DataProblem("too_few_classes", f"Training needs at least 2 classes, one folder of pictures each; "
                            f"found {found}. Add another class.", blocking=True)]
    counts = dict.fromkeys(classes, 0)
    for s in samples:
        if s.train and not s.error:
            counts[s.cls] += 1
    problems = []
    if short := [c for c in classes if counts[c] < min_samples]:
        held_out = " (one is held out to test the model)" if min_samples > 1 else ""
        problems.append(DataProblem("too_few", f"{_class_word(short)} {_counted(short, counts)} {_has(short)} too few "
                                    f"readable pictures to train on: each class needs at least {min_samples}"
                                    f"{held_out}. Add more samples to {_quoted(short)}.", blocking=True))
    if few := [c for c in classes if min_samples <= counts[c] < limits.CHECK_RECOMMENDED_SAMPLES]:
        problems.append(DataProblem("too_few", f"{_class_word(few)} {_counted(few, counts)} {_has(few)} fewer than "
                                    f"{limits.CHECK_RECOMMENDED_SAMPLES} pictures, so the model will mostly memorise "
                                    f"them. Add more samples to {_quoted(few)}."))
    largest = max(classes, key=counts.__getitem__)
    ratio = limits.CHECK_MAX_IMBALANCE  # classes already too small to train are reported above, not twice
    small = [c for c in classes if min_samples <= counts[c] and counts[largest] > ratio * counts[c]]
    if small:
        problems.append(DataProblem("imbalance", f"Class '{largest}' has {counts[largest]:,} pictures, but "
                                    f"{_counted(small, counts)} {_has(small)} far fewer, so the model will lean "
                                    f"towards '{largest}'. Add samples to {_quoted(small)}, or remove some from "
                                    f"'{largest}'."))
    return problems


def _test_split(samples: list[_Sample], test_split: bool) -> list[DataProblem]:
    if not test_split or any(not s.train and not s.error for s in samples):
        return []
    return [DataProblem("too_few", "The test folder has no readable pictures in folders named like the training "
                        "classes. Add some, or remove the test folder and dlapp will hold out pictures itself.",
                        blocking=True)]


def _unreadable(samples: list[_Sample]) -> list[DataProblem]:
    bad = [s for s in samples if s.error]
    if not bad:
        return []
    listed = _list_of([f"{s.rel} ({s.error})" for s in bad])
    return [DataProblem("unreadable", f"{_n(bad, 'file')} cannot be read as pictures, and training will skip "
                        f"{_them(bad)}: {listed}. Delete {_them(bad)}, or open {_them(bad)} in an image editor "
                        "and save as JPEG or PNG.", _kept(s.rel for s in bad))]


def _links(root: Path, outside: list[Path]) -> list[DataProblem]:
    if not outside:
        return []
    rels = [p.relative_to(root).as_posix() for p in outside]
    return [DataProblem("links", f"{_n(rels, 'entry', 'entries')} {'is a link' if len(rels) == 1 else 'are links'} "
                        f"to something outside the data folder, not checked here: {_list_of(rels)}. Put the "
                        "pictures themselves in the class folders.", _kept(rels))]


def _duplicates(samples: list[_Sample]) -> list[DataProblem]:
    """Groups of byte-identical readable pictures: within one class (wasteful), across classes (contradictory)."""
    groups: dict[bytes, list[_Sample]] = defaultdict(list)
    for s in samples:
        if not s.error:
            groups[s.digest].append(s)
    copies = [g for g in groups.values() if len(g) > 1]
    across = [g for g in copies if len({s.cls for s in g}) > 1]
    within = [g for g in copies if len({s.cls for s in g}) == 1]
    problems = []
    if across:
        problems.append(DataProblem(
            "duplicates_across_classes", f"{_n(across, 'picture')} {'is' if len(across) == 1 else 'are'} in more than "
            f"one class ({_list_of([_same(g) for g in across])}). That tells the model one "
            "picture is two different things, which is worse than any copy within a class. Keep each picture "
            "only in the class it belongs to.", _kept(s.rel for g in across for s in g)))
    if within:
        problems.append(DataProblem(
            "duplicates", f"{_n(within, 'picture')} {'has' if len(within) == 1 else 'have'} exact copies in the "
            f"same class ({_list_of([_same(g) for g in within])}). Copies teach nothing new and "
            "can land in both the training and the test split, so the test score looks better than it is. "
            "Delete the copies.", _kept(s.rel for g in within for s in g)))
    return problems


def _tiny(samples: list[_Sample]) -> list[DataProblem]:
    side = limits.CHECK_MIN_SIDE
    tiny = [s for s in samples if not s.error and min(s.size) < side]
    if not tiny:
        return []
    listed = _list_of([f"{s.rel} ({s.size[0]}×{s.size[1]})" for s in tiny])
    return [DataProblem("tiny", f"{_n(tiny, 'picture')} {'is' if len(tiny) == 1 else 'are'} smaller than {side} px "
                        f"on a side: {listed}. The model enlarges {_them(tiny)} into blur; use bigger pictures, or "
                        f"remove {_them(tiny)}.", _kept(s.rel for s in tiny))]


# ---------------------------------------------------------------- wording

def _kept(rels) -> tuple[str, ...]:
    return tuple(rels)[: limits.CHECK_FILES_KEPT]


def _list_of(items: list[str], shown: int = 3) -> str:
    more = len(items) - shown
    return "; ".join(items[:shown]) + (f"; and {more:,} more" if more > 0 else "")


def _same(group: list[_Sample], shown: int = 3) -> str:
    more = f" = … ({len(group)} copies)" if len(group) > shown else ""
    return " = ".join(s.rel for s in group[:shown]) + more


def _n(items: list, one: str, many: str | None = None) -> str:
    return f"1 {one}" if len(items) == 1 else f"{len(items):,} {many or one + 's'}"


def _them(items: list) -> str:
    return "it" if len(items) == 1 else "them"


def _has(classes: list[str]) -> str:
    return "has" if len(classes) == 1 else "have"


def _quoted(classes: list[str]) -> str:
    return ", ".join(f"'{c}'" for c in classes)


def _class_word(classes: list[str]) -> str:
    return "Class" if len(classes) == 1 else "Classes"


def _counted(classes: list[str], counts: dict[str, int]) -> str:
    return ", ".join(f"'{c}' ({counts[c]:,})" for c in classes)
