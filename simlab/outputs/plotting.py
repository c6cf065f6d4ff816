"""Figures from a run folder (reads metrics.csv, scenario.yaml and snapshots/; never the live
simulation). Each ``plot_*`` function takes the run folder and the folder to write into and
returns the paths it wrote; :func:`plot_run` draws them all into ``RUN_DIR/figures``. Each has a
``draw_*`` twin that returns the figures unsaved (name -> Figure), which the tests read.

**Page geometry.** Every figure is drawn at the size it is printed: a journal page's width
(:data:`PAGE_WIDTH`, 7.2 in, two columns) with 8 pt text, three panels a row and at most
:data:`MAX_PANELS` panels a page (a family with more is split over pages). Panels sit at fixed
positions in inches (no layout engine: it cost more than the drawing), tick labels are few and
short (a common power of ten goes into the axis label), and every axis names its quantity and
unit in words (:mod:`simlab.outputs.labels`).

**Intervals.** Every band and whisker is the project's one interval,
:func:`simlab.running.summary.interval`: the 95% t-interval over replicates, cut at the metric's
declared range (bands of shares stay in [0, 1]); paired differences are taken per replicate
(shared seeds) against the baseline of :func:`simlab.running.summary.baselines`. With fewer than
5 replicates a figure says ``n = 3: few replicates`` under its title. Metrics that do not apply
to a point (:mod:`simlab.outputs.applicable`) are not drawn for it, and a metric that applies to
no point gets no panel. Points (variant, sweep point) are drawn in scenario order and keep one
colour in every figure.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.patheffects
import numpy as np
import pandas as pd
import yaml
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from simlab.outputs.applicable import mask
from simlab.outputs.compare import DEFAULT_METRICS
from simlab.outputs.labels import FAMILIES, OTHER, family_of, grouped, slug, title_of, unit_of
from simlab.running.files import ensure_folder, read_metrics, save_figure
from simlab.running.summary import (
    FEW,
    baselines,
    difference_bounds,
    final_rows,
    interval,
    metric_bounds,
    metric_columns,
    point_label,
    points,
    same_value,
    select_point,
    step_intervals,
    sweep_columns,
)

__all__ = [
    "FAMILIES",
    "FIGURES",
    "OTHER",
    "Point",
    "Run",
    "family_of",
    "grouped",
    "load_run",
    "plot_run",
    "title_of",
    "ylabel_of",
]

PAGE_WIDTH = 7.2  # inches: a journal's two-column width (183 mm)
DPI = 150  # 1,080 px wide
COLUMNS = 3  # panels a row
MAX_PANELS = 12  # panels a page
PANEL_H = 1.45  # inches of plot area a row
FONT = {"tick": 7.0, "label": 7.5, "title": 8.0, "legend": 7.5, "heading": 9.0, "note": 7.5}
# inches around each panel: room for the y tick labels and y label, the title, the x tick labels
# and x label
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 0.62, 0.1, 0.24, 0.42
MARGIN = 0.08  # inches at the page's edges
CHAR = 0.58 / 72  # inches per character per point of font size (DejaVu Sans, on average)
NA_NOTE = "metrics that do not apply to a variant are left out"
CUT_NOTE = "bands cut at each metric's range"
ylabel_of = unit_of  # the name earlier releases exported
# the metrics whose paired differences are drawn over time (one page), as simlab compare reports them
HEADLINE = DEFAULT_METRICS


def text_width(text: str, size: float) -> float:
    """Estimated width in inches of ``text`` at ``size`` points."""
    return len(text) * size * CHAR


# ---------------------------------------------------------------------------- reading a run


@dataclass(frozen=True)
class Point:
    """One curve of a run: a variant at one sweep point (``key`` = (variant, *swept values))."""

    key: tuple[Any, ...]
    sweep: dict[str, Any]

    @property
    def variant(self) -> str:
        return str(self.key[0])

    @property
    def label(self) -> str:
        """Short: the variant, then each swept key by its last part (``dlrm | b_ext=0.5``)."""
        values = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in self.sweep.items())
        if not values:
            return self.variant
        return values if self.variant == "base" else f"{self.variant} | {values}"


@dataclass
class Run:
    """What the figures read from a run folder: metrics (NaN where a metric does not apply to a
    point), the points in scenario order, each point's baseline, and the snapshot index (arrays
    are loaded only when a figure needs them)."""

    path: Path
    metrics: pd.DataFrame
    points: list[Point]
    baseline: dict[tuple[Any, ...], tuple[Any, ...]]
    sweep: dict[str, list[Any]]
    snapshots: pd.DataFrame  # path, point (index into points), replicate, step
    scenario: dict[str, Any]

    @property
    def names(self) -> list[str]:
        """Metric columns with at least one value (where they apply)."""
        return [c for c in metric_columns(self.metrics.columns) if self.metrics[c].notna().any()]

    @property
    def replicates(self) -> int:
        return int(self.metrics["replicate"].nunique()) if len(self.metrics) else 0

    def colour(self, point: Point) -> Any:
        return colour(self.points.index(point))

    def baseline_rule(self) -> str:
        """In words: what each point's paired differences are taken against."""
        chosen = self.scenario.get("sweep_baseline")
        if chosen:
            return "the same variant at " + ", ".join(f"{k}={v}" for k, v in chosen.items())
        first = self.points[0].variant if self.points else "?"
        return f"{first} at the same sweep point" if self.sweep else first

    def compared(self) -> list[tuple[Point, Point]]:
        """(point, its baseline) for every point that has a baseline other than itself."""
        by_key = {p.key: p for p in self.points}
        return [(p, by_key[self.baseline[p.key]]) for p in self.points if self.baseline.get(p.key, p.key) != p.key]


