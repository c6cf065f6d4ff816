"""Merging the tasks' metric streams into the run folder's metrics.csv and metrics.parquet."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pandas as pd

from simlab.running.files import _header, read_metrics
from simlab.running.summary import ID_COLUMNS, sweep_columns


def merge_metrics(run_dir: Path, task_ids: list[str], parquet: bool = True) -> list[str]:
    """Stream the tasks' metric files, in task order, into the run's metrics.csv (and
    metrics.parquet, one row group per task); returns the merged columns.

    With the same columns in every task (the usual case) the files are concatenated byte for
    byte; otherwise rows are re-aligned to the union of the columns (missing cells empty).
    """
    paths = [run_dir / "tasks" / t / "metrics.csv" for t in task_ids]
    paths = [p for p in paths if p.exists()]
    headers = [_header(p) for p in paths]
    columns = list(ID_COLUMNS)
    for header in headers:
        columns.extend(c for c in header if c not in columns)
    tmp = run_dir / f".metrics.csv.tmp{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for path, header in zip(paths, headers):
            if header == columns:
                out.flush()
                with open(path, "rb") as src:
                    src.readline()
                    shutil.copyfileobj(src, out.buffer)
                out.buffer.flush()
            else:
                with open(path, newline="", encoding="utf-8") as src:
                    for record in csv.DictReader(src):
                        writer.writerow([record.get(c, "") for c in columns])
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, run_dir / "metrics.csv")
    if parquet:
        _write_parquet(run_dir, paths, columns)
    return columns


def _write_parquet(run_dir: Path, paths: list[Path], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    types = {"variant": pa.string(), "replicate": pa.int64(), "step": pa.int64()}
    types.update(_sweep_types(paths, sweep_columns(columns)))
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
    options = pacsv.ConvertOptions(
        column_types=schema,
        include_columns=columns,
        include_missing_columns=True,
        strings_can_be_null=False,
        null_values=["", "nan", "NaN"],
    )
    tmp = run_dir / f".metrics.parquet.tmp{os.getpid()}"
    with pq.ParquetWriter(tmp, schema) as writer:
        for path in paths:
            table = pacsv.read_csv(path, convert_options=options)
            if table.num_rows:
                writer.write_table(table.select(columns).cast(schema))
    os.replace(tmp, run_dir / "metrics.parquet")


def _sweep_types(paths: list[Path], keys: list[str]) -> dict[str, object]:
    """Arrow types of the swept-key columns from their values (constant within a task file, so
    its first row says): int64 if every value is an integer, float64 if a number, else text."""
    import pyarrow as pa

    values: dict[str, list[str]] = {k: [] for k in keys}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            first = next(csv.DictReader(fh), None)
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


def _final_rows(run_dir: Path, task_ids: list[str]) -> pd.DataFrame:
    """The last recorded row of each task (all that the summary needs), one file at a time."""
    rows = []
    for task_id in task_ids:
        path = run_dir / "tasks" / task_id / "metrics.csv"
        if not path.exists():
            continue
        frame = read_metrics(path)
        if len(frame):
            rows.append(frame.loc[frame["step"] == frame["step"].max()])
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=ID_COLUMNS)
