"""The learning diagnostics (simlab.metrics.learning and their metric columns) against hand-computed
cases and brute-force references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.loop.simulation import Simulation
from simlab.metrics.learning import auc_within, interaction_share, learned_share, ndcg, top_values
from simlab.metrics.measures import auc_t, grouped_auc_t
from simlab.registry import load_components


def brute_auc(labels, scores) -> float:
    """P(a random positive outscores a random negative), ties 1/2, by enumerating the pairs."""
    pos = [s for s, y in zip(scores, labels) if y > 0]
    neg = [s for s, y in zip(scores, labels) if y <= 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_within_positions_is_the_mean_of_per_position_aucs() -> None:
    # position 0: positive 0.9 beats negatives 0.1 and 0.95? no: 0.9 > 0.1, 0.9 < 0.95 -> 1/2
    # position 1: positive 0.2 vs negative 0.2: a tie -> 1/2; position 2 has one class only
    labels = [1, 0, 0, 1, 0, 1]
    scores = [0.9, 0.1, 0.95, 0.2, 0.2, 0.3]
    groups = [0, 0, 0, 1, 1, 2]
    assert auc_within(labels, scores, groups) == pytest.approx((0.5 + 0.5) / 2)


def test_auc_within_matches_brute_force_on_random_data() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300), 2)  # rounding makes ties
    groups = rng.integers(0, 4, 300)
    expected = np.mean([brute_auc(labels[groups == g], scores[groups == g]) for g in range(4)])
    assert auc_within(labels, scores, groups) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([-0.0, 0.0, 0.25, 0.5, -1.5, 0.3]), st.integers(0, 5)), min_size=1
    )
)
def test_grouped_auc_is_bit_identical_to_auc_per_group(rows) -> None:
    """The one-sort form (what auc_within uses) gives exactly auc_t's value for every group:
    the run's columns did not move when it replaced the per-group loop."""
    labels = torch.tensor([float(y) for y, _, _ in rows])
    scores = torch.tensor([s for _, s, _ in rows], dtype=torch.float64)
    groups = torch.tensor([g for _, _, g in rows])
    expected = torch.stack([auc_t(labels[groups == g], scores[groups == g]) for g in torch.unique(groups)])
    got = grouped_auc_t(labels, scores, groups)
    assert torch.equal(expected.isnan(), got.isnan())
    assert torch.equal(expected[~expected.isnan()], got[~got.isnan()])


def test_no_impressions_have_no_groups_and_no_auc() -> None:
    empty = torch.zeros(0)
    assert grouped_auc_t(empty, empty, empty.long()).numel() == 0
    assert math.isnan(auc_within([], [], []))


def test_a_score_that_only_follows_the_position_learns_nothing() -> None:
    rng = np.random.default_rng(1)
    position = rng.integers(0, 5, 5000)
    labels = rng.random(5000) < 0.5 / (1 + position)  # engagement falls with the position only
    score = -position.astype(float)
    pooled = brute_auc(labels[:600], score[:600])
    assert pooled > 0.65  # pooled over positions, position looks like skill
    assert auc_within(labels, score, position) == pytest.approx(0.5)
    assert learned_share(0.5, 0.7) == 0.0


def test_learned_share_hand_cases() -> None:
    assert learned_share(0.65, 0.8) == pytest.approx(0.5)
    assert learned_share(0.8, 0.8) == pytest.approx(1.0)
    assert learned_share(0.45, 0.7) == pytest.approx(-0.25)
    assert math.isnan(learned_share(0.6, 0.5))  # nothing to learn


def test_interaction_share_hand_cases() -> None:
    additive = np.add.outer([0.0, 1.0, 5.0], [2.0, -1.0, 0.5, 3.0])  # user effect + item effect
    assert interaction_share(additive) == pytest.approx(0.0, abs=1e-12)
    assert interaction_share([[1.0, 0.0], [0.0, 1.0]]) == pytest.approx(1.0)
    # [[2, 0], [0, 0]]: grand mean 1/2, row and column effects +-1/2, interaction +-1/2:
    # interaction sum of squares 4 * 1/4 = 1 of a total 9/4 + 3 * 1/4 = 3
    assert interaction_share([[2.0, 0.0], [0.0, 0.0]]) == pytest.approx(1 / 3)
    assert math.isnan(interaction_share(np.full((3, 4), 0.2)))


