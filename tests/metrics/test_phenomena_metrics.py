"""Issue 15 metrics against hand-computed cases and direct computations: the homogenization forms
(cumulative = T-RECS InteractionSimilarity, nearest consumer), miscalibration (Steck 2018),
window reach, and the group-wise and windowed columns inside a run (resumable state)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import simlab
from simlab.loop.simulation import Simulation
from simlab.metrics import measures as m
from simlab.metrics.columns import UserSample
from simlab.metrics.experiments import (
    ChaneySample,
    ExtremeReach,
    HomogenizationChaney,
    HomogenizationCumulative,
    Reach,
    merge_sorted_keys,
)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_nearest_consumer_jaccard_by_hand():
    # sets: 0 {1, 2}, 1 {2, 3}, 2 {9}, 3 {1, 2, 3}; repeats count once
    user, item = [0, 0, 0, 1, 1, 2, 3, 3, 3], [1, 2, 2, 2, 3, 9, 1, 2, 3]
    best = [2 / 3, 2 / 3, 0.0, 2 / 3]  # 0~3, 1~3, 2 shares nothing, 3~0 (or 1)
    assert math.isclose(m.nearest_consumer_jaccard(user, item, 4), np.mean(best))
    assert math.isclose(m.nearest_consumer_jaccard(user, item, 5), np.mean(best))  # user 4: no set, left out
    assert math.isnan(m.nearest_consumer_jaccard([], [], 3))


def test_nearest_consumer_jaccard_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 25
    user, item = rng.integers(0, n, 300), rng.integers(0, 40, 300)
    sets = [set(item[user == u].tolist()) for u in range(n)]
    expected = np.mean([max(jaccard(sets[u], sets[v]) for v in range(n) if v != u) for u in range(n) if sets[u]])
    assert math.isclose(m.nearest_consumer_jaccard(user, item, n), expected, rel_tol=1e-12)


@pytest.mark.parametrize("s", [2, 127, 128, 129, 300])
def test_nearest_jaccard_from_the_upper_triangle_equals_the_full_matrix_pass(s):
    """The nearest-consumer pass reads each pair once, from the upper triangle, over blocks of
    rows; the result is bit-identical to one pass over every row of the full matrix (with the
    full symmetric matrix, and with zeros below the diagonal), across block boundaries."""
    g = torch.Generator().manual_seed(s)
    x = (torch.rand(s, 60, generator=g) < 0.1).double()
    x[torch.rand(s, generator=g) < 0.1] = 0  # users with an empty set are left out
    full = x @ x.T  # exact integers
    size = full.diagonal()
    jaccard = full / (size[:, None] + size[None, :] - full).clamp(min=1)
    jaccard.fill_diagonal_(-1.0)
    has = size > 0
    expected = jaccard.amax(dim=1)[has].sum() / has.sum()
    assert torch.equal(m.nearest_jaccard_from_overlap_t(full), expected)
    assert torch.equal(m.nearest_jaccard_from_overlap_t(full.triu()), expected)


def test_miscalibration_by_hand():
    # history mix p = (1/2, 1/2); shown mix q = (2/3, 1/3); q~ = 0.99 q + 0.01 p
    q0, q1 = 0.99 * 2 / 3 + 0.005, 0.99 / 3 + 0.005
    expected = 0.5 * math.log(0.5 / q0) + 0.5 * math.log(0.5 / q1)
    assert math.isclose(m.miscalibration([[0, 0, 1, -1]], [[0, 1, -1]], 2), expected, rel_tol=1e-12)
    # a second row with identical mixes adds 0; rows with an empty side are left out
    rows = m.miscalibration(
        [[0, 0, 1, -1], [1, 1, -1, -1], [0, 1, 1, 1], [-1, -1, -1, -1]],
        [[0, 1, -1], [1, -1, -1], [-1, -1, -1], [0, 0, 0]],
        2,
    )
    assert math.isclose(rows, expected / 2, rel_tol=1e-12)
    # alpha = 0 and a topic never shown: the smoothing keeps the divergence finite only for alpha > 0
    assert math.isfinite(m.miscalibration([[0]], [[0, 1]], 2))


def test_window_reach_by_hand():
    never = -(2**62)
    last_extreme = torch.tensor([5, 2, never, 4, never])
    last_shown = torch.tensor([5, 5, 5, 4, never])
    # window 3 at step 5 covers steps 3..5: users 0..3 were shown something; 0 and 3 saw extreme
    assert m.window_reach(last_extreme, last_shown, 5, 3) == 0.5
    assert m.window_reach(last_extreme, last_shown, 5, 4) == 0.75  # user 1's step 2 now counts
    assert m.window_reach(last_extreme, last_shown, 5, 1) == 1 / 3


def test_cumulative_homogenization_equals_direct_interaction_similarity_and_last_h_departs():
    """In a run, homogenization_cumulative equals the mean Jaccard of all consumed items of each
    user and its innate-opinion partner (T-RECS InteractionSimilarity), computed directly from
    every step's engagements; the last-H column departs from it once histories exceed H."""
    sim = Simulation(
        simlab.load_scenario({"name": "t", "population": {"size": 120}, "catalog": {"size": 60}, "steps": 30}), 0
    )
    metric = HomogenizationCumulative(UserSample(sample_users=0))
    reach = ExtremeReach(Reach(threshold=0.5, window=4))
    sets: list[set] = [set() for _ in range(120)]
    last_x, last_s = np.full(120, -(10**9)), np.full(120, -(10**9))
    cum, last_h = [], []
    for t in range(30):
        row = sim.step()
        ctx = sim.context
        if t == 0:
            metric.setup(ctx)
            reach.setup(ctx)
        value = metric.compute(ctx).item()
        imp = ctx.impressions
        for u, i, y in zip(imp.user.tolist(), imp.item.tolist(), imp.label.tolist()):
            if y > 0:
                sets[u].add(i)
        pairs = metric.pairs.tolist()
        direct = [jaccard(sets[u], sets[p]) for u, p in enumerate(pairs) if sets[u] | sets[p]]
        assert math.isclose(value, np.mean(direct), rel_tol=0, abs_tol=1e-15)
        cum.append(value)
        last_h.append(row["homogenization"])
        # reach: by hand from the impressions
        last_s[imp.user.numpy()] = t
        last_x[imp.user[imp.extremeness > 0.5].numpy()] = t
        seen = last_s >= t - 3
        assert math.isclose(reach.compute(ctx).item(), ((last_x >= t - 3) & seen).sum() / seen.sum())
    assert max(abs(a - b) for a, b in zip(cum, last_h)) > 1e-3