def colour(index: int) -> Any:
    return matplotlib.colormaps["tab10"](index % 10)


def load_run(run_dir: str | Path | Run) -> Run:
    """Read a run folder (a :class:`Run` is returned as it is, so :func:`plot_run` reads once)."""
    if isinstance(run_dir, Run):
        return run_dir
    run_dir = Path(run_dir)
    doc: dict[str, Any] = {}
    if (run_dir / "scenario.yaml").exists():
        doc = yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8")) or {}
    metrics = mask(read_metrics(run_dir / "metrics.csv"), doc)
    sweep = {k: list(v) for k, v in (doc.get("sweep") or {}).items()}
    keys = sweep_columns(metrics.columns)
    found = [Point(key, dict(zip(keys, key[1:]))) for key in points(metrics)] if len(metrics) else []
    order = _scenario_order(doc, sweep)
    if order:  # scenario order (variants as listed, then the sweep grid), not first-finished order
        found.sort(key=lambda p: next((i for i, o in enumerate(order) if _matches(p.key, o)), len(order)))
    variants = list(doc.get("variants") or {}) or None
    base = baselines(final_rows(metrics), doc.get("sweep_baseline"), variants) if len(metrics) else {}
    return Run(run_dir, metrics, found, base, sweep, _snapshot_index(run_dir, found), doc)


