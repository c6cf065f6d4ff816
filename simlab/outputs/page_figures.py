"""The figure page: every figure is drawn at the size it is printed.

A journal page's width (:data:`PAGE_WIDTH`, 7.2 in, two columns) with 8 pt text, three panels a
row and at most :data:`MAX_PANELS` panels a page (a family with more is split over pages, see
:func:`pages`). Panels sit at fixed positions in inches (no layout engine: it cost more than the
drawing), tick labels are few and short (a common power of ten goes into the axis label), and every
axis names its quantity and unit in words (:mod:`simlab.outputs.labels`). Points (variant, sweep
point) keep one colour (:func:`colour`) in every figure.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from simlab.results.intervals import FEW
from simlab.results.run import Point, Run
from simlab.running.files import save_figure

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
CUT_NOTE = "bands cut at each metric's range"


def text_width(text: str, size: float) -> float:
    """Estimated width in inches of ``text`` at ``size`` points."""
    return len(text) * size * CHAR


def colour(index: int) -> Any:
    """The colour of the ``index``-th point (tab10, repeating after 10).

    Args:
        index: the point's position in scenario order.

    Returns:
        An RGBA tuple.
    """
    return matplotlib.colormaps["tab10"](index % 10)


def point_colour(run: Run, point: Point) -> Any:
    """The colour of ``point`` of ``run``: the same in every figure of the run.

    Args:
        run: the run read by :func:`simlab.results.run.load_run`.
        point: one of ``run.points``.

    Returns:
        An RGBA tuple (:func:`colour` of the point's position in scenario order).
    """
    return colour(run.points.index(point))


def notes(n: int, clipped: bool = False, extra: Sequence[str] = ()) -> list[str]:
    """The note line under a figure's title: few replicates, cut bands, anything else."""
    parts = [f"n = {n}: few replicates" if 0 < n < FEW else "", CUT_NOTE if clipped else "", *extra]
    return [p for p in parts if p]


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
    (a colorbar).
    """
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
    title wider than its panel is wrapped onto two lines (:func:`fit_title`).
    """
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
    the axis label states (``Δ variance (×10⁻³)``), so tick labels stay short and never collide.
    """
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
    space between panels), so that it stays inside the page and clear of its neighbours.
    """
    figure = ax.figure
    assert isinstance(figure, Figure)
    width = float(ax.get_position().width * figure.get_figwidth())
    if text_width(title, FONT["title"]) <= width + 0.2:
        return title
    return "\n".join(textwrap.wrap(title, max(12, int((width + 0.2) / (FONT["title"] * CHAR))))[:2])


def fit_label(ax: Axes, which: str, label: str) -> str:
    """``label`` wrapped onto two lines when it is longer than the panel's side (so that it stays
    inside the page and clear of its neighbours).
    """
    figure = ax.figure
    assert isinstance(figure, Figure)
    width, height = ax.get_position().size * figure.get_size_inches()
    side = width if which == "x" else height
    if text_width(label, FONT["label"]) <= side + 0.3:
        return label
    return "\n".join(textwrap.wrap(label, max(12, int(side / (FONT["label"] * CHAR))))[:2])


def band(ax: Axes, stats: pd.DataFrame, colour: Any, lw: float = 1.3) -> None:
    """A mean line with its interval shaded around it.

    Args:
        ax: the panel to draw on.
        stats: indexed by x, with columns mean, low, high (as from
            :func:`simlab.results.intervals.step_intervals`).
        colour: the line's and the band's colour.
        lw: the line width in points.
    """
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


def paged_name(stem: str, index: int, count: int) -> str:
    """The file name of one page of a figure that runs over several.

    Args:
        stem: the figure's name without ``.png``.
        index: the page, from 0.
        count: how many pages the figure has.

    Returns:
        ``stem.png`` for the first page, ``stem_2.png``, ``stem_3.png``, ... for the others.
    """
    return f"{stem}.png" if index == 0 else f"{stem}_{index + 1}.png"
