"""Merging the tasks' metric streams into the run folder's metrics.csv and metrics.parquet.

Every task file is read through :func:`~simlab.running.files.open_inside` (no link followed, no
file with another name outside the folder) and every merged file is written whole or not at all
(:func:`~simlab.running.files.atomic_file`).
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd

from simlab.running.files import atomic_file, open_inside, read_header, read_metrics
from simlab.running.summary import ID_COLUMNS, sweep_columns


def _stream(task_id: str) -> str:
    return f"tasks/{task_id}/metrics.csv"


def _existing(run_dir: Path, task_ids: list[str]) -> list[str]:
    """The task streams that exist (checked for links and outside files as they are opened)."""
    found = []
    for task_id in task_ids:
        try:
            open_inside(run_dir, _stream(task_id)).close()
        except FileNotFoundError:
            continue
        found.append(_stream(task_id))
    return found


def merge_metrics(run_dir: Path, task_ids: list[str], parquet: bool = True) -> list[str]:
    """Stream the tasks' metric files, in task order, into the run's metrics.csv (and
    metrics.parquet, one row group per task); returns the merged columns.

    With the same columns in every task (the usual case) the files are concatenated byte for
    byte; otherwise rows are re-aligned to the union of the columns (missing cells empty).
    """
    streams = _existing(run_dir, task_ids)
    headers = []
    for stream in streams:
        with open_inside(run_dir, stream) as src:
            headers.append(read_header(src))
    columns = list(ID_COLUMNS)
    for header in headers:
        columns.extend(c for c in header if c not in columns)
    with atomic_file(run_dir / "metrics.csv") as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        text.flush()
        for stream, header in zip(streams, headers):
            with open_inside(run_dir, stream) as src:
                if header == columns:
                    src.readline()
                    shutil.copyfileobj(src, out)
                else:
                    for record in csv.DictReader(io.TextIOWrapper(src, encoding="utf-8", newline="")):
                        writer.writerow([record.get(c, "") for c in columns])
                    text.flush()
        text.detach()
    if parquet:
        _write_parquet(run_dir, streams, columns)
    return columns


def _write_parquet(run_dir: Path, streams: list[str], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    types = {"variant": pa.string(), "replicate": pa.int64(), "step": pa.int64()}
    types.update(_sweep_types(run_dir, streams, sweep_columns(columns)))
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
    options = pacsv.ConvertOptions(
        column_types=schema,
        include_columns=columns,
        include_missing_columns=True,
        strings_can_be_null=False,
        null_values=["", "nan", "NaN"],
    )
    with atomic_file(run_dir / "metrics.parquet") as out, pq.ParquetWriter(out, schema) as writer:
        for stream in streams:
            with open_inside(run_dir, stream) as src:
                table = pacsv.read_csv(src, convert_options=options)
            if table.num_rows:
                writer.write_table(table.select(columns).cast(schema))


def _sweep_types(run_dir: Path, streams: list[str], keys: list[str]) -> dict[str, object]:
    """Arrow types of the swept-key columns from their values (constant within a task file, so
    its first row says): int64 if every value is an integer, float64 if a number, else text.
    """
    import pyarrow as pa

    values: dict[str, list[str]] = {k: [] for k in keys}
    for stream in streams:
        with open_inside(run_dir, stream) as src:
            first = next(csv.DictReader(io.TextIOWrapper(src, encoding="utf-8", newline="")), None)
        for key in keys if first else []:
            values[key].append(first.get(key, "") if first else "")

    def kind(texts: list[str]) -> object:
        for parse, arrow in ((int, pa.int64()), (float, pa.float64())):
            try:
                [parse(t) for t in texts]
                return arrow
            except ValueError:
                continue
        return pa.string()

    return {key: kind(texts) for key, texts in values.items()}


def final_rows(run_dir: Path, task_ids: list[str]) -> pd.DataFrame:
    """The last recorded row of each task (all that the summary needs), one file at a time."""
    rows = []
    for stream in _existing(run_dir, task_ids):
        with open_inside(run_dir, stream) as src:
            frame = read_metrics(run_dir / stream, src)
        if len(frame):
            rows.append(frame.loc[frame["step"] == frame["step"].max()])
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=ID_COLUMNS)
