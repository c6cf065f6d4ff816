"""Which metrics apply to which points (variant, sweep point) of a run.

A metric that does not apply to a point is left out of its figures and shown as n/a in tables,
rather than drawn as a number that means nothing there:

- **cohort metrics** (``*_logged_in`` / ``*_logged_out``, ``*_kept`` / ``*_reset``): without
  the cohort (no logged-out users, no history reset) the ``_logged_out`` and ``_reset`` columns
  are empty and the ``_logged_in`` and ``_kept`` columns merely repeat the whole population's
  value; both apply only at points where the cohort's column has a value;
- **prediction metrics** (:data:`simlab.metrics.columns.NEEDS_PREDICTIONS`: R_pol,
  personalisation, pooled AUC) at points whose feed predicts one number for everyone
  (:data:`CONSTANT_PREDICTIONS`).

metrics.csv and summary.csv keep every recorded number; only what is shown changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from simlab.results.tables import (
    metric_columns,
    point_columns,
    point_label,
    points,
    same_point,
    same_value,
    select_point,
    sweep_columns,
)

# recommender types whose predict() is the platform CTR for every user and item
CONSTANT_PREDICTIONS = frozenset({"random", "chronological"})
# a column that applies only where its partner (the cohort's own column) has a value
COHORT_SUFFIXES = {"_logged_in": "_logged_out", "_logged_out": "_logged_out", "_kept": "_reset", "_reset": "_reset"}


def recommender_types(scenario: Mapping[str, Any], found: list[tuple[Any, ...]], keys: list[str]) -> dict:
    """Point (variant, *swept values) -> the recommender type it ran (None where unknown), from
    a run's resolved scenario document (its variants' and sweep's overrides applied).
    """
    from simlab.config.overrides import apply_overrides

    base = {k: v for k, v in scenario.items() if k not in ("variants", "sweep", "sweep_baseline")}
    variants = scenario.get("variants") or {}
    out = {}
    for point in found:
        try:
            doc = apply_overrides(base, variants.get(str(point[0])) or {})
            doc = apply_overrides(doc, dict(zip(keys, point[1:])))
            out[point] = (doc.get("recommender") or {}).get("type")
        except Exception:  # a hand-edited scenario.yaml: nothing is known, so everything applies
            out[point] = None
    return out


def not_applicable(metrics: pd.DataFrame, scenario: Mapping[str, Any] | None = None) -> dict[tuple, set[str]]:
    """Point -> the metric columns of ``metrics`` that do not apply to it (see the module docstring)."""
    from simlab.metrics.columns import NEEDS_PREDICTIONS

    names = metric_columns(metrics.columns)
    found = points(metrics) if len(metrics) else []
    feeds = recommender_types(scenario, found, sweep_columns(metrics.columns)) if scenario else {}
    out: dict[tuple, set[str]] = {}
    for point in found:
        rows = select_point(metrics, point)
        missing = set()
        for name in names:
            suffix = next((s for s in COHORT_SUFFIXES if name.endswith(s)), None)
            if suffix is not None:
                partner = name[: -len(suffix)] + COHORT_SUFFIXES[suffix]
                if partner not in rows.columns or not rows[partner].notna().any():
                    missing.add(name)
        if feeds.get(point) in CONSTANT_PREDICTIONS:
            missing |= NEEDS_PREDICTIONS & set(names)
        if missing:
            out[point] = missing
    return out


def mask(metrics: pd.DataFrame, scenario: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """``metrics`` with NaN wherever a metric does not apply to the row's point."""
    absent = not_applicable(metrics, scenario)
    if not absent:
        return metrics
    out = metrics.copy()
    keys = point_columns(metrics.columns)
    for point, names in absent.items():
        rows = np.ones(len(out), dtype=bool)
        for key, value in zip(keys, point):
            rows &= out[key].map(lambda v, value=value: same_value(v, value)).to_numpy(dtype=bool)
        out.loc[rows, sorted(names)] = np.nan
    return out


def mask_summary(summary: pd.DataFrame, absent: dict[tuple, set[str]]) -> pd.DataFrame:
    """summary.csv rows (variant, swept keys, metric, ...) with every number NaN where the metric
    does not apply to the row's point, or to its baseline's (``absent`` from :func:`not_applicable`).
    """
    if not absent or not len(summary):
        return summary
    keys = summary.columns[summary.columns.get_loc("variant") + 1 : summary.columns.get_loc("metric")]
    numbers = ["final_mean", "ci_low", "ci_high", "diff_vs_first", "diff_ci_low", "diff_ci_high"]
    out = summary.copy()
    labels = {point: _label(point, list(keys)) for point in absent}
    for index, row in out.iterrows():
        point = (row["variant"], *(row[k] for k in keys))
        own = next((names for p, names in absent.items() if same_point(p, point)), set())
        base = next((names for p, names in absent.items() if labels[p] == str(row.get("baseline", ""))), set())
        if row["metric"] in own:
            out.loc[index, [c for c in numbers if c in out.columns]] = np.nan
        elif row["metric"] in base:
            out.loc[index, [c for c in numbers[3:] if c in out.columns]] = np.nan
    return out


def _label(point: tuple, keys: list[str]) -> str:
    return point_label(point[0], dict(zip(keys, point[1:])))
