"""Phenomenon 1, homogenization (Chaney, Stewart & Engelhardt, RecSys 2018): figure and table.

    python analysis/homogenization.py RUN_DIR --out DIR

Chaney et al. report homogenization relative to the ideal recommender: a form's value under a
feed minus its value under the oracle in the same replicate (paired seeds). This script does that
subtraction for the three forms (``homogenization`` last-H, ``homogenization_cumulative`` paired by
innate opinion as Chaney pair by true preference, ``homogenization_chaney`` nearest consumer) and
shows utility (ctr) beside them. Writes DIR/homogenization.png and DIR/homogenization.md
(final step, mean and 95% CI over replicates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _phenomena import CUT, folders, with_note

from simlab.outputs.metric_figures import plot_metric_curves
from simlab.results.intervals import difference_bounds, interval, metric_bounds

SCENARIO = "scenarios/homogenization.yaml"
FORMS = ["homogenization", "homogenization_cumulative", "homogenization_chaney"]
IDEAL = "oracle"


def minus_ideal(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, replicate, step): each form minus the oracle's in the same replicate and step;
    ctr and engagement as they are. The oracle rows are dropped (their difference is 0)."""
    keys = ["replicate", "step"]
    ideal = metrics[metrics["variant"] == IDEAL].set_index(keys)[FORMS].add_suffix("_ideal")
    out = metrics[metrics["variant"] != IDEAL].copy()
    joined = out.join(ideal, on=keys)
    for form in FORMS:
        out[f"{form}_minus_ideal"] = joined[form] - joined[f"{form}_ideal"]
    return out[["variant", *keys, *[f"{f}_minus_ideal" for f in FORMS], *FORMS, "ctr"]]


def table(metrics: pd.DataFrame, derived: pd.DataFrame) -> str:
    last = metrics["step"].max()
    names = [*[f"{f}_minus_ideal" for f in FORMS], *FORMS, "ctr"]
    rows = ["| variant | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    final = metrics[metrics["step"] == last]
    final_d = derived[derived["step"] == last]
    for variant in metrics["variant"].unique():
        cells = []
        for name in names:
            frame = final_d if name.endswith("_minus_ideal") else final
            values = frame.loc[frame["variant"] == variant, name].to_numpy(float) if name in frame else np.array([])
            form = name.removesuffix("_minus_ideal")  # a difference of two values of the form
            bounds = difference_bounds(metric_bounds(form)) if form != name else metric_bounds(name)
            found = interval(values, bounds) if values.size else None
            cut = CUT if found is not None and found.clipped else ""
            if found is None or np.isnan(found.mean):
                cells.append("—")
            else:
                cells.append(f"{found.mean:.3f} [{found.low:.3f}, {found.high:.3f}]{cut}")
        rows.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    derived = minus_ideal(metrics)
    names = [f"{f}_minus_ideal" for f in FORMS] + ["ctr"]
    plot_metric_curves(
        derived,
        out,
        names=names,
        filename="homogenization.png",
        title="Homogenization minus the ideal (oracle) recommender, paired by replicate",
    )
    text = with_note(table(metrics, derived), run_dir)
    (out / "homogenization.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
