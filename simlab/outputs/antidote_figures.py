"""Figures of antidote data: the budget curve (reduction of the objective against the budget)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def budget_curve(frame: pd.DataFrame, path: str | Path, objective: str = "polarization") -> Path:
    """Plot ``frame`` (columns budget, method, reduction) as % reduction against % budget, one line per method."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for method, part in frame.groupby("method", sort=False):
        part = part.sort_values("budget")
        ax.plot(100 * part["budget"], 100 * part["reduction"], marker="o", label=str(method))
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("budget (% of users)")
    ax.set_ylabel(f"{objective} reduction (%)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
