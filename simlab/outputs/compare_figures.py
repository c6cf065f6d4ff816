"""Figures of a comparison (reads the table of :func:`simlab.outputs.compare.paired_differences`
or a metrics frame; never the live simulation): the engagement/outcome trade-off, a forest plot
of the paired differences, and a dose-response plot of a swept strength. Sized for a page
width of about 1,600 px (panels >= 350 px)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from simlab.outputs.compare import DEFAULT_METRICS, final_rows, sweep_values, variants_of
from simlab.running.files import save_figure
from simlab.running.summary import mean_ci

DPI = 100
LABELS = {
    "opinion_variance": "opinion variance",
    "polarization_er": "polarization (Esteban–Ray)",
    "bimodality": "bimodality coefficient",
    "extremity": "extremity (mean |opinion|)",
    "extreme_user_share": "share of extreme users",
    "exposure_extremeness": "exposure extremeness (mean e_j shown)",
    "extreme_exposure_share": "share of extreme items shown",
    "slate_diversity": "slate diversity (stance)",
    "topic_entropy": "topic entropy of slates",
    "coverage": "catalog coverage (share of items shown)",
    "ctr": "click-through rate (engaged / shown)",
    "engagement": "engagements per user",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def _rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[table["metric"] == metric].set_index("variant")


def pareto_front(cost: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Bool mask of the points no other point dominates (at least as much ``cost`` value, i.e.
    a higher engagement difference, and at least as much ``gain``, better in one)."""
    keep = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        better = (cost >= cost[i]) & (gain >= gain[i]) & ((cost > cost[i]) | (gain > gain[i]))
        keep[i] = not better.any()
    return keep


def plot_tradeoff(
    table: pd.DataFrame,
    out: Path,
    cost: str = "ctr",
    outcomes: tuple[str, ...] = ("extremity", "polarization_er"),
    filename: str = "compare_tradeoff.png",
) -> Path:
    """One panel per outcome: x = the paired difference in ``cost`` (engagement lost is to the
    left), y = the reduction in the outcome (baseline - variant, so up is better), one point
    per variant with 95% CI whiskers both ways; the Pareto-efficient points are joined."""
    outcomes = tuple(o for o in outcomes if o in set(table["metric"]))
    fig, axes = plt.subplots(1, len(outcomes), figsize=(16, 6.4), squeeze=False)
    x = _rows(table, cost)
    baseline = str(table["baseline"].iloc[0])
    for ax, outcome in zip(axes.flat, outcomes):
        y = _rows(table, outcome).reindex(x.index)
        gain, gain_low, gain_high = -y["diff"], -y["ci_high"], -y["ci_low"]
        colors = plt.cm.tab10(np.arange(len(x)) % 10)
        for i, variant in enumerate(x.index):
            ax.errorbar(
                x.loc[variant, "diff"],
                gain[variant],
                xerr=[
                    [x.loc[variant, "diff"] - x.loc[variant, "ci_low"]],
                    [x.loc[variant, "ci_high"] - x.loc[variant, "diff"]],
                ],
                yerr=[[gain[variant] - gain_low[variant]], [gain_high[variant] - gain[variant]]],
                fmt="o",
                ms=7,
                color=colors[i],
                capsize=3,
                label=variant,
            )
            ax.annotate(
                variant, (x.loc[variant, "diff"], gain[variant]), textcoords="offset points", xytext=(6, 6), fontsize=10
            )
        front = pareto_front(x["diff"].to_numpy(), gain.to_numpy())
        order = np.argsort(x["diff"].to_numpy()[front])
        ax.plot(
            x["diff"].to_numpy()[front][order],
            gain.to_numpy()[front][order],
            "--",
            color="0.5",
            lw=1,
            label="Pareto front",
        )
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel(f"change in {label(cost)} vs {baseline} (paired, absolute)", fontsize=11)
        ax.set_ylabel(f"reduction in {label(outcome)} vs {baseline}", fontsize=11)
        ax.set_title(f"Engagement cost vs reduction in {label(outcome)}", fontsize=12)
        ax.tick_params(labelsize=10)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=9, loc="best")
    fig.tight_layout()
    path = out / filename
    save_figure(fig, path, dpi=DPI)
    plt.close(fig)
    return path


def plot_forest(table: pd.DataFrame, out: Path, columns: int = 4, filename: str = "compare_forest.png") -> Path:
    """One panel per metric: each variant's paired difference to the baseline with its 95%
    CI; filled markers where the interval excludes 0."""
    metrics = list(dict.fromkeys(table["metric"]))
    variants = list(dict.fromkeys(table["variant"]))
    columns = min(columns, len(metrics))
    rows = int(np.ceil(len(metrics) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(16, max(3.6, (0.9 + 0.32 * len(variants)) * rows)), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        frame = _rows(table, metric).reindex(variants)
        position = np.arange(len(variants))[::-1]
        for pos, (_, row) in zip(position, frame.iterrows()):
            low = row["diff"] - row["ci_low"] if np.isfinite(row["ci_low"]) else 0
            high = row["ci_high"] - row["diff"] if np.isfinite(row["ci_high"]) else 0
            ax.errorbar(
                row["diff"],
                pos,
                xerr=[[low], [high]],
                fmt="o",
                color="C3" if row["excludes_zero"] else "C0",
                mfc="C3" if row["excludes_zero"] else "white",
                capsize=3,
            )
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_yticks(position, variants, fontsize=9)
        ax.set_title(label(metric), fontsize=11)
        ax.set_xlabel(f"difference vs {table['baseline'].iloc[0]}", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    fig.suptitle("Paired differences to the baseline, 95% CI (filled red: excludes 0)", fontsize=12)
    fig.tight_layout()
    path = out / filename
    save_figure(fig, path, dpi=DPI)
    plt.close(fig)
    return path


def plot_dose_response(
    metrics: pd.DataFrame,
    out: Path,
    names: list[str] | None = None,
    columns: int = 4,
    filename: str = "compare_dose.png",
) -> Path | None:
    """Final-step mean of each metric (95% CI over replicates) against the swept value, one
    panel per metric; None when the variants are not a sweep of one numeric key."""
    sweep = sweep_values(variants_of(metrics))
    if sweep is None:
        return None
    key, values = sweep
    names = [n for n in (names or DEFAULT_METRICS) if n in metrics.columns]
    last = final_rows(metrics)
    groups: dict[str, list[str]] = {}
    for variant in values:  # one line per variant prefix ("name|key=v"), or one line
        groups.setdefault(variant.split("|")[0] if "|" in variant else "", []).append(variant)
    columns = min(columns, len(names))
    rows = int(np.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(16, 3.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for group, members in groups.items():
            members = sorted(members, key=values.__getitem__)
            stats = np.array([mean_ci(last.loc[last["variant"] == v, name].to_numpy(dtype=float)) for v in members])
            xs = [values[v] for v in members]
            ax.plot(xs, stats[:, 0], "o-", label=group or None)
            ax.fill_between(xs, stats[:, 1], stats[:, 2], alpha=0.2)
        ax.set_title(label(name), fontsize=11)
        ax.set_xlabel(key, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    if len(groups) > 1:
        axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Dose-response: final-step mean with 95% CI over replicates, against {key}", fontsize=12)
    fig.tight_layout()
    path = out / filename
    save_figure(fig, path, dpi=DPI)
    plt.close(fig)
    return path


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
