"""Figures from a run folder (reads metrics.csv, scenario.yaml and snapshots/; never the live
simulation). Each ``plot_*`` function takes the run folder and the folder to write into and
returns the paths it wrote; :func:`plot_run` draws them all into ``RUN_DIR/figures``.

Every band and whisker is the project's one interval, the 95% t-interval over replicates of
:func:`simlab.running.summary.mean_ci`; paired differences are taken per replicate (shared
seeds) against the baseline of :func:`simlab.running.summary.baselines`. Figures are 1,600 px
wide (16 in at 100 dpi) with panels of at least 350 px, to stay legible at page width. Points
(variant, sweep point) are drawn in scenario order and keep one colour in every figure.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.patheffects
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator, ScalarFormatter

from simlab.running.files import ensure_folder, read_metrics, save_figure
from simlab.running.summary import (
    _same,
    _select,
    baselines,
    curves,
    final_rows,
    mean_ci,
    metric_columns,
    paired,
    paired_curves,
    point_label,
    points,
    sweep_columns,
)

WIDTH_IN, DPI = 16.0, 100  # 1,600 px
PANEL_H = 3.6  # inches per row of panels
COLUMNS = 4  # panels per row: 4 x ~370 px

FAMILIES: dict[str, list[str]] = {
    "polarization": ["opinion_variance", "polarization_er", "bimodality", "polarization_p", "disagreement"],
    "extremity and exposure": [
        "extremity",
        "extreme_user_share",
        "exposure_extremeness",
        "consumption_extremeness",
        "extreme_exposure_share",
        "exposure_drift_share",
    ],
    "diversity": ["slate_diversity", "topic_entropy", "coverage", "exposure_gini", "homogenization"],
    "engagement and model quality": ["ctr", "engagement", "ndcg", "auc_pooled", "logloss", "rpol"],
    "learning": ["auc_within_position", "auc_ceiling", "learned_share", "personalisation", "personalisation_ceiling"],
    "fairness": ["unfairness_individual", "unfairness_group"],
}
OTHER = "other"

# metric -> (title, y label with unit); opinions live in [-1, 1] and item extremeness e_j in [0, 1]
LABELS: dict[str, tuple[str, str]] = {
    "opinion_mean": ("Mean opinion", "opinion (-1 to 1)"),
    "opinion_variance": ("Opinion variance", "variance (opinion units²)"),
    "polarization_er": ("Esteban-Ray polarization", "ER index (α-weighted)"),
    "bimodality": ("Bimodality coefficient", "BC (> 0.555: bimodal)"),
    "polarization_p": ("Polarization (Musco et al.)", "Σ_i (x_i - mean)² (opinion²)"),
    "disagreement": ("Disagreement on the graph", "Σ_edges w (x_i - x_j)² (opinion²)"),
    "extremity": ("Opinion extremity", "mean |x| (0 to 1)"),
    "extreme_user_share": ("Extreme users", "share of users (0 to 1)"),
    "exposure_extremeness": ("Exposure extremeness", "mean e_j of shown items (0 to 1)"),
    "consumption_extremeness": ("Consumption extremeness", "mean e_j of engaged items (0 to 1)"),
    "extreme_exposure_share": ("Extreme exposure", "share of impressions (0 to 1)"),
    "exposure_drift_share": ("Exposure drift since step 0", "share of users (0 to 1)"),
    "slate_diversity": ("Slate diversity", "mean pairwise stance distance"),
    "topic_entropy": ("Topic entropy of consumption", "entropy (nats)"),
    "coverage": ("Catalog coverage", "share of live items shown (0 to 1)"),
    "exposure_gini": ("Exposure inequality", "Gini of impressions (0 to 1)"),
    "homogenization": ("Homogenization", "Jaccard overlap (0 to 1)"),
    "ctr": ("Click-through rate", "engagements per impression"),
    "engagement": ("Engagement", "engagements per user per step"),
    "ndcg": ("Ranking quality against the oracle", "NDCG@k under true engagement (0 to 1)"),
    "auc_pooled": ("AUC pooled over slate positions", "AUC (0.5 = chance)"),
    "auc_within_position": ("AUC within slate positions", "AUC (0.5 = chance)"),
    "auc_ceiling": ("AUC of the true probabilities", "AUC within positions (Bayes ceiling)"),
    "learned_share": ("Learned share of the ceiling", "(AUC - 0.5) / (ceiling - 0.5)"),
    "personalisation": ("Personalisation of predictions", "user-by-item share of variance (0 to 1)"),
    "personalisation_ceiling": ("Personalisation of true engagement", "user-by-item share of variance (0 to 1)"),
    "logloss": ("Log loss (progressive validation)", "nats per impression"),
    "rpol": ("Polarization of predictions R_pol", "variance of predicted p"),
    "unfairness_individual": ("Individual unfairness", "variance of per-user squared error"),
    "unfairness_group": ("Group unfairness", "variance of group mean loss"),
}


def family_of(name: str) -> str:
    return next((family for family, names in FAMILIES.items() if name in names), OTHER)


def grouped(names: Sequence[str]) -> dict[str, list[str]]:
    """``names`` by family, families and their metrics in the order of :data:`FAMILIES`, metrics
    of no listed family last under "other" (in their given order); empty families dropped."""
    out = {family: [n for n in listed if n in names] for family, listed in FAMILIES.items()}
    out[OTHER] = [n for n in names if family_of(n) == OTHER]
    return {family: members for family, members in out.items() if members}


def title_of(name: str) -> str:
    return LABELS.get(name, (name.replace("_", " ").capitalize(), ""))[0]


def ylabel_of(name: str) -> str:
    return LABELS.get(name, ("", "value"))[1]


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
    """What the figures read from a run folder: metrics, the points in scenario order, each
    point's baseline, and the snapshot index (arrays are loaded only when a figure needs them)."""

    path: Path
    metrics: pd.DataFrame
    points: list[Point]
    baseline: dict[tuple[Any, ...], tuple[Any, ...]]
    sweep: dict[str, list[Any]]
    snapshots: pd.DataFrame  # path, point (index into points), replicate, step
    scenario: dict[str, Any]

    @property
    def names(self) -> list[str]:
        """Metric columns with at least one value."""
        return [c for c in metric_columns(self.metrics.columns) if self.metrics[c].notna().any()]

    def colour(self, point: Point) -> Any:
        return plt.get_cmap("tab10")(self.points.index(point) % 10)

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


