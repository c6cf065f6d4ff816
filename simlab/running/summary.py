"""Summary statistics across replicates: final means, intervals and paired differences.

**The interval.** Every interval simlab reports (summary.csv, the figures' bands, the report,
``simlab compare``) is :func:`mean_ci`: the two-sided 95% Student t-interval of a mean over
replicates, mean +/- t(0.975, n - 1) * sd / sqrt(n) with the sample standard deviation (ddof 1).
Replicates are few (3 to 10), so the normal approximation (1.96) would be too narrow: with 3
replicates t(0.975, 2) = 4.30, 2.2x wider. A paired difference (variant minus its baseline) is
taken per replicate first, since replicate r of every variant shares its seed (the same society
and item draws), and the interval is that of the mean of those differences.

**The columns.** metrics.csv starts with ``variant, replicate, step``, then one column per swept
key (named by the key: a dotted path such as ``behavior.b_ext``, or a top-level key such as
``seed``), then one column per metric (metric names are never scenario keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

ID_COLUMNS = ["variant", "replicate", "step"]
LEVEL = 0.95  # the coverage of every interval


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval (see the module docstring); the interval is NaN with fewer than
    two finite values. ``values`` is (n,), NaN entries dropped."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + LEVEL / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return mean, mean - half, mean + half


def sweep_columns(columns: Iterable[str]) -> list[str]:
    """The swept-key columns among a metrics table's columns: those naming a scenario key (its
    first dotted part is a top-level scenario key), in order."""
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
    scenario's order: variants as listed, then the sweep grid)."""
    keys = point_columns(frame.columns)
    return list(dict.fromkeys(frame[keys].itertuples(index=False, name=None)))


def _same(a: Any, b: Any) -> bool:
    """Swept values compare as numbers where both are numbers (1 and 1.0 are the same point)."""
    try:
        return bool(float(a) == float(b))
    except (TypeError, ValueError):
        return str(a) == str(b)


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
        match = [p for p in found if all(_same(a, b) for a, b in zip(p, want))]
        if match:
            out[point] = match[0]
    return out


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last recorded step of each task (variant, swept values, replicate)."""
    keys = [*point_columns(metrics.columns), "replicate"]
    return metrics.loc[metrics.groupby(keys, sort=False, dropna=False)["step"].idxmax()]


def paired(frame: pd.DataFrame, point: tuple[Any, ...], baseline: tuple[Any, ...], name: str) -> pd.Series:
    """Per replicate (index), ``name`` at ``point`` minus at ``baseline`` in rows of one step or of
    final values; replicates missing on either side dropped."""
    own, base = (_select(frame, p).set_index("replicate")[name] for p in (point, baseline))
    return own.sub(base).dropna()


def _select(frame: pd.DataFrame, point: tuple[Any, ...]) -> pd.DataFrame:
    keys = point_columns(frame.columns)
    mask = np.ones(len(frame), dtype=bool)
    for key, value in zip(keys, point):
        mask &= frame[key].map(lambda v, value=value: _same(v, value)).to_numpy(dtype=bool)
    return frame[mask]


def summarize(metrics: pd.DataFrame, sweep_baseline: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per (variant, swept values, metric): the final-step mean over replicates with its
    95% t-interval, and the paired difference (replicates paired by index, which share seeds)
    to the point named in ``baseline`` (see :func:`baselines`) with its interval.

    Columns: variant, the swept keys, metric, final_mean, ci_low, ci_high, diff_vs_first,
    diff_ci_low, diff_ci_high (``diff_vs_first`` keeps its historical name: the difference to
    ``baseline``, which without a sweep is the first variant), baseline, replicates.
    """
    keys = sweep_columns(metrics.columns)
    names = metric_columns(metrics.columns)
    last = final_rows(metrics)
    reference = baselines(last, sweep_baseline)
    rows = []
    for point in points(last):
        final = _select(last, point).set_index("replicate")
        base = reference.get(point)
        for name in names:
            mean, low, high = mean_ci(final[name].to_numpy(dtype=float))
            if base is None:
                diff = (float("nan"),) * 3
            elif base == point:
                diff = (0.0, 0.0, 0.0)
            else:
                diff = mean_ci(paired(last, point, base, name).to_numpy(dtype=float))
            rows.append(
                {
                    "variant": point[0],
                    **dict(zip(keys, point[1:])),
                    "metric": name,
                    "final_mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "diff_vs_first": diff[0],
                    "diff_ci_low": diff[1],
                    "diff_ci_high": diff[2],
                    "baseline": "" if base is None else point_label(base[0], dict(zip(keys, base[1:]))),
                    "replicates": int(final[name].notna().sum()),
                }
            )
    return pd.DataFrame(rows)


def curves(metrics: pd.DataFrame, name: str, point: tuple[Any, ...]) -> pd.DataFrame:
    """Per step: mean and 95% interval over replicates of ``name`` at ``point``. (S, 3) frame
    indexed by step with columns mean, low, high."""
    frame = _select(metrics, point)
    return _per_step(frame.groupby("step")[name])


def paired_curves(metrics: pd.DataFrame, name: str, point: tuple[Any, ...], baseline: tuple[Any, ...]) -> pd.DataFrame:
    """Per step: mean and 95% interval over replicates of the paired difference ``point`` minus
    ``baseline`` (replicate r minus replicate r at the same step)."""
    own = _select(metrics, point).set_index(["step", "replicate"])[name]
    base = _select(metrics, baseline).set_index(["step", "replicate"])[name]
    diff = own.sub(base).dropna()
    return _per_step(diff.groupby(level="step"))


def _per_step(groups: Any) -> pd.DataFrame:
    rows = {step: mean_ci(values.to_numpy(dtype=float)) for step, values in groups}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "low", "high"]).sort_index()
