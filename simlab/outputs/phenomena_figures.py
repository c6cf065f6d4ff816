"""Figures of the phenomenon scripts in analysis/ that are not metric curves: a trade-off curve
(one metric against another across sweep points) and a grid of categories (a phase diagram).
Only simlab/outputs imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_tradeoff(
    x: Sequence[tuple[float, float, float]],
    y: Sequence[tuple[float, float, float]],
    labels: Sequence[str],
    path: Path,
    xlabel: str,
    ylabel: str,
    title: str,
) -> Path:
    """One point per sweep value at (x mean, y mean) with 95% interval bars on both axes, joined
    in sweep order and annotated with ``labels``; ``x`` and ``y`` hold (mean, low, high).
    """
    xs, ys = np.array(x, dtype=float), np.array(y, dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.errorbar(
        xs[:, 0],
        ys[:, 0],
        xerr=[xs[:, 0] - xs[:, 1], xs[:, 2] - xs[:, 0]],
        yerr=[ys[:, 0] - ys[:, 1], ys[:, 2] - ys[:, 0]],
        fmt="o-",
        capsize=4,
        lw=1.6,
    )
    for (px, py), label in zip(zip(xs[:, 0], ys[:, 0]), labels):
        ax.annotate(label, (px, py), textcoords="offset points", xytext=(6, 6), fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_category_grid(
    grid: Sequence[Sequence[str]],
    categories: Sequence[str],
    x_values: Sequence[float],
    y_values: Sequence[float],
    path: Path,
    xlabel: str,
    ylabel: str,
    title: str,
    notes: Sequence[Sequence[str]] | None = None,
) -> Path:
    """A heatmap of categories: ``grid[b][a]`` names the category of cell (x_values[a],
    y_values[b]), coloured by its index in ``categories``; ``notes`` (same shape) are printed in
    the cells.
    """
    index = np.array([[categories.index(c) for c in row] for row in grid], dtype=float)
    palette = plt.get_cmap("Set2")
    colours = [palette(i) for i in range(len(categories))]
    cmap = matplotlib.colors.ListedColormap(colours)
    fig, ax = plt.subplots(figsize=(6.8, 5.2))
    ax.imshow(index, origin="lower", cmap=cmap, vmin=-0.5, vmax=len(categories) - 0.5, aspect="auto")
    ax.set_xticks(range(len(x_values)), [f"{v:g}" for v in x_values])
    ax.set_yticks(range(len(y_values)), [f"{v:g}" for v in y_values])
    for b, row in enumerate(grid):
        for a, category in enumerate(row):
            text = category if notes is None else f"{category}\n{notes[b][a]}"
            ax.text(a, b, text, ha="center", va="center", fontsize=8)
    handles = [matplotlib.patches.Patch(color=colours[i], label=c) for i, c in enumerate(categories)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(categories), frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