def _scenario_order(doc: dict[str, Any], sweep: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    variants = list(doc.get("variants") or {}) or ["base"]
    return [(v, *values) for v in variants for values in itertools.product(*sweep.values())]


def _matches(key: tuple[Any, ...], other: tuple[Any, ...]) -> bool:
    return len(key) == len(other) and str(key[0]) == str(other[0]) and all(map(same_value, key[1:], other[1:]))


def _snapshot_index(run_dir: Path, found: list[Point]) -> pd.DataFrame:
    rows = []
    for path in sorted((run_dir / "snapshots").glob("*.npz")):
        with np.load(path) as data:
            sweep = json.loads(str(data["sweep"])) if "sweep" in data.files else {}
            key = (str(data["variant"]), *sweep.values())
            index = next((i for i, p in enumerate(found) if _matches(p.key, key)), None)
            if index is not None:
                rows.append(
                    {"path": path, "point": index, "replicate": int(data["replicate"]), "step": int(data["step"])}
                )
    return pd.DataFrame(rows, columns=["path", "point", "replicate", "step"])


def _opinions(paths: Sequence[Path], field: str = "opinion") -> np.ndarray:
    """Axis 0 of ``field`` from the snapshots at ``paths``, concatenated (pooled)."""
    parts = [_snapshot_field(Path(path), field) for path in paths]
    return np.concatenate(parts) if parts else np.empty(0)


@functools.lru_cache(maxsize=4096)
def _snapshot_field(path: Path, field: str) -> np.ndarray:
    """Axis 0 of one snapshot's ``field`` (read once: several figures read the same snapshots)."""
    with np.load(path) as data:
        values = data[field]
        return values[:, 0] if values.ndim == 2 else values


def _pooled_note(replicates: int) -> str:
    return f"all {replicates} replicates pooled" if replicates > 1 else "replicate 0"


def notes(n: int, clipped: bool = False, extra: Sequence[str] = ()) -> list[str]:
    """The note line under a figure's title: few replicates, cut bands, anything else."""
    parts = [f"n = {n}: few replicates" if 0 < n < FEW else "", CUT_NOTE if clipped else "", *extra]
    return [p for p in parts if p]


# ---------------------------------------------------------------------------- the page


@dataclass
class Page:
    """A figure at print size with its panels placed in inches (see the module docstring)."""

    figure: Figure
    axes: list[Axes]
    header: float  # inches of the heading block (title, notes, legend) at the top


def page(
    n: int,
    title: str,
    note: Sequence[str] = (),
    legend: Sequence[tuple[str, Any]] = (),
    columns: int = COLUMNS,
    panel_h: float = PANEL_H,
    first_left: float = PAD_LEFT,
    left: float = PAD_LEFT,
    right: float = PAD_RIGHT,
    width: float = PAGE_WIDTH,
    reserve: float = 0.0,
) -> Page:
    """A figure ``width`` inches wide with ``n`` panels, ``columns`` a row, each ``panel_h``
    inches high; the title (wrapped), a note line and a legend of (label, colour) entries above
    the panels. ``first_left`` (inches) is the room left of the first column (row labels of a
    forest plot), ``left`` that of the others; ``reserve`` inches are kept free at the right edge
    (a colorbar)."""
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    usable = width - 2 * MARGIN
    chars = max(20, int(usable / (FONT["heading"] * CHAR)))
    title_lines = textwrap.wrap(title, chars) or [""]
    note_text = "; ".join(note)
    note_lines = textwrap.wrap(note_text, int(usable / (FONT["note"] * CHAR))) if note_text else []
    entry = max((text_width(label, FONT["legend"]) for label, _ in legend), default=0) + 0.45
    per_row = max(1, min(len(legend), int(usable // entry))) if legend else 1
    legend_rows = math.ceil(len(legend) / per_row) if legend else 0
    line = lambda size: size * 1.45 / 72  # noqa: E731 - inches a text line takes
    header = (
        MARGIN
        + len(title_lines) * line(FONT["heading"])
        + len(note_lines) * line(FONT["note"])
        + legend_rows * line(FONT["legend"] * 1.25)
        + 0.06
    )
    cell_h = PAD_TOP + panel_h + PAD_BOTTOM
    height = header + rows * cell_h + MARGIN
    panel_w = (usable - reserve - first_left - (columns - 1) * left - columns * right) / columns
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)  # a canvas that can measure text (label placement, the layout tests)
    y = height - MARGIN
    for text in title_lines:
        y -= line(FONT["heading"])
        figure.text(0.5, y / height, text, ha="center", va="bottom", fontsize=FONT["heading"], weight="bold")
    for text in note_lines:
        y -= line(FONT["note"])
        figure.text(0.5, y / height, text, ha="center", va="bottom", fontsize=FONT["note"], style="italic")
    if legend:
        handles = [Line2D([], [], color=c, lw=2) for _, c in legend]
        figure.legend(
            handles,
            [label for label, _ in legend],
            loc="upper center",
            bbox_to_anchor=(0.5, (y - 0.02) / height),
            ncol=per_row,
            frameon=False,
            fontsize=FONT["legend"],
            handlelength=1.6,
            columnspacing=1.2,
            borderaxespad=0,
            borderpad=0,
        )
    axes = []
    for i in range(n):
        row, column = divmod(i, columns)
        x0 = MARGIN + first_left + column * (panel_w + right + left)
        y0 = height - header - row * cell_h - PAD_TOP - panel_h
        axes.append(figure.add_axes((x0 / width, y0 / height, panel_w / width, panel_h / height)))
    return Page(figure, axes, header)


def style(ax: Axes, title: str, ylabel: str, xlabel: str = "step", yticks: bool = True) -> None:
    """Title and axis labels in words at print size, few short ticks (see :func:`tidy_axis`); a
    title wider than its panel is wrapped onto two lines (:func:`fit_title`)."""
    ax.set_title(fit_title(ax, title), fontsize=FONT["title"], pad=3)
    ax.tick_params(labelsize=FONT["tick"], length=2.5, pad=1.5)
    ax.grid(alpha=0.25, lw=0.5)
    tidy_axis(ax, "x", xlabel)
    if yticks:
        tidy_axis(ax, "y", ylabel)
    else:
        ax.set_ylabel(ylabel, fontsize=FONT["label"], labelpad=2)
    for spine in ax.spines.values():
        spine.set_linewidth(0.6)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tidy_axis(ax: Axes, which: str, label: str) -> None:
    """At most 5 ticks on the axis's current limits, labelled with the fewest decimals that tell
    them apart; values below 0.01 or from 10,000 are shown as multiples of a power of ten that
    the axis label states (``Δ variance (×10⁻³)``), so tick labels stay short and never collide."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    low, high = (float(v) for v in sorted(axis.get_view_interval()))
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        low, high = (low - 1, low + 1) if math.isfinite(low) else (-1.0, 1.0)
    ticks = np.asarray(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high), dtype=float)
    span = high - low
    ticks = ticks[(ticks >= low - 1e-9 * span) & (ticks <= high + 1e-9 * span)]
    top = float(np.abs(ticks).max()) if len(ticks) else 0.0
    power = math.floor(math.log10(top)) if top > 0 and (top < 1e-2 or top >= 1e4) else 0
    scaled = ticks / 10.0**power
    step = float(np.diff(scaled).min()) if len(scaled) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    texts = [f"{v:.{decimals}f}".replace("-", "−") for v in scaled]
    texts = ["0" if float(t.replace("−", "-")) == 0 else t for t in texts]
    if power:
        label = f"{label} (×10{str(power).translate(_SUPERSCRIPT)})"
    setter = ax.set_xticks if which == "x" else ax.set_yticks
    setter(ticks, texts)
    ax.set_xlim(low, high) if which == "x" else ax.set_ylim(low, high)
    (ax.set_xlabel if which == "x" else ax.set_ylabel)(fit_label(ax, which, label), fontsize=FONT["label"], labelpad=2)


def fit_title(ax: Axes, title: str) -> str:
    """``title`` wrapped onto two lines when it is wider than its panel (with a little of the
    space between panels), so that it stays inside the page and clear of its neighbours."""
    figure = ax.figure
    assert isinstance(figure, Figure)
    width = float(ax.get_position().width * figure.get_figwidth())
    if text_width(title, FONT["title"]) <= width + 0.2:
        return title
    return "\n".join(textwrap.wrap(title, max(12, int((width + 0.2) / (FONT["title"] * CHAR))))[:2])


def fit_label(ax: Axes, which: str, label: str) -> str:
    """``label`` wrapped onto two lines when it is longer than the panel's side (so that it stays
    inside the page and clear of its neighbours)."""
    figure = ax.figure
    assert isinstance(figure, Figure)
    width, height = ax.get_position().size * figure.get_size_inches()
    side = width if which == "x" else height
    if text_width(label, FONT["label"]) <= side + 0.3:
        return label
    return "\n".join(textwrap.wrap(label, max(12, int(side / (FONT["label"] * CHAR))))[:2])


def _band(ax: Axes, stats: pd.DataFrame, colour: Any, lw: float = 1.3) -> None:
    stats = stats.astype(float)  # a curve of a metric that is undefined throughout holds no numbers
    ax.plot(stats.index, stats["mean"], color=colour, lw=lw)
    ax.fill_between(stats.index, stats["low"], stats["high"], color=colour, alpha=0.18, lw=0)


def save(figures: dict[str, Figure], out: Path) -> list[Path]:
    """Write each figure as ``out / name`` (PNG at :data:`DPI`); returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = out / name
        save_figure(figure, path, dpi=DPI)  # whole or not at all, never through a link
        paths.append(path)
    return paths


def pages(names: Sequence[str], size: int = MAX_PANELS) -> list[list[str]]:
    """``names`` in runs of at most ``size`` (one page each)."""
    names = list(names)
    return [names[i : i + size] for i in range(0, len(names), size)] or [[]]


def _families(run: Run, family: str | None) -> dict[str, list[str]]:
    """The run's metrics by family (only ``family``'s when given)."""
    found = grouped(run.names)
    return found if family is None else {family: found.get(family, [])}


def _paged(stem: str, index: int, count: int) -> str:
    """The file name of page ``index`` of ``count``: the first keeps the plain name."""
    return f"{stem}.png" if index == 0 else f"{stem}_{index + 1}.png"


# ---------------------------------------------------------------------------- metric curves


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
    More than :data:`MAX_PANELS` metrics go on several pages (``metrics_2.png``, ...)."""
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
        bands = {(p.key, n): step_intervals(rows[p.key][n], metric_bounds(n)) for p in found for n in chunk}
        clipped = any(bool(b["clipped"].any()) for b in bands.values())
        sheet = page(len(chunk), heading, notes(replicates, clipped), legend, columns=columns)
        for ax, name in zip(sheet.axes, chunk):
            for i, p in enumerate(found):
                _band(ax, bands[p.key, name], colour(i))
            ax.margins(x=0)
            style(ax, title_of(name), unit_of(name))
        out[_paged(stem, index, len(chunks))] = sheet.figure
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


def draw_metric_families(run_dir: str | Path | Run, family: str | None = None) -> dict[str, Figure]:
    """metrics_<family>.png: :func:`draw_metric_curves` for each metric family (or one)."""
    run = load_run(run_dir)
    if not len(run.metrics):
        return {}
    out: dict[str, Figure] = {}
    for name, members in _families(run, family).items():
        out |= draw_metric_curves(run.metrics, members, name.capitalize(), filename=f"metrics_{slug(name)}.png")
    return out


def draw_paired_differences(run_dir: str | Path | Run) -> dict[str, Figure]:
    """paired.png: per step, the paired difference of each point to its baseline (replicate r
    minus replicate r of the baseline, same seed), mean and 95% t-band over the pairs; a band that
    leaves the zero line is a difference the replicates support. Drawn for the headline metrics
    (:data:`HEADLINE`, one page) that the run has; every metric's final step is in the forest
    plots."""
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
    sheet = page(len(names), title, notes(n_pairs, clipped), [(p.label, run.colour(p)) for p, _ in pairs])
    for ax, name in zip(sheet.axes, names):
        ax.axhline(0, color="black", lw=0.6)
        for point, base in pairs:
            _band(ax, bands[(point.key, base.key), name], run.colour(point))
        ax.margins(x=0)
        style(ax, f"Δ {title_of(name)}", f"Δ {unit_of(name)}")
    return {"paired.png": sheet.figure}


# ---------------------------------------------------------------------------- forest plots


def forest_table(run: Run, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The forest plots' numbers: per compared point and metric, the final-step paired
    difference to its baseline (:func:`interval`, cut at the difference's range); columns point,
    baseline, metric, diff, low, high, pairs, clipped, excludes_zero."""
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
    where the interval excludes 0 (:func:`simlab.running.summary.excludes_zero`), open ones
    elsewhere, no marker where the metric does not apply. ``table`` has the columns of
    :func:`forest_table`."""
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
    markers: the interval excludes 0."""
    run = load_run(run_dir)
    pairs = run.compared()
    if not pairs:
        return {}
    table = forest_table(run, [n for names in _families(run, family).values() for n in names])
    rows = [p.label for p, _ in pairs]
    colours = [run.colour(p) for p, _ in pairs]
    n = int(table["pairs"].max()) if len(table) else 0
    out = {}
    for group, members in _families(run, family).items():
        members = [m for m in members if table.loc[table["metric"] == m, "diff"].notna().any()]
        chunks = pages(members) if members else []
        for index, chunk in enumerate(chunks):
            clipped = bool(table.loc[table["metric"].isin(chunk), "clipped"].any())
            title = f"{group.capitalize()}: final-step paired difference to {run.baseline_rule()}"
            how = f"95% t-interval over {n} pairs; filled: excludes 0"
            figure = draw_forest_panels(table, chunk, rows, colours, title, [how, *notes(n, clipped)])
            out[_paged(f"forest_{slug(group)}", index, len(chunks))] = figure
    return out


# ---------------------------------------------------------------------------- opinions (snapshots)


def _point_snapshots(run: Run, index: int, step: int | None = None, replicate: int | None = None) -> pd.DataFrame:
    snaps = run.snapshots[run.snapshots["point"] == index]
    if step is not None:
        snaps = snaps[snaps["step"] == step]
    if replicate is not None:
        snaps = snaps[snaps["replicate"] == replicate]
    return snaps


def draw_opinion_distributions(run_dir: str | Path | Run, bins: int = 40, over_time: bool = False) -> dict[str, Figure]:
    """opinion_final.png: the final opinion distribution (axis 0) of every point overlaid, as a
    density histogram; with ``over_time``, opinion_over_time.png: the same at every snapshot, one
    small multiple per step (at most 12: evenly spaced snapshots, the first and last included;
    :func:`plot_run` leaves it out, as opinion_heatmap.png shows every snapshot). Replicates are
    pooled (said in the title)."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    edges = np.linspace(-1, 1, bins + 1)
    steps = sorted(run.snapshots["step"].unique())
    replicates = run.snapshots["replicate"].nunique()
    legend = [(p.label, run.colour(p)) for p in run.points]

    def draw(ax: Axes, step: int) -> None:
        for i, point in enumerate(run.points):
            values = _opinions(list(_point_snapshots(run, i, step)["path"]))
            if values.size:
                density, _ = np.histogram(values, bins=edges, density=True)
                ax.stairs(density, edges, color=run.colour(point), lw=1.2)

    title = f"Final opinion distribution per variant ({_pooled_note(replicates)})"
    sheet = page(1, title, notes(replicates), legend, 1, 2.4)
    draw(sheet.axes[0], steps[-1])
    style(sheet.axes[0], f"step {steps[-1]}", "density (users per unit opinion)", "opinion (axis 0, -1 to 1)")
    out = {"opinion_final.png": sheet.figure}
    if not over_time:
        return out
    shown = [steps[round(i)] for i in np.linspace(0, len(steps) - 1, min(len(steps), MAX_PANELS))]
    shown = list(dict.fromkeys(shown))
    title = f"Opinion distribution at {len(shown)} of {len(steps)} snapshots ({_pooled_note(replicates)})"
    sheet = page(len(shown), title, notes(replicates), legend, panel_h=1.2)
    for ax, step in zip(sheet.axes, shown):
        draw(ax, step)
        style(ax, f"step {step}", "density", "opinion (axis 0)")
    out["opinion_over_time.png"] = sheet.figure
    return out


def draw_initial_vs_final(run_dir: str | Path | Run, replicate: int = 0) -> dict[str, Figure]:
    """opinion_initial_final.png: each user's initial (first snapshot) against final opinion
    (axis 0), one panel per point (at most 12), for one replicate (said in the title); points
    above the diagonal moved up, the dashed lines mark the centre."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    panels = []
    for i, point in enumerate(run.points[:MAX_PANELS]):
        snaps = _point_snapshots(run, i, replicate=replicate).sort_values("step")
        if len(snaps) >= 2:
            panels.append((point, snaps.iloc[0], snaps.iloc[-1]))
    if not panels:
        return {}
    replicates = int(run.snapshots["replicate"].nunique())
    title = f"Initial vs final opinion per user (replicate {replicate})"
    sheet = page(len(panels), title, notes(replicates), panel_h=1.7)
    for ax, (point, first, last) in zip(sheet.axes, panels):
        x, y = _opinions([first["path"]]), _opinions([last["path"]])
        ax.scatter(x, y, s=2, alpha=0.35, color=run.colour(point), lw=0, rasterized=True)
        ax.plot([-1, 1], [-1, 1], color="black", lw=0.6)
        ax.axhline(0, color="grey", lw=0.5, ls="--")
        ax.axvline(0, color="grey", lw=0.5, ls="--")
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05))
        style(ax, point.label, f"opinion at step {last['step']}", f"opinion at step {first['step']}")
    return {"opinion_initial_final.png": sheet.figure}


