"""Figures from a run folder (reads metrics.csv and snapshots/; never the live simulation)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from simlab.running.summary import ID_COLUMNS


def plot_metric_curves(
    metrics: pd.DataFrame,
    out: Path,
    columns: int = 4,
    names: list[str] | None = None,
    filename: str = "metrics.png",
) -> Path:
    """One panel per metric (default: every non-empty column): mean over replicates per variant
    with a 95% band (normal approximation); written to ``out / filename``."""
    if names is None:
        names = [c for c in metrics.columns if c not in ID_COLUMNS and metrics[c].notna().any()]
    rows = max(1, int(np.ceil(len(names) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for variant, frame in metrics.groupby("variant", sort=False):
            stats = frame.groupby("step")[name].agg(["mean", "std", "count"])
            half = 1.96 * stats["std"].fillna(0) / np.sqrt(stats["count"])
            ax.plot(stats.index, stats["mean"], label=str(variant), lw=1.5)
            ax.fill_between(stats.index, stats["mean"] - half, stats["mean"] + half, alpha=0.2)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.8 * rows)))  # room for the legend
    path = out / filename
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_opinion_heatmaps(run_dir: Path, out: Path, bins: int = 40) -> list[Path]:
    """Opinion distribution (axis 0) over time as a heatmap, one panel per variant
    (replicates pooled)."""
    files = sorted((run_dir / "snapshots").glob("*.npz"))
    if not files:
        return []
    histograms: dict[str, dict[int, np.ndarray]] = {}
    edges = np.linspace(-1, 1, bins + 1)
    for path in files:
        with np.load(path) as data:
            variant, step = str(data["variant"]), int(data["step"])
            counts, _ = np.histogram(data["opinion"][:, 0], bins=edges)
        per_variant = histograms.setdefault(variant, {})
        per_variant[step] = per_variant.get(step, 0) + counts
    fig, axes = plt.subplots(1, len(histograms), figsize=(4.2 * len(histograms), 3.2), squeeze=False)
    for ax, (variant, by_step) in zip(axes.flat, histograms.items()):
        steps = sorted(by_step)
        image = np.stack([by_step[s] / max(by_step[s].sum(), 1) for s in steps], axis=1)
        ax.imshow(
            image,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(steps[0], steps[-1] if len(steps) > 1 else steps[0] + 1, -1, 1),
        )
        ax.set_title(variant, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("opinion")
    fig.tight_layout()
    path = out / "opinion_heatmap.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write figures/*.png for a run folder; returns their paths."""
    run_dir = Path(run_dir)
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    paths = [plot_metric_curves(metrics, out)] if len(metrics) else []
    return paths + plot_opinion_heatmaps(run_dir, out)
