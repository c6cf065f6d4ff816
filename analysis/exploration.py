"""Phenomenon 3, personalisation drives opinions outward and randomness trades engagement for
impact (Rossi, Polderman & Frasca 2018; Perra & Rocha, Sci. Rep. 2019): figure and table.

    python analysis/exploration.py RUN_DIR --out DIR

For each exploration epsilon of the sweep: ctr (mean over the last 10 steps) against opinion
extremity at the final step, mean and 95% CI over replicates. Writes DIR/exploration.png (the
trade-off curve) and DIR/exploration.md.
"""

from __future__ import annotations

import pandas as pd
from _phenomena import bounds_of, ci, fmt, folders, read, sweep_values, tail_mean, with_note

from simlab.outputs.phenomena_figures import plot_tradeoff

SCENARIO = "scenarios/exploration.yaml"
KEY = "recommender.policy.epsilon"
WINDOW = 10


def per_epsilon(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (epsilon, replicate): ctr over the last WINDOW steps, final opinion metrics."""
    metrics = metrics.assign(epsilon=sweep_values(metrics, KEY))
    ctr = tail_mean(metrics, "ctr", WINDOW, ["epsilon"])
    final = metrics[metrics["step"] == metrics["step"].max()]
    cols = ["epsilon", "replicate", "extremity", "opinion_variance", "exposure_extremeness"]
    return ctr.merge(final[cols], on=["epsilon", "replicate"])


def table(rows: pd.DataFrame) -> str:
    """Means with 95% CIs, and the paired differences to epsilon 0 (replicate r of every sweep
    point shares its seed, so the society is the same and only the feed differs)."""
    lines = [
        "| epsilon | ctr (last 10 steps) | extremity | ctr - eps 0 (paired) | extremity - eps 0 (paired) "
        "| opinion_variance | exposure_extremeness |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = rows[rows["epsilon"] == rows["epsilon"].min()].set_index("replicate")
    for eps, g in rows.groupby("epsilon"):
        g = g.set_index("replicate")
        cells = [fmt(g["ctr"], metric="ctr"), fmt(g["extremity"], metric="extremity")]
        cells += [fmt(g[c] - base[c], signed=True, metric=c) for c in ("ctr", "extremity")]
        cells += [fmt(g[c], metric=c) for c in ("opinion_variance", "exposure_extremeness")]
        lines.append(f"| {eps:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    run_dir, out = folders(__doc__)
    rows = per_epsilon(read(run_dir))
    groups = list(rows.groupby("epsilon"))
    plot_tradeoff(
        [ci(g["extremity"], bounds_of("extremity")) for _, g in groups],
        [ci(g["ctr"], bounds_of("ctr")) for _, g in groups],
        [f"eps {eps:g}" for eps, _ in groups],
        out / "exploration.png",
        "opinion extremity mean |x| (final step)",
        f"ctr (mean of the last {WINDOW} steps)",
        "Exploration: engagement against opinion impact (oracle, epsilon-greedy)",
    )
    text = with_note(table(rows), run_dir)
    (out / "exploration.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