def draw_exposure_vs_opinion(run_dir: str | Path | Run, bins: int = 20) -> dict[str, Figure]:
    """exposure_vs_opinion.png: each user's mean exposure extremeness over the run (the final
    snapshot's running mean of e_j shown to the user) against their final opinion, one panel per
    point (at most 12): replicate 0 as dots, the binned mean over all replicates with its 95%
    t-interval across replicates (cut at [0, 1]) as the line and band."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    step = int(run.snapshots["step"].max())
    edges = np.linspace(-1, 1, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    panels = [(i, p) for i, p in enumerate(run.points) if len(_point_snapshots(run, i, step))][:MAX_PANELS]
    if not panels:
        return {}
    replicates = int(run.snapshots["replicate"].nunique())
    title = (
        f"Exposure extremeness against opinion at step {step} (dots: replicate "
        f"{int(run.snapshots['replicate'].min())}; line: binned mean, 95% t-interval over {replicates} replicates)"
    )
    sheet = page(len(panels), title, notes(replicates), panel_h=1.7)
    for ax, (i, point) in zip(sheet.axes, panels):
        snaps = _point_snapshots(run, i, step).sort_values("replicate")
        per_replicate = []
        for _, snap in snaps.iterrows():
            x, e = _opinions([snap["path"]]), _opinions([snap["path"]], "exposure_extremeness")
            if snap["replicate"] == snaps["replicate"].iloc[0]:
                ax.scatter(x, e, s=2, alpha=0.3, color=run.colour(point), lw=0, rasterized=True)
            which = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
            total = np.bincount(which, weights=np.nan_to_num(e), minlength=bins)
            count = np.bincount(which, weights=np.isfinite(e), minlength=bins)
            per_replicate.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
        table = np.array(per_replicate)
        found = [interval(table[:, b], (0.0, 1.0)) for b in range(bins)]
        stats = pd.DataFrame([(f.mean, f.low, f.high) for f in found], index=centres, columns=["mean", "low", "high"])
        _band(ax, stats, "black")
        ax.set(xlim=(-1.05, 1.05), ylim=(0, 1))
        style(ax, point.label, "mean e_j shown (0 to 1)", f"opinion at step {step}")
    return {"exposure_vs_opinion.png": sheet.figure}


def draw_opinion_heatmaps(run_dir: str | Path | Run, bins: int = 40) -> dict[str, Figure]:
    """opinion_heatmap.png: the opinion distribution (axis 0, share of users per bin) at every
    snapshot, one panel per point in scenario order (at most 12), each snapshot a column centred
    on its step, one colour scale and colorbar for all panels; replicates pooled (said in the
    title)."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    edges = np.linspace(-1, 1, bins + 1)
    steps = np.array(sorted(run.snapshots["step"].unique()))
    # column edges halfway between snapshots, so each snapshot covers its own step
    mids = (steps[:-1] + steps[1:]) / 2 if len(steps) > 1 else np.empty(0)
    first = steps[0] - (mids[0] - steps[0] if len(mids) else 0.5)
    last = steps[-1] + (steps[-1] - mids[-1] if len(mids) else 0.5)
    x_edges = np.concatenate([[first], mids, [last]])
    images = []
    for i, point in enumerate(run.points[:MAX_PANELS]):
        columns = []
        for step in steps:
            values = _opinions(list(_point_snapshots(run, i, int(step))["path"]))
            counts, _ = np.histogram(values, bins=edges)
            columns.append(counts / max(counts.sum(), 1) if values.size else np.full(bins, np.nan))
        images.append((point, np.stack(columns, axis=1)))
    vmax = max((float(np.nanmax(image)) for _, image in images if np.isfinite(image).any()), default=1.0)
    replicates = run.snapshots["replicate"].nunique()
    title = f"Opinion distribution over time ({_pooled_note(replicates)}; every one of {len(steps)} snapshots)"
    sheet = page(len(images), title, notes(int(replicates)), panel_h=1.5, reserve=0.75)  # room for the colorbar
    figure = sheet.figure
    mesh = None
    for ax, (point, image) in zip(sheet.axes, images):
        mesh = ax.pcolormesh(x_edges, edges, image, cmap="magma", vmin=0, vmax=vmax, shading="flat")
        style(ax, point.label, "opinion (axis 0)")
        ax.grid(False)
    if mesh is not None:
        top, bottom = sheet.axes[0].get_position().y1, sheet.axes[-1].get_position().y0
        x0 = (PAGE_WIDTH - MARGIN - 0.72) / PAGE_WIDTH
        bar = figure.colorbar(
            mesh, cax=figure.add_axes((x0, bottom, 0.1 / PAGE_WIDTH, top - bottom), label="<colorbar>")
        )
        bar.ax.tick_params(labelsize=FONT["tick"], length=2)
        tidy_axis(bar.ax, "y", "share of users per bin")
    return {"opinion_heatmap.png": figure}


