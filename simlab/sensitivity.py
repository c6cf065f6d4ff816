"""Sensitivity of a headline comparison to the model's assumptions (``simlab sensitivity``).

A scenario's headline is a paired comparison of two variants (the flagship: DLRM minus random).
This module re-runs that comparison across a grid of assumption settings (docs/assumptions.md)
and tabulates, in each cell of the grid, the paired difference with its 95% interval, so a
reader sees where the effect holds, vanishes and reverses.

Nothing new is run here: the grid becomes the scenario's ``sweep``, its variants are cut to the
two compared, and the run is the ordinary one (:func:`simlab.running.run`, paired seeds across
variants and cells); each cell's difference is :func:`simlab.outputs.compare.paired_differences`
on that cell's rows. The figure is drawn by :mod:`simlab.outputs.sensitivity_figure` from the
table (this module does not import matplotlib).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from simlab.core.errors import ScenarioError
from simlab.outputs.compare import applies, paired_differences
from simlab.running.files import atomic_write, read_metrics
from simlab.running.summary import sweep_columns

DEFAULT_METRICS = ["exposure_extremeness", "extremity"]
TABLE = "sensitivity.csv"
LEAD_COLUMNS = ["metric", "variant", "baseline", "pairs", "diff", "ci_low", "ci_high", "excludes_zero", "verdict"]


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``["behavior.b_ext=0,1,2.5", ...]`` -> ``{"behavior.b_ext": [0, 1, 2.5], ...}``.

    Args:
        specs: ``KEY=V1,V2,...`` strings; each value is parsed as a YAML scalar.

    Returns:
        The grid, keys in the order given (the first varies slowest).
    """
    from simlab.config import parse_set

    grid: dict[str, list[Any]] = {}
    for spec in specs:
        if "=" not in spec:
            raise ScenarioError(f"expected KEY=V1,V2,..., found {spec!r}", file="--grid")
        key, raw = spec.split("=", 1)
        key = key.strip()
        values = [parse_set([f"{key}={value}"])[key] for value in raw.split(",") if value.strip()]
        if not values:
            raise ScenarioError(f"expected at least one value for {key}", file="--grid")
        if key in grid:
            raise ScenarioError(f"{key} is given twice", file="--grid")
        grid[key] = values
    if not grid:
        raise ScenarioError("expected at least one --grid KEY=V1,V2,...", file="--grid")
    return grid


def parse_contrast(text: str, variants: list[str]) -> tuple[str, str]:
    """``"dlrm-random"`` -> ``("dlrm", "random")``: the variant and the baseline it is compared
    with (the split at the ``-`` where both sides name variants of the scenario).
    """
    for at in (i for i, char in enumerate(text) if char == "-"):
        variant, baseline = text[:at], text[at + 1 :]
        if variant in variants and baseline in variants and variant != baseline:
            return variant, baseline
    raise ScenarioError(
        f"expected VARIANT-BASELINE with two of the scenario's variants {variants}, found {text!r}", file="--contrast"
    )


def sensitivity_scenario(
    scenario: str | Path, grid: dict[str, list[Any]], contrast: str, overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str, str]:
    """The scenario document that runs the contrast over the grid.

    Args:
        scenario: the scenario YAML.
        grid: assumption key -> values (:func:`parse_grid`); it replaces any sweep the scenario has.
        contrast: ``VARIANT-BASELINE``.
        overrides: dotted ``--set`` overrides applied first.

    Returns:
        (document, variant, baseline): the document has only the two variants and the grid as
        its sweep, so every cell runs both with paired seeds.
    """
    from simlab.config import load_scenario

    doc = load_scenario(scenario, overrides).to_dict()
    variant, baseline = parse_contrast(contrast, list(doc["variants"]))
    doc["variants"] = {name: doc["variants"][name] for name in (variant, baseline)}
    doc["sweep"] = grid
    doc["sweep_baseline"] = None
    # the robustness figure is this command's figure; the run's own per-metric figures and
    # report over every cell are slow and unread (--set output.figures=true brings them back)
    given = overrides or {}
    doc["output"]["figures"] = bool(given.get("output.figures", False))
    doc["output"]["report"] = bool(given.get("output.report", False))
    load_scenario(doc)  # refuse a bad grid key or value before any work
    return doc, variant, baseline


