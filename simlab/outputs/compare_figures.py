"""Figures of a comparison (reads the table of :func:`simlab.outputs.compare.paired_differences`
or a metrics frame; never the live simulation): the engagement/outcome trade-off, a forest plot
of the paired differences, and a dose-response plot of a swept strength. Drawn at print size on
the page geometry of :mod:`simlab.outputs.page_figures` (7.2 in wide, 8 pt text, at most 12 panels a
page), every axis in words with its unit, intervals cut at each metric's range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from simlab.outputs.compare import DEFAULT_METRICS, final_rows, sweep_values, variants_of
from simlab.outputs.labels import title_of, unit_of
from simlab.outputs.metric_figures import draw_forest_panels
from simlab.outputs.page_figures import FONT, MAX_PANELS, colour, notes, page, pages, save, style
from simlab.outputs.sweep_figures import swept_key_label
from simlab.results.intervals import interval, metric_bounds


def label(metric: str) -> str:
    """A metric in words with its unit: ``Click-through rate (engagements per impression)``."""
    return f"{title_of(metric)} ({unit_of(metric)})"


def _rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[table["metric"] == metric].set_index("variant")


def _pairs(table: pd.DataFrame) -> int:
    return int(table["pairs"].max()) if "pairs" in table and len(table) else 0


def _clipped(table: pd.DataFrame) -> bool:
    return bool(table["clipped"].any()) if "clipped" in table else False


def pareto_front(cost: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Bool mask of the points no other point dominates (at least as much ``cost`` value, i.e.
    a higher engagement difference, and at least as much ``gain``, better in one).
    """
    keep = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        better = (cost >= cost[i]) & (gain >= gain[i]) & ((cost > cost[i]) | (gain > gain[i]))
        keep[i] = not better.any()
    return keep


def place_labels(ax: Axes, xs: np.ndarray, ys: np.ndarray, texts: list[str], colours: list[Any]) -> None:
    """Label each point (data coordinates) next to it, trying eight offsets in turn and taking the
    first whose box overlaps no label placed before and no other point (the measured text extent,
    not an estimate), so that labels of nearby points do not collide.
    """
    figure = ax.figure
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    offsets = [(6, 5), (6, -11), (-6, 5), (-6, -11), (0, 10), (0, -15), (12, 0), (-12, 0)]
    taken: list[Any] = []
    points = ax.transData.transform(np.column_stack([xs, ys]))
    for i, (x, y, text) in enumerate(zip(xs, ys, texts)):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        chosen = None
        for dx, dy in offsets:
            align = "left" if dx > 0 else "right" if dx < 0 else "center"
            artist = ax.annotate(
                text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=FONT["tick"], ha=align,
                color=colours[i],
            )  # fmt: skip
            box = artist.get_window_extent(renderer).expanded(1.05, 1.1)
            near = [j for j, p in enumerate(points) if j != i and box.contains(*p)]
            axes_box = ax.get_window_extent(renderer)
            inside = axes_box.contains(box.x0, box.y0) and axes_box.contains(box.x1, box.y1)
            if not near and inside and not any(box.overlaps(other) for other in taken):
                chosen = box
                break
            artist.remove()
        if chosen is None:  # nowhere free: the first place, which the legend also names
            dx, dy = offsets[0]
            artist = ax.annotate(
                text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=FONT["tick"], color=colours[i]
            )
            chosen = artist.get_window_extent(renderer)
        taken.append(chosen)


def plot_tradeoff(
    table: pd.DataFrame,
    out: Path,
    cost: str = "ctr",
    outcomes: tuple[str, ...] = ("extremity", "polarization_er"),
    filename: str = "compare_tradeoff.png",
) -> Path:
    """One panel per outcome: x = the paired difference in ``cost`` (engagement lost is to the
    left), y = the reduction in the outcome (baseline - variant, so up is better), one point
    per variant with 95% CI whiskers both ways, labelled where the label collides with nothing;
    the Pareto-efficient points are joined.
    """
    outcomes = tuple(o for o in outcomes if o in set(table["metric"]))
    x = _rows(table, cost)
    baseline = str(table["baseline"].iloc[0])
    variants = list(x.index)
    shades = [colour(i) for i in range(len(variants))]
    title = f"Engagement cost against the reduction of each outcome, paired to {baseline} (95% t-intervals)"
    sheet = page(
        len(outcomes), title, notes(_pairs(table), _clipped(table)), [(v, c) for v, c in zip(variants, shades)],
        columns=2, panel_h=2.6,
    )  # fmt: skip
    for ax, outcome in zip(sheet.axes, outcomes):
        y = _rows(table, outcome).reindex(x.index)
        gain, gain_low, gain_high = -y["diff"], -y["ci_high"], -y["ci_low"]
        dx = x["diff"].to_numpy(dtype=float)
        for i, variant in enumerate(variants):
            ax.errorbar(
                dx[i],
                gain[variant],
                xerr=[[dx[i] - x.loc[variant, "ci_low"]], [x.loc[variant, "ci_high"] - dx[i]]],
                yerr=[[gain[variant] - gain_low[variant]], [gain_high[variant] - gain[variant]]],
                fmt="o",
                ms=4,
                color=shades[i],
                capsize=2,
                lw=1,
            )
        front = pareto_front(dx, gain.to_numpy())
        order = np.argsort(dx[front])
        ax.plot(dx[front][order], gain.to_numpy()[front][order], "--", color="0.5", lw=0.8)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.axvline(0, color="0.3", lw=0.6)
        style(
            ax,
            f"{title_of(outcome)}: reduction (up: better)",
            f"reduction in {unit_of(outcome)}",
            f"Δ {unit_of(cost)}",
        )
        place_labels(ax, dx, gain.to_numpy(dtype=float), variants, shades)
    return save({filename: sheet.figure}, out)[0]