# ---------------------------------------------------------------------------- sweeps


def _axis_values(values: list[Any]) -> tuple[np.ndarray, list[str] | None]:
    """Positions on the x axis: the values if numeric, else 0..n-1 with the values as tick labels."""
    try:
        return np.array([float(v) for v in values]), None
    except (TypeError, ValueError):
        return np.arange(len(values), dtype=float), [str(v) for v in values]


def swept_key_label(key: str, scenario: dict[str, Any] | None = None, limit: int = 40) -> str:
    """A swept key in words: its setting's description from the settings reference (its first
    clause when longer than ``limit`` characters), then the key itself (``penalty strength
    (interventions.0.weight)``); the key alone when unknown."""
    from simlab.settings_reference import describe_key

    words = describe_key(key, scenario or {})
    if len(words) > limit:  # the first clause: "penalty strength: scores lose ..." -> "penalty strength"
        clauses = [c for c in re.split(r": |, |; | \(", words) if len(c.split()) >= 2]
        words = clauses[0] if clauses and len(clauses[0]) <= limit else ""
    return f"{words} ({key})" if words else key


def draw_sweep(run_dir: str | Path | Run, family: str | None = None) -> dict[str, Figure]:
    """sweep_<i>_<key>_<family>.png for each swept key: each metric's final value (mean and 95%
    t-interval over replicates) against the swept value, one line per variant and value of the
    other swept keys; phase_<variant>_<family>.png when two keys are swept: the final mean of
    each metric on the 2-D grid (a phase diagram)."""
    run = load_run(run_dir)
    keys = list(run.sweep)
    if not keys or not len(run.metrics):
        return {}
    last = final_rows(run.metrics)
    families = _families(run, family)
    variants = list(dict.fromkeys(p.variant for p in run.points))
    replicates = run.replicates
    out: dict[str, Figure] = {}
    for k, key in enumerate(keys):
        x, ticks = _axis_values(run.sweep[key])
        others = [[(o, v) for v in run.sweep[o]] for o in keys if o != key]
        lines = [(variant, dict(rest)) for variant in variants for rest in itertools.product(*others)]
        legend = [(point_label(v, rest), colour(j)) for j, (v, rest) in enumerate(lines)]
        for family, members in families.items():
            chunks = pages(members)
            for index, chunk in enumerate(chunks):
                title = f"{family.capitalize()}: final value against {key} (mean and 95% t-interval over {replicates} replicates)"
                sheet = page(len(chunk), title, notes(replicates), legend)
                for ax, name in zip(sheet.axes, chunk):
                    for j, (variant, rest) in enumerate(lines):
                        stats = []
                        for value in run.sweep[key]:
                            sweep = {o: rest.get(o, value) for o in keys}
                            frame = select_point(last, (variant, *sweep.values()))
                            found = interval(frame[name].to_numpy(dtype=float), metric_bounds(name))
                            stats.append((found.mean, found.low, found.high))
                        mean, low, high = np.array(stats, dtype=float).T
                        ax.errorbar(
                            x, mean, yerr=[mean - low, high - mean], fmt="o-", color=colour(j), capsize=2, lw=1, ms=3
                        )
                    style(ax, title_of(name), unit_of(name), swept_key_label(key, run.scenario))
                    if ticks is not None:
                        ax.set_xticks(x, ticks)
                name_stem = f"sweep_{k}_{_safe(key)}_{slug(family)}"
                out[_paged(name_stem, index, len(chunks))] = sheet.figure
    if len(keys) == 2:
        out |= _phase_diagrams(run, last, families, variants, keys, replicates)
    return out