def load_run(run_dir: str | Path | Run) -> Run:
    """Read a run folder (a :class:`Run` is returned as it is, so :func:`plot_run` reads once)."""
    if isinstance(run_dir, Run):
        return run_dir
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir / "metrics.csv")
    doc: dict[str, Any] = {}
    if (run_dir / "scenario.yaml").exists():
        doc = yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8")) or {}
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
    return len(key) == len(other) and str(key[0]) == str(other[0]) and all(map(_same, key[1:], other[1:]))


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
    parts = []
    for path in paths:
        with np.load(path) as data:
            values = data[field]
            parts.append(values[:, 0] if values.ndim == 2 else values)
    return np.concatenate(parts) if parts else np.empty(0)


def _pooled_note(run: Run, replicates: int) -> str:
    return f"all {replicates} replicates pooled" if replicates > 1 else "replicate 0"


# ---------------------------------------------------------------------------- drawing helpers


def _grid(
    n: int, columns: int = COLUMNS, height: float = PANEL_H, constrained: bool = False
) -> tuple[Figure, list[Axes]]:
    """A 1,600 px wide figure with ``n`` panels, ``columns`` per row, ``height`` inches per row."""
    columns = max(1, min(columns, n))
    rows = max(1, int(np.ceil(n / columns)))
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(WIDTH_IN, height * rows + 0.9),
        squeeze=False,
        layout="constrained" if constrained else None,
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _save(fig: Figure, path: Path, title: str, legend: list[tuple[Any, str]] | None = None) -> Path:
    """Title (wrapped), a legend above the panels (as many columns as fit 1,600 px), layout, PNG."""
    height = fig.get_figheight()
    lines = textwrap.wrap(title, 140)
    fig.suptitle("\n".join(lines), fontsize=15, y=1 - 0.12 / height)
    top = 1 - (0.35 + 0.3 * len(lines)) / height
    if legend:
        labels = [label for _, label in legend]
        ncol = max(1, min(len(labels), 170 // (max(map(len, labels)) + 6)))
        fig.legend(
            [h for h, _ in legend],
            labels,
            loc="upper center",
            ncol=ncol,
            frameon=False,
            fontsize=11,
            bbox_to_anchor=(0.5, top + 0.05 / height),
        )
        top -= 0.3 * int(np.ceil(len(labels) / ncol)) / height
    fig.tight_layout(rect=(0, 0, 1, top))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=DPI)  # whole or not at all, never through a link
    plt.close(fig)
    return path


def _style(ax: Axes, title: str, ylabel: str, xlabel: str = "step") -> None:
    ax.set_title(title, fontsize=12)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.25)
    for axis in (ax.xaxis, ax.yaxis):  # few ticks, and 1e-4 as a power of ten rather than 0.0001
        if isinstance(axis.get_major_locator(), FixedLocator):
            continue  # ticks placed on purpose (rows of a forest plot, swept values)
        axis.set_major_locator(MaxNLocator(nbins=5))
        formatter = axis.get_major_formatter()
        if isinstance(formatter, ScalarFormatter):
            formatter.set_powerlimits((-3, 4))