def test_ndcg_hand_case_and_the_best_slate_scores_one() -> None:
    # shown [0.1, 0.5]: DCG = 0.1 + 0.5 / log2(3); ideal [0.5, 0.1]: 0.5 + 0.1 / log2(3)
    expected = (0.1 + 0.5 / math.log2(3)) / (0.5 + 0.1 / math.log2(3))
    assert ndcg([[0.1, 0.5]], [[0.5, 0.1, 0.0]]) == pytest.approx(expected)
    assert ndcg([[0.5, 0.1], [0.3, 0.2]], [[0.1, 0.5, 0.0], [0.2, 0.3, 0.1]]) == pytest.approx(1.0)
    assert math.isnan(ndcg([[0.0, 0.0]], [[0.0, 0.0]]))


def _run(tiny: dict, recommender: str, steps: int = 4) -> tuple[Simulation, list[dict]]:
    load_components()
    from simlab.config import load_scenario

    tiny["recommender"]["type"] = recommender
    sim = Simulation(load_scenario(tiny), replicate=0)
    return sim, [sim.step() for _ in range(steps)]


def test_ceiling_column_equals_the_within_position_auc_of_the_true_probabilities(tiny) -> None:
    sim, rows = _run(tiny, "popularity")
    ctx = sim.context
    assert ctx is not None
    imp = ctx.impressions
    label, prob, pos = imp.label.numpy(), imp.probability.numpy(), imp.position.numpy()
    groups = [g for g in np.unique(pos) if 0 < label[pos == g].sum() < (pos == g).sum()]
    expected = np.mean([brute_auc(label[pos == g], prob[pos == g]) for g in groups])
    assert rows[-1]["auc_ceiling"] == pytest.approx(expected, abs=1e-9)
    share = (rows[-1]["auc_within_position"] - 0.5) / (rows[-1]["auc_ceiling"] - 0.5)
    assert rows[-1]["learned_share"] == pytest.approx(share)
    # a popularity feed predicts per item: no personalisation
    assert rows[-1]["personalisation"] == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < rows[-1]["personalisation_ceiling"] <= 1.0


def test_the_oracle_reaches_the_ceiling_and_the_best_slates(tiny) -> None:
    _, rows = _run(tiny, "oracle")
    for row in rows:
        assert row["learned_share"] == pytest.approx(1.0)
        assert row["ndcg"] == pytest.approx(1.0, abs=1e-4)  # float32 scores vs float64 gains
        assert row["personalisation"] == pytest.approx(row["personalisation_ceiling"])


def test_a_random_feed_ranks_below_the_oracle_and_predicts_nothing_personal(tiny) -> None:
    tiny["population"]["size"] = 300
    _, rows = _run(tiny, "random", steps=3)
    assert all(row["ndcg"] < 0.9 for row in rows)
    assert all(math.isnan(row["personalisation"]) for row in rows)  # a constant prediction
    assert abs(np.mean([row["learned_share"] for row in rows])) < 0.3
    assert torch.isfinite(torch.tensor([row["auc_ceiling"] for row in rows])).all()


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(1, 12),
    columns=st.integers(1, 30),
    k=st.integers(0, 31),
    seed=st.integers(0, 999),
    nan=st.booleans(),
)
def test_top_values_equal_torch_topk(rows, columns, k, seed, nan) -> None:
    """NDCG's ideal slate: numpy's partition path gives exactly torch.topk's values, ties, zeros
    (repeated candidates) and signed zeros included; rows with NaN fall back to topk."""
    k = min(k, columns)
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 5, (rows, columns), generator=g).float() / 4  # many ties
    x[torch.rand(rows, columns, generator=g) < 0.2] = -0.0
    if nan:
        x[0, 0] = float("nan")
    got, expected = top_values(x, k), torch.topk(x, k, dim=1).values
    assert got.shape == expected.shape
    assert torch.equal(got.nan_to_num(7.0), expected.nan_to_num(7.0))
