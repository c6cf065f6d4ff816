"""The unreliable-share metrics (exposure/consumption, all users and the logged-in/out cohorts)
on a hand-computed tiny case, and their n/a rules."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

import simlab.metrics.columns  # noqa: F401  (registers the metrics)
from simlab.core.state import Catalog, Engagements
from simlab.registry import METRICS
from simlab.results.applicable import not_applicable

NAMES = [
    f"{what}_unreliable{cohort}" for what in ("exposure", "consumption") for cohort in ("", "_logged_out", "_logged_in")
]


def _context(reliability: list[float] | None, logged_out: list[bool] | None = None):
    m = 4
    catalog = Catalog(
        stance=torch.zeros(m, 1),
        topic=torch.zeros(m, dtype=torch.long),
        creator=torch.zeros(m, dtype=torch.long),
        quality=torch.zeros(m),
        created=torch.zeros(m, dtype=torch.long),
        impressions=torch.zeros(m, dtype=torch.long),
        engagements=torch.zeros(m, dtype=torch.long),
        size=m,
        reliability=None if reliability is None else torch.tensor(reliability),
    )
    # impressions (user, item, label): user 0 sees items 0, 1 and engages with 1; user 1 sees
    # 1, 2, 3 and engages with 2 and 3; user 2 sees 0 and 3 and engages with 0
    user = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    item = torch.tensor([0, 1, 1, 2, 3, 0, 3])
    label = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    impressions = Engagements(user, item, torch.zeros_like(user), label, label, torch.zeros(7))
    users = SimpleNamespace(
        n=3, opinion=torch.zeros(3, 1), logged_out=None if logged_out is None else torch.tensor(logged_out)
    )
    return SimpleNamespace(catalog=catalog, impressions=impressions, users=users)


def _value(name: str, ctx, **params) -> float:
    return float(METRICS.build({"type": name, **params}).compute(ctx))


def test_unreliable_shares_by_hand():
    # items 1 and 3 are unreliable (r < 0.3); user 1 is logged out
    ctx = _context([0.8, 0.1, 0.5, 0.25], [False, True, False])
    # everybody: 7 impressions, of items 1, 1, 3, 3 unreliable -> 4/7; 4 engagements (1, 2, 3, 0) -> 2/4
    assert _value("exposure_unreliable", ctx) == pytest.approx(4 / 7)
    assert _value("consumption_unreliable", ctx) == pytest.approx(2 / 4)
    # logged out (user 1): shown 1, 2, 3 -> 2/3; engaged 2, 3 -> 1/2
    assert _value("exposure_unreliable_logged_out", ctx) == pytest.approx(2 / 3)
    assert _value("consumption_unreliable_logged_out", ctx) == pytest.approx(1 / 2)
    # logged in (users 0, 2): shown 0, 1, 0, 3 -> 2/4; engaged 1, 0 -> 1/2
    assert _value("exposure_unreliable_logged_in", ctx) == pytest.approx(2 / 4)
    assert _value("consumption_unreliable_logged_in", ctx) == pytest.approx(1 / 2)
    # the threshold is a parameter: below 0.2 only item 1 counts (shown twice to the cohort... of
    # the logged-in users once, in 4 impressions)
    assert _value("exposure_unreliable_logged_in", ctx, threshold=0.2) == pytest.approx(1 / 4)
    assert _value("exposure_unreliable", ctx, threshold=0.9) == pytest.approx(1.0)


def test_nan_without_reliability_or_without_the_cohort():
    for name in NAMES:
        assert math.isnan(_value(name, _context(None, [False, True, False])))
    nobody_out = _context([0.8, 0.1, 0.5, 0.25], None)
    assert math.isnan(_value("exposure_unreliable_logged_out", nobody_out))
    assert _value("exposure_unreliable_logged_in", nobody_out) == pytest.approx(4 / 7)


def test_the_metrics_are_opt_in():
    # "all" must not record them: every other scenario's metrics.csv stays as it was
    assert all(METRICS.get(name).opt_in for name in NAMES)


def test_logged_in_share_is_na_where_the_logged_out_one_is_empty():
    metrics = pd.DataFrame(
        {
            "variant": ["a", "a", "b", "b"],
            "replicate": [0, 0, 0, 0],
            "step": [0, 1, 0, 1],
            "exposure_unreliable_logged_out": [0.4, 0.5, float("nan"), float("nan")],
            "exposure_unreliable_logged_in": [0.3, 0.2, 0.3, 0.3],
        }
    )
    absent = not_applicable(metrics)
    assert ("a",) not in absent
    assert absent[("b",)] == {"exposure_unreliable_logged_out", "exposure_unreliable_logged_in"}