def _band(ax: Axes, stats: pd.DataFrame, colour: Any, label: str) -> Any:
    stats = stats.astype(float)  # a curve of a metric that is undefined throughout holds no numbers
    (line,) = ax.plot(stats.index, stats["mean"], color=colour, lw=1.8, label=label)
    ax.fill_between(stats.index, stats["low"], stats["high"], color=colour, alpha=0.2, lw=0)
    return line


# ---------------------------------------------------------------------------- metric curves


def plot_metric_curves(
    metrics: pd.DataFrame,
    out: Path,
    columns: int = COLUMNS,
    names: list[str] | None = None,
    filename: str = "metrics.png",
    title: str | None = None,
) -> Path:
    """One panel per metric (default: every non-empty metric column): per variant (and sweep
    point) the mean over replicates with its 95% t-band (:func:`mean_ci` per step), titled in
    words with the unit on the y axis; written to ``out / filename``."""
    keys = sweep_columns(metrics.columns)
    if names is None:
        names = [c for c in metric_columns(metrics.columns) if metrics[c].notna().any()]
    found = [Point(key, dict(zip(keys, key[1:]))) for key in points(metrics)]
    replicates = metrics["replicate"].nunique()
    fig, axes = _grid(len(names), columns)
    legend: dict[str, Any] = {}
    for ax, name in zip(axes, names):
        for i, point in enumerate(found):
            stats = curves(metrics, name, point.key)
            legend[point.label] = _band(ax, stats, plt.get_cmap("tab10")(i % 10), point.label)
        _style(ax, title_of(name), ylabel_of(name))
    heading = title or "Metrics over time"
    heading += f" (mean and 95% t-interval over {replicates} replicates)"
    return _save(fig, out / filename, heading, [(h, label) for label, h in legend.items()])


def _slug(family: str) -> str:
    return family.replace(" and ", "_").replace(" ", "_")


def plot_metric_families(run_dir: str | Path | Run, out: Path) -> list[Path]:
    """metrics_<family>.png: :func:`plot_metric_curves` for each metric family."""
    run = load_run(run_dir)
    if not len(run.metrics):
        return []
    return [
        plot_metric_curves(
            run.metrics, out, names=names, filename=f"metrics_{_slug(family)}.png", title=family.capitalize()
        )
        for family, names in grouped(run.names).items()
    ]


