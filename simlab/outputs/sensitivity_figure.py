"""The robustness figure of ``simlab sensitivity``: one row per cell of the assumption grid, one
panel per metric, the paired effect with its 95% interval, coloured by verdict (holds: the
interval is above 0; reverses: below 0; vanishes: it contains 0). Reads the table of
:func:`simlab.sensitivity.sensitivity_table` (a run folder's sensitivity.csv).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from simlab.outputs.labels import title_of
from simlab.outputs.plotting import FONT, PAGE_WIDTH, save
from simlab.sensitivity import LEAD_COLUMNS

VERDICT_COLOURS = {"holds": "#b2182b", "vanishes": "#8c8c8c", "reverses": "#2166ac"}
FIGURE = "sensitivity.png"


def cell_labels(table: pd.DataFrame) -> list[str]:
    """One label per cell, ``key=value`` joined by commas, with each key's last dotted part
    (``behavior.b_ext`` -> ``b_ext``), in the table's order.
    """
    keys = [c for c in table.columns if c not in LEAD_COLUMNS]
    cells = table.drop_duplicates(keys)[keys]
    return [", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(keys, row)) for row in cells.itertuples(index=False)]


def draw_sensitivity(table: pd.DataFrame, title: str | None = None) -> Figure:
    """The robustness figure of a sensitivity table.

    Args:
        table: :func:`simlab.sensitivity.sensitivity_table` (one row per cell and metric).
        title: the figure's heading (default: "VARIANT minus BASELINE").

    Returns:
        The figure: one panel per metric, one row per cell (the first cell at the top).
    """
    keys = [c for c in table.columns if c not in LEAD_COLUMNS]
    metrics = list(dict.fromkeys(table["metric"]))
    labels = cell_labels(table)
    n = len(labels)
    height = 1.6 + 0.2 * n
    figure, axes = plt.subplots(1, len(metrics), figsize=(PAGE_WIDTH, height), sharey=True, squeeze=False)
    y = np.arange(n)[::-1]
    for ax, metric in zip(axes[0], metrics):
        rows = table[table["metric"] == metric].drop_duplicates(keys)
        for yi, (_, row) in zip(y, rows.iterrows()):
            colour = VERDICT_COLOURS[str(row["verdict"])]
            if np.isfinite(row["ci_low"]):
                ax.plot([row["ci_low"], row["ci_high"]], [yi, yi], color=colour, lw=1.4, solid_capstyle="butt")
            ax.plot([row["diff"]], [yi], "o", color=colour, ms=3.5)
        ax.axvline(0.0, color="black", lw=0.7)
        # wrapped, so that long metric names do not run into the next panel's title
        ax.set_title(textwrap.fill(title_of(metric), 18), fontsize=FONT["title"], pad=3)
        ax.xaxis.set_major_locator(MaxNLocator(2))
        ax.tick_params(labelsize=FONT["tick"], length=2.5, pad=1.5)
        ax.grid(axis="x", alpha=0.25, lw=0.5)
        ax.set_ylim(-0.6, n - 0.4)
    axes[0][0].set_yticks(y, labels, fontsize=FONT["tick"])
    first = table.iloc[0]
    pairs = int(table["pairs"].max())
    heading = title or f"{first['variant']} minus {first['baseline']} ({pairs} paired replicates per cell)"
    handles = [Line2D([], [], color=c, marker="o", ms=3.5, lw=1.4, label=v) for v, c in VERDICT_COLOURS.items()]
    figure.supxlabel("paired difference, mean and 95% t-interval", fontsize=FONT["label"], y=0.35 / height)
    figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=FONT["legend"], frameon=False)
    figure.suptitle(heading, x=0.01, ha="left", fontsize=FONT["heading"])
    figure.tight_layout(rect=(0, 0.45 / height, 1, 1 - 0.3 / height))
    return figure


def plot_sensitivity(folder: Path, out: Path | None = None, title: str | None = None) -> list[Path]:
    """Draw the run folder's sensitivity.csv as ``out``/sensitivity.png (default: the folder's
    figures/); returns the paths written.
    """
    table = pd.read_csv(folder / "sensitivity.csv")
    figure = draw_sensitivity(table, title)
    try:
        return save({FIGURE: figure}, out if out is not None else folder / "figures")
    finally:
        plt.close(figure)
