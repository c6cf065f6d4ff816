"""The switchable behavioural assumptions of the engagement logit (docs/assumptions.md) against
hand-computed logits."""

from __future__ import annotations

import pytest
import torch

from simlab.core.state import Catalog, Users
from simlab.society.behavior import EngagementModel

# b0 = b_topic = b_q = b_taste = 0 so the logit is the alignment + appetite (+ far) terms only
BARE = {"b0": 0.0, "b_topic": 0.0, "b_q": 0.0, "b_taste": 0.0}


def make_users(opinion: list[float]) -> Users:
    x = torch.tensor(opinion, dtype=torch.float64)[:, None]
    n = x.shape[0]
    return Users(
        x,
        x.clone(),
        torch.full((n,), 0.1),
        torch.zeros(n),
        torch.full((n,), 0.5),
        torch.full((n, 1), 1.0),
        torch.ones(n),
        torch.zeros(n, dtype=torch.long),
    )


def make_catalog(stance: list[float]) -> Catalog:
    y = torch.tensor(stance, dtype=torch.float64)[:, None]
    m = y.shape[0]
    zeros = torch.zeros(m, dtype=torch.long)
    return Catalog(y, zeros, zeros.clone(), torch.zeros(m), zeros.clone(), zeros.clone(), zeros.clone(), m)


# pairs: a user at +0.9 with items at -1, 0, +1; a user at 0 with the item at +1
USERS = make_users([0.9, 0.0])
CATALOG = make_catalog([-1.0, 0.0, 1.0])
USER = torch.tensor([0, 0, 0, 1])
ITEM = torch.tensor([0, 1, 2, 2])


def logits(**settings) -> list[float]:
    model = EngagementModel(EngagementModel.Settings(**BARE, **settings))
    return model.logit(USERS, USER, CATALOG, ITEM).tolist()


def align(x: float, y: float, b_align: float = 2.0) -> float:
    return b_align * (1 - abs(x - y) / 2)


def test_default_is_the_any_side_linear_appetite():
    # a_i = |x_i|; the user at 0.9 gets 0.9 * 1 from either extreme item
    expected = [align(0.9, -1) + 0.9, align(0.9, 0), align(0.9, 1) + 0.9, align(0, 1)]
    assert logits() == pytest.approx(expected)
    assert EngagementModel.Settings().appetite_side == "any"
    assert EngagementModel.Settings().appetite_shape == "linear"


def test_same_side_rewards_only_items_on_the_users_side():
    # the item at -1 is on the other side of a user at +0.9; a user at 0 is on neither side
    expected = [align(0.9, -1), align(0.9, 0), align(0.9, 1) + 0.9, align(0, 1)]
    assert logits(appetite_side="same_side") == pytest.approx(expected)


def test_out_group_has_its_own_weight():
    got = logits(appetite_side="out_group", b_ext=0.5, b_out_group=3.0)
    expected = [align(0.9, -1) + 3.0 * 0.9, align(0.9, 0), align(0.9, 1) + 0.5 * 0.9, align(0, 1)]
    assert got == pytest.approx(expected)


def test_out_group_spans_the_other_two_forms():
    assert logits(appetite_side="out_group", b_out_group=0.0) == pytest.approx(logits(appetite_side="same_side"))
    assert logits(appetite_side="out_group", b_out_group=1.0) == pytest.approx(logits())


def test_far_content_term_and_u_shape():
    # b_far * (d/2)^2 with d = |x - y|: d = 1.9, 0.9, 0.1, 1
    got = logits(b_ext=0.0, b_far=3.0, far_power=2.0)
    expected = [
        align(0.9, -1) + 3.0 * 0.95**2,
        align(0.9, 0) + 3.0 * 0.45**2,
        align(0.9, 1) + 3.0 * 0.05**2,
        align(0, 1) + 3.0 * 0.5**2,
    ]
    assert got == pytest.approx(expected)
    # U-shaped in the distance: both the near and the far item beat the centrist one
    assert got[0] > got[1] and got[2] > got[1]


@pytest.mark.parametrize(
    ("shape", "power", "appetite_of"),
    [
        ("linear", 2.0, lambda x: 0.1 + 2.0 * abs(x)),
        ("constant", 2.0, lambda x: 0.1 + 2.0 / 2),
        ("power", 3.0, lambda x: 0.1 + 2.0 * abs(x) ** 3),
    ],
)
def test_appetite_shapes(shape, power, appetite_of):
    got = logits(appetite_shape=shape, appetite_power=power, appetite0=0.1, appetite1=2.0, b_ext=1.5)
    expected = [
        align(0.9, -1) + 1.5 * appetite_of(0.9),
        align(0.9, 0),
        align(0.9, 1) + 1.5 * appetite_of(0.9),
        align(0, 1) + 1.5 * appetite_of(0.0),
    ]
    assert got == pytest.approx(expected)


def test_default_term_is_bit_identical_to_the_original_formula():
    # the flagship's numbers depend on b_ext * a_i * e_j evaluated in this order
    users, catalog = make_users([0.37, -0.81, 0.05]), make_catalog([0.9, -0.3, 0.66])
    user, item = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 2, 0, 0])
    model = EngagementModel(EngagementModel.Settings(b_ext=2.5, appetite0=0.3, appetite1=1.1))
    appetite = 0.3 + 1.1 * users.opinion[user].abs().amax(dim=1)
    original = 2.5 * appetite * catalog.stance[item].abs().amax(dim=1)
    assert torch.equal(model.appetite_term(users.opinion[user], catalog.stance[item]), original)
