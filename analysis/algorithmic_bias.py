"""Phenomenon 8, algorithmic bias (Sîrbu et al., PLOS ONE 2019): figure and table.

    python analysis/algorithmic_bias.py RUN_DIR --out DIR

From the snapshots of a gamma x confidence sweep (scenarios/algorithmic_bias_sweep.yaml): per
grid point and replicate, the effective number of opinion clusters N_c = (sum S)^2 / sum S^2
(Sîrbu et al.'s measure; clusters split at gaps > 0.02 on [-1, 1]) at the last snapshot, and the
convergence time: the first snapshot step after which the opinion variance stays within 1% of its
final value. Writes DIR/algorithmic_bias.png (top: opinion variance over time, one panel per
confidence eps, one line per gamma; bottom: effective clusters and steps to converge against
gamma, one line per eps; every band and whisker the 95% t-interval over replicates) and
DIR/algorithmic_bias.md (d = eps / 2 is the paper's bound on [0, 1]).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _phenomena import folders, with_note
from matplotlib.lines import Line2D

from simlab.outputs.page_figures import colour, notes, page, save, style
from simlab.results.intervals import interval, mean_ci, metric_bounds, step_intervals

SCENARIO = "scenarios/algorithmic_bias_sweep.yaml"
GAMMA, CONFIDENCE = "dynamics.gamma", "population.confidence"


def effective_clusters(x: np.ndarray, gap: float = 0.02) -> float:
    v = np.sort(x)
    cuts = np.flatnonzero(np.diff(v) > gap)
    sizes = np.diff(np.concatenate([[0], cuts + 1, [v.size]]))
    return float(sizes.sum() ** 2 / (sizes**2).sum())


def final_clusters(run_dir: Path) -> pd.DataFrame:
    """(gamma, confidence, replicate, clusters) at each task's last snapshot."""
    last: dict[tuple[float, float, int], tuple[int, Path]] = {}
    for path in (run_dir / "snapshots").glob("*.npz"):
        with np.load(path) as data:
            sweep = json.loads(str(data["sweep"]))
            key = (float(sweep[GAMMA]), float(sweep[CONFIDENCE]), int(data["replicate"]))
            step = int(data["step"])
        if key not in last or step > last[key][0]:
            last[key] = (step, path)
    rows = []
    for (gamma, eps, rep), (_, path) in last.items():
        with np.load(path) as data:
            rows.append(
                {"gamma": gamma, "eps": eps, "replicate": rep, "clusters": effective_clusters(data["opinion"][:, 0])}
            )
    return pd.DataFrame(rows)


def convergence_steps(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (gamma, eps, rep), frame in metrics.groupby([GAMMA, CONFIDENCE, "replicate"]):
        v = frame.sort_values("step")
        var, steps = v["opinion_variance"].to_numpy(), v["step"].to_numpy()
        off = np.abs(var - var[-1]) > 0.01 * max(var[0], 1e-12)
        t = (
            steps[np.flatnonzero(off)[-1] + 1]
            if off.any() and off[-1] == 0
            else (steps[0] if not off.any() else np.nan)
        )
        rows.append({"gamma": float(gamma), "eps": float(eps), "replicate": rep, "converged_at": t})
    return pd.DataFrame(rows)


def table(clusters: pd.DataFrame, times: pd.DataFrame) -> str:
    both = clusters.merge(times, on=["gamma", "eps", "replicate"])
    rows = [
        "| d (paper) | eps | gamma | effective clusters [95% CI] | steps to converge [95% CI] |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (eps, gamma), frame in both.groupby(["eps", "gamma"]):
        # intervals cut at what the quantities can take: at least one cluster, at least 0 steps
        c = mean_ci(frame["clusters"].to_numpy(float), (1.0, np.inf))
        t = mean_ci(frame["converged_at"].to_numpy(float), (0.0, np.inf))
        rows.append(
            f"| {eps / 2:g} | {eps:g} | {gamma:g} | {c[0]:.2f} [{c[1]:.2f}, {c[2]:.2f}] | "
            f"{t[0]:.0f} [{t[1]:.0f}, {t[2]:.0f}] |"
        )
    return "\n".join(rows)


def figure(metrics: pd.DataFrame, clusters: pd.DataFrame, times: pd.DataFrame) -> dict:
    """The figure (see the module docstring): 3 variance panels, then clusters and convergence,
    and the key of the bottom row's lines in the last cell."""
    gammas, epsilons = sorted(metrics[GAMMA].unique()), sorted(metrics[CONFIDENCE].unique())
    replicates = int(metrics["replicate"].nunique())
    legend = [(f"gamma = {g:g}", colour(i)) for i, g in enumerate(gammas)]
    sheet = page(
        len(epsilons) + 3,
        f"Algorithmic bias without feed influence: mean and 95% t-interval over {replicates} replicates",
        notes(replicates),
        legend,
    )
    for ax, eps in zip(sheet.axes, epsilons):
        for i, gamma in enumerate(gammas):
            rows = metrics[(metrics[GAMMA] == gamma) & (metrics[CONFIDENCE] == eps)]
            band = step_intervals(rows.set_index("step")["opinion_variance"], metric_bounds("opinion_variance"))
            ax.plot(band.index, band["mean"], color=colour(i), lw=1.3)
            ax.fill_between(band.index, band["low"], band["high"], color=colour(i), alpha=0.18, lw=0)
        ax.margins(x=0)
        style(ax, f"confidence eps = {eps:g} (d = {eps / 2:g})", "opinion variance (opinion²)")
    both = clusters.merge(times, on=["gamma", "eps", "replicate"])
    shades = ["#1b9e77", "#d95f02", "#7570b3"]  # the bottom row's lines: one per eps, not gamma's colours
    markers = ["o", "s", "^"]
    panels = [
        ("clusters", "Effective clusters at the end", "clusters N_c"),
        ("converged_at", "Time to converge", "steps"),
    ]
    for ax, (column, title, unit) in zip(sheet.axes[len(epsilons) :], panels):
        for j, eps in enumerate(epsilons):
            part = both[both["eps"] == eps]
            floor = 1.0 if column == "clusters" else 0.0  # at least one cluster, at least 0 steps
            found = [interval(part.loc[part["gamma"] == g, column].to_numpy(float), (floor, np.inf)) for g in gammas]
            mean = np.array([f.mean for f in found])
            low, high = np.array([f.low for f in found]), np.array([f.high for f in found])
            offset = (j - 1) * 0.04  # side by side, so that whiskers do not hide each other
            ax.errorbar(np.array(gammas) + offset, mean, yerr=[mean - low, high - mean], fmt=f"{markers[j]}--",
                        color=shades[j], ms=3, lw=1, capsize=2)  # fmt: skip
        style(ax, title, unit, "bias exponent gamma")
    key = sheet.axes[-1]
    key.axis("off")
    handles = [Line2D([], [], color=shades[j], marker=markers[j], ls="--", ms=4) for j in range(len(epsilons))]
    key.legend(handles, [f"eps = {e:g} (d = {e / 2:g})" for e in epsilons], loc="center", frameon=False, fontsize=7.5,
               title="bottom row: confidence", title_fontsize=7.5)  # fmt: skip
    return {"algorithmic_bias.png": sheet.figure}


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    clusters, times = final_clusters(run_dir), convergence_steps(metrics)
    save(figure(metrics, clusters, times), out)
    text = with_note(table(clusters, times), run_dir)
    (out / "algorithmic_bias.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
