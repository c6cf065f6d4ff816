"""The one interval (mean_ci), summary.csv with sweeps as columns, and sweep baselines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.core.errors import ScenarioError
from simlab.running.files import read_metrics
from simlab.running.summary import baselines, curves, id_columns, mean_ci, paired_curves, summarize, sweep_columns
from tests.outputs.conftest import SWEEP, run_sweep, sweep_document


@pytest.fixture(scope="module")
def sweep_doc() -> dict:
    return sweep_document()


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("sweep"))


def test_mean_ci_is_the_t_interval_by_hand():
    # n = 4, mean 2.5, sd sqrt(5/3); t(0.975, 3) = 3.182446305 (tables)
    mean, low, high = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    half = 3.182446305 * math.sqrt(5 / 3) / 2
    assert mean == 2.5 and low == pytest.approx(2.5 - half, abs=1e-8) and high == pytest.approx(2.5 + half, abs=1e-8)


def test_mean_ci_with_three_replicates_is_wider_than_the_normal_band():
    values = np.array([0.1, 0.4, 0.2])
    mean, _low, high = mean_ci(values)
    normal = 1.96 * values.std(ddof=1) / math.sqrt(3)
    assert (high - mean) / normal == pytest.approx(4.302653 / 1.96, rel=1e-5)  # the 2.2x of issue 14


def test_mean_ci_drops_nan_and_needs_two_values():
    assert mean_ci(np.array([np.nan, 3.0]))[0] == 3.0 and math.isnan(mean_ci(np.array([3.0]))[1])
    assert all(math.isnan(v) for v in mean_ci(np.array([np.nan])))


def _frame(rows):
    return pd.DataFrame(rows, columns=["variant", "replicate", "step", "behavior.b_ext", "m"])


def test_summary_pairs_by_replicate_at_each_sweep_point():
    # variant b minus a, per replicate: at b_ext 1: (3-1, 5-2, 4-4) = (2, 3, 0); at b_ext 2: (1, 1, 1)
    rows = []
    for b_ext, a_vals, b_vals in ((1, [1, 2, 4], [3, 5, 4]), (2, [0, 0, 0], [1, 1, 1])):
        for r in range(3):
            rows += [("a", r, 0, b_ext, 99.0), ("a", r, 1, b_ext, a_vals[r]), ("b", r, 1, b_ext, b_vals[r])]
            rows.append(("b", r, 0, b_ext, -99.0))
    summary = summarize(_frame(rows))
    assert list(summary.columns[:3]) == ["variant", "behavior.b_ext", "metric"]
    b1 = summary[(summary["variant"] == "b") & (summary["behavior.b_ext"] == 1)].iloc[0]
    expect = mean_ci(np.array([2.0, 3.0, 0.0]))
    assert (b1["diff_vs_first"], b1["diff_ci_low"], b1["diff_ci_high"]) == pytest.approx(expect)
    assert b1["final_mean"] == pytest.approx(4.0) and b1["baseline"] == "a|behavior.b_ext=1"
    b2 = summary[(summary["variant"] == "b") & (summary["behavior.b_ext"] == 2)].iloc[0]
    assert b2["diff_vs_first"] == 1.0 and b2["baseline"] == "a|behavior.b_ext=2"  # never "the first point"
    a2 = summary[(summary["variant"] == "a") & (summary["behavior.b_ext"] == 2)].iloc[0]
    assert (a2["diff_vs_first"], a2["diff_ci_low"]) == (0.0, 0.0)


def test_a_declared_sweep_baseline_is_the_same_variant_at_that_point():
    rows = [(v, r, 0, b, 10 * b + r + (v == "b")) for v in "ab" for b in (1, 2, 3) for r in range(2)]
    summary = summarize(_frame(rows), {"behavior.b_ext": 2})
    got = summary.set_index(["variant", "behavior.b_ext"])
    assert got.loc[("a", 3), "diff_vs_first"] == 10.0 and got.loc[("b", 1), "diff_vs_first"] == -10.0
    assert got.loc[("b", 2), "diff_vs_first"] == 0.0 and got.loc[("b", 3), "baseline"] == "b|behavior.b_ext=2"


def test_a_missing_baseline_gives_nan_not_another_point():
    rows = [("a", r, 0, 1, 0.0) for r in range(3)] + [("b", r, 0, 2, float(r)) for r in range(3)]
    frame = _frame(rows)
    assert baselines(frame) == {("a", 1): ("a", 1)}  # b at b_ext 2 has no "a at b_ext 2"
    summary = summarize(frame).set_index("variant")
    assert math.isnan(summary.loc["b", "diff_vs_first"]) and summary.loc["b", "baseline"] == ""


def test_curves_and_paired_curves_use_mean_ci_per_step():
    rows = [(v, r, s, 1, (r + 1) * (s + 1) + (v == "b") * r) for v in "ab" for r in range(3) for s in range(2)]
    frame = _frame(rows)
    band = curves(frame, "m", ("a", 1))  # "m" declares no range: the plain t-interval
    assert tuple(band.loc[1, ["mean", "low", "high"]]) == pytest.approx(mean_ci(np.array([2.0, 4.0, 6.0])))
    diff = paired_curves(frame, "m", ("b", 1), ("a", 1))
    assert tuple(diff.loc[0, ["mean", "low", "high"]]) == pytest.approx(mean_ci(np.array([0.0, 1.0, 2.0])))
    assert not band["clipped"].any()


def test_id_columns_know_swept_keys_from_metrics():
    columns = ["variant", "replicate", "step", "behavior.b_ext", "seed", "ctr", "opinion_variance"]
    assert sweep_columns(columns) == ["behavior.b_ext", "seed"]
    assert id_columns(columns) == columns[:5]


def test_a_two_key_sweep_writes_one_column_per_key(sweep_run):
    header = (sweep_run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["variant", "replicate", "step", "behavior.b_ext", "population.susceptibility"]
    metrics = read_metrics(sweep_run / "metrics.csv")
    assert set(metrics["variant"]) == {"pop", "rand"}  # the sweep point is no longer in the label
    grid = {(b, s) for b in SWEEP["behavior.b_ext"] for s in SWEEP["population.susceptibility"]}
    assert set(zip(metrics["behavior.b_ext"], metrics["population.susceptibility"])) == grid
    parquet = pd.read_parquet(sweep_run / "metrics.parquet")
    assert parquet["behavior.b_ext"].dtype == np.float64 and parquet.columns.tolist() == header
    summary = pd.read_csv(sweep_run / "summary.csv")
    assert summary.columns[:3].tolist() == ["variant", "behavior.b_ext", "population.susceptibility"]
    assert len(summary) == 2 * len(grid) * len(header[5:])  # variants x points x metrics


def test_sweep_differences_match_a_direct_computation(sweep_run):
    metrics = read_metrics(sweep_run / "metrics.csv")
    summary = pd.read_csv(sweep_run / "summary.csv")
    last = metrics[metrics["step"] == metrics["step"].max()]
    point = (last["behavior.b_ext"] == 2.0) & (last["population.susceptibility"] == 0.2)
    rand = last[point & (last["variant"] == "rand")].set_index("replicate")["ctr"]
    pop = last[point & (last["variant"] == "pop")].set_index("replicate")["ctr"]
    row = summary[
        (summary["variant"] == "rand")
        & (summary["behavior.b_ext"] == 2.0)
        & (summary["population.susceptibility"] == 0.2)
        & (summary["metric"] == "ctr")
    ].iloc[0]
    assert row["diff_vs_first"] == pytest.approx(mean_ci((rand - pop).to_numpy())[0])
    assert row["baseline"] == "pop|behavior.b_ext=2.0,population.susceptibility=0.2"


def test_task_points_and_a_bad_sweep_baseline(sweep_doc):
    scenario = simlab.load_scenario(sweep_doc)
    points = scenario.task_points()
    assert [(p.variant, tuple(p.sweep.values())) for p in points[:3]] == [
        ("pop", (0.5, 0.05)),
        ("pop", (0.5, 0.2)),
        ("pop", (0.5, 0.4)),
    ]
    assert scenario.tasks()[0][0] == "pop|behavior.b_ext=0.5,population.susceptibility=0.05"
    for bad, fragment in (({"behavior.b": 1}, "a swept key"), ({"behavior.b_ext": 7}, "swept values")):
        with pytest.raises(ScenarioError, match=fragment) as info:
            simlab.load_scenario(sweep_doc | {"sweep_baseline": bad})
        assert info.value.key == "sweep_baseline"