def verdict(row: pd.Series) -> str:
    """``holds`` (interval above 0), ``reverses`` (below 0) or ``vanishes`` (contains 0)."""
    if not bool(row["excludes_zero"]):
        return "vanishes"
    return "holds" if row["diff"] > 0 else "reverses"


def sensitivity_table(metrics: pd.DataFrame, variant: str, baseline: str, names: list[str]) -> pd.DataFrame:
    """The paired difference ``variant - baseline`` in every cell of the sweep.

    Args:
        metrics: a run's metrics (metrics.csv: variant, replicate, step, one column per swept
            key, one per metric).
        variant: the variant compared.
        baseline: the variant it is compared with (same replicate seeds).
        names: the metrics to compare.

    Returns:
        One row per (cell, metric): the swept keys (as metrics.csv writes them), then
        :data:`LEAD_COLUMNS` (``verdict``: holds / vanishes / reverses, from the 95% interval).
    """
    keys = sweep_columns(metrics.columns)
    if not keys:
        raise ScenarioError("expected a run with swept keys (a sensitivity run), found none", key="sweep")
    frames = []
    for point, cell in metrics.groupby(keys, sort=False):
        point = point if isinstance(point, tuple) else (point,)
        pair = cell[cell["variant"].isin([variant, baseline])].drop(columns=keys)
        table = paired_differences(pair, baseline, names)
        table = table[table["variant"] == variant]
        frames.append(table.assign(**dict(zip(keys, point))))
    out = pd.concat(frames, ignore_index=True)
    out["verdict"] = out.apply(verdict, axis=1)
    return out[[*keys, *LEAD_COLUMNS]]


def run_sensitivity(
    scenario: str | Path,
    grid: dict[str, list[Any]],
    contrast: str,
    *,
    names: list[str] | None = None,
    out: str | Path | None = None,
    steps: int | None = None,
    replicates: int | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int | None = None,
    quiet: bool = False,
) -> tuple[pd.DataFrame, Path]:
    """Run the contrast over the grid and write sensitivity.csv / .md into the run folder.

    Args:
        scenario: the scenario YAML.
        grid: assumption key -> values.
        contrast: ``VARIANT-BASELINE``.
        names: metrics (default :data:`DEFAULT_METRICS`).
        out: the run folder (default runs/<name>/<stamp>/).
        steps: run length override.
        replicates: paired replicates per cell.
        overrides: dotted ``--set`` overrides.
        workers: parallel tasks (None: the runner's default).
        quiet: no progress bars.

    Returns:
        (table of :func:`sensitivity_table`, the run folder).
    """
    from simlab import running as runner

    doc, variant, baseline = sensitivity_scenario(scenario, grid, contrast, overrides)
    result = runner.run(doc, out=out, steps=steps, replicates=replicates, workers=workers, quiet=quiet)
    table = table_of_run(result.path, variant, baseline, names)
    return table, result.path


def table_of_run(folder: Path, variant: str, baseline: str, names: list[str] | None = None) -> pd.DataFrame:
    """:func:`sensitivity_table` of a finished run folder, written to its sensitivity.csv/.md."""
    metrics = applies(read_metrics(folder / "metrics.csv"), folder)
    table = sensitivity_table(metrics, variant, baseline, names or DEFAULT_METRICS)
    atomic_write(folder / TABLE, table.to_csv(index=False))
    atomic_write(folder / "sensitivity.md", markdown(table))
    return table


def markdown(table: pd.DataFrame) -> str:
    """The table as markdown: one row per cell, one column per metric with
    'diff [95% CI] verdict'.
    """
    keys = [c for c in table.columns if c not in LEAD_COLUMNS]
    metrics = list(dict.fromkeys(table["metric"]))
    first = table.iloc[0]
    lines = [
        f"`{first['variant']}` minus `{first['baseline']}` at the final step, mean over "
        f"{int(table['pairs'].max())} paired replicates per cell, 95% t-interval.",
        "",
        "| " + " | ".join([*keys, *metrics]) + " |",
        "|---" * (len(keys) + len(metrics)) + "|",
    ]
    for point, cell in table.groupby(keys, sort=False):
        point = point if isinstance(point, tuple) else (point,)
        by_metric = cell.set_index("metric")
        cells = [
            f"{r['diff']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] {r['verdict']}"
            for r in (by_metric.loc[m] for m in metrics)
        ]
        lines.append("| " + " | ".join([*map(str, point), *cells]) + " |")
    return "\n".join(lines) + "\n"
