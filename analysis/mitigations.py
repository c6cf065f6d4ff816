"""The mitigation results' table and figures (docs/results/mitigations.md) from run folders of
scenarios/mitigations.yaml (and, optionally, scenarios/mitigation_dose.yaml).

    simlab run scenarios/mitigations.yaml --workers 2 --quiet --out runs/mitigations
    simlab run scenarios/mitigation_dose.yaml --workers 2 --quiet --out runs/mitigation_dose
    python analysis/mitigations.py runs/mitigations --dose runs/mitigation_dose --out docs

Prints the table (paired difference of each mitigation to the unmitigated baseline at the final
step, 95% t-interval, * where it excludes 0) and writes it to OUT/mitigations.md (the results
page includes that file) and RUN_DIR/mitigations.md; writes
OUT/mitigations_tradeoff.png (engagement cost against the reduction in extremity and in
polarization), OUT/mitigations_forest.png (every paired difference), and with --dose
OUT/mitigation_dose.png (the penalty's weight against each outcome) with its table in
OUT/mitigation_dose.md and DOSE_RUN_DIR/mitigation_dose.md. It also prints the
extremeness classifier's ROC AUC at the scenario's noise (one replicate rebuilt, catalog only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from simlab.outputs.compare import in_scenario_order, paired_differences, to_markdown, with_point_labels
from simlab.outputs.compare_figures import plot_dose_response, plot_forest, plot_tradeoff
from simlab.running.files import read_metrics

SCENARIO = "scenarios/mitigations.yaml"  # the run this script reads (analysis/README.md)
TINY = {"population.size": 100, "catalog.size": 120, "recommender.candidates.size": 30}


def classifier_auc(run_dir: Path, variant: str = "extremeness_penalty", steps: int = 0) -> float | None:
    """ROC AUC of the penalty's classifier on the catalog of replicate 0 (after ``steps``)."""
    import simlab
    from simlab.interventions.extremeness import ExtremenessPenalty
    from simlab.loop.simulation import Simulation

    tasks = dict(simlab.load_scenario(run_dir / "scenario.yaml", {"device": "cpu"}).tasks())
    if variant not in tasks:
        return None
    sim = Simulation(tasks[variant], 0)
    for _ in range(steps):
        sim.step()
    penalty = next(i for i in sim.interventions if isinstance(i, ExtremenessPenalty))
    return penalty.auc()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--dose", type=Path, help="run folder of scenarios/mitigation_dose.yaml")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    metrics = in_scenario_order(with_point_labels(read_metrics(args.run_dir / "metrics.csv")), args.run_dir)
    table = paired_differences(metrics)
    markdown = to_markdown(table)
    for folder in (args.out, args.run_dir):
        (folder / "mitigations.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)
    print(plot_tradeoff(table, args.out, filename="mitigations_tradeoff.png"))
    print(plot_forest(table, args.out, filename="mitigations_forest.png"))
    auc = classifier_auc(args.run_dir)
    if auc is not None:
        print(f"extremeness classifier ROC AUC (initial catalog, replicate 0): {auc:.3f}")
    if args.dose:
        dose = in_scenario_order(with_point_labels(read_metrics(args.dose / "metrics.csv")), args.dose)
        names = [
            "exposure_extremeness",
            "extreme_exposure_share",
            "extremity",
            "polarization_er",
            "opinion_variance",
            "slate_diversity",
            "ctr",
            "engagement",
        ]
        scenario = yaml.safe_load((args.dose / "scenario.yaml").read_text(encoding="utf-8"))  # the axis in words
        print(plot_dose_response(dose, args.out, names=names, filename="mitigation_dose.png", scenario=scenario))
        dose_table = paired_differences(dose, names=names)
        dose_markdown = to_markdown(dose_table)
        print(dose_markdown)
        for folder in (args.out, args.dose):
            (folder / "mitigation_dose.md").write_text(dose_markdown + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
