"""The analysis scripts' shared interval helpers (analysis/_phenomena.py) follow simlab's one
interval rule on hand-made values: intervals cut at the quantity's range and marked, differences
of bounded metrics in their own range, the few-replicates note and what the mark means."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "analysis"))

import _phenomena  # noqa: E402  (a script helper, found on analysis/)


def test_a_share_of_two_replicates_is_cut_at_0_and_1_and_marked():
    text = _phenomena.fmt(np.array([0.2, 0.9]), metric="exposure_quality_logged_out")
    assert text == "0.550 [0.000, 1.000]†"  # the t-band of two values reaches -3.9 and 5.0
    assert _phenomena.fmt(np.array([0.2, 0.9])) == "0.550 [-3.897, 4.997]"  # no metric: no range


def test_a_difference_of_shares_lies_in_minus_1_to_1_and_an_unbounded_ratio_is_not_cut():
    diff = _phenomena.fmt(np.array([-0.9, 0.8]), signed=True, metric="coverage")
    assert diff == "-0.050 [-1.000, +1.000]†"
    assert _phenomena.bounds_of("learned_share") == (-np.inf, np.inf)
    assert "†" not in _phenomena.fmt(np.array([0.4, 0.5, 0.6]), metric="extreme_reach")


def test_tables_say_when_replicates_are_few_and_what_the_mark_means(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame({"variant": "a", "replicate": [0, 1], "step": 0, "ctr": [0.2, 0.9]}).to_csv(
        run / "metrics.csv", index=False
    )
    table = "| x |\n| --- |\n| " + _phenomena.fmt(np.array([0.2, 0.9]), metric="ctr") + " |"
    text = _phenomena.with_note(table, run)
    assert "n = 2: few replicates" in text
    assert text.endswith("† the t-interval reached past the range the quantity can take and was cut there.")
    assert _phenomena.with_note("| x |", run).count("†") == 0


@pytest.mark.parametrize("values", [[0.5], [np.nan, np.nan]])
def test_too_few_values_have_no_interval(values):
    assert "nan" in _phenomena.fmt(np.array(values), metric="ctr")
