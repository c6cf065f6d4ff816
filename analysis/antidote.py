"""Antidote data in the closed loop (Rastegarpanah, Gummadi & Crovella 2019; issue 25): tables and figures.

    python analysis/antidote.py RUN_DIR --out DIR

Reads a run of scenarios/antidote.yaml (variants ``als*`` and ``dlrm*``) and writes
DIR/antidote_closed_loop.md with, per feed:

1. **the per-retrain antidote effect** (the ``antidote_effect`` column: R_pol on the probe of
   the model retrained with the antidote rows over R_pol of the same retrain without them,
   minus 1): its mean over replicates with the 95% t-interval at every retrain, and over all
   retrains the mean, the share of retrains below 0 and the largest value;
2. **R_pol over time**: the mean over replicates at every recorded step
   (DIR/antidote_rpol_FEED.png, one line per variant);
3. **whether the society moves**: the paired differences (replicates paired by seed, the
   project's 95% t-interval) of every antidote variant to the same feed without antidote, at
   the final step and averaged over the run's recorded steps, of rpol, unfairness_individual,
   opinion_variance, polarization_er, extremity, exposure_extremeness and ctr
   (DIR/antidote_closed_loop_FEED.png, a forest plot of the final step).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _phenomena import folders

from simlab.outputs.compare import in_scenario_order, paired_differences, to_markdown
from simlab.outputs.compare_figures import plot_forest
from simlab.running.files import read_metrics
from simlab.running.summary import interval

SCENARIO = "scenarios/antidote.yaml"  # the run this script reads (analysis/README.md)
TINY = {"population.size": 60, "catalog.size": 80}
METRICS = [
    "rpol",
    "unfairness_individual",
    "opinion_variance",
    "polarization_er",
    "extremity",
    "exposure_extremeness",
    "ctr",
]
FEEDS = ("als", "dlrm")


def feed_variants(metrics: pd.DataFrame, feed: str) -> list[str]:
    """The feed's variants in scenario order, the one without antidote first."""
    return [v for v in dict.fromkeys(metrics["variant"]) if v == feed or v.startswith(f"{feed}_")]


def differences(metrics: pd.DataFrame, averaged: bool = False) -> dict[str, pd.DataFrame]:
    """Per feed, the paired differences of its antidote variants to that feed without antidote:
    at the final step, or (``averaged``) of each replicate's mean over its recorded steps."""
    tables: dict[str, pd.DataFrame] = {}
    for feed in FEEDS:
        variants = feed_variants(metrics, feed)
        if feed in variants and len(variants) > 1:
            subset = metrics[metrics["variant"].isin(variants)]
            if averaged:
                names = [c for c in METRICS if c in subset.columns]
                subset = subset.groupby(["variant", "replicate"], sort=False)[names].mean().reset_index()
                subset["step"] = 0
            tables[feed] = paired_differences(subset, baseline=feed, names=METRICS)
    return tables


def effect_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per antidote variant and retrain (recorded step with a value): the mean antidote effect
    over replicates (%) with its 95% t-interval and the number of replicates."""
    rows = []
    have = metrics[np.isfinite(metrics["antidote_effect"])]
    for (variant, step), group in have.groupby(["variant", "step"], sort=False):
        ci = interval(100 * group["antidote_effect"].to_numpy())
        rows.append({"variant": variant, "step": int(step), "mean_pct": ci.mean, "low": ci.low, "high": ci.high,
                     "n": ci.n})  # fmt: skip
    return pd.DataFrame(rows)


def effect_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per antidote variant, over every (replicate, retrain): the mean effect (%), the share of
    retrains below 0, the largest effect (%) and the largest per-retrain mean over replicates (%)."""
    rows = []
    for variant, group in metrics.groupby("variant", sort=False):
        values = 100 * group["antidote_effect"].to_numpy()
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        per_retrain = group[np.isfinite(group["antidote_effect"])].groupby("step")["antidote_effect"].mean() * 100
        rows.append({"variant": variant, "retrains": values.size, "mean_pct": values.mean(),
                     "below_zero": float((values < 0).mean()), "max_pct": values.max(),
                     "max_retrain_mean_pct": per_retrain.max()})  # fmt: skip
    return pd.DataFrame(rows)


