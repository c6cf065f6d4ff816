"""Small file helpers of the run folder: atomic writes, safe names, reading metrics.csv."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pandas as pd

from simlab.running.summary import ID_COLUMNS


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write then rename, so a reader never sees half a file and a crash loses nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def safe_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", label)


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def read_metrics(path: Path) -> pd.DataFrame:
    """A metrics.csv as a DataFrame (variant labels kept as text, empty cells NaN).

    Raises ScenarioError (one line) for a file that is not a simlab metrics table: undecodable,
    malformed CSV, the ID columns missing or not numbers.
    """
    from simlab.core.errors import ScenarioError

    try:
        columns = _header(path)
        if not columns:
            return pd.DataFrame(columns=ID_COLUMNS)
        if columns[: len(ID_COLUMNS)] != list(ID_COLUMNS):
            raise ValueError(f"expected the columns to start with {', '.join(ID_COLUMNS)}")
        na = {c: ["", "nan", "NaN"] for c in columns if c != "variant"}
        frame = pd.read_csv(path, dtype={"variant": str}, keep_default_na=False, na_values=na)
        if not all(pd.api.types.is_numeric_dtype(frame[c]) for c in ("replicate", "step")):
            raise ValueError("expected integers in the replicate and step columns, found text")
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ScenarioError(f"not a simlab metrics table ({type(exc).__name__})", file=str(path)) from None
    except ValueError as exc:
        raise ScenarioError(f"not a simlab metrics table: {exc}", file=str(path)) from None
    return frame
