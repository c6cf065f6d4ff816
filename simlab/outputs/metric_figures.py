"""Figures of a run's metrics: the curves over time (one page per family), the paired differences
to each point's baseline over time, and the forest plots of the final-step paired differences.

**Intervals.** Every band and whisker is the project's one interval,
:func:`simlab.results.intervals.interval`: the 95% t-interval over replicates, cut at the metric's
declared range (bands of shares stay in [0, 1]); paired differences are taken per replicate
(shared seeds) against the baseline of :func:`simlab.results.tables.baselines`. With fewer than 5
replicates a figure says ``n = 3: few replicates`` under its title. Metrics that do not apply to a
point (:mod:`simlab.results.applicable`) are not drawn for it, and a metric that applies to no
point gets no panel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simlab.outputs.compare import DEFAULT_METRICS
from simlab.outputs.labels import grouped, slug, title_of, unit_of
from simlab.outputs.page_figures import (
    COLUMNS,
    FONT,
    band,
    colour,
    notes,
    page,
    paged_name,
    pages,
    point_colour,
    save,
    style,
    text_width,
)
from simlab.results.intervals import difference_bounds, interval, metric_bounds, step_intervals, step_intervals_of
from simlab.results.run import Point, Run, load_run
from simlab.results.tables import final_rows, metric_columns, points, select_point, sweep_columns

# the metrics whose paired differences are drawn over time (one page), as simlab compare reports them
HEADLINE = DEFAULT_METRICS


def metric_families(run: Run, family: str | None = None) -> dict[str, list[str]]:
    """The run's metrics by family (only ``family``'s when given).

    Args:
        run: the run read by :func:`simlab.results.run.load_run`.
        family: one family's name (:data:`simlab.outputs.labels.FAMILIES`), or None for all.

    Returns:
        Family name -> its metric names that have a value in the run.
    """
    found = grouped(run.names)
    return found if family is None else {family: found.get(family, [])}


def draw_metric_curves(
    metrics: pd.DataFrame,
    names: list[str] | None = None,
    title: str | None = None,
    columns: int = COLUMNS,
    filename: str = "metrics.png",
    labels: Callable[[Point], str] | None = None,
) -> dict[str, Figure]:
    """One panel per metric (default: every non-empty metric column): per variant (and sweep
    point) the mean over replicates with its 95% t-band per step, cut at the metric's range.
    More than :data:`MAX_PANELS` metrics go on several pages (``metrics_2.png``, ...).
    """
    keys = sweep_columns(metrics.columns)
    if names is None:
        names = [c for c in metric_columns(metrics.columns) if metrics[c].notna().any()]
    found = [Point(key, dict(zip(keys, key[1:]))) for key in points(metrics)]
    rows = {p.key: select_point(metrics, p.key).set_index("step") for p in found}
    replicates = int(metrics["replicate"].nunique())
    name_of = labels or (lambda p: p.label)
    legend = [(name_of(p), colour(i)) for i, p in enumerate(found)]
    heading = (title or "Metrics over time") + f": mean and 95% t-interval over {replicates} replicates"
    stem = filename.removesuffix(".png")
    chunks = pages(names)
    out = {}
    for index, chunk in enumerate(chunks):
        bounds = {n: metric_bounds(n) for n in chunk}
        bands = {(p.key, n): b for p in found for n, b in step_intervals_of(rows[p.key], bounds).items()}
        clipped = any(bool(b["clipped"].any()) for b in bands.values())
        sheet = page(len(chunk), heading, notes(replicates, clipped), legend, columns=columns)
        for ax, name in zip(sheet.axes, chunk):
            for i, p in enumerate(found):
                band(ax, bands[p.key, name], colour(i))
            ax.margins(x=0)
            style(ax, title_of(name), unit_of(name))
        out[paged_name(stem, index, len(chunks))] = sheet.figure
    return out


def plot_metric_curves(
    metrics: pd.DataFrame,
    out: Path,
    columns: int = COLUMNS,
    names: list[str] | None = None,
    filename: str = "metrics.png",
    title: str | None = None,
    labels: Callable[[Point], str] | None = None,
) -> Path:
    """:func:`draw_metric_curves` written to ``out / filename`` (the first page's path)."""
    return save(draw_metric_curves(metrics, names, title, columns, filename, labels), out)[0]


MAX_CURVES = 20  # curves a panel (variants x sweep points) beyond which no legend can be read


def draw_metric_families(run_dir: str | Path | Run, family: str | None = None) -> dict[str, Figure]:
    """metrics_<family>.png: :func:`draw_metric_curves` for each metric family (or one); none for
    a run of more than :data:`MAX_CURVES` variants and sweep points (a large sweep: its sweep and
    phase-diagram pages show each point's final values).
    """
    run = load_run(run_dir)
    if not len(run.metrics) or len(points(run.metrics)) > MAX_CURVES:
        return {}
    out: dict[str, Figure] = {}
    for name, members in metric_families(run, family).items():
        out |= draw_metric_curves(run.metrics, members, name.capitalize(), filename=f"metrics_{slug(name)}.png")
    return out


def draw_paired_differences(run_dir: str | Path | Run) -> dict[str, Figure]:
    """paired.png: per step, the paired difference of each point to its baseline (replicate r
    minus replicate r of the baseline, same seed), mean and 95% t-band over the pairs; a band that
    leaves the zero line is a difference the replicates support. Drawn for the headline metrics
    (:data:`HEADLINE`, one page) that the run has; every metric's final step is in the forest
    plots.
    """
    run = load_run(run_dir)
    pairs = run.compared()
    names = [n for n in HEADLINE if n in run.names]
    if not pairs or not names:
        return {}
    ids = ["step", "replicate"]
    tables = {p.key: select_point(run.metrics, p.key).set_index(ids)[names] for p in run.points}
    diffs = {(p.key, b.key): tables[p.key].sub(tables[b.key]) for p, b in pairs}
    bands = {
        (key, n): step_intervals(diff[n].dropna().droplevel("replicate"), difference_bounds(metric_bounds(n)))
        for key, diff in diffs.items()
        for n in names
    }
    n_pairs = max(int(d.notna().any(axis=1).groupby(level="step").sum().max()) for d in diffs.values())
    clipped = any(bool(b["clipped"].any()) for b in bands.values())
    title = f"Paired difference to {run.baseline_rule()} over time (mean and 95% t-interval over {n_pairs} pairs)"
    sheet = page(len(names), title, notes(n_pairs, clipped), [(p.label, point_colour(run, p)) for p, _ in pairs])
    for ax, name in zip(sheet.axes, names):
        ax.axhline(0, color="black", lw=0.6)
        for point, base in pairs:
            band(ax, bands[(point.key, base.key), name], point_colour(run, point))
        ax.margins(x=0)
        style(ax, f"Δ {title_of(name)}", f"Δ {unit_of(name)}")
    return {"paired.png": sheet.figure}


def forest_table(run: Run, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The forest plots' numbers: per compared point and metric, the final-step paired
    difference to its baseline (:func:`interval`, cut at the difference's range); columns point,
    baseline, metric, diff, low, high, pairs, clipped, excludes_zero.
    """
    last = final_rows(run.metrics)
    names = list(run.names if names is None else names)
    finals = {p.key: select_point(last, p.key).set_index("replicate")[names] for p in run.points}
    rows = []
    for point, base in run.compared():
        diff = finals[point.key].sub(finals[base.key])  # replicate r minus replicate r (shared seed)
        for name in names:
            found = interval(diff[name].to_numpy(dtype=float), difference_bounds(metric_bounds(name)))
            rows.append(
                {
                    "point": point.label,
                    "baseline": base.label,
                    "metric": name,
                    "diff": found.mean,
                    "low": found.low,
                    "high": found.high,
                    "pairs": found.n,
                    "clipped": found.clipped,
                    "excludes_zero": found.excludes_zero,
                }
            )
    return pd.DataFrame(
        rows, columns=["point", "baseline", "metric", "diff", "low", "high", "pairs", "clipped", "excludes_zero"]
    )


def draw_forest_panels(
    table: pd.DataFrame,
    names: Sequence[str],
    rows: Sequence[str],
    colours: list[Any],
    title: str,
    note: Sequence[str] = (),
) -> Figure:
    """One panel per metric of ``names`` (at most :data:`MAX_PANELS`), one row per entry of
    ``rows`` (``table``'s ``point`` column) with its difference and 95% interval; filled markers
    where the interval excludes 0 (:func:`simlab.results.intervals.excludes_zero`), open ones
    elsewhere, no marker where the metric does not apply. ``table`` has the columns of
    :func:`forest_table`.
    """
    label_room = max(text_width(r, FONT["tick"]) for r in rows) + 0.12
    panel_h = 0.2 * len(rows) + 0.25
    sheet = page(len(names), title, note, first_left=label_room, left=0.14, panel_h=panel_h)
    columns = min(COLUMNS, len(names))
    for i, (ax, name) in enumerate(zip(sheet.axes, names)):
        part = table[table["metric"] == name].set_index("point").reindex(list(rows))
        ax.axvline(0, color="black", lw=0.6)
        y = np.arange(len(rows), dtype=float)
        mean, low, high = (part[c].to_numpy(dtype=float) for c in ("diff", "low", "high"))
        filled = part["excludes_zero"].fillna(False).to_numpy(dtype=bool)
        # one collection each for whiskers, caps and markers (errorbar per row costs 10x)
        whisker = np.isfinite(low) & np.isfinite(high)
        shades = [colours[r] for r in np.flatnonzero(whisker)]
        ax.hlines(y[whisker], low[whisker], high[whisker], colors=shades, lw=1)
        ax.scatter(np.r_[low[whisker], high[whisker]], np.r_[y[whisker], y[whisker]], s=12, marker="|", c=shades * 2)
        shown = np.isfinite(mean)
        solid, hollow = shown & filled, shown & ~filled
        ax.scatter(mean[solid], y[solid], s=16, c=[colours[r] for r in np.flatnonzero(solid)], zorder=3)
        hollow_shades = [colours[r] for r in np.flatnonzero(hollow)]
        ax.scatter(mean[hollow], y[hollow], s=16, facecolors="white", edgecolors=hollow_shades, linewidths=1, zorder=3)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_yticks(range(len(rows)), list(rows) if i % columns == 0 else [], fontsize=FONT["tick"])
        ax.margins(x=0.08)
        style(ax, title_of(name), "", f"Δ {unit_of(name)}", yticks=False)
        ax.grid(axis="y", visible=False)
    return sheet.figure


def draw_forest(run_dir: str | Path | Run, family: str | None = None) -> dict[str, Figure]:
    """forest_<family>.png: the final-step paired difference of each point to its baseline with
    its 95% interval, one panel per metric, one page per family (at most 12 panels); filled
    markers: the interval excludes 0.
    """
    run = load_run(run_dir)
    pairs = run.compared()
    if not pairs:
        return {}
    table = forest_table(run, [n for names in metric_families(run, family).values() for n in names])
    rows = [p.label for p, _ in pairs]
    colours = [point_colour(run, p) for p, _ in pairs]
    n = int(table["pairs"].max()) if len(table) else 0
    out = {}
    for group, members in metric_families(run, family).items():
        members = [m for m in members if table.loc[table["metric"] == m, "diff"].notna().any()]
        chunks = pages(members) if members else []
        for index, chunk in enumerate(chunks):
            clipped = bool(table.loc[table["metric"].isin(chunk), "clipped"].any())
            title = f"{group.capitalize()}: final-step paired difference to {run.baseline_rule()}"
            how = f"95% t-interval over {n} pairs; filled: excludes 0"
            figure = draw_forest_panels(table, chunk, rows, colours, title, [how, *notes(n, clipped)])
            out[paged_name(f"forest_{slug(group)}", index, len(chunks))] = figure
    return out