def plot_paired_differences(run_dir: str | Path | Run, out: Path) -> list[Path]:
    """paired_<family>.png: per step, the paired difference of each point to its baseline
    (replicate r minus replicate r of the baseline, same seed), mean and 95% t-band over
    replicates; a band that leaves the zero line is a difference the replicates support."""
    run = load_run(run_dir)
    pairs = run.compared()
    if not pairs:
        return []
    replicates = run.metrics["replicate"].nunique()
    paths = []
    for family, names in grouped(run.names).items():
        fig, axes = _grid(len(names))
        legend: dict[str, Any] = {}
        for ax, name in zip(axes, names):
            ax.axhline(0, color="black", lw=0.8)
            for point, base in pairs:
                stats = paired_curves(run.metrics, name, point.key, base.key)
                label = point.label  # the title names the baseline
                legend[label] = _band(ax, stats, run.colour(point), label)
            _style(ax, f"Δ {title_of(name)}", f"difference in {ylabel_of(name)}")
        title = f"{family.capitalize()}: paired difference to {run.baseline_rule()} (mean and 95% t-interval over {replicates} replicates)"
        paths.append(_save(fig, out / f"paired_{_slug(family)}.png", title, [(h, k) for k, h in legend.items()]))
    return paths


def plot_forest(run_dir: str | Path | Run, out: Path) -> list[Path]:
    """forest.png: the final-step paired difference of each point to its baseline with its 95%
    t-interval, one panel per metric (metrics by family); filled markers: the interval excludes 0."""
    run = load_run(run_dir)
    pairs = run.compared()
    if not pairs:
        return []
    last = final_rows(run.metrics)
    names = [n for members in grouped(run.names).values() for n in members]
    fig, axes = _grid(len(names), height=0.55 * len(pairs) + 1.6)
    for ax, name in zip(axes, names):
        ax.axvline(0, color="black", lw=0.8)
        for row, (point, base) in enumerate(pairs):
            mean, low, high = mean_ci(paired(last, point.key, base.key, name).to_numpy(dtype=float))
            significant = np.isfinite(low) and (low > 0 or high < 0)
            colour = run.colour(point)
            ax.errorbar(
                mean,
                row,
                xerr=[[mean - low], [high - mean]] if np.isfinite(low) else None,
                fmt="o",
                color=colour,
                mfc=colour if significant else "white",
                ms=7,
                capsize=4,
            )
        # the rows are the same in every panel: name them in the first column only
        first_column = axes.index(ax) % min(COLUMNS, len(names)) == 0
        ax.set_yticks(range(len(pairs)), [p.label for p, _ in pairs] if first_column else [], fontsize=10)
        ax.set_ylim(len(pairs) - 0.5, -0.5)
        _style(ax, title_of(name), "", f"Δ {ylabel_of(name)}")
    title = (
        f"Final-step paired difference to {run.baseline_rule()} (95% t-interval over "
        f"{last['replicate'].nunique()} replicates; filled marker: the interval excludes 0)"
    )
    return [_save(fig, out / "forest.png", title)]


# ---------------------------------------------------------------------------- opinions (snapshots)


def _point_snapshots(run: Run, index: int, step: int | None = None, replicate: int | None = None) -> pd.DataFrame:
    snaps = run.snapshots[run.snapshots["point"] == index]
    if step is not None:
        snaps = snaps[snaps["step"] == step]
    if replicate is not None:
        snaps = snaps[snaps["replicate"] == replicate]
    return snaps


