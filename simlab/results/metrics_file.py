"""Reading metrics.csv (and a task's metrics stream): the one reader, for the run folder's merge,
the figures, the report and ``simlab compare``.

The file is read as a table whose first columns are ``variant, replicate, step``
(:data:`simlab.results.tables.ID_COLUMNS`); anything else is refused with one line, never a
traceback.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path
from typing import IO

import pandas as pd

from simlab.core.errors import ScenarioError
from simlab.results.tables import ID_COLUMNS


def read_header(handle: IO[bytes]) -> list[str]:
    """The first CSV row of a binary file (then back at the start)."""
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    try:
        return next(csv.reader(text), [])
    finally:
        text.detach()
        handle.seek(0)


def read_metrics(path: Path, handle: IO[bytes] | None = None) -> pd.DataFrame:
    """A metrics.csv as a DataFrame (variant labels kept as text, empty cells NaN); read from
    ``handle`` when given (a file opened by :func:`simlab.running.files.open_inside`), else from ``path``.

    Raises ScenarioError (one line) for a file that is not a simlab metrics table: undecodable,
    malformed CSV, the ID columns missing or not numbers.
    """
    try:
        with contextlib.ExitStack() as stack:
            if handle is None:
                handle = stack.enter_context(open(path, "rb"))
            columns = read_header(handle)
            if not columns:
                return pd.DataFrame(columns=ID_COLUMNS)
            if columns[: len(ID_COLUMNS)] != list(ID_COLUMNS):
                raise ValueError(f"expected the columns to start with {', '.join(ID_COLUMNS)}")
            na = {c: ["", "nan", "NaN"] for c in columns if c != "variant"}
            frame = pd.read_csv(handle, dtype={"variant": str}, keep_default_na=False, na_values=na)
        if not all(pd.api.types.is_numeric_dtype(frame[c]) for c in ("replicate", "step")):
            raise ValueError("expected integers in the replicate and step columns, found text")
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ScenarioError(f"not a simlab metrics table ({type(exc).__name__})", file=str(path)) from None
    except ValueError as exc:
        raise ScenarioError(f"not a simlab metrics table: {exc}", file=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return frame
