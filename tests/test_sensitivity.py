"""``simlab sensitivity``: the headline paired comparison over a grid of assumption settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from simlab.cli import main
from simlab.core.errors import ScenarioError
from simlab.outputs.sensitivity_figure import VERDICT_COLOURS, draw_sensitivity
from simlab.running.files import read_metrics
from simlab.sensitivity import parse_contrast, parse_grid, run_sensitivity, verdict

GRID = {"behavior.appetite_side": ["any", "same_side"], "behavior.b_ext": [0.0, 2.5, 5.0]}


@pytest.fixture
def scenario_file(tiny, tmp_path):
    tiny["variants"] = {"popular": {}, "random": {"recommender": {"type": "random"}}, "unused": {}}
    tiny["replicates"] = 3
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny))
    return path


def test_parse_grid_and_contrast():
    assert parse_grid(["behavior.b_ext=0,1,2.5", "behavior.appetite_side=any,out_group"]) == {
        "behavior.b_ext": [0, 1, 2.5],
        "behavior.appetite_side": ["any", "out_group"],
    }
    assert parse_contrast("dlrm-random", ["dlrm", "random", "oracle"]) == ("dlrm", "random")
    assert parse_contrast("two-tower-random", ["two-tower", "random"]) == ("two-tower", "random")
    with pytest.raises(ScenarioError):
        parse_contrast("dlrm-nothing", ["dlrm", "random"])
    with pytest.raises(ScenarioError):
        parse_grid(["behavior.b_ext"])


def test_every_cell_is_the_paired_difference_of_its_runs(scenario_file, tmp_path):
    table, folder = run_sensitivity(scenario_file, GRID, "popular-random", out=tmp_path / "run", workers=1, quiet=True)
    # 2 x 3 cells x 2 metrics, only the two contrasted variants were run
    assert len(table) == 12 and set(table["metric"]) == {"exposure_extremeness", "extremity"}
    metrics = read_metrics(folder / "metrics.csv")
    assert set(metrics["variant"]) == {"popular", "random"}
    assert table[["behavior.appetite_side", "behavior.b_ext"]].drop_duplicates().shape[0] == 6
    # one cell by hand: the mean over replicates of popular - random at the final step
    cell = metrics[(metrics["behavior.appetite_side"] == "same_side") & (metrics["behavior.b_ext"] == 2.5)]
    last = cell[cell["step"] == cell["step"].max()].set_index(["variant", "replicate"])["exposure_extremeness"]
    by_hand = np.mean([last["popular", r] - last["random", r] for r in range(3)])
    row = table[
        (table["behavior.appetite_side"] == "same_side")
        & (table["behavior.b_ext"] == 2.5)
        & (table["metric"] == "exposure_extremeness")
    ]
    assert row["diff"].item() == pytest.approx(by_hand)
    assert row["pairs"].item() == 3
    assert row["ci_low"].item() <= by_hand <= row["ci_high"].item()
    assert (folder / "sensitivity.csv").exists() and "| behavior.appetite_side |" in (
        folder / "sensitivity.md"
    ).read_text()


def test_verdicts_and_figure_colours():
    rows = pd.DataFrame(
        {
            "behavior.b_ext": [0.0, 1.0, 2.5],
            "metric": ["extremity"] * 3,
            "variant": ["a"] * 3,
            "baseline": ["b"] * 3,
            "pairs": [3] * 3,
            "diff": [0.2, 0.0, -0.2],
            "ci_low": [0.1, -0.1, -0.3],
            "ci_high": [0.3, 0.1, -0.1],
            "excludes_zero": [True, False, True],
        }
    )
    rows["verdict"] = rows.apply(verdict, axis=1)
    assert rows["verdict"].tolist() == ["holds", "vanishes", "reverses"]
    figure = draw_sensitivity(rows)
    (ax,) = figure.axes
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert [m.get_color() for m in markers] == [VERDICT_COLOURS[v] for v in ("holds", "vanishes", "reverses")]
    # the first cell on top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b_ext=0.0", "b_ext=1.0", "b_ext=2.5"]
    assert list(ax.get_yticks()) == [2, 1, 0]


def test_cli_writes_table_and_figure(scenario_file, tmp_path, capsys):
    code = main(
        [
            "sensitivity",
            str(scenario_file),
            "--grid",
            "behavior.b_ext=0,2.5",
            "--contrast",
            "popular-random",
            "--metrics",
            "ctr",
            "--replicates",
            "2",
            "--out",
            str(tmp_path / "cli"),
            "--quiet",
        ]
    )
    assert code == 0
    assert (tmp_path / "cli" / "figures" / "sensitivity.png").exists()
    assert "| behavior.b_ext | ctr |" in capsys.readouterr().out
