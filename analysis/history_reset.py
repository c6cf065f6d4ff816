"""Phenomenon 5b, the "history reset" experiment (after Hosseinmardi et al., PNAS 2024):
figure and table.

    python analysis/history_reset.py RUN_DIR --out DIR

The platform's records (history bag, counters) of a random half of the users are wiped before
step RESET (the history_reset intervention); the other half is the never-wiped control. For the
opinion distance d_ij of the shown items (how closely a feed matches its user) and for their
extremeness e_j, the gap wiped - control is followed from RESET on (mean over replicates). The
band is the gap's own noise: twice the standard deviation of the per-step gap over the last
BAND_STEPS steps of the run. Recovery is the first step from which the gap stays inside the
band for HOLD steps; "steps to recover" counts from RESET. Writes DIR/history_reset.png and
DIR/history_reset.md.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from _phenomena import fmt, folders, read, with_note

from simlab.outputs.metric_figures import plot_metric_curves

SCENARIO = "scenarios/history_reset.yaml"
MEASURES = {"exposure_distance": "opinion distance of the feed", "exposure_extremeness": "extremeness of the feed"}
BAND_STEPS = 10
HOLD = 3


def reset_step(run_dir: Path) -> int:
    doc = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    return int(next(i["step"] for i in doc["interventions"] if i["type"] == "history_reset"))


def recovery(gap: pd.Series, start: int) -> tuple[float, float, int | None]:
    """(gap at ``start``, band, steps from ``start`` until the mean gap stays inside the band)."""
    band = 2 * float(gap.iloc[-BAND_STEPS:].std(ddof=1))
    inside = (gap - gap.iloc[-BAND_STEPS:].mean()).abs() <= band
    steps = gap.index.to_numpy()
    for i in range(len(steps) - HOLD + 1):
        if inside.iloc[i : i + HOLD].all():
            return float(gap.iloc[0]), band, int(steps[i] - start)
    return float(gap.iloc[0]), band, None


def table(metrics: pd.DataFrame, start: int) -> str:
    lines = [
        "| variant | measure | gap wiped - control at the reset step [95% CI] | band (+-) | steps to recover |",
        "| --- | --- | --- | --- | --- |",
    ]
    after = metrics[metrics["step"] >= start]
    for variant in after["variant"].unique():
        v = after[after["variant"] == variant]
        for measure in MEASURES:
            per_rep = v[f"{measure}_reset"] - v[f"{measure}_kept"]
            gap = per_rep.groupby(v["step"]).mean()
            first = per_rep[v["step"] == start]
            _, band, steps = recovery(gap, start)
            shown = "not within the run" if steps is None else str(steps)
            lines.append(
                f"| {variant} | {measure} | {fmt(first, signed=True, metric=f'{measure}_reset')} | {band:.3f} | {shown} |"
            )
    return "\n".join(lines)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = read(run_dir)
    start = reset_step(run_dir)
    names = [f"{m}_{c}" for m in MEASURES for c in ("reset", "kept")]
    window = metrics[metrics["step"] >= max(0, start - 10)]
    plot_metric_curves(
        window, out, columns=2, names=names, filename="history_reset.png", title=f"History wiped before step {start}"
    )
    text = with_note(table(metrics, start), run_dir)
    (out / "history_reset.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
