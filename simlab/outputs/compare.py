"""Paired comparison of variants against a baseline (``simlab compare``, docs/design.md §5).

Reads metrics frames (a run folder's metrics.csv: variant, replicate, step, one column per
metric). Variants that share a replicate index share their seeds, so each variant is compared
with the baseline replicate by replicate: the paired difference d_r = x_r(variant) -
x_r(baseline) at the final step, with the 95% t-interval of the d_r from
:func:`simlab.results.intervals.interval` (the project's one interval, cut at the range a difference
of the metric can take; ``clipped`` says when it was). ``*`` (``excludes_zero``) marks an interval
of positive width that excludes 0 (:func:`simlab.results.intervals.excludes_zero`). With fewer
than 5 pairs the tables say "few replicates". Metrics that do not apply to a variant
(:mod:`simlab.results.applicable`: a cohort it lacks, predictions its feed does not make) are n/a.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.core.errors import ScenarioError
from simlab.results.intervals import difference_bounds, few_note, interval, metric_bounds
from simlab.results.metrics_file import read_metrics
from simlab.results.tables import ID_COLUMNS, sweep_columns
from simlab.running.files import atomic_write

DEFAULT_METRICS = [
    "opinion_variance",
    "polarization_er",
    "bimodality",
    "extremity",
    "extreme_user_share",
    "exposure_extremeness",
    "extreme_exposure_share",
    "slate_diversity",
    "topic_entropy",
    "coverage",
    "ctr",
    "engagement",
]
COLUMNS = [
    "variant",
    "baseline",
    "metric",
    "step",
    "pairs",
    "baseline_mean",
    "variant_mean",
    "diff",
    "ci_low",
    "ci_high",
    "excludes_zero",
    "clipped",
]


def with_point_labels(metrics: pd.DataFrame) -> pd.DataFrame:
    """Sweep points as variants: a metrics.csv that records the swept keys in their own columns
    gets the variant ``variant|key=value,...`` (just ``key=value,...`` for the scenario's
    ``base``), the labels of the scenario's tasks, and loses those columns.
    """
    keys = sweep_columns(metrics.columns)
    if not keys:
        return metrics

    def label(row: pd.Series) -> str:
        point = ",".join(f"{k}={row[k]}" for k in keys)
        return point if str(row["variant"]) == "base" else f"{row['variant']}|{point}"

    return metrics.assign(variant=metrics.apply(label, axis=1)).drop(columns=keys)


def truncate(metrics: pd.DataFrame, steps: int | None) -> pd.DataFrame:
    """The rows of the first ``steps`` steps (step <= steps - 1); all rows when None."""
    if steps is None:
        return metrics
    if steps < 1:
        raise ScenarioError(f"expected --steps >= 1, found {steps}", file="simlab compare", key="--steps")
    return metrics[metrics["step"] <= steps - 1]


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, replicate): its last recorded step."""
    return metrics.loc[metrics.groupby(["variant", "replicate"], sort=False)["step"].idxmax()]


def variants_of(metrics: pd.DataFrame) -> list[str]:
    """The variants of a metrics table, in the order they first appear."""
    return [str(v) for v in dict.fromkeys(metrics["variant"])]


def consistency_warnings(metrics: pd.DataFrame) -> list[str]:
    """Lines saying where compared variants (or runs) differ in final step or replicates."""
    last = final_rows(metrics)
    steps = last.groupby("variant", sort=False)["step"].max()
    replicates = last.groupby("variant", sort=False)["replicate"].nunique()
    out = []
    for what, values in (("final step", steps), ("replicates", replicates)):
        if values.nunique() > 1:
            listing = ", ".join(f"{v}: {int(n)}" for v, n in values.items())
            out.append(f"compared runs differ in {what} ({listing})")
    return out