def effect_markdown(table: pd.DataFrame, summary: pd.DataFrame, feed: str) -> str:
    """The per-retrain table of one feed (rows: retrain steps; columns: variants) and its summary."""
    part = table[table["variant"].str.startswith(f"{feed}_")]
    if part.empty:
        return ""
    cells = part.assign(cell=[f"{r.mean_pct:+.1f} [{r.low:+.1f}, {r.high:+.1f}]" for r in part.itertuples()])
    wide = cells.pivot(index="step", columns="variant", values="cell")[list(dict.fromkeys(part["variant"]))]
    lines = [f"### {feed}: antidote effect per retrain (%, mean [95% interval] over replicates)", ""]
    lines.append("| step | " + " | ".join(wide.columns) + " |")
    lines.append("|---" * (len(wide.columns) + 1) + "|")
    lines += [f"| {step} | " + " | ".join(str(v) for v in row) + " |" for step, row in wide.iterrows()]
    rows = summary[summary["variant"].str.startswith(f"{feed}_")]
    lines += ["", "| variant | retrains | mean (%) | share < 0 | largest (%) | largest retrain mean (%) |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {r.variant} | {r.retrains} | {r.mean_pct:+.2f} | {r.below_zero:.0%} | {r.max_pct:+.2f} | "
        f"{r.max_retrain_mean_pct:+.2f} |"
        for r in rows.itertuples()
    ]
    return "\n".join(lines) + "\n"


def plot_rpol(metrics: pd.DataFrame, feed: str, out: Path) -> Path | None:
    """R_pol over time: the mean over replicates of every variant of ``feed``."""
    variants = feed_variants(metrics, feed)
    if not variants:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for variant in variants:
        mean = metrics[metrics["variant"] == variant].groupby("step")["rpol"].mean()
        ax.plot(mean.index, mean.to_numpy(), marker="o", ms=3, lw=2.2 if variant == feed else 1.2, label=variant)
    ax.set_xlabel("step")
    ax.set_ylabel("R_pol on the probe (mean over replicates)")
    ax.set_title(f"{feed}: predicted polarization over time")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"antidote_rpol_{feed}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = in_scenario_order(read_metrics(run_dir / "metrics.csv"), run_dir)
    replicates = metrics["replicate"].nunique()
    steps = int(metrics["step"].max()) + 1
    sections = [f"# Antidote data in the closed loop: {replicates} paired replicates, {steps} steps", ""]
    sections.append(
        "Generated by `python analysis/antidote.py RUN_DIR --out docs` from a run of `scenarios/antidote.yaml`.\n"
    )
    if "antidote_effect" in metrics.columns:
        table, summary = effect_table(metrics), effect_summary(metrics)
        sections += ["## The antidote effect, retrain by retrain", ""]
        sections += [effect_markdown(table, summary, feed) for feed in FEEDS]
    sections += ["## R_pol over time", ""]
    for feed in FEEDS:
        if plot_rpol(metrics, feed, out) is not None:
            sections.append(f"![R_pol over time, {feed}](antidote_rpol_{feed}.png)\n")
    final, averaged = differences(metrics), differences(metrics, averaged=True)
    sections += ["## Paired differences to the same feed without antidote, final step", ""]
    sections += [to_markdown(part) for part in final.values()]
    sections += ["## Paired differences, each replicate's mean over the recorded steps", ""]
    sections += [
        to_markdown(part).replace(" at step 0 (", " averaged over the recorded steps (") for part in averaged.values()
    ]
    text = "\n".join(sections)
    (out / "antidote_closed_loop.md").write_text(text + "\n")
    for feed, part in final.items():  # one figure per feed: their rpol scales differ 100-fold
        plot_forest(part, out, columns=3, filename=f"antidote_closed_loop_{feed}.png")
    print(text)


if __name__ == "__main__":
    main()