def plot_forest(table: pd.DataFrame, out: Path, columns: int = 3, filename: str = "compare_forest.png") -> Path:
    """One panel per metric: each variant's paired difference to the baseline with its 95%
    interval; filled markers where the interval excludes 0 (:func:`simlab.outputs.metric_figures.draw_forest_panels`).
    More than 12 metrics go on several pages (``compare_forest_2.png``, ...); returns the first.
    """
    metrics = list(dict.fromkeys(table["metric"]))
    variants = list(dict.fromkeys(table["variant"]))
    forest = table.rename(columns={"variant": "point", "ci_low": "low", "ci_high": "high"})
    baseline = str(table["baseline"].iloc[0])
    step = int(table["step"].max()) if "step" in table else None
    at = f" at step {step}" if step is not None else ""
    title = f"Paired difference to {baseline}{at} (95% t-interval; filled: excludes 0)"
    chunks = pages(metrics, MAX_PANELS)
    figures = {}
    for index, chunk in enumerate(chunks):
        name = filename if index == 0 else filename.replace(".png", f"_{index + 1}.png")
        part = forest[forest["metric"].isin(chunk)]
        figures[name] = draw_forest_panels(
            part, chunk, variants, [colour(i) for i in range(len(variants))], title, notes(_pairs(part), _clipped(part))
        )
    return save(figures, out)[0]


def plot_dose_response(
    metrics: pd.DataFrame,
    out: Path,
    names: list[str] | None = None,
    columns: int = 3,
    filename: str = "compare_dose.png",
    scenario: dict[str, Any] | None = None,
) -> Path | None:
    """Final-step mean of each metric (95% interval over replicates, cut at its range) against
    the swept value, one panel per metric, the x axis named in words from the setting's
    description (read from ``scenario``, the run's scenario document); None when the variants
    are not a sweep of one numeric key.
    """
    sweep = sweep_values(variants_of(metrics))
    if sweep is None:
        return None
    key, values = sweep
    names = [n for n in (names or DEFAULT_METRICS) if n in metrics.columns]
    last = final_rows(metrics)
    groups: dict[str, list[str]] = {}
    for variant in values:  # one line per variant prefix ("name|key=v"), or one line
        groups.setdefault(variant.split("|")[0] if "|" in variant else "", []).append(variant)
    replicates = int(last["replicate"].nunique())
    legend = [(g, colour(i)) for i, g in enumerate(groups)] if len(groups) > 1 else []
    xlabel = swept_key_label(key, scenario)
    words = xlabel.removesuffix(f" ({key})")  # the setting in words where it has a description
    title = f"Dose-response: final-step mean and 95% t-interval over {replicates} replicates against {words}"
    sheet = page(len(names[:MAX_PANELS]), title, notes(replicates), legend, columns=columns)
    for ax, name in zip(sheet.axes, names[:MAX_PANELS]):
        for i, members in enumerate(groups.values()):
            members = sorted(members, key=values.__getitem__)
            found = [
                interval(last.loc[last["variant"] == v, name].to_numpy(dtype=float), metric_bounds(name))
                for v in members
            ]
            xs = [values[v] for v in members]
            ax.plot(xs, [f.mean for f in found], "o-", color=colour(i), ms=3, lw=1.2)
            ax.fill_between(xs, [f.low for f in found], [f.high for f in found], color=colour(i), alpha=0.18, lw=0)
        style(ax, title_of(name), unit_of(name), xlabel)
    return save({filename: sheet.figure}, out)[0]


def plot_comparison(table: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[Path]:
    """Every comparison figure that applies, written into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    present = set(table["metric"])
    if "ctr" in present and present & {"extremity", "polarization_er"}:
        paths.append(plot_tradeoff(table, out))
    if len(table):
        paths.append(plot_forest(table, out))
    dose = plot_dose_response(metrics, out, names=list(dict.fromkeys(table["metric"])) or None)
    if dose is not None:
        paths.append(dose)
    return paths