def _phase_diagrams(
    run: Run, last: pd.DataFrame, families: dict[str, list[str]], variants: list[str], keys: list[str], replicates: int
) -> dict[str, Figure]:
    (kx, ky), out = keys, {}
    xs, ys = run.sweep[kx], run.sweep[ky]
    for variant in variants:
        for family, members in families.items():
            chunks = pages(members)
            for index, chunk in enumerate(chunks):
                title = (
                    f"Phase diagram of {variant}, {family}: final mean over {replicates} replicates "
                    f"on the {kx} x {ky} grid"
                )
                sheet = page(len(chunk), title, notes(replicates), panel_h=1.6, right=0.45)
                for ax, name in zip(sheet.axes, chunk):
                    image = np.full((len(ys), len(xs)), np.nan)
                    for a, vx in enumerate(xs):
                        for b, vy in enumerate(ys):
                            values = select_point(last, (variant, vx, vy))[name].to_numpy(dtype=float)
                            image[b, a] = interval(values).mean
                    mesh = ax.imshow(image, origin="lower", aspect="auto", cmap="viridis")
                    for b in range(len(ys)):
                        for a in range(len(xs)):
                            if np.isfinite(image[b, a]):
                                ax.text(
                                    a,
                                    b,
                                    _short(image[b, a]),
                                    ha="center",
                                    va="center",
                                    fontsize=7,
                                    color="white",
                                    path_effects=[matplotlib.patheffects.withStroke(linewidth=1.2, foreground="black")],
                                )
                    ax.set_title(title_of(name), fontsize=FONT["title"], pad=3)
                    ax.set_xticks(range(len(xs)), [str(v) for v in xs], fontsize=FONT["tick"])
                    ax.set_yticks(range(len(ys)), [str(v) for v in ys], fontsize=FONT["tick"])
                    ax.set_xlabel(
                        fit_label(ax, "x", swept_key_label(kx, run.scenario)), fontsize=FONT["label"], labelpad=2
                    )
                    ax.set_ylabel(
                        fit_label(ax, "y", swept_key_label(ky, run.scenario)), fontsize=FONT["label"], labelpad=2
                    )
                    bar = ax.figure.colorbar(mesh, ax=ax, fraction=0.08, pad=0.03)
                    bar.ax.tick_params(labelsize=7)
                    bar.set_label(unit_of(name), fontsize=7)
                out[_paged(f"phase_{_safe(variant)}_{slug(family)}", index, len(chunks))] = sheet.figure
    return out


