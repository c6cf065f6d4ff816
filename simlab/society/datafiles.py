"""Bounded, quiet, strict reading of user data files (population opinions, edge lists).

A scenario may point at any file, so reading one must neither hang (a FIFO), nor read without
bound (``/dev/zero``, a huge file), nor copy the file's content into an error message (a
scenario pointing at a secrets file would print its first line to stderr and manifest.json).
Errors therefore say what kind of token was found ("a text token in column 2"), never the token.

Nothing is lost silently: a UTF-8 byte-order mark is stripped; only a first line whose every
field is a name (``opinion``, ``u,v,weight``) is a header; a number is plain ASCII decimal
(``0.5``, ``-1e-3``: not ``0.5x``, ``1_0`` or other scripts' digits), anything else is refused
with the file and line; a file that cannot be read (no permission) is one line too.

A run pins its data files (:mod:`simlab.running.inputs`): inside :func:`pinned_paths`, a path
as written in the scenario is read from the absolute path recorded at the run's start
(:func:`data_path`), whatever the current folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from simlab.core.limits import hint, limit

_BOM = b"\xef\xbb\xbf"
# a number as data files write it: ASCII digits, an optional sign, fraction and exponent
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.ASCII | re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# a header field: a column name, optionally quoted
_NAME = re.compile(r'"?[A-Za-z_][A-Za-z0-9_.\- ]*"?', re.ASCII)
_PINNED: dict[str, str] = {}


@contextlib.contextmanager
def pinned_paths(paths: Mapping[str, str]) -> Iterator[None]:
    """Within the block, a data file named ``given`` in a scenario is read from ``paths[given]``
    (the absolute path a run recorded at its start): a resumed run, or a worker started in another
    folder, reads exactly the files the run started with.
    """
    saved = dict(_PINNED)
    _PINNED.update(paths)
    try:
        yield
    finally:
        _PINNED.clear()
        _PINNED.update(saved)


def data_path(path: str | Path) -> Path:
    """The file a scenario's data path names: its pinned path inside :func:`pinned_paths`, else the
    path itself (a relative path is relative to the current folder).
    """
    return Path(_PINNED.get(str(path), path))


class DataFileError(ValueError):
    """A data file that cannot be used: ``path``, 1-based ``line`` (None: the whole file) and
    ``detail``, a message that never quotes the file's content.
    """

    def __init__(self, path: str | Path, detail: str, line: int | None = None):
        self.path, self.line, self.detail = str(path), line, detail
        super().__init__(f"{path}, line {line}: {detail}" if line is not None else f"{path}: {detail}")


def check_regular_file(path: str | Path, what: str) -> int:
    """The size in bytes of ``path``, after checking that it is a regular file within the
    ``data_file_bytes`` limit (a FIFO or a device is refused without opening it for reading).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataFileError(path, f"{what} does not exist") from None
    except OSError as exc:  # a folder on the way that may not be entered, ...
        raise DataFileError(path, f"cannot read the {what}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataFileError(path, f"expected a regular file for the {what}, found a special file (FIFO or device)")
    if info.st_size > limit("data_file_bytes"):
        raise DataFileError(path, f"{what} has {info.st_size} bytes, over the limit ({hint('data_file_bytes')})")
    return info.st_size


def file_key(path: str | Path) -> tuple[str, int, int, int, int]:
    """(path as given, device, inode, mtime, size): a cache key that changes with the file."""
    info = os.stat(path)
    return str(path), info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size


def open_data_file(path: str | Path, what: str) -> IO[bytes]:
    """``path`` open for reading in binary; an OS error (no permission, ...) is a DataFileError."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise DataFileError(path, f"cannot read the {what}: {exc.strerror or exc}") from None


def data_lines(path: str | Path, what: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without comment and surrounding blanks) of each line that
    holds data; ``#`` starts a comment and a UTF-8 byte-order mark at the start is dropped.
    Reads at most the ``data_file_bytes`` limit.
    """
    check_regular_file(path, what)
    budget = limit("data_file_bytes")
    with open_data_file(path, what) as handle:
        number = 0
        while True:
            try:
                raw = handle.readline()
            except OSError as exc:
                raise DataFileError(path, f"cannot read the {what}: {exc.strerror or exc}", number + 1) from None
            if not raw:
                return
            number += 1
            if number == 1:
                raw = raw.removeprefix(_BOM)
            budget -= len(raw)
            if budget < 0:  # the file grew after the check
                raise DataFileError(path, f"{what} is over the size limit ({hint('data_file_bytes')})")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFileError(path, "expected UTF-8 text, found an undecodable byte", number) from None
            text = text.split("#", 1)[0].strip()
            if text:
                yield number, text


def content_hash(path: str | Path, what: str) -> tuple[str, int]:
    """(sha256 hex digest, bytes) of a data file, read in chunks; an OS error is a DataFileError."""
    digest, size = hashlib.sha256(), 0
    with open_data_file(path, what) as handle:
        try:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        except OSError as exc:
            raise DataFileError(path, f"cannot read the {what}: {exc.strerror or exc}") from None
    return digest.hexdigest(), size


def split_fields(text: str, comma: bool) -> list[str]:
    """The fields of one line: split at commas (stripped) or at whitespace."""
    return [f.strip() for f in text.split(",")] if comma else text.split()


def parse_number(text: str) -> float | None:
    """The value of a number token (``0.5``, ``-1e-3``, ``nan``, ``inf``), or None for anything
    else: Python's ``float`` would also take ``1_0`` and non-ASCII digits, which are refused.
    """
    if _DECIMAL.fullmatch(text) or _NON_FINITE.fullmatch(text):
        return float(text)
    return None


def parse_integer(text: str) -> int | None:
    """The value of an integer token (``12``, ``-3``), or None."""
    return int(text) if _INTEGER.fullmatch(text) else None


def is_number(text: str) -> bool:
    """Whether ``text`` parses as a finite number (see ``parse_number``)."""
    return parse_number(text) is not None


def is_header(fields: list[str]) -> bool:
    """Whether a first line is a header: every field a column name (a letter or _ first), so that
    damaged number (``0.5x``) is refused as data instead of being skipped as a header (``nan`` and
    ``inf`` are numbers, refused as such).
    """
    return bool(fields) and all(_NAME.fullmatch(f) and not is_number(f) for f in fields)


def token_kind(text: str) -> str:
    """What a token that is not a finite number looks like, without quoting it."""
    if not text:
        return "an empty field"
    value = parse_number(text)
    if value is None:
        return "a text token"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "an infinity"
    return "a number"
