"""The one interval rule (issue 29) on hand-made values: t-intervals cut at each metric's declared
range and flagged, zero-width and undefined intervals never significant, few-replicates notes,
and summary.csv built on them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simlab.metrics.columns import BOUNDS
from simlab.results.intervals import step_intervals_of
from simlab.running.summary import (
    FEW,
    difference_bounds,
    excludes_zero,
    few_note,
    interval,
    metric_bounds,
    step_intervals,
    summarize,
)


def t_interval(values):
    values = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def test_shares_and_probabilities_lie_in_0_1_and_variances_are_non_negative():
    for name in ("extreme_user_share", "extreme_exposure_share", "coverage", "ctr", "extreme_reach", "auc_pooled"):
        assert BOUNDS[name] == (0.0, 1.0), name
    for name in ("opinion_variance", "unfairness_group", "unfairness_individual", "rpol", "polarization_er"):
        assert BOUNDS[name] == (0.0, math.inf), name
    assert metric_bounds("a_plugin_metric") == (-math.inf, math.inf)  # not declared: unbounded


def test_a_share_near_0_gets_an_interval_cut_at_0_and_says_so():
    values = [0.0, 0.0, 0.03]  # three replicates of "extreme users": the t-band reaches below 0
    low, high = t_interval(values)
    assert low < 0
    found = interval(np.array(values), metric_bounds("extreme_user_share"))
    assert found.low == 0.0 and found.high == pytest.approx(high) and found.mean == pytest.approx(0.01)
    assert found.clipped and found.n == 3


def test_a_variance_is_never_below_0_and_a_reach_never_above_1():
    group = interval(np.array([1e-5, 2e-5, 0.0]), metric_bounds("unfairness_group"))
    assert group.low == 0.0 and group.clipped
    reach = interval(np.array([0.98, 1.0, 1.0]), metric_bounds("extreme_reach"))
    assert reach.high == 1.0 and reach.low == pytest.approx(t_interval([0.98, 1.0, 1.0])[0]) and reach.clipped
    inside = interval(np.array([0.4, 0.5, 0.6]), (0.0, 1.0))
    assert not inside.clipped and (inside.low, inside.high) == pytest.approx(t_interval([0.4, 0.5, 0.6]))


def test_a_difference_of_shares_lies_in_minus_1_to_1():
    assert difference_bounds((0.0, 1.0)) == (-1.0, 1.0)
    assert difference_bounds((0.0, math.inf)) == (-math.inf, math.inf)
    found = interval(np.array([-0.99, -0.2, -0.98]), difference_bounds((0.0, 1.0)))
    assert found.low == -1.0 and found.clipped


def test_a_zero_width_or_undefined_interval_is_never_significant():
    same = interval(np.array([0.000746] * 3), (-1.0, 1.0))  # coverage +0.000746 in every pair
    assert (same.low, same.high) == (pytest.approx(0.000746), pytest.approx(0.000746))
    assert not same.excludes_zero and not same.defined
    assert not interval(np.array([0.0, 0.0, 0.0])).excludes_zero  # "oracle 0 [0, 0]"
    # the same difference in every pair, up to rounding (x + d - x is not exactly d): still no width
    rounded = interval(np.array([0.3 + 0.000746 - 0.3, 0.7 + 0.000746 - 0.7, 0.000746]))
    assert rounded.high > rounded.low and not rounded.defined and not rounded.excludes_zero
    one = interval(np.array([0.5, np.nan]))
    assert one.n == 1 and math.isnan(one.low) and not one.excludes_zero
    assert excludes_zero(0.1, 0.2) and excludes_zero(-0.2, -0.1) and not excludes_zero(-0.1, 0.2)
    assert not excludes_zero(0.1, 0.1) and not excludes_zero(float("nan"), 0.2)


def test_few_replicates_are_named():
    assert few_note(2) == "n = 2: few replicates" and few_note(FEW - 1) and not few_note(FEW) and not few_note(0)


def test_step_bands_are_the_interval_of_each_step():
    values = pd.Series([0.0, 0.0, 0.03, 0.5, 0.6, 0.7], index=[0, 0, 0, 1, 1, 1])
    bands = step_intervals(values, (0.0, 1.0))
    for step, part in ((0, [0.0, 0.0, 0.03]), (1, [0.5, 0.6, 0.7])):
        found = interval(np.array(part), (0.0, 1.0))
        assert tuple(bands.loc[step, ["mean", "low", "high"]]) == pytest.approx((found.mean, found.low, found.high))
        assert bool(bands.loc[step, "clipped"]) == found.clipped


def test_step_bands_of_several_columns_equal_each_column_alone():
    frame = pd.DataFrame(
        {"a": [0.0, 0.0, 0.03, 0.5, 0.6, 0.7], "b": [1.0, 2.0, 3.0, -1.0, np.nan, 4.0]}, index=[0, 0, 0, 1, 1, 1]
    )
    bounds = {"a": (0.0, 1.0), "b": (-math.inf, math.inf)}
    together = step_intervals_of(frame, bounds)
    for name, cut in bounds.items():
        pd.testing.assert_frame_equal(together[name], step_intervals(frame[name], cut))


def test_summary_csv_carries_cut_intervals_and_the_significance_rule():
    rows = []
    for variant, share, coverage in (("base", [0.0, 0.0, 0.03], [0.5, 0.6, 0.7]), ("b", [0.2, 0.3, 0.25], None)):
        for r in range(3):
            cov = coverage[r] if coverage else [0.5, 0.6, 0.7][r] + 0.01  # the same +0.01 in every pair
            rows.append(
                {"variant": variant, "replicate": r, "step": 0, "extreme_user_share": share[r], "coverage": cov}
            )
    summary = summarize(pd.DataFrame(rows)).set_index(["variant", "metric"])
    base = summary.loc[("base", "extreme_user_share")]
    assert base["ci_low"] == 0.0 and bool(base["ci_clipped"]) and base["replicates"] == 3
    shifted = summary.loc[("b", "coverage")]
    assert shifted["diff_vs_first"] == pytest.approx(0.01) and shifted["pairs"] == 3
    assert shifted["diff_ci_low"] == pytest.approx(shifted["diff_ci_high"])  # zero width ...
    assert not bool(shifted["diff_excludes_zero"])  # ... so not significant
    assert bool(summary.loc[("b", "extreme_user_share"), "diff_excludes_zero"])
