"""The short summary ``simlab run`` prints when a run ends: the headline metrics at the final step,
per variant the mean with its 95% interval and, for variants with a baseline, the paired
difference to it (``*``: the interval excludes 0). The numbers are summary.csv's
(:func:`simlab.running.summary.summarize`), n/a where a metric does not apply
(:mod:`simlab.results.applicable`); report.html has every metric.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from simlab.outputs.labels import title_of
from simlab.results.applicable import mask_summary, not_applicable
from simlab.results.intervals import excludes_zero, few_note
from simlab.results.metrics_file import read_metrics
from simlab.results.tables import summary_sweep_columns

HEADLINE = ["opinion_variance", "polarization_er", "extremity", "exposure_extremeness", "coverage", "ctr"]
PER_BLOCK = 4  # variants side by side


def number(value: float, signed: bool = False) -> str:
    """3 significant digits (scientific below 1e-3), ``n/a`` for NaN."""
    if not math.isfinite(value):
        return "n/a"
    text = "0" if value == 0 else f"{value:.2e}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:#.3g}"
    text = text.rstrip(".")
    return ("+" + text) if signed and value > 0 else text


def _cell(row: pd.Series, diff: bool) -> str:
    mean, low, high = (
        float(row[c])
        for c in (("diff_vs_first", "diff_ci_low", "diff_ci_high") if diff else ("final_mean", "ci_low", "ci_high"))
    )
    if not math.isfinite(mean):
        return "n/a"
    text = number(mean, diff)
    if math.isfinite(low):
        text += f" [{number(low, diff)}, {number(high, diff)}]"
    if diff:
        text = "Δ " + text + (" *" if excludes_zero(low, high) else "")
    return text


def summary_text(summary: pd.DataFrame, names: list[str] | None = None) -> str:
    """The terminal table of ``summary`` (summary.csv's rows, n/a already applied): one row per
    headline metric, per variant (sweep point) its mean [95% CI] and, below, Δ [95% CI] to its
    baseline; at most :data:`PER_BLOCK` variants side by side.
    """
    if not len(summary):
        return "(no metrics)\n"
    keys = summary_sweep_columns(summary.columns)
    summary = summary.assign(
        _point=[
            str(r["variant"]) + ("" if not keys else "|" + ",".join(f"{k.split('.')[-1]}={r[k]}" for k in keys))
            for _, r in summary.iterrows()
        ]
    )
    present = list(dict.fromkeys(summary["metric"]))
    names = [n for n in (names or HEADLINE) if n in present] or present[:6]
    point_names = list(dict.fromkeys(summary["_point"]))
    cells = {(r["metric"], r["_point"]): r for _, r in summary.iterrows()}
    replicates = int(summary["replicates"].max())
    baselines = sorted({str(b) for b in summary.get("baseline", pd.Series(dtype=str)).dropna() if str(b)})
    head = f"final step: mean and 95% t-interval over {replicates} replicates"
    if baselines:
        head += f"; Δ = paired difference to {', '.join(baselines)} (* = excludes 0)"
    lines = [head]
    if few_note(replicates):
        lines.append(few_note(replicates))
    label_width = max(len(title_of(n)) for n in names) + 2
    for start in range(0, len(point_names), PER_BLOCK):
        block = point_names[start : start + PER_BLOCK]
        table = []
        for name in names:
            values, diffs = [], []
            for point in block:
                row = cells.get((name, point))
                values.append("" if row is None else _cell(row, False))
                is_self = (
                    row is None
                    or str(row.get("baseline", "")) in ("", "nan")
                    or (row["diff_vs_first"] == 0 and row["diff_ci_low"] == 0 and row["diff_ci_high"] == 0)
                )
                diffs.append(
                    "" if row is None or is_self or not math.isfinite(float(row["final_mean"])) else _cell(row, True)
                )
            table.append((title_of(name), values))
            if any(diffs):
                table.append(("", diffs))
        widths = [max(len(point), *(len(cells_[i]) for _, cells_ in table)) + 2 for i, point in enumerate(block)]
        lines.append("")
        lines.append(" " * label_width + "".join(p.ljust(w) for p, w in zip(block, widths)).rstrip())
        for label, row_cells in table:
            lines.append(label.ljust(label_width) + "".join(c.ljust(w) for c, w in zip(row_cells, widths)).rstrip())
    return "\n".join(lines) + "\n"


def run_summary(run_dir: str | Path) -> str:
    """:func:`summary_text` of a run folder's summary.csv, with n/a where a metric does not apply."""
    run_dir = Path(run_dir)
    path = run_dir / "summary.csv"
    if not path.exists() or path.stat().st_size <= 1:
        return "(no metrics)\n"
    summary = pd.read_csv(path, dtype={"variant": str})
    scenario: dict = {}
    if (run_dir / "scenario.yaml").exists():
        scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8")) or {}
    if (run_dir / "metrics.csv").exists():
        summary = mask_summary(summary, not_applicable(read_metrics(run_dir / "metrics.csv"), scenario))
    return summary_text(summary)