def _short(value: float) -> str:
    """3 significant digits (the cells of a phase diagram differ in the third)."""
    return f"{value:.3g}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


# ---------------------------------------------------------------------------- saving them


def _plotter(draw: Callable[..., dict[str, Figure]]) -> Callable[[str | Path | Run, Path], list[Path]]:
    def plot(run_dir: str | Path | Run, out: Path) -> list[Path]:
        return save(draw(run_dir), Path(out))

    plot.__name__ = draw.__name__.replace("draw_", "plot_")
    plot.__doc__ = f"Write the figures of :func:`{draw.__name__}` into ``out``; returns their paths."
    return plot


plot_metric_families = _plotter(draw_metric_families)
plot_paired_differences = _plotter(draw_paired_differences)
plot_forest = _plotter(draw_forest)
plot_opinion_distributions = _plotter(draw_opinion_distributions)
plot_opinion_heatmaps = _plotter(draw_opinion_heatmaps)
plot_initial_vs_final = _plotter(draw_initial_vs_final)
plot_exposure_vs_opinion = _plotter(draw_exposure_vs_opinion)
plot_sweep = _plotter(draw_sweep)

# the figures of a run, in the order the report shows them; those of the first four are drawn
# per family
DRAWINGS = [
    draw_metric_families,
    draw_forest,
    draw_sweep,
    draw_paired_differences,
    draw_opinion_distributions,
    draw_opinion_heatmaps,
    draw_initial_vs_final,
    draw_exposure_vs_opinion,
]
BY_FAMILY = DRAWINGS[:3]
FIGURES = [_plotter(draw) for draw in DRAWINGS]
# file-name prefixes of the figures plot_run draws
DRAWN = ("metrics_", "paired_", "forest", "opinion_", "exposure_vs_opinion", "sweep_", "phase_")

