"""Phenomenon 8, algorithmic bias (Sîrbu et al., PLOS ONE 2019): figure and table.

    python analysis/algorithmic_bias.py RUN_DIR --out DIR

From the snapshots of a gamma x confidence sweep (scenarios/algorithmic_bias_sweep.yaml): per
grid point and replicate, the effective number of opinion clusters N_c = (sum S)^2 / sum S^2
(Sîrbu et al.'s measure; clusters split at gaps > 0.02 on [-1, 1]) at the last snapshot, and the
convergence time: the first snapshot step after which the opinion variance stays within 1% of its
final value. Writes DIR/algorithmic_bias.png (variance over time per grid point) and
DIR/algorithmic_bias.md (d = eps / 2 is the paper's bound on [0, 1]).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.outputs.plotting import plot_metric_curves
from simlab.running.summary import mean_ci

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
        c, t = mean_ci(frame["clusters"].to_numpy(float)), mean_ci(frame["converged_at"].to_numpy(float))
        rows.append(
            f"| {eps / 2:g} | {eps:g} | {gamma:g} | {c[0]:.2f} [{c[1]:.2f}, {c[2]:.2f}] | "
            f"{t[0]:.0f} [{t[1]:.0f}, {t[2]:.0f}] |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="where the figure and table go (default RUN_DIR)")
    args = parser.parse_args()
    out = args.out or args.run_dir
    out.mkdir(parents=True, exist_ok=True)
    metrics = pd.read_csv(args.run_dir / "metrics.csv")
    plot_metric_curves(
        metrics,
        out,
        columns=2,
        names=["opinion_variance", "polarization_er"],
        filename="algorithmic_bias.png",
        title="Algorithmic bias: gamma x confidence (no feed influence)",
    )
    text = table(final_clusters(args.run_dir), convergence_steps(metrics))
    (out / "algorithmic_bias.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
