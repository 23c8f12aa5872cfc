"""Tables of reviews (.csv, .jsonl, either optionally gzipped) read as a stream, within bounds.

An upload is hostile until read: a 1 MB .gz can hold a 1 GB cell, and a 50 MB CSV can hold
24 million rows. So nothing is read whole. Bytes are decompressed as they are read, under a cap
on the whole file (limits.MAX_TABLE_BYTES), on one line (MAX_TABLE_LINE_CHARS) and on one cell
(MAX_TABLE_CELL_CHARS); rows come one at a time, so a caller stops at its row limit without
reading the rest. Old-Mac line endings (CR only) read like any other, and a file that is not
text at all (a spreadsheet, a picture, random bytes) is named as such.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from .. import limits
from ..errors import InvalidDatasetError

_HEAD = 8192  # bytes looked at to tell text from binary: the first lines of any real table
# What a binary file that was meant as a table usually is, by its first bytes.
_MAGIC = (
    (b"PK\x03\x04", "a .zip archive (an .xlsx or .ods spreadsheet is one)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls (or other Office) file"),
    (b"\x1f\x8b", "gzip-compressed data; name it .csv.gz or .jsonl.gz"),
    (b"\x89PNG", "a PNG picture"), (b"\xff\xd8\xff", "a JPEG picture"), (b"GIF8", "a GIF picture"),
    (b"%PDF", "a PDF document"), (b"SQLite format 3", "an SQLite database"),
)
_CONTROL = frozenset(range(0, 9)) | frozenset(range(14, 32))  # bytes text never holds (tab, newlines, \f\v are fine)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" export


class _Capped(io.RawIOBase):
    """A byte stream that refuses to give more than `limit` bytes: the decompressed size is known
    only while decompressing, so it is counted there, and reading stops at the cap."""

    def __init__(self, raw: BinaryIO, limit: int, name: str):
        super().__init__()
        self._raw, self._limit, self._name, self.count = raw, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self._raw.readinto(buffer)
        except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
            raise InvalidDatasetError(f"{self._name} is not a readable gzip file (damaged or cut short).") from None
        self.count += n
        if self.count > self._limit:
            raise InvalidDatasetError(f"{self._name} holds more than {self._limit / 2**20:,.0f} MB of text "
                                      "(uncompressed), the limit. Upload fewer rows.")
        return n


def _binary_kind(head: bytes) -> str | None:
    """What a file's first bytes say it is, if they say it is not text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head.startswith(_UTF16_BOMS):
        return None
    if b"\0" in head or sum(b in _CONTROL for b in head) > 0.05 * len(head):
        return "binary data"
    return None


@contextmanager
def open_text(path: Path, *, max_bytes: int = limits.MAX_TABLE_BYTES) -> Iterator[TextIO]:
    """`path` as text, decompressed as it is read if its name ends in .gz, at most `max_bytes` of it.

    Lines end at CR, LF or CRLF and keep their ending (newline=""), as the csv module wants.

    Raises:
        InvalidDatasetError: not gzip though named so, binary rather than text, or over `max_bytes`
            (raised while reading, from the stream).
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw: BinaryIO = gzip.GzipFile(fileobj=f, mode="rb") if path.name.lower().endswith(".gz") else f
        stream = io.BufferedReader(_Capped(raw, max_bytes, path.name), buffer_size=1 << 16)
        head = stream.peek(_HEAD)[:_HEAD]
        if kind := _binary_kind(head):
            raise InvalidDatasetError(f"{path.name} is not a text table: it looks like {kind}. "
                                      "Save it as a CSV file (UTF-8 text) and upload that.")
        encoding = "utf-16" if head.startswith(_UTF16_BOMS) else "utf-8-sig"
        yield io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")


def _lines(text: TextIO, name: str) -> Iterator[str]:
    """The lines of `text`, none longer than MAX_TABLE_LINE_CHARS (a longer one is never read whole)."""
    cap = limits.MAX_TABLE_LINE_CHARS
    for n in range(1, 2**62):
        line = text.readline(cap + 1)
        if not line:
            return
        if len(line) > cap:
            raise InvalidDatasetError(f"{name}, line {n:,}: longer than {cap:,} characters, the limit for one line. "
                                      f"A review may have up to {limits.MAX_TABLE_CELL_CHARS:,} characters.")
        if "\0" in line:
            raise InvalidDatasetError(f"{name}, line {n:,}: holds binary data (a NUL byte), so this is not a "
                                      "text table. Save it as a CSV file (UTF-8 text) and upload that.")
        yield line


def csv_rows(path: Path) -> Iterator[list[str]]:
    """The rows of a .csv (or .csv.gz), one at a time, header included.

    Raises:
        InvalidDatasetError: as `open_text`, a line or a cell over its limit, or malformed CSV.
    """
    path = Path(path)
    csv.field_size_limit(limits.MAX_TABLE_CELL_CHARS)  # the stdlib's default; set, so the message below holds
    with open_text(path) as text:
        reader = csv.reader(_lines(text, path.name))
        try:
            yield from reader
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise InvalidDatasetError(
                    f"{path.name}, line {reader.line_num:,}: a cell is longer than "
                    f"{limits.MAX_TABLE_CELL_CHARS:,} characters, the limit for one review. Shorten it.") from None
            raise InvalidDatasetError(f"{path.name}, line {reader.line_num:,}: not valid CSV ({exc}).") from None


def jsonl_rows(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) for each non-blank line of a .jsonl (or .jsonl.gz), one at a time.

    Raises:
        InvalidDatasetError: as `open_text`, a line over its limit, or a line that is not JSON.
    """
    path = Path(path)
    with open_text(path) as text:
        for n, line in enumerate(_lines(text, path.name), 1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    raise InvalidDatasetError(f"{path.name}, line {n:,}: not valid JSON.") from None