_JOBS: list[tuple[Callable[..., dict[str, Figure]], str | None]] = []  # read by forked workers
_RUN: Run | None = None
_OUT: Path | None = None


def _draw_job(index: int) -> list[Path]:
    draw, family = _JOBS[index]
    assert _RUN is not None and _OUT is not None
    figures = draw(_RUN, family) if family is not None else draw(_RUN)
    return save(figures, _OUT)


def plot_run(run_dir: str | Path, workers: int | None = None) -> list[Path]:
    """Write figures/*.png for a run folder (every drawing of :data:`DRAWINGS`), replacing the
    figures of an earlier drawing; returns their paths in the order the report shows them.

    The figures are independent, so with ``workers`` > 1 (default: as many as a run's tasks get,
    ``$SIMLAB_WORKERS`` or the usable cores) they are drawn by that many forked processes that
    share the run already read (Linux; elsewhere, and with ``workers=1``, one after another):
    matplotlib's cost is per panel, not per number.
    """
    global _RUN, _OUT
    from simlab.running.resources import default_workers

    run_dir = Path(run_dir)
    out = ensure_folder(run_dir, "figures")  # a link there is refused, not written through
    for old in out.glob("*.png"):  # a redrawing may page a family differently (other files are kept)
        if old.name.startswith(DRAWN):
            old.unlink()
    run = load_run(run_dir)
    families = list(grouped(run.names))
    jobs: list[tuple[Callable[..., dict[str, Figure]], str | None]] = [
        (draw, family) for draw in BY_FAMILY for family in families
    ]
    jobs += [(draw, None) for draw in DRAWINGS if draw not in BY_FAMILY]
    workers = min(len(jobs), default_workers() if workers is None else max(1, workers))
    _JOBS[:], _RUN, _OUT = jobs, run, out
    try:
        if workers > 1 and sys.platform == "linux":
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(workers) as pool:
                drawn = pool.map(_draw_job, range(len(jobs)), chunksize=1)
        else:
            drawn = [_draw_job(i) for i in range(len(jobs))]
    finally:
        _JOBS.clear()
        _RUN = _OUT = None
    return [path for paths in drawn for path in paths]
