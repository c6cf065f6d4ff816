"""Bounded, quiet reading of user data files (population opinions, edge lists).

A scenario may point at any file, so reading one must neither hang (a FIFO), nor read without
bound (``/dev/zero``, a huge file), nor copy the file's content into an error message (a
scenario pointing at a secrets file would print its first line to stderr and manifest.json).
Errors therefore say what kind of token was found ("a text token in column 2"), never the token.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from simlab.core.limits import hint, limit


class DataFileError(ValueError):
    """A data file that cannot be used: ``path``, 1-based ``line`` (None: the whole file) and
    ``detail``, a message that never quotes the file's content."""

    def __init__(self, path: str | Path, detail: str, line: int | None = None):
        self.path, self.line, self.detail = str(path), line, detail
        super().__init__(f"{path}, line {line}: {detail}" if line is not None else f"{path}: {detail}")


def check_regular_file(path: str | Path, what: str) -> int:
    """The size in bytes of ``path``, after checking that it is a regular file within the
    ``data_file_bytes`` limit (a FIFO or a device is refused without opening it for reading)."""
    try:
        info = os.stat(path)
    except OSError:
        raise DataFileError(path, f"{what} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataFileError(path, f"expected a regular file for the {what}, found a special file (FIFO or device)")
    if info.st_size > limit("data_file_bytes"):
        raise DataFileError(path, f"{what} has {info.st_size} bytes, over the limit ({hint('data_file_bytes')})")
    return info.st_size


def file_key(path: str | Path) -> tuple[str, int, int, int, int]:
    """(path as given, device, inode, mtime, size): a cache key that changes with the file."""
    info = os.stat(path)
    return str(path), info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size


def data_lines(path: str | Path, what: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without comment and surrounding blanks) of each line that
    holds data; ``#`` starts a comment. Reads at most the ``data_file_bytes`` limit."""
    check_regular_file(path, what)
    budget = limit("data_file_bytes")
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
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


def split_fields(text: str, comma: bool) -> list[str]:
    return [f.strip() for f in text.split(",")] if comma else text.split()


def token_kind(text: str) -> str:
    """What a token that is not a number looks like, without quoting it."""
    if not text:
        return "an empty field"
    try:
        value = float(text)
    except ValueError:
        return "a text token"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "an infinity"
    return "a number"


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