def test_group_columns_by_hand_and_state_round_trip():
    scenario = simlab.load_scenario({"name": "t", "population": {"size": 80}, "catalog": {"size": 50}, "steps": 3})
    sim = Simulation(scenario, 0)
    for _ in range(3):
        row = sim.step()
    ctx = sim.context
    imp, group = ctx.impressions, ctx.users.group
    for g in (0, 1):
        items = imp.item[group[imp.user] == g]
        counts = np.bincount(items.numpy(), minlength=ctx.n_items)
        c = np.sort(counts)
        n = c.size
        gini = ((2 * np.arange(1, n + 1) - n - 1) * c).sum() / (n * c.sum())
        assert math.isclose(row[f"exposure_gini_group{g}"], gini, rel_tol=1e-12)
        assert math.isclose(row[f"coverage_group{g}"], (counts > 0).mean(), rel_tol=1e-12)
        assert row[f"miscalibration_group{g}"] >= 0
    state = sim.recorder.state_dict()
    assert {"extreme_reach", "homogenization_cumulative", "homogenization_chaney"} <= set(state)
    sim.recorder.load_state_dict(state)


def test_nearest_consumer_homogenization_kept_up_to_date_equals_the_measure_from_scratch():
    """homogenization_chaney keeps its overlap matrix up to date from each step's new consumption;
    every step's value is bit-identical to the measure computed from every consumed set, for all
    users and for a sample, and after a state round trip (which rebuilds the matrix)."""
    sim = Simulation(
        simlab.load_scenario({"name": "t", "population": {"size": 90}, "catalog": {"size": 40}, "steps": 12}), 0
    )
    full, sampled = (
        HomogenizationChaney(ChaneySample(sample_users=0)),
        HomogenizationChaney(ChaneySample(sample_users=30)),
    )
    users, items = [], []
    for t in range(12):
        sim.step()
        ctx = sim.context
        if t == 0:
            full.setup(ctx)
            sampled.setup(ctx)
        if t == 6:  # a resume: the state holds the consumption keys, the matrix is rebuilt
            restored = HomogenizationChaney(ChaneySample(sample_users=30))
            restored.load_state_dict(sampled.state_dict())
            sampled = restored
        engaged = ctx.impressions.label > 0
        users.append(ctx.impressions.user[engaged])
        items.append(ctx.impressions.item[engaged])
        user, item = torch.cat(users), torch.cat(items)
        assert torch.equal(full.compute(ctx), m.nearest_consumer_jaccard_t(user, item, 90)), t
        assert sampled.users is not None
        rank = torch.full((90,), -1, dtype=torch.long)
        rank[sampled.users] = torch.arange(30)
        keep = rank[user] >= 0
        assert torch.equal(sampled.compute(ctx), m.nearest_consumer_jaccard_t(rank[user][keep], item[keep], 30)), t


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 300)), st.sets(st.integers(0, 300)))
def test_merging_sorted_consumption_keys_equals_the_union(held, new) -> None:
    """The cumulative homogenization forms grow their keys by a linear merge; it must equal the
    sorted union that ``torch.unique(torch.cat(...))`` gave."""
    a, b = torch.tensor(sorted(held), dtype=torch.long), torch.tensor(sorted(new), dtype=torch.long)
    merged, added = merge_sorted_keys(a, b)
    assert torch.equal(merged, torch.unique(torch.cat([a, b])))
    assert merged[added].tolist() == sorted(new - held)


