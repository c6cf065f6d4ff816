"""Phenomenon 5a, the recommender can also moderate (Hosseinmardi et al., PNAS 2024): figure
and table.

    python analysis/moderation.py RUN_DIR --out DIR

For each extremity appetite b_ext of the sweep: final opinion extremity under the random feed
and under the oracle (the engagement optimum), and their paired difference (replicate r of both
variants shares its seed). A negative difference means the engagement-optimal feed moderates
opinions relative to a random feed. Writes DIR/moderation.png and DIR/moderation.md.
"""

from __future__ import annotations

import pandas as pd
from _phenomena import base_variant, bounds_of, ci, fmt, folders, read, sweep_values, with_note

from simlab.outputs.phenomena_figures import plot_tradeoff

SCENARIO = "scenarios/moderation.yaml"
KEY = "behavior.b_ext"


def finals(metrics: pd.DataFrame) -> pd.DataFrame:
    """Final-step rows with columns b_ext and feed (the variant name), plus extremity at step 0."""
    metrics = metrics.assign(b_ext=sweep_values(metrics, KEY), feed=base_variant(metrics))
    start = metrics[metrics["step"] == 0][["feed", "b_ext", "replicate", "extremity"]]
    final = metrics[metrics["step"] == metrics["step"].max()]
    return final.merge(start.rename(columns={"extremity": "extremity_0"}), on=["feed", "b_ext", "replicate"])


def paired(final: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per (b_ext, replicate): the oracle's value minus the random feed's."""
    wide = final.pivot_table(index=["b_ext", "replicate"], columns="feed", values=name)
    return (wide["oracle"] - wide["random"]).rename("diff").reset_index()


def table(final: pd.DataFrame) -> str:
    lines = [
        "| b_ext | extremity at step 0 | random: extremity | oracle: extremity | oracle - random [95% CI] "
        "| random: exposure e_j | oracle: exposure e_j |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    diff = paired(final, "extremity")
    for b, g in final.groupby("b_ext"):
        r, o = g[g["feed"] == "random"], g[g["feed"] == "oracle"]
        cells = [
            fmt(g["extremity_0"], metric="extremity"),
            fmt(r["extremity"], metric="extremity"),
            fmt(o["extremity"], metric="extremity"),
            fmt(diff[diff["b_ext"] == b]["diff"], signed=True, metric="extremity"),
            fmt(r["exposure_extremeness"], metric="exposure_extremeness"),
            fmt(o["exposure_extremeness"], metric="exposure_extremeness"),
        ]
        lines.append(f"| {b:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    run_dir, out = folders(__doc__)
    final = finals(read(run_dir))
    diff = paired(final, "extremity")
    groups = list(diff.groupby("b_ext"))
    plot_tradeoff(
        [(b, b, b) for b, _ in groups],
        [ci(g["diff"], bounds_of("extremity", difference=True)) for _, g in groups],
        [f"{b:g}" for b, _ in groups],
        out / "moderation.png",
        "extremity appetite b_ext",
        "final extremity: oracle - random (paired)",
        "Below 0 the engagement-optimal feed moderates opinions",
    )
    text = with_note(table(final), run_dir)
    (out / "moderation.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
