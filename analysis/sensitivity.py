"""The flagship's robustness over its assumptions (issue 24): table and figure from a run folder
of ``simlab sensitivity``.

    simlab sensitivity scenarios/dlrm_engagement.yaml \\
        --grid behavior.appetite_side=any,same_side,out_group --grid behavior.b_ext=0,1,2.5 \\
        --grid behavior.b_align=1,2.5 --contrast dlrm-random \\
        --metrics exposure_extremeness,extremity,polarization_er,ctr --steps 30 --replicates 10 \\
        --set population.size=500 --set catalog.size=500 --set catalog.creators=50 \\
        --set catalog.new_per_step=5 --set output.snapshot_every=0 --workers 2 --out runs/sensitivity
    python analysis/sensitivity.py runs/sensitivity --out docs

Recomputes, from metrics.csv, the paired difference ``dlrm - random`` at the final step in every
cell of the grid (:func:`simlab.sensitivity.sensitivity_table`: 95% t-interval over paired
replicates; holds / vanishes / reverses), writes OUT/sensitivity_flagship.md and draws
OUT/sensitivity_flagship.png (one row per cell, one panel per metric). A run without a grid is
one cell, labelled with the scenario's own b_ext.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from simlab.outputs.compare import applies
from simlab.outputs.plotting import save
from simlab.outputs.sensitivity_figure import draw_sensitivity
from simlab.results.tables import sweep_columns
from simlab.running.files import read_metrics
from simlab.sensitivity import markdown, sensitivity_table

SCENARIO = "scenarios/dlrm_engagement.yaml"  # the run this script reads (analysis/README.md)
TINY = {"population.size": 100, "catalog.size": 120, "recommender.candidates.size": 30}
NAMES = ["exposure_extremeness", "extremity", "polarization_er", "ctr"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--contrast", default="dlrm-random", help="VARIANT-BASELINE (default dlrm-random)")
    parser.add_argument("--name", default="sensitivity_flagship", help="file name of the table and figure")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variant, baseline = args.contrast.split("-", 1)

    metrics = applies(read_metrics(args.run_dir / "metrics.csv"), args.run_dir)
    if not sweep_columns(metrics.columns):  # a run without a grid: its one cell is the scenario's point
        scenario = yaml.safe_load((args.run_dir / "scenario.yaml").read_text(encoding="utf-8"))
        metrics.insert(3, "behavior.b_ext", float(scenario["behavior"].get("b_ext", 1.0)))
    names = [name for name in NAMES if name in metrics.columns]
    table = sensitivity_table(metrics, variant, baseline, names)
    text = markdown(table)
    (args.out / f"{args.name}.md").write_text(text + "\n", encoding="utf-8")
    save({f"{args.name}.png": draw_sensitivity(table)}, args.out)
    print(text)


if __name__ == "__main__":
    main()
