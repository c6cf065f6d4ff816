"""``simlab compare``: paired differences and CIs on a hand-made metrics frame, the CLI (exit
codes, files, warnings) and the figures (issue 11)."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from simlab.cli import main
from simlab.core.errors import ScenarioError
from simlab.outputs import compare
from simlab.outputs.compare_figures import pareto_front, plot_dose_response, plot_forest, plot_tradeoff


def frame(variants=("base", "a", "b"), replicates=4, steps=3, seed=0):
    """metrics.csv rows: variant, replicate, step and four metrics with known values."""
    rng = np.random.default_rng(seed)
    rows = []
    for v_index, variant in enumerate(variants):
        for r in range(replicates):
            for t in range(steps):
                rows.append(
                    {
                        "variant": variant,
                        "replicate": r,
                        "step": t,
                        "ctr": 0.2 + 0.01 * v_index + 0.001 * t + rng.normal(0, 0.002),
                        "extremity": 0.5 - 0.02 * v_index + 0.01 * r + rng.normal(0, 0.001),
                        "polarization_er": 0.3 + 0.001 * t + rng.normal(0, 0.01),
                        "coverage": 0.4 + 0.1 * (variant == "a") + 0.001 * r,
                    }
                )
    return pd.DataFrame(rows)


def direct_ci(d):
    """The 95% t-interval written out: mean +- t_{.975, n-1} s / sqrt(n)."""
    half = stats.t.ppf(0.975, len(d) - 1) * np.std(d, ddof=1) / np.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


def test_paired_differences_equal_a_direct_computation():
    metrics = frame()
    table = compare.paired_differences(metrics, names=["ctr", "extremity", "polarization_er"])
    assert set(table["variant"]) == {"a", "b"} and set(table["baseline"]) == {"base"}
    last = metrics[metrics["step"] == 2].set_index(["variant", "replicate"])
    for _, row in table.iterrows():
        d = (last.loc[row["variant"], row["metric"]] - last.loc["base", row["metric"]]).to_numpy()
        mean, low, high = direct_ci(d)
        assert row["diff"] == pytest.approx(mean)
        assert row["ci_low"] == pytest.approx(low) and row["ci_high"] == pytest.approx(high)
        assert row["excludes_zero"] == (low > 0 or high < 0)
        assert row["pairs"] == 4 and row["step"] == 2
    # the replicate effect (+0.01 r in extremity) cancels in the pairs: a tight interval
    extremity_a = table[(table["variant"] == "a") & (table["metric"] == "extremity")].iloc[0]
    assert extremity_a["excludes_zero"] and extremity_a["diff"] == pytest.approx(-0.02, abs=0.003)


def test_steps_truncate_and_baseline_and_pairing_by_replicate():
    metrics = frame()
    table = compare.paired_differences(compare.truncate(metrics, 2), baseline="a", names=["ctr"])
    assert set(table["step"]) == {1} and set(table["variant"]) == {"base", "b"}
    # a replicate missing in the variant is left out of the pairs
    dropped = metrics[~((metrics["variant"] == "b") & (metrics["replicate"] == 3))]
    table = compare.paired_differences(dropped, names=["ctr"])
    last = metrics[metrics["step"] == 2].set_index(["variant", "replicate"])
    d = (last.loc["b", "ctr"] - last.loc["base", "ctr"]).to_numpy()[:3]
    b_row = table[table["variant"] == "b"].iloc[0]
    assert b_row["pairs"] == 3 and b_row["diff"] == pytest.approx(d.mean())
    assert compare.consistency_warnings(dropped) == ["compared runs differ in replicates (base: 4, a: 4, b: 3)"]
    assert compare.consistency_warnings(metrics) == []


def test_bad_requests_are_clear_input_errors():
    metrics = frame()
    with pytest.raises(ScenarioError, match="--baseline"):
        compare.paired_differences(metrics, baseline="nope")
    with pytest.raises(ScenarioError, match="nope"):
        compare.paired_differences(metrics, names=["ctr", "nope"])
    with pytest.raises(ScenarioError, match="two variants"):
        compare.paired_differences(metrics[metrics["variant"] == "a"])
    with pytest.raises(ScenarioError, match="--steps"):
        compare.truncate(metrics, 0)


def test_markdown_and_text_mark_intervals_that_exclude_zero():
    table = compare.paired_differences(frame(), names=["extremity", "polarization_er"])
    md = compare.to_markdown(table)
    assert md.splitlines()[2] == "| variant | extremity | polarization_er |"
    row_a = next(line for line in md.splitlines() if line.startswith("| a |"))
    assert row_a.split("|")[2].strip().endswith("*")  # extremity of a: excludes 0
    text = compare.to_text(table)
    assert "paired difference to 'base'" in text and "extremity" in text


def test_sweep_labels_are_recognised():
    assert compare.sweep_values(["interventions.0.weight=0.0", "interventions.0.weight=0.5"]) == (
        "interventions.0.weight",
        {"interventions.0.weight=0.0": 0.0, "interventions.0.weight=0.5": 0.5},
    )
    assert compare.sweep_values(["x|k=1", "x|k=2"]) == ("k", {"x|k=1": 1.0, "x|k=2": 2.0})
    assert compare.sweep_values(["baseline", "mmr"]) is None
    assert compare.sweep_values(["a=1,b=2", "a=2,b=2"]) is None  # two keys: no single dose axis


def test_pareto_front():
    cost = np.array([0.0, -0.01, -0.02, -0.03])
    gain = np.array([0.0, 0.02, 0.01, 0.05])
    assert pareto_front(cost, gain).tolist() == [True, True, False, True]


def png_size(path):
    with open(path, "rb") as fh:
        header = fh.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_figures_are_written_at_page_width(tmp_path):
    metrics = frame(variants=("base", "a", "b", "c"))
    table = compare.paired_differences(metrics)
    for path in (plot_tradeoff(table, tmp_path), plot_forest(table, tmp_path)):
        width, height = png_size(path)
        assert width == 1080 and height > 300  # 7.2 in at 150 dpi: a journal's page width
    assert plot_dose_response(metrics, tmp_path) is None  # not a sweep
    sweep = frame(variants=("k=0", "k=0.5", "k=1"))
    width, _ = png_size(plot_dose_response(sweep, tmp_path))
    assert width == 1080


# ------------------------------------------------------------------ the command line


def run_folder(path, metrics):
    path.mkdir(parents=True)
    metrics.to_csv(path / "metrics.csv", index=False)
    return path


def test_cli_on_a_run_folder_writes_tables_and_figures(tmp_path, capsys):
    folder = run_folder(tmp_path / "run", frame())
    assert main(["compare", str(folder), "--metrics", "ctr,extremity,polarization_er", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "paired difference to 'base'" in out
    written = pd.read_csv(folder / "compare.csv")
    assert list(written.columns) == compare.COLUMNS and len(written) == 6
    assert (folder / "compare.md").read_text().startswith("Paired difference to `base` at step 2")
    assert (folder / "compare_tradeoff.png").exists() and (folder / "compare_forest.png").exists()


def test_cli_warns_when_runs_differ_and_prefixes_variants(tmp_path, capsys):
    one = run_folder(tmp_path / "one", frame())
    two = run_folder(tmp_path / "two", frame(steps=2))
    out = tmp_path / "cmp"
    assert main(["compare", str(one), str(two), "--out", str(out), "--no-figures", "--baseline", "one:base"]) == 0
    captured = capsys.readouterr()
    assert "warning: compared runs differ in final step" in captured.err
    table = pd.read_csv(out / "compare.csv")
    assert "two:a" in set(table["variant"]) and set(table["baseline"]) == {"one:base"}
    assert not (out / "compare_forest.png").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--baseline", "nope"], "--baseline"),
        (["--metrics", "nope"], "--metrics"),
        (["--set", "steps=3"], "--set applies to scenario targets only"),
        (["--steps", "0"], "--steps"),
    ],
)
def test_cli_input_errors_exit_2(tmp_path, capsys, extra, message):
    folder = run_folder(tmp_path / "run", frame())
    assert main(["compare", str(folder), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_cli_missing_target_exits_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "absent.yaml")]) == 2
    assert "expected a scenario YAML or a run folder" in capsys.readouterr().err


def test_cli_runs_a_scenario_with_steps_replicates_and_set(tiny, tmp_path, capsys):
    tiny["variants"] = {"plain": {}, "mmr": {"interventions": [{"type": "mmr", "lam": 0.2}]}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny, sort_keys=False))
    out = tmp_path / "run"
    args = ["compare", str(path), "--out", str(out), "--steps", "3", "--replicates", "3", "--set", "seed=5", "--quiet"]
    assert main(args) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["step"].max() == 2 and metrics["replicate"].nunique() == 3
    table = pd.read_csv(out / "compare.csv")
    assert set(table["variant"]) == {"mmr"} and set(table["pairs"]) == {3}
    assert "mmr" in capsys.readouterr().out


def test_zero_width_few_pairs_and_what_does_not_apply(tmp_path, capsys):
    """A difference that is the same in every pair is no '*'; 2 pairs are called few; a
    metric that does not apply to the baseline (the random feed makes no per-user predictions)
    reads n/a."""
    from tests.outputs.handmade import value, write_run

    def values(variant, replicate, step, name):
        if name == "coverage" and variant == "oracle":
            return value("random", replicate, step, name) + 0.000746
        return value(variant, replicate, step, name)

    run = write_run(tmp_path / "run", values=values)
    assert main(["compare", str(run), "--metrics", "coverage,rpol,ctr", "--no-figures"]) == 0
    out = capsys.readouterr().out
    coverage = next(
        line for line in out.splitlines() if "coverage" in line and "oracle" not in line and "+0.000746" in line
    )
    assert "+0.000746 [+0.000746, +0.000746]" in coverage and not coverage.rstrip().endswith("*")
    assert "n = 2: few replicates" in out
    rpol = [line for line in out.splitlines() if line.strip().startswith("rpol")]
    assert rpol and all(line.rstrip().endswith("n/a") for line in rpol)
    assert "n/a: the metric does not apply" in out
    table = pd.read_csv(run / "compare.csv")
    assert not table["excludes_zero"][table["metric"] == "coverage"].iloc[-1]


def test_a_mean_difference_that_is_float_rounding_of_0_reads_0():
    row = {"diff": -4.16e-18, "ci_low": -0.0535, "ci_high": 0.0535, "excludes_zero": False, "clipped": False}
    assert compare._cell(pd.Series(row)) == "+0 [-0.0535, +0.0535]"
    assert compare._cell(pd.Series({**row, "diff": -4.16e-5})) == "-4.16e-05 [-0.0535, +0.0535]"
