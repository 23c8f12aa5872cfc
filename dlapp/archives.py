"""Safe extraction of uploaded .zip files.

An upload is hostile until proven otherwise: we reject path traversal
("zip slip"), links, absurd member counts and bombs before writing anything,
and count real bytes while extracting because headers can lie.
"""

from __future__ import annotations

import errno
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .errors import InvalidDatasetError
from .limits import ZIP_MAX_DEPTH as MAX_DEPTH
from .limits import ZIP_MAX_MEMBERS as MAX_MEMBERS
from .limits import ZIP_MAX_NAME_BYTES as MAX_NAME_BYTES
from .limits import ZIP_MAX_RATIO as MAX_RATIO
from .limits import ZIP_MAX_TOTAL_BYTES as MAX_TOTAL_BYTES

_CHUNK = 1 << 20


def _shown(name: str, keep: int = 60) -> str:
    """An entry's name for a message: a hostile one can be thousands of characters long."""
    return repr(name if len(name) <= keep else f"{name[:keep // 2]}…{name[-keep // 2:]}")


def _check_member(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InvalidDatasetError(f"Archive entry {_shown(info.filename)} points outside the archive; "
                                  "refusing to extract.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidDatasetError(f"Archive entry {_shown(info.filename)} is a symbolic link; links are not allowed.")
    if (depth := len(path.parts) - (not info.is_dir())) > MAX_DEPTH:  # the folders above a file, or a folder's own
        raise InvalidDatasetError(f"Archive entry {_shown(info.filename)} is {depth:,} folders deep; the "
                                  f"limit is {MAX_DEPTH}. Put the class folders near the top of the .zip.")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in path.parts):
        raise InvalidDatasetError(f"Archive entry {_shown(info.filename)} has a name longer than {MAX_NAME_BYTES} "
                                  "bytes, more than a file system takes. Rename it.")
    return path


def _open(archive: str | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidDatasetError(f"{Path(archive).name} is not a readable .zip file ({exc}).") from None


def _checked_members(zf: zipfile.ZipFile) -> list[tuple[PurePosixPath, zipfile.ZipInfo]]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InvalidDatasetError(f"Archive has {len(infos):,} entries; the limit is {MAX_MEMBERS:,}.")
    declared = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if declared > MAX_TOTAL_BYTES:
        raise InvalidDatasetError(
            f"Archive unpacks to {declared / 2**20:,.0f} MB; the limit is {MAX_TOTAL_BYTES / 2**20:,.0f} MB."
        )
    if declared / packed > MAX_RATIO and declared > 10 * 2**20:
        raise InvalidDatasetError("Archive compression ratio is implausibly high (a zip bomb?); refusing it.")
    return [(_check_member(i), i) for i in infos]


def inspect_zip(archive: str | Path) -> int:
    """Check every entry without extracting anything; returns the entry count.

    Raises:
        InvalidDatasetError: as for `extract_zip`.
    """
    with _open(archive) as zf:
        return len(_checked_members(zf))


def extract_zip(archive: str | Path, dest: str | Path) -> Path:
    """Extract `archive` into `dest` after checking every entry.

    Raises:
        InvalidDatasetError: the file is not a zip, or it is hostile (traversal,
            links, too many files, too large when uncompressed).
    """
    dest = Path(dest)
    with _open(archive) as zf:
        written = 0
        for rel, info in _checked_members(zf):
            target = dest.joinpath(*rel.parts)
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > MAX_TOTAL_BYTES:
                            raise InvalidDatasetError("Archive unpacks to more than its headers claim; refusing it.")
                        out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENAMETOOLONG:
                    raise  # a full disk is the server's problem, not the archive's
                raise InvalidDatasetError(f"Archive entry {_shown(info.filename)} has a path too long to unpack; "
                                          "shorten its folder and file names.") from None
    return dest
