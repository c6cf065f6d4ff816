"""The labelled extremeness penalty's dose-response over the labelling budget (issue 24): figure
and table from a run folder of scenarios/labelled_dose.yaml.

    simlab run scenarios/labelled_dose.yaml --workers 2 --quiet --out runs/labelled_dose
    python analysis/labelled_dose.py runs/labelled_dose --out docs

The scenario sweeps ``interventions.0.labels`` (0 = no penalty, then 20, 100, 500 items rated
by noisy human raters). Prints and writes OUT/labelled_dose.md (paired difference of each budget
to ``labels=0`` at the final step, 95% t-interval, * where it excludes 0), draws
OUT/labelled_extremeness_dose.png (the budget against each outcome).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from simlab.outputs.compare import in_scenario_order, paired_differences, to_markdown, with_point_labels
from simlab.outputs.compare_figures import plot_dose_response
from simlab.running.files import read_metrics

SCENARIO = "scenarios/labelled_dose.yaml"  # the run this script reads (analysis/README.md)
TINY = {"population.size": 100, "catalog.size": 120, "recommender.candidates.size": 30}
NAMES = [
    "exposure_extremeness",
    "extreme_exposure_share",
    "extremity",
    "polarization_er",
    "opinion_variance",
    "ctr",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    dose = in_scenario_order(with_point_labels(read_metrics(args.run_dir / "metrics.csv")), args.run_dir)
    names = [name for name in NAMES if name in dose.columns]
    scenario = yaml.safe_load((args.run_dir / "scenario.yaml").read_text(encoding="utf-8"))  # the axis in words
    print(plot_dose_response(dose, args.out, names=names, filename="labelled_extremeness_dose.png", scenario=scenario))
    markdown = to_markdown(paired_differences(dose, names=names))
    for folder in (args.out, args.run_dir):
        (folder / "labelled_dose.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    main()
