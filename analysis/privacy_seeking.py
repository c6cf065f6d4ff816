"""Phenomenon 9, privacy-seeking users led away from reliable information (Spinelli & Crovella,
UMAP 2020 adjunct): figure and table.

    python analysis/privacy_seeking.py RUN_DIR --out DIR

Items have a reliability r_j (catalog ``reliability``), users value it unequally, and 30% of the
users are logged out (one anonymous id, no history). For each variant: the reliability gap, the
share of unreliable items (r_j below the metric's threshold) shown to (and engaged with by) the
logged-out users minus that of the logged-in users of the same replicate, over time (mean and
95% t-interval over the paired replicates) and at the final step. Writes DIR/privacy_seeking.png
(the exposure gap over time, one line per variant with its band) and DIR/privacy_seeking.md
(the table at the final step, with the gap's mean over the last 10 steps).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from _phenomena import ci, fmt, folders, read, with_note

SCENARIO = "scenarios/privacy_seeking.yaml"
MEASURES = {"exposure_unreliable": "unreliable share shown", "consumption_unreliable": "unreliable share engaged"}


def gaps(metrics: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per variant, replicate and step: the ``measure`` of the logged-out cohort minus that of
    the logged-in cohort (columns variant, replicate, step, gap)."""
    out = metrics[["variant", "replicate", "step"]].copy()
    out["gap"] = metrics[f"{measure}_logged_out"] - metrics[f"{measure}_logged_in"]
    return out


TAIL = 10  # steps the per-replicate mean gap is taken over (a single step's gap is noisy)


def table(metrics: pd.DataFrame) -> str:
    """Markdown table at the final step: each cohort's share and the paired gap, per variant,
    and the paired gap averaged over the last :data:`TAIL` steps of each replicate."""
    final = metrics[metrics["step"] == metrics["step"].max()]
    recent = metrics[metrics["step"] > metrics["step"].max() - TAIL]
    lines = [
        "| variant | measure | logged out | logged in | logged out - logged in (paired) "
        f"| gap, mean of the last {TAIL} steps (paired) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for variant in final["variant"].unique():
        v = final[final["variant"] == variant].set_index("replicate")
        for measure in MEASURES:
            out, inn = v[f"{measure}_logged_out"], v[f"{measure}_logged_in"]
            cells = [
                fmt(out, metric=f"{measure}_logged_out"),
                fmt(inn, metric=f"{measure}_logged_in"),
                fmt(out - inn, signed=True, metric=f"{measure}_logged_in"),
            ]
            tail = gaps(recent[recent["variant"] == variant], measure).groupby("replicate")["gap"].mean()
            cells.append(fmt(tail, signed=True, metric=f"{measure}_logged_in"))
            lines.append(f"| {variant} | {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(metrics: pd.DataFrame, path: Path) -> None:
    """The gap over time per variant (mean over replicates, 95% t-band), one panel per measure."""
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(6 * len(MEASURES), 4), sharey=True)
    for ax, (measure, words) in zip(axes, MEASURES.items()):
        data = gaps(metrics, measure)
        for variant, v in data.groupby("variant", sort=False):
            rows = [(step, *ci(s["gap"].dropna())) for step, s in v.groupby("step") if s["gap"].notna().any()]
            if not rows:
                continue
            steps, mean, low, high = zip(*rows)
            ax.plot(steps, mean, label=str(variant))
            ax.fill_between(steps, low, high, alpha=0.2)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(f"Logged-out minus logged-in: {words}")
        ax.set_xlabel("step")
        ax.set_ylabel("difference of shares")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = read(run_dir)
    figure(metrics, out / "privacy_seeking.png")
    text = with_note(table(metrics), run_dir)
    (out / "privacy_seeking.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