def plot_opinion_distributions(run_dir: str | Path | Run, out: Path, bins: int = 40) -> list[Path]:
    """opinion_final.png: the final opinion distribution (axis 0) of every point overlaid, as a
    density histogram; opinion_over_time.png: the same at every snapshot step, one small
    multiple per step. Replicates are pooled (said in the title)."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return []
    edges = np.linspace(-1, 1, bins + 1)
    steps = sorted(run.snapshots["step"].unique())
    replicates = run.snapshots["replicate"].nunique()

    def draw(ax: Axes, step: int) -> dict[str, Any]:
        handles = {}
        for i, point in enumerate(run.points):
            values = _opinions(list(_point_snapshots(run, i, step)["path"]))
            if values.size:
                _, _, patches = ax.hist(
                    values,
                    bins=list(edges),
                    density=True,
                    histtype="step",
                    lw=1.8,
                    color=run.colour(point),
                    label=point.label,
                )
                handles[point.label] = patches[0] if isinstance(patches, list) else patches
        return handles

    fig, axes = _grid(1, 1, height=5.2)
    handles = draw(axes[0], steps[-1])
    _style(axes[0], f"step {steps[-1]}", "density (users per unit opinion)", "opinion (axis 0)")
    paths = [
        _save(
            fig,
            out / "opinion_final.png",
            f"Final opinion distribution per variant ({_pooled_note(run, replicates)})",
            [(h, k) for k, h in handles.items()],
        )
    ]
    fig, axes = _grid(len(steps), min(COLUMNS, len(steps)), height=3.2)
    for ax, step in zip(axes, steps):
        handles = draw(ax, step)
        _style(ax, f"step {step}", "density", "opinion (axis 0)")
    paths.append(
        _save(
            fig,
            out / "opinion_over_time.png",
            f"Opinion distribution at every snapshot ({_pooled_note(run, replicates)})",
            [(h, k) for k, h in handles.items()],
        )
    )
    return paths


def plot_initial_vs_final(run_dir: str | Path | Run, out: Path, replicate: int = 0) -> list[Path]:
    """opinion_initial_final.png: each user's initial (first snapshot) against final opinion
    (axis 0), one panel per point, for one replicate (said in the title); points above the
    diagonal moved up, the dashed lines mark the centre."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return []
    panels = []
    for i, point in enumerate(run.points):
        snaps = _point_snapshots(run, i, replicate=replicate).sort_values("step")
        if len(snaps) >= 2:
            panels.append((point, snaps.iloc[0], snaps.iloc[-1]))
    if not panels:
        return []
    fig, axes = _grid(len(panels), height=4.0)
    for ax, (point, first, last) in zip(axes, panels):
        x, y = _opinions([first["path"]]), _opinions([last["path"]])
        ax.scatter(x, y, s=4, alpha=0.35, color=run.colour(point), lw=0)
        ax.plot([-1, 1], [-1, 1], color="black", lw=0.8)
        ax.axhline(0, color="grey", lw=0.6, ls="--")
        ax.axvline(0, color="grey", lw=0.6, ls="--")
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05))
        ax.set_aspect("equal")
        _style(ax, point.label, f"opinion at step {last['step']}", f"opinion at step {first['step']}")
    return [_save(fig, out / "opinion_initial_final.png", f"Initial vs final opinion per user (replicate {replicate})")]


