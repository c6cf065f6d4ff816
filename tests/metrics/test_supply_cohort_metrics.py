"""supply_extremeness and the cohort metrics on hand-computed tiny cases."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import simlab.metrics.columns  # noqa: F401  (registers the metrics)
from simlab.core.state import Catalog, Engagements
from simlab.registry import METRICS


def _catalog(stance: list[float], created: list[int], quality: list[float] | None = None) -> Catalog:
    m = len(stance)
    return Catalog(
        stance=torch.tensor(stance)[:, None],
        topic=torch.zeros(m, dtype=torch.long),
        creator=torch.zeros(m, dtype=torch.long),
        quality=torch.tensor(quality if quality is not None else [0.0] * m),
        created=torch.tensor(created),
        impressions=torch.zeros(m, dtype=torch.long),
        engagements=torch.zeros(m, dtype=torch.long),
        size=m,
    )


def _value(name: str, ctx, **params) -> float:
    return float(METRICS.build({"type": name, **params}).compute(ctx))


def test_supply_extremeness_by_hand():
    catalog = _catalog([0.1, -0.9, 0.5, -0.2, 0.7], created=[0, 0, 3, 5, 6])
    ctx = SimpleNamespace(catalog=catalog, step=6)
    # W = 3: items created in [4, 6] are the last two, e = 0.2 and 0.7
    assert _value("supply_extremeness", ctx, window=3) == pytest.approx(0.45)
    # W = 4 takes in the item of step 3 (e = 0.5); W = 7 the whole catalog
    assert _value("supply_extremeness", ctx, window=4) == pytest.approx((0.5 + 0.2 + 0.7) / 3)
    assert _value("supply_extremeness", ctx, window=7) == pytest.approx((0.1 + 0.9 + 0.5 + 0.2 + 0.7) / 5)
    # nothing new within the window: undefined
    assert math.isnan(_value("supply_extremeness", SimpleNamespace(catalog=catalog, step=20), window=3))


def _cohort_context(logged_out: list[bool] | None):
    catalog = _catalog([0.2, -0.8, 0.6], created=[0, 0, 0], quality=[0.9, 0.1, 0.5])
    # impressions: (user, item, label)
    user = torch.tensor([0, 0, 1, 2, 2])
    item = torch.tensor([0, 1, 1, 2, 0])
    label = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    impressions = Engagements(user, item, torch.zeros_like(user), label, label, catalog.stance[item, 0].abs())
    users = SimpleNamespace(
        n=3,
        opinion=torch.tensor([[0.0], [0.5], [-0.5]]),
        logged_out=None if logged_out is None else torch.tensor(logged_out),
    )
    return SimpleNamespace(catalog=catalog, impressions=impressions, users=users)


def test_cohort_metrics_by_hand():
    ctx = _cohort_context([False, True, False])  # user 1 is logged out
    # logged out: shown item 1 (q 0.1, e 0.8), engaged with it
    assert _value("exposure_quality_logged_out", ctx) == pytest.approx(0.1)
    assert _value("consumption_extremeness_logged_out", ctx) == pytest.approx(0.8)
    # logged in: shown items 0, 1, 2, 0 (q 0.9, 0.1, 0.5, 0.9), engaged with 0 and 2
    assert _value("exposure_quality_logged_in", ctx) == pytest.approx((0.9 + 0.1 + 0.5 + 0.9) / 4)
    assert _value("exposure_extremeness_logged_in", ctx) == pytest.approx((0.2 + 0.8 + 0.6 + 0.2) / 4)
    assert _value("consumption_quality_logged_in", ctx) == pytest.approx((0.9 + 0.5) / 2)
    assert _value("consumption_extremeness_logged_in", ctx) == pytest.approx((0.2 + 0.6) / 2)


@pytest.mark.parametrize("flags", [None, [False, False, False]])
def test_an_empty_cohort_gives_nan(flags):
    ctx = _cohort_context(flags)
    assert math.isnan(_value("exposure_quality_logged_out", ctx))
    assert _value("exposure_quality_logged_in", ctx) == pytest.approx((0.9 + 0.1 + 0.1 + 0.5 + 0.9) / 5)


def test_reset_cohort_metrics_by_hand():
    ctx = _cohort_context(None)
    ctx.view = SimpleNamespace(forgotten_at=torch.tensor([-1, 4, 4]))  # users 1 and 2 were wiped
    # wiped: user 1 shown item 1, user 2 shown items 2 and 0
    assert _value("exposure_extremeness_reset", ctx) == pytest.approx((0.8 + 0.6 + 0.2) / 3)
    assert _value("exposure_extremeness_kept", ctx) == pytest.approx((0.2 + 0.8) / 2)
    # d = |x - y|: user 1 (0.5) vs -0.8 -> 1.3; user 2 (-0.5) vs 0.6 -> 1.1, vs 0.2 -> 0.7
    assert _value("exposure_distance_reset", ctx) == pytest.approx((1.3 + 1.1 + 0.7) / 3)
    assert _value("exposure_distance_kept", ctx) == pytest.approx((0.2 + 0.8) / 2)
    ctx.view = SimpleNamespace(forgotten_at=None)
    assert math.isnan(_value("exposure_extremeness_reset", ctx))