def paired_differences(
    metrics: pd.DataFrame, baseline: str | None = None, names: list[str] | None = None
) -> pd.DataFrame:
    """One row per (variant, metric) for every variant but the baseline: the paired
    difference to the baseline at the final step (columns :data:`COLUMNS`).

    ``pairs`` counts the replicates present (and finite) in both; ``excludes_zero`` marks a 95%
    interval that does not contain 0. ``baseline`` defaults to the first variant, ``names`` to
    :data:`DEFAULT_METRICS` (those the frame has).
    """
    variants = variants_of(metrics)
    if len(variants) < 2:
        raise ScenarioError(
            f"expected at least two variants to compare, found {variants}", file="simlab compare", key="variants"
        )
    baseline = variants[0] if baseline is None else baseline
    if baseline not in variants:
        raise ScenarioError(
            f"expected --baseline to be one of {variants}, found {baseline!r}", file="simlab compare", key="--baseline"
        )
    available = [c for c in metrics.columns if c not in ID_COLUMNS]
    if names is None:
        names = [n for n in DEFAULT_METRICS if n in available]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ScenarioError(
            f"expected metrics among {available}, found {unknown}", file="simlab compare", key="--metrics"
        )
    last = final_rows(metrics).set_index("replicate")
    base = last[last["variant"] == baseline]
    rows = []
    for variant in variants:
        if variant == baseline:
            continue
        other = last[last["variant"] == variant]
        for name in names:
            joined = pd.concat([other[name].rename("v"), base[name].rename("b")], axis=1, join="inner").dropna()
            found = interval((joined["v"] - joined["b"]).to_numpy(dtype=float), difference_bounds(metric_bounds(name)))
            rows.append(
                {
                    "variant": variant,
                    "baseline": baseline,
                    "metric": name,
                    "step": int(other["step"].max()),
                    "pairs": len(joined),
                    "baseline_mean": float(joined["b"].mean()) if len(joined) else float("nan"),
                    "variant_mean": float(joined["v"].mean()) if len(joined) else float("nan"),
                    "diff": found.mean,
                    "ci_low": found.low,
                    "ci_high": found.high,
                    "excludes_zero": found.excludes_zero,
                    "clipped": found.clipped,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


ROUNDING = 1e-12  # a mean difference smaller than this is float rounding of an exact 0


def _cell(row: pd.Series) -> str:
    """'+0.0123 [+0.0045, +0.0201] *' (* = the 95% interval excludes 0; † = cut at the range)."""
    if not np.isfinite(row["diff"]):
        return "n/a"
    ci = "" if not np.isfinite(row["ci_low"]) else f" [{row['ci_low']:+.3g}, {row['ci_high']:+.3g}]"
    cut = "†" if bool(row.get("clipped", False)) and ci else ""
    diff = 0.0 if abs(row["diff"]) < ROUNDING else row["diff"]  # +x and -x in the pairs: 0, not -4e-18
    return f"{diff:+.3g}{ci}{cut}{' *' if row['excludes_zero'] else ''}"


def notes(table: pd.DataFrame) -> list[str]:
    """Lines under a comparison: few pairs, cut intervals, metrics that do not apply."""
    out = []
    pairs = int(table["pairs"].max()) if len(table) else 0
    if few_note(pairs):
        out.append(few_note(pairs) + " (intervals are wide and their width uncertain)")
    if "clipped" in table and table["clipped"].any():
        out.append("† interval cut at the range a difference of the metric can take")
    if table["diff"].isna().any():
        out.append("n/a: the metric does not apply to the variant or its baseline, or was not measured")
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """A markdown table: one row per variant, one column per metric, cells 'diff [95% CI]'
    with * where the interval excludes 0.
    """
    if table.empty:
        return "(nothing to compare)\n"
    metrics = list(dict.fromkeys(table["metric"]))
    lines = [
        f"Paired difference to `{table['baseline'].iloc[0]}` at step {int(table['step'].max())} "
        f"(mean over {int(table['pairs'].max())} paired replicates, 95% t-interval; * = excludes 0).",
        "",
        "| variant | " + " | ".join(metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for variant, frame in table.groupby("variant", sort=False):
        cells = frame.set_index("metric").apply(_cell, axis=1)
        lines.append(f"| {variant} | " + " | ".join(cells[m] for m in metrics) + " |")
    lines += ["", *notes(table)] if notes(table) else []
    return "\n".join(lines) + "\n"


def to_text(table: pd.DataFrame) -> str:
    """The table for a terminal: one block per variant, one line per metric."""
    if table.empty:
        return "(nothing to compare)\n"
    lines = [f"paired difference to {table['baseline'].iloc[0]!r} (95% CI; * = excludes 0)"]
    width = max(len(m) for m in table["metric"])
    for variant, frame in table.groupby("variant", sort=False):
        lines.append(f"\n{variant}  (pairs: {int(frame['pairs'].max())}, step {int(frame['step'].max())})")
        for _, row in frame.iterrows():
            lines.append(
                f"  {row['metric']:<{width}}  {row['baseline_mean']:>9.4g} -> {row['variant_mean']:<9.4g}  {_cell(row)}"
            )
    lines += ["", *notes(table)] if notes(table) else []
    return "\n".join(lines) + "\n"


def write_comparison(table: pd.DataFrame, out: Path) -> list[Path]:
    """compare.csv and compare.md into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "compare.csv", table.to_csv(index=False))
    atomic_write(out / "compare.md", to_markdown(table))
    return [out / "compare.csv", out / "compare.md"]


_POINT = re.compile(r"^(?P<key>[^=|,]+)=(?P<value>[^,|]+)$")


def sweep_values(variants: list[str]) -> tuple[str, dict[str, float]] | None:
    """(key, {variant: value}) when the variant labels are points of a sweep over one numeric
    key (``key=value`` or ``name|key=value``, as :meth:`Scenario.tasks` labels them), else None.
    """
    keys, values = set(), {}
    for variant in variants:
        match = _POINT.match(variant.split("|")[-1])
        if match is None:
            return None
        try:
            values[variant] = float(match["value"])
        except ValueError:
            return None
        keys.add(match["key"])
    return (keys.pop(), values) if len(keys) == 1 and len(set(values.values())) > 1 else None


def applies(metrics: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """``metrics`` of the run in ``folder`` with NaN where a metric does not apply to a variant
    (:func:`simlab.results.applicable.mask`, read from the folder's scenario.yaml).
    """
    import yaml

    from simlab.results.applicable import mask

    path = folder / "scenario.yaml"
    scenario = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return mask(metrics, scenario if isinstance(scenario, dict) else None)


def in_scenario_order(metrics: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """Rows sorted by the order of the variants in the run's scenario.yaml (metrics.csv lists
    tasks in another order), so that "the first variant" is the scenario's first.
    """
    from simlab.config import load_scenario

    if not (folder / "scenario.yaml").exists():
        return metrics
    try:
        labels = [label for label, _ in load_scenario(folder / "scenario.yaml").tasks()]
    except ScenarioError:  # a hand-edited scenario.yaml: keep the file's order
        return metrics
    rank = {label: i for i, label in enumerate(labels)}
    order = metrics["variant"].map(lambda v: rank.get(str(v), len(rank)))
    return (
        metrics.assign(_order=order).sort_values(["_order", "replicate", "step"], kind="stable").drop(columns="_order")
    )


def load_targets(
    targets: list[str],
    *,
    out: str | None = None,
    steps: int | None = None,
    replicates: int | None = None,
    overrides: dict | None = None,
    workers: int | None = 1,
    quiet: bool = False,
) -> tuple[pd.DataFrame, list[Path]]:
    """The metrics of each target (a run folder's metrics.csv, or a scenario YAML, which is run
    first with ``steps``, ``replicates`` and ``overrides``; ``out`` is then its run folder), and
    the run folders. With several targets, variant labels get the folder (or scenario) name
    as a prefix, ``name:variant``. Run folders are truncated to ``steps`` and to replicates
    0..``replicates``-1 instead.
    """
    from simlab import running as runner

    frames, folders = [], []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            if overrides:
                raise ScenarioError("--set applies to scenario targets only", file=str(path), key="--set")
            if not (path / "metrics.csv").exists():
                raise ScenarioError("expected a run folder with metrics.csv, found none", file=str(path))
            metrics = truncate(with_point_labels(applies(read_metrics(path / "metrics.csv"), path)), steps)
            if replicates is not None:
                metrics = metrics[metrics["replicate"] < replicates]
            prefix, folder = path.name, path
        else:
            if not path.exists():
                raise ScenarioError("expected a scenario YAML or a run folder, found nothing there", file=str(path))
            result = runner.run(
                target,
                out=out if len(targets) == 1 else None,
                steps=steps,
                replicates=replicates,
                overrides=overrides,
                workers=workers,
                quiet=quiet,
            )
            metrics, prefix, folder = with_point_labels(applies(result.metrics, result.path)), path.stem, result.path
        metrics = in_scenario_order(metrics, folder)
        if len(targets) > 1:
            metrics = metrics.assign(variant=prefix + ":" + metrics["variant"].astype(str))
        frames.append(metrics)
        folders.append(folder)
    return pd.concat(frames, ignore_index=True), folders
