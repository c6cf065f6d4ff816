"""The layout of a metrics table (metrics.csv) and its points.

metrics.csv starts with ``variant, replicate, step``, then one column per swept key (named by the
key: a dotted path such as ``behavior.b_ext``, or a top-level key such as ``seed``), then one
column per metric (metric names are never scenario keys). A **point** is one curve of a run: a
variant at one sweep point, the tuple ``(variant, *swept values)``; replicate r of every point
shares its seed, so points are compared replicate by replicate against their **baseline**
(:func:`baselines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

ID_COLUMNS = ["variant", "replicate", "step"]


def sweep_columns(columns: Iterable[str]) -> list[str]:
    """The swept-key columns among a metrics table's columns: those naming a scenario key (its
    first dotted part is a top-level scenario key), in order.
    """
    from simlab.config.schema import Scenario

    return [c for c in columns if c not in ID_COLUMNS and str(c).split(".")[0] in Scenario.model_fields]


def summary_sweep_columns(columns: Iterable[str]) -> list[str]:
    """The swept-key columns of a summary.csv: those between ``variant`` and ``metric``."""
    columns = list(columns)
    return columns[columns.index("variant") + 1 : columns.index("metric")]


def id_columns(columns: Iterable[str]) -> list[str]:
    """``variant, replicate, step`` and the swept keys: every column that is not a metric."""
    columns = list(columns)
    return [c for c in ID_COLUMNS if c in columns] + sweep_columns(columns)


def metric_columns(columns: Iterable[str]) -> list[str]:
    """The metric columns among a metrics table's columns: every one that is not an ID.

    Args:
        columns: the table's column names, in order.

    Returns:
        The metric names, in the table's order.
    """
    columns = list(columns)
    ids = set(id_columns(columns))
    return [c for c in columns if c not in ids]


def point_columns(columns: Iterable[str]) -> list[str]:
    """What identifies one curve: the variant and the swept values (a task minus its replicate)."""
    return ["variant", *sweep_columns(columns)]


def point_label(variant: Any, sweep: Mapping[str, Any]) -> str:
    """``variant`` or ``variant|key=value,...``, as task labels read."""
    if not sweep:
        return str(variant)
    return f"{variant}|" + ",".join(f"{k}={v}" for k, v in sweep.items())


def points(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The distinct (variant, *swept values) of a metrics table, in the order of the table (the
    scenario's order: variants as listed, then the sweep grid).
    """
    keys = point_columns(frame.columns)
    return list(dict.fromkeys(frame[keys].itertuples(index=False, name=None)))


def same_value(a: Any, b: Any) -> bool:
    """Swept values compare as numbers where both are numbers (1 and 1.0 are the same point)."""
    try:
        return bool(float(a) == float(b))
    except (TypeError, ValueError):
        return str(a) == str(b)


def same_point(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether two points ``(variant, *swept values)`` are the same point.

    Args:
        a: a point.
        b: another point.

    Returns:
        True when they have the same length, the same variant (as text) and the same swept values
        (:func:`same_value`: 1 and 1.0 are the same).
    """
    return len(a) == len(b) and str(a[0]) == str(b[0]) and all(map(same_value, a[1:], b[1:]))


def select_point(frame: pd.DataFrame, point: tuple[Any, ...]) -> pd.DataFrame:
    """The rows of one point of a metrics table (swept values compared by :func:`same_value`).

    Args:
        frame: a metrics table (or its final rows), with the variant and swept-key columns.
        point: ``(variant, *swept values)``.

    Returns:
        The rows of ``frame`` at ``point`` (every replicate and step).
    """
    keys = point_columns(frame.columns)
    mask = np.ones(len(frame), dtype=bool)
    for key, value in zip(keys, point):
        mask &= frame[key].map(lambda v, value=value: same_value(v, value)).to_numpy(dtype=bool)
    return frame[mask]


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last recorded step of each task (variant, swept values, replicate)."""
    keys = [*point_columns(metrics.columns), "replicate"]
    return metrics.loc[metrics.groupby(keys, sort=False, dropna=False)["step"].idxmax()]


def baselines(
    frame: pd.DataFrame, sweep_baseline: Mapping[str, Any] | None = None, variants: list[str] | None = None
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """For each point (variant, *swept values) the point its paired differences are taken against.

    Without ``sweep_baseline``: the first variant at the same sweep point (so each sweep point
    compares the variants with each other). With it (swept key -> value): the same variant with
    those keys set to the declared values (so the sweep's effect against a declared reference).
    "First" is the first of ``variants`` (the scenario's order) when given, else of the table.
    A point whose baseline is missing from the table (its tasks failed) is left out of the
    mapping: its differences are NaN, never taken against some other point.
    """
    keys = sweep_columns(frame.columns)
    found = points(frame)
    variants = [v for v in variants or [] if v in {p[0] for p in found}] or list(dict.fromkeys(p[0] for p in found))
    out = {}
    for point in found:
        if sweep_baseline:
            want = (point[0], *(sweep_baseline.get(k, v) for k, v in zip(keys, point[1:])))
        else:
            want = (variants[0], *point[1:])
        match = [p for p in found if all(same_value(a, b) for a, b in zip(p, want))]
        if match:
            out[point] = match[0]
    return out
