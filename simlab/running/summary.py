"""summary.csv: the final-step mean of every metric over replicates and the paired difference to
each point's baseline, with the project's one interval.

The statistics live in the results layer, below both running and outputs:
:mod:`simlab.results.intervals` (the 95% t-interval cut at each metric's declared range, paired
differences, significance) and :mod:`simlab.results.tables` (the columns and points of a metrics
table). Their names are re-exported here, so that ``from simlab.running.summary import interval``
keeps working.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from simlab.results.intervals import (
    FEW,
    LEVEL,
    UNBOUNDED,
    ZERO_WIDTH,
    Interval,
    curves,
    difference_bounds,
    excludes_zero,
    few_note,
    has_width,
    interval,
    mean_ci,
    metric_bounds,
    paired,
    paired_curves,
    step_intervals,
)
from simlab.results.tables import (
    ID_COLUMNS,
    baselines,
    final_rows,
    id_columns,
    metric_columns,
    point_columns,
    point_label,
    points,
    same_value,
    select_point,
    summary_sweep_columns,
    sweep_columns,
)

__all__ = [
    "FEW",
    "ID_COLUMNS",
    "LEVEL",
    "UNBOUNDED",
    "ZERO_WIDTH",
    "Interval",
    "baselines",
    "curves",
    "difference_bounds",
    "excludes_zero",
    "few_note",
    "final_rows",
    "has_width",
    "id_columns",
    "interval",
    "mean_ci",
    "metric_bounds",
    "metric_columns",
    "paired",
    "paired_curves",
    "point_columns",
    "point_label",
    "points",
    "same_value",
    "select_point",
    "step_intervals",
    "summarize",
    "summary_sweep_columns",
    "sweep_columns",
]


def summarize(metrics: pd.DataFrame, sweep_baseline: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per (variant, swept values, metric): the final-step mean over replicates with its
    95% t-interval, and the paired difference (replicates paired by index, which share seeds)
    to the point named in ``baseline`` (see :func:`baselines`) with its interval; intervals cut at
    the metric's declared range (:func:`interval`).

    Columns: variant, the swept keys, metric, final_mean, ci_low, ci_high, diff_vs_first,
    diff_ci_low, diff_ci_high (``diff_vs_first`` keeps its historical name: the difference to
    ``baseline``, which without a sweep is the first variant), baseline, replicates (finite final
    values), then pairs (finite paired differences), ci_clipped and diff_ci_clipped (the interval
    was cut at the range), diff_excludes_zero (:func:`excludes_zero`).
    """
    keys = sweep_columns(metrics.columns)
    names = metric_columns(metrics.columns)
    last = final_rows(metrics)
    reference = baselines(last, sweep_baseline)
    rows = []
    for point in points(last):
        final = select_point(last, point).set_index("replicate")
        base = reference.get(point)
        for name in names:
            bounds = metric_bounds(name)
            value = interval(final[name].to_numpy(dtype=float), bounds)
            if base is None:
                diff = Interval(math.nan, math.nan, math.nan, 0)
            elif base == point:
                diff = Interval(0.0, 0.0, 0.0, value.n)
            else:
                diff = interval(paired(last, point, base, name).to_numpy(dtype=float), difference_bounds(bounds))
            rows.append(
                {
                    "variant": point[0],
                    **dict(zip(keys, point[1:])),
                    "metric": name,
                    "final_mean": value.mean,
                    "ci_low": value.low,
                    "ci_high": value.high,
                    "diff_vs_first": diff.mean,
                    "diff_ci_low": diff.low,
                    "diff_ci_high": diff.high,
                    "baseline": "" if base is None else point_label(base[0], dict(zip(keys, base[1:]))),
                    "replicates": value.n,
                    "pairs": diff.n,
                    "ci_clipped": value.clipped,
                    "diff_ci_clipped": diff.clipped,
                    "diff_excludes_zero": diff.excludes_zero,
                }
            )
    return pd.DataFrame(rows)