def plot_exposure_vs_opinion(run_dir: str | Path | Run, out: Path, bins: int = 20) -> list[Path]:
    """exposure_vs_opinion.png: each user's mean exposure extremeness over the run (the final
    snapshot's running mean of e_j shown to the user) against their final opinion, one panel per
    point: replicate 0 as dots, the binned mean over all replicates with its 95% t-interval
    across replicates as the line and band."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return []
    step = int(run.snapshots["step"].max())
    edges = np.linspace(-1, 1, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    panels = [(i, p) for i, p in enumerate(run.points) if len(_point_snapshots(run, i, step))]
    if not panels:
        return []
    fig, axes = _grid(len(panels), height=4.0)
    replicates = run.snapshots["replicate"].nunique()
    for ax, (i, point) in zip(axes, panels):
        snaps = _point_snapshots(run, i, step).sort_values("replicate")
        per_replicate = []
        for _, snap in snaps.iterrows():
            x, e = _opinions([snap["path"]]), _opinions([snap["path"]], "exposure_extremeness")
            if snap["replicate"] == snaps["replicate"].iloc[0]:
                ax.scatter(x, e, s=4, alpha=0.3, color=run.colour(point), lw=0)
            which = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
            total = np.bincount(which, weights=np.nan_to_num(e), minlength=bins)
            count = np.bincount(which, weights=np.isfinite(e), minlength=bins)
            per_replicate.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
        table = np.array(per_replicate)
        stats = pd.DataFrame(
            [mean_ci(table[:, b]) for b in range(bins)], index=centres, columns=["mean", "low", "high"]
        )
        _band(ax, stats, "black", "binned mean")
        ax.set(xlim=(-1.05, 1.05), ylim=(0, 1))
        _style(ax, point.label, "mean e_j shown to the user (0 to 1)", f"opinion at step {step}")
    title = (
        f"Exposure extremeness against opinion at step {step} (dots: replicate {int(run.snapshots['replicate'].min())}; "
        f"line: binned mean, 95% t-interval over {replicates} replicates)"
    )
    return [_save(fig, out / "exposure_vs_opinion.png", title)]


def plot_opinion_heatmaps(run_dir: str | Path | Run, out: Path, bins: int = 40) -> list[Path]:
    """opinion_heatmap.png: the opinion distribution (axis 0, share of users per bin) at every
    snapshot, one panel per point in scenario order, each snapshot a column centred on its step,
    one colour scale and colorbar for all panels; replicates pooled (said in the title)."""
    run = load_run(run_dir)
    if not len(run.snapshots):
        return []
    edges = np.linspace(-1, 1, bins + 1)
    steps = np.array(sorted(run.snapshots["step"].unique()))
    # column edges halfway between snapshots, so each snapshot covers its own step
    mids = (steps[:-1] + steps[1:]) / 2 if len(steps) > 1 else np.empty(0)
    first = steps[0] - (mids[0] - steps[0] if len(mids) else 0.5)
    last = steps[-1] + (steps[-1] - mids[-1] if len(mids) else 0.5)
    x_edges = np.concatenate([[first], mids, [last]])
    images = []
    for i, point in enumerate(run.points):
        columns = []
        for step in steps:
            values = _opinions(list(_point_snapshots(run, i, int(step))["path"]))
            counts, _ = np.histogram(values, bins=edges)
            columns.append(counts / max(counts.sum(), 1) if values.size else np.full(bins, np.nan))
        images.append((point, np.stack(columns, axis=1)))
    vmax = max(float(np.nanmax(image)) for _, image in images if np.isfinite(image).any())
    fig, axes = _grid(len(images), height=3.8, constrained=True)  # constrained: room for the shared colorbar
    mesh = None
    for ax, (point, image) in zip(axes, images):
        mesh = ax.pcolormesh(x_edges, edges, image, cmap="magma", vmin=0, vmax=vmax, shading="flat")
        _style(ax, point.label, "opinion (axis 0)")
        ax.grid(False)
    if mesh is not None:
        bar = fig.colorbar(mesh, ax=axes, shrink=0.9, pad=0.01)
        bar.set_label("share of users per bin", fontsize=10)
    replicates = run.snapshots["replicate"].nunique()
    title = f"Opinion distribution over time ({_pooled_note(run, replicates)}; every one of {len(steps)} snapshots)"
    fig.suptitle(title, fontsize=15)
    path = out / "opinion_heatmap.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=DPI)
    plt.close(fig)
    return [path]


# ---------------------------------------------------------------------------- sweeps


def _axis_values(values: list[Any]) -> tuple[np.ndarray, list[str] | None]:
    """Positions on the x axis: the values if numeric, else 0..n-1 with the values as tick labels."""
    try:
        return np.array([float(v) for v in values]), None
    except (TypeError, ValueError):
        return np.arange(len(values), dtype=float), [str(v) for v in values]


def plot_sweep(run_dir: str | Path | Run, out: Path) -> list[Path]:
    """sweep_<key>.png for each swept key: each metric's final value (mean and 95% t-interval over
    replicates) against the swept value, one line per variant and value of the other swept keys;
    phase_<variant>.png when two keys are swept: the final mean of each metric on the 2-D grid
    (a phase diagram)."""
    run = load_run(run_dir)
    keys = list(run.sweep)
    if not keys or not len(run.metrics):
        return []
    last = final_rows(run.metrics)
    names = [n for members in grouped(run.names).values() for n in members]
    variants = list(dict.fromkeys(p.variant for p in run.points))
    replicates = last["replicate"].nunique()
    paths = []
    for k, key in enumerate(keys):
        x, ticks = _axis_values(run.sweep[key])
        others = [[(o, v) for v in run.sweep[o]] for o in keys if o != key]
        lines = [(variant, dict(rest)) for variant in variants for rest in itertools.product(*others)]
        fig, axes = _grid(len(names))
        legend: dict[str, Any] = {}
        cmap = plt.get_cmap("tab10")
        for ax, name in zip(axes, names):
            for j, (variant, rest) in enumerate(lines):
                stats = []
                for value in run.sweep[key]:
                    sweep = {o: rest.get(o, value) for o in keys}
                    frame = _select(last, (variant, *sweep.values()))
                    stats.append(mean_ci(frame[name].to_numpy(dtype=float)))
                mean, low, high = np.array(stats).T
                label = point_label(variant, rest)
                colour = cmap(j % 10)
                legend[label] = ax.errorbar(
                    x, mean, yerr=[mean - low, high - mean], fmt="o-", color=colour, capsize=4, lw=1.6, label=label
                )
            if ticks is not None:
                ax.set_xticks(x, ticks)
            _style(ax, title_of(name), ylabel_of(name), key)
        title = f"Final value against {key} (mean and 95% t-interval over {replicates} replicates)"
        paths.append(
            _save(fig, out / f"sweep_{k}_{_safe(key)}.png", title, [(h, label) for label, h in legend.items()])
        )
    if len(keys) == 2:
        paths += _phase_diagrams(run, last, names, variants, keys, replicates, out)
    return paths


def _phase_diagrams(
    run: Run, last: pd.DataFrame, names: list[str], variants: list[str], keys: list[str], replicates: int, out: Path
) -> list[Path]:
    (kx, ky), paths = keys, []
    xs, ys = run.sweep[kx], run.sweep[ky]
    for variant in variants:
        fig, axes = _grid(len(names), height=3.9)
        for ax, name in zip(axes, names):
            image = np.full((len(ys), len(xs)), np.nan)
            for a, vx in enumerate(xs):
                for b, vy in enumerate(ys):
                    image[b, a] = mean_ci(_select(last, (variant, vx, vy))[name].to_numpy(dtype=float))[0]
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
                            fontsize=8,
                            color="white",
                            path_effects=[matplotlib.patheffects.withStroke(linewidth=1.5, foreground="black")],
                        )
            ax.set_xticks(range(len(xs)), [str(v) for v in xs])
            ax.set_yticks(range(len(ys)), [str(v) for v in ys])
            bar = fig.colorbar(mesh, ax=ax, shrink=0.85)
            bar.ax.tick_params(labelsize=8)
            _style(ax, title_of(name), ky, kx)
            ax.grid(False)
        title = f"Phase diagram of {variant}: final mean over {replicates} replicates on the {kx} x {ky} grid"
        paths.append(_save(fig, out / f"phase_{_safe(variant)}.png", title))
    return paths


def _short(value: float) -> str:
    return (
        f"{value:.2g}" if abs(value) < 0.01 and value != 0 else f"{value:.2f}" if abs(value) < 100 else f"{value:.3g}"
    )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


# ---------------------------------------------------------------------------- all of them

FIGURES = [
    plot_metric_families,
    plot_paired_differences,
    plot_forest,
    plot_opinion_distributions,
    plot_opinion_heatmaps,
    plot_initial_vs_final,
    plot_exposure_vs_opinion,
    plot_sweep,
]


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write figures/*.png for a run folder (every function of :data:`FIGURES`); returns their
    paths in the order the report shows them."""
    run_dir = Path(run_dir)
    out = ensure_folder(run_dir, "figures")  # a link there is refused, not written through
    run = load_run(run_dir)
    paths: list[Path] = []
    for figure in FIGURES:
        paths += figure(run, out)
    return paths