def _consumption_context(n: int, user: list[int], item: list[int]) -> SimpleNamespace:
    """The parts of a StepContext the cumulative homogenization reads: N and the engagements."""
    u, i = torch.tensor(user, dtype=torch.long), torch.tensor(item, dtype=torch.long)
    impressions = SimpleNamespace(user=u, item=i, label=torch.ones(u.numel()))
    cache: dict = {}
    return SimpleNamespace(
        users=SimpleNamespace(n=n, opinion=torch.zeros(n, 1)),
        impressions=impressions,
        cached=lambda key, compute: cache[key] if key in cache else cache.setdefault(key, compute()),
    )


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cumulative_homogenization_kept_up_to_date_equals_the_measure_from_scratch(data) -> None:
    """homogenization_cumulative keeps its set sizes and pair overlaps up to date from each step's
    new keys (partners followed by several users, a pair completed by two new keys in one step,
    repeats); every step's value is bit-identical to the measure from every consumed set, also
    after a state round trip (which counts again)."""
    n = data.draw(st.integers(2, 8))
    pairs = torch.tensor(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    pairs = torch.where(pairs == torch.arange(n), (pairs + 1) % n, pairs)  # never oneself
    metric = HomogenizationCumulative(UserSample(sample_users=0))
    metric.keys, metric.pairs = torch.zeros(0, dtype=torch.long), pairs
    held: set[tuple[int, int]] = set()
    for step in range(data.draw(st.integers(1, 6))):
        batch = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 5)), max_size=12))
        if step == 3:  # a resume
            restored = HomogenizationCumulative(UserSample(sample_users=0))
            restored.load_state_dict(metric.state_dict())
            metric = restored
        value = metric.compute(_consumption_context(n, [u for u, _ in batch], [i for _, i in batch]))
        held |= set(batch)
        keys = torch.tensor(sorted(i * n + u for u, i in held), dtype=torch.long)
        expected = m.homogenization_from_keys_t(keys, n, pairs)
        assert torch.equal(value, expected) or bool(value.isnan() & expected.isnan()), step


def test_forms_tracking_every_user_share_one_merge_a_step(monkeypatch) -> None:
    """Two cumulative homogenization forms that hold the same keys merge each step's engagements
    once (the second takes the first's result) and give the values each gives alone; after a
    resume each holds its own keys again and merges alone, with the same values."""
    import simlab.metrics.experiments as experiments

    calls = []
    merge = experiments.merge_sorted_keys
    monkeypatch.setattr(experiments, "merge_sorted_keys", lambda *args: calls.append(1) or merge(*args))
    n, pairs = 6, torch.tensor([1, 0, 3, 2, 5, 4])
    steps = [[(0, 1), (1, 1), (2, 0)], [(3, 2), (2, 2), (0, 0)], [(1, 0), (5, 4)], [(4, 4), (0, 1)]]

    def fresh_metric() -> HomogenizationCumulative:
        metric = HomogenizationCumulative(UserSample(sample_users=0))
        metric.pairs = pairs
        return metric

    alone = fresh_metric()
    alone.keys = torch.zeros(0, dtype=torch.long)  # what setup gives, without a StepContext
    expected = [alone.compute(_consumption_context(n, *zip(*batch))) for batch in steps]

    first, second = fresh_metric(), fresh_metric()
    start = _consumption_context(n, [], [])
    for metric in (first, second):  # setup's start: one shared empty keys object
        metric.keys = start.cached("consumption:all:start", lambda: torch.zeros(0, dtype=torch.long))
    calls.clear()
    for t, batch in enumerate(steps):
        if t == 2:  # a resume: each loads its own keys
            first.load_state_dict(first.state_dict() | {"keys": first.keys.clone()})
            second.load_state_dict(second.state_dict() | {"keys": second.keys.clone()})
        ctx = _consumption_context(n, *zip(*batch))
        for metric in (first, second):
            value = metric.compute(ctx)
            assert torch.equal(value, expected[t]) or bool(value.isnan() & expected[t].isnan()), t
    assert len(calls) == 2 * 1 + 2 * 2  # steps 0-1 shared (one merge each), steps 2-3 apart (two each)
