"""The mitigations on tiny hand-computed cases and brute-force references (issue 11)."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from simlab.interventions.base import InterventionContext, Truth
from simlab.interventions.bridging import Bridging, bridging_loss, fit_bridging
from simlab.interventions.calibrated import Calibrated, calibration_kl, history_topics
from simlab.interventions.common import minmax_rows
from simlab.interventions.diversity_cap import DiversityCap
from simlab.interventions.extremeness import ExtremenessPenalty, roc_auc
from simlab.interventions.injection import ChronologicalMix, RandomInjection
from simlab.interventions.mmr import MMR
from simlab.platform.policies import TopK
from simlab.platform.slates import PolicyFeed, columns_to_items
from simlab.registry import EmptySettings


def view(topic, creator=None, created=None, history=None, step=0, n_users=None):
    """A stand-in for the PlatformView with only the observable columns the mitigations read."""
    topic = torch.as_tensor(topic)
    m = topic.shape[0]
    creator = torch.arange(m) if creator is None else torch.as_tensor(creator)
    created = torch.zeros(m, dtype=torch.long) if created is None else torch.as_tensor(created)
    history = torch.full((n_users or 1, 3), -1) if history is None else torch.as_tensor(history)
    catalog = SimpleNamespace(topic=topic, creator=creator, created=created, size=m)
    return SimpleNamespace(
        item_topic=topic,
        item_creator=creator,
        items=catalog,
        history=history,
        step=step,
        n_items=m,
        n_users=history.shape[0],
        device=torch.device("cpu"),
    )


def wrapped(cls, settings, platform, embeddings=None, truth=None, seed=0):
    intervention = cls(cls.Settings(**settings))
    recommender = SimpleNamespace(item_embeddings=lambda: embeddings)
    context = InterventionContext(
        view=platform,
        recommender=recommender,
        slate_size=5,
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
        truth=truth,
    )
    intervention.wrap(PolicyFeed(TopK(EmptySettings()), torch.Generator().manual_seed(1)), context)
    return intervention


def slate_items(feed, candidates, scores, k):
    users = torch.arange(candidates.shape[0])
    return columns_to_items(
        candidates, feed.build_slates(users, candidates, feed.adjust_scores(users, candidates, scores), k)
    )


# ------------------------------------------------------------------ normalisation


def test_minmax_rows_maps_finite_scores_to_unit_interval():
    scores = torch.tensor([[2.0, 4.0, float("-inf"), 3.0], [1.0, 1.0, 1.0, float("-inf")]])
    out = minmax_rows(scores)
    assert torch.equal(out[0], torch.tensor([0.0, 1.0, float("-inf"), 0.5]))
    assert torch.equal(out[1], torch.tensor([0.0, 0.0, 0.0, float("-inf")]))


# ------------------------------------------------------------------ MMR


def test_mmr_order_on_five_items_by_hand():
    """lam = 0.5, relevance [1, .9, .8, .5, 0] (scores min-max normalised), unit embeddings
    e0 = e1 = (1, 0), e2 = (0, 1), e3 = (.6, .8), e4 = (-1, 0). By hand:
    slot 1: gains .5 rel -> item 0. slot 2: item1 .45-.5 = -.05, item2 .4-0 = .4,
    item3 .25-.3 = -.05, item4 0-.5(-1) = .5 -> item 4. slot 3: max sims to {0, 4}: item1 1,
    item2 0, item3 .6 -> gains -.05, .4, -.05 -> item 2. slot 4: max sims item1 1, item3 .8 ->
    -.05 vs -.15 -> item 1, then item 3."""
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    scores_by_item = torch.tensor([1.0, 0.9, 0.8, 0.5, 0.0])
    candidates = torch.tensor([[3, 0, 4, 1, 2]])  # shuffled columns: the answer is in item ids
    scores = scores_by_item[candidates]
    feed = wrapped(MMR, {"lam": 0.5, "pool": 5}, view(topic=[0] * 5), embeddings)
    assert slate_items(feed, candidates, scores, 5).tolist() == [[0, 4, 2, 1, 3]]
    plain = wrapped(MMR, {"lam": 1.0, "pool": 5}, view(topic=[0] * 5), embeddings)
    assert slate_items(plain, candidates, scores, 5).tolist() == [[0, 1, 2, 3, 4]]


def test_mmr_without_embeddings_uses_topic_and_creator():
    """No embeddings: sim = .5 same topic + .5 same creator. Items 0, 1 share topic and
    creator (sim 1), item 2 shares the topic only (.5), item 3 nothing. lam = .5, relevance
    [1, 2/3, 1/3, 0]: slot 2 gains item1 1/3-.5, item2 1/6-.25, item3 0 -> item 3; slot 3
    item1 -1/6, item2 -1/12 -> item 2, then item 1."""
    platform = view(topic=[0, 0, 0, 1], creator=[5, 5, 6, 7])
    candidates = torch.tensor([[0, 1, 2, 3]])
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    feed = wrapped(MMR, {"lam": 0.5, "pool": 4}, platform, None)
    assert slate_items(feed, candidates, scores, 4).tolist() == [[0, 3, 2, 1]]


def mmr_reference(rel, sim, lam, k):
    chosen: list[int] = []
    for _ in range(k):
        best, value = None, -math.inf
        for j in range(len(rel)):
            if j in chosen:
                continue
            g = lam * rel[j] - (1 - lam) * (max(sim[j][i] for i in chosen) if chosen else 0.0)
            if g > value:
                best, value = j, g
        chosen.append(best)
    return chosen


def test_mmr_matches_a_loop_reference_on_random_rows():
    g = torch.Generator().manual_seed(4)
    embeddings = torch.randn(30, 4, generator=g)
    candidates = torch.stack([torch.randperm(30, generator=g)[:12] for _ in range(6)])
    scores = torch.randn(6, 12, generator=g)
    feed = wrapped(MMR, {"lam": 0.7, "pool": 12}, view(topic=[0] * 30), embeddings)
    got = slate_items(feed, candidates, scores, 6)
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    for row in range(6):
        rel = minmax_rows(scores[row : row + 1])[0].tolist()
        items = candidates[row]
        sim = (unit[items] @ unit[items].T).tolist()
        assert got[row].tolist() == items[mmr_reference(rel, sim, 0.7, 6)].tolist()


# ------------------------------------------------------------------ calibration


def test_calibration_kl_by_hand():
    """p = (.5, .5, 0), q = (1, 0, 0), alpha = .01: q~ = (.995, .005, 0),
    KL = .5 ln(.5/.995) + .5 ln(.5/.005)."""
    p, q = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([1.0, 0.0, 0.0])
    expected = 0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(0.5 / 0.005)
    assert calibration_kl(p, q, 0.01).item() == pytest.approx(expected, rel=1e-6)
    assert calibration_kl(p, p, 0.01).item() == pytest.approx(0.0, abs=1e-7)


def test_history_topics_counts_only_filled_slots():
    topic = torch.tensor([0, 1, 1, 2])
    history = torch.tensor([[-1, 1, 2], [0, 3, 3], [-1, -1, -1]])
    p = history_topics(history, topic, 3)
    assert torch.allclose(p, torch.tensor([[0, 1, 0], [1 / 3, 0, 2 / 3], [0, 0, 0]]))


def calibrated_reference(rel, topics, p, lam, alpha, k, n_topics):
    """Steck's greedy: add the item maximising (1-lam) sum rel - lam KL(p || q~(S + j)); ties go
    to the better-scored item."""
    chosen: list[int] = []
    for _ in range(k):
        best, value = None, -math.inf
        for j in sorted(range(len(rel)), key=lambda i: -rel[i]):
            if j in chosen:
                continue
            s = [*chosen, j]
            q = torch.bincount(torch.tensor([topics[i] for i in s]), minlength=n_topics).double() / len(s)
            kl = calibration_kl(p.double(), q, alpha).item() if p.sum() > 0 else 0.0
            objective = (1 - lam) * sum(rel[i] for i in s) - lam * kl
            if objective > value + 1e-12:
                best, value = j, objective
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9, 1.0])
def test_calibrated_greedy_matches_the_objective_computed_in_full(lam):
    g = torch.Generator().manual_seed(2)
    m, t = 20, 4
    topic = torch.randint(0, t, (m,), generator=g)
    history = torch.randint(-1, m, (5, 6), generator=g)
    history[4] = -1  # a user without history: relevance order
    platform = view(topic=topic, history=history)
    candidates = torch.stack([torch.randperm(m, generator=g)[:10] for _ in range(5)])
    scores = torch.randn(5, 10, generator=g)
    feed = wrapped(Calibrated, {"lam": lam, "pool": 10}, platform)
    got = slate_items(feed, candidates, scores, 5)
    p = history_topics(history, topic, t)
    for row in range(5):
        rel = minmax_rows(scores[row : row + 1])[0].tolist()
        items = candidates[row]
        ref = calibrated_reference(rel, topic[items].tolist(), p[row], lam, 0.01, 5, t)
        assert got[row].tolist() == items[ref].tolist(), row
    assert got[4].tolist() == candidates[4][torch.argsort(scores[4], descending=True)[:5]].tolist()


def test_calibrated_full_strength_mirrors_a_history_mix():
    """History half topic 0, half topic 1; the best-scored items are all topic 0. lam = 1
    gives a slate of 2 + 2 (KL ~ 0); lam = 0 the four best (all topic 0)."""
    topic = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    platform = view(topic=topic, history=torch.tensor([[0, 4, 1, 5]]))
    candidates = torch.arange(8)[None]
    scores = torch.tensor([[8.0, 7, 6, 5, 4, 3, 2, 1]])
    calibrated = slate_items(wrapped(Calibrated, {"lam": 1.0, "pool": 8}, platform), candidates, scores, 4)
    assert sorted(topic[calibrated[0]].tolist()) == [0, 0, 1, 1]
    plain = slate_items(wrapped(Calibrated, {"lam": 0.0, "pool": 8}, platform), candidates, scores, 4)
    assert plain.tolist() == [[0, 1, 2, 3]]


# ------------------------------------------------------------------ diversity cap


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_diversity_cap_is_respected_and_greedy_in_rank_order(cap):
    g = torch.Generator().manual_seed(cap)
    m = 40
    creator = torch.randint(0, 6, (m,), generator=g)
    candidates = torch.stack([torch.randperm(m, generator=g)[:25] for _ in range(8)])
    scores = torch.randn(8, 25, generator=g)
    feed = wrapped(DiversityCap, {"cap": cap, "pool": 25}, view(topic=[0] * m, creator=creator))
    got = slate_items(feed, candidates, scores, 8)
    for row in range(8):
        items = [i for i in got[row].tolist() if i >= 0]
        counts = torch.bincount(creator[torch.tensor(items)], minlength=6)
        assert int(counts.max()) <= cap
        # reference: walk the candidates best first, keep those under the cap
        expected, used = [], [0] * 6
        for col in torch.argsort(scores[row], descending=True).tolist():
            item = int(candidates[row, col])
            if used[int(creator[item])] < cap and len(expected) < 8:
                expected.append(item)
                used[int(creator[item])] += 1
        assert got[row].tolist() == expected + [-1] * (8 - len(expected))


def test_diversity_cap_by_topic():
    topic = torch.tensor([0, 0, 1, 1, 2])
    feed = wrapped(DiversityCap, {"cap": 1, "by": "topic", "pool": 5}, view(topic=topic))
    got = slate_items(feed, torch.arange(5)[None], torch.tensor([[5.0, 4, 3, 2, 1]]), 4)
    assert got.tolist() == [[0, 2, 4, -1]]


# ------------------------------------------------------------------ extremeness penalty


def truth_for(extremeness):
    e = torch.as_tensor(extremeness, dtype=torch.float32)
    catalog = SimpleNamespace(stance=e[:, None], size=e.shape[0])
    catalog.extremeness = e  # the Catalog property, for the AUC's truth label
    return Truth(users=None, catalog=catalog)  # type: ignore[arg-type]


def test_penalty_subtracts_weight_times_range_times_classified_score():
    e = torch.tensor([0.0, 0.5, 1.0, 0.9])
    feed = wrapped(ExtremenessPenalty, {"weight": 0.5, "noise": 0.0}, view(topic=[0] * 4), truth=truth_for(e))
    candidates = torch.tensor([[0, 1, 2, 3]])
    scores = torch.tensor([[1.0, 3.0, 5.0, 2.0]])
    adjusted = feed.adjust_scores(torch.tensor([0]), candidates, scores)
    assert torch.allclose(adjusted, scores - 0.5 * 4.0 * e)
    down = wrapped(
        ExtremenessPenalty,
        {"weight": 1.0, "noise": 0.0, "mode": "downrank", "threshold": 0.8},
        view(topic=[0] * 4),
        truth=truth_for(e),
    )
    adjusted = down.adjust_scores(torch.tensor([0]), candidates, scores)
    assert torch.allclose(adjusted, torch.tensor([[1.0, 3.0, 1.0, -2.0]]))  # flagged: 5 - 4, 2 - 4


@pytest.mark.parametrize("mode", ["subtract", "downrank"])
def test_penalty_is_monotone_in_its_weight(mode):
    """The classified extremeness summed over each top-k slate never grows with the weight
    (exchange argument: the top-k of s - w r c has a non-increasing c-sum in w)."""
    g = torch.Generator().manual_seed(9)
    m = 200
    e = torch.rand(m, generator=g)
    candidates = torch.stack([torch.randperm(m, generator=g)[:50] for _ in range(40)])
    scores = torch.randn(40, 50, generator=g)
    totals = []
    for weight in [0.0, 0.1, 0.3, 0.6, 1.0, 2.0]:
        feed = wrapped(
            ExtremenessPenalty,
            {"weight": weight, "noise": 0.1, "mode": mode, "threshold": 0.7},
            view(topic=[0] * m),
            truth=truth_for(e),
        )
        items = slate_items(feed, candidates, scores, 10)
        classified = feed.classify()
        signal = classified if mode == "subtract" else (classified > 0.7).float()
        totals.append(signal[items].sum(dim=1))
    for low, high in itertools.pairwise(totals):
        assert bool((high <= low + 1e-6).all())
    assert float(totals[-1].sum()) < float(totals[0].sum())


def test_roc_auc_against_pair_counting():
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.4, 0.2])
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    pairs = [
        (1.0 if a > b else 0.5 if a == b else 0.0)
        for a, la in zip(scores, labels)
        for b, lb in zip(scores, labels)
        if la == 1 and lb == 0
    ]
    assert roc_auc(scores, labels) == pytest.approx(sum(pairs) / len(pairs))


def test_classifier_auc_is_one_without_noise_and_falls_with_noise():
    e = torch.rand(4000, generator=torch.Generator().manual_seed(0))
    aucs = []
    for noise in [0.0, 0.1, 0.3, 1.0]:
        feed = wrapped(ExtremenessPenalty, {"noise": noise}, view(topic=[0] * 4000), truth=truth_for(e))
        aucs.append(feed.auc())
    assert aucs[0] == 1.0
    assert aucs[0] > aucs[1] > aucs[2] > aucs[3] > 0.5


def test_new_items_are_classified_once_as_they_arrive():
    e = torch.tensor([0.1, 0.9, 0.5, 0.3])
    truth = truth_for(e)
    truth.catalog.size = 2
    feed = wrapped(ExtremenessPenalty, {"noise": 0.3}, view(topic=[0] * 4), truth=truth, seed=5)
    first = feed.classify().clone()
    assert first.shape == (2,)
    truth.catalog.size = 4
    grown = feed.classify()
    assert torch.equal(grown[:2], first)  # old items keep their score
    all_at_once = wrapped(ExtremenessPenalty, {"noise": 0.3}, view(topic=[0] * 4), truth=truth_for(e), seed=5)
    assert torch.equal(all_at_once.classify(), grown)  # same draws however the arrivals are split


# ------------------------------------------------------------------ bridging


def bridging_data(seed=0, n_users=8, n_items=6, n_obs=40):
    rng = np.random.default_rng(seed)
    user = torch.from_numpy(rng.integers(0, n_users, n_obs))
    item = torch.from_numpy(rng.integers(0, n_items, n_obs))
    rating = torch.from_numpy(rng.integers(0, 2, n_obs).astype(np.float64))
    params = {
        "mu": torch.zeros((), dtype=torch.float64),
        "user_intercept": torch.zeros(n_users, dtype=torch.float64),
        "item_intercept": torch.zeros(n_items, dtype=torch.float64),
        "user_factor": torch.from_numpy(rng.normal(0, 0.5, n_users)),
        "item_factor": torch.from_numpy(rng.normal(0, 0.5, n_items)),
    }
    return user, item, rating, params


def test_bridging_intercepts_equal_a_direct_least_squares_solve():
    """With the factors fixed, mu, i_u, i_j minimise a ridge problem; solve it with numpy's
    lstsq on the design [1 | one-hot user | one-hot item] stacked over sqrt(reg) * I rows."""
    user, item, rating, params = bridging_data()
    reg = 0.15
    fitted = fit_bridging(user, item, rating, params, reg, 0.03, iterations=3000, fit_factors=False)
    n_u, n_i, e = 8, 6, user.shape[0]
    design = np.zeros((e, 1 + n_u + n_i))
    design[:, 0] = 1
    design[np.arange(e), 1 + user.numpy()] = 1
    design[np.arange(e), 1 + n_u + item.numpy()] = 1
    target = rating.numpy() - (params["user_factor"][user] * params["item_factor"][item]).numpy()
    penalty = np.sqrt(reg) * np.eye(1 + n_u + n_i)[1:]  # mu is not regularised
    solution = np.linalg.lstsq(np.vstack([design, penalty]), np.concatenate([target, np.zeros(n_u + n_i)]), rcond=None)[
        0
    ]
    assert fitted["mu"].item() == pytest.approx(solution[0], abs=1e-8)
    assert np.allclose(fitted["user_intercept"].numpy(), solution[1 : 1 + n_u], atol=1e-8)
    assert np.allclose(fitted["item_intercept"].numpy(), solution[1 + n_u :], atol=1e-8)
    assert torch.equal(fitted["user_factor"], params["user_factor"])


def test_bridging_full_fit_never_increases_the_loss_and_reaches_a_stationary_point():
    user, item, rating, params = bridging_data(seed=3)
    losses = []
    for _ in range(200):
        params = fit_bridging(user, item, rating, params, 0.15, 0.03, iterations=1)
        losses.append(bridging_loss(user, item, rating, params, 0.15, 0.03))
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(losses))
    params = fit_bridging(user, item, rating, params, 0.15, 0.03, iterations=5000)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    prediction = leaves["mu"] + leaves["user_intercept"][user] + leaves["item_intercept"][item]
    prediction = prediction + leaves["user_factor"][user] * leaves["item_factor"][item]
    intercepts = leaves["user_intercept"].square().sum() + leaves["item_intercept"].square().sum()
    factors = leaves["user_factor"].square().sum() + leaves["item_factor"].square().sum()
    ((rating - prediction).square().sum() + 0.15 * intercepts + 0.03 * factors).backward()
    assert max(float(v.grad.abs().max()) for v in leaves.values()) < 1e-6  # the gradient vanishes


def test_bridging_ranks_by_the_item_intercept_at_full_weight():
    feed = wrapped(Bridging, {"weight": 1.0}, view(topic=[0] * 4, history=torch.full((3, 2), -1)))
    feed.params["item_intercept"] = torch.tensor([0.3, -0.2, 0.9])  # item 3 not fitted yet: 0
    candidates = torch.tensor([[0, 1, 2, 3]])
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    assert slate_items(feed, candidates, scores, 4).tolist() == [[2, 0, 3, 1]]
    half = wrapped(Bridging, {"weight": 0.5}, view(topic=[0] * 4, history=torch.full((3, 2), -1)))
    half.params["item_intercept"] = torch.tensor([0.3, -0.2, 0.9])
    mixed = half.adjust_scores(torch.tensor([0]), candidates, scores)
    rel = torch.tensor([1.0, 2 / 3, 1 / 3, 0.0])
    bridge = (torch.tensor([0.3, -0.2, 0.9, 0.0]) + 0.2) / 1.1
    assert torch.allclose(mixed[0], 0.5 * rel + 0.5 * bridge)


# ------------------------------------------------------------------ slot filling


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 1.0])
def test_random_injection_counts_are_exact(share):
    g = torch.Generator().manual_seed(1)
    m, k = 300, 10
    candidates = torch.stack([torch.randperm(m, generator=g)[:60] for _ in range(50)])
    scores = torch.randn(50, 60, generator=g)
    feed = wrapped(RandomInjection, {"share": share}, view(topic=[0] * m))
    got = slate_items(feed, candidates, scores, k)
    ranked = columns_to_items(
        candidates, PolicyFeed(TopK(EmptySettings()), g).build_slates(torch.arange(50), candidates, scores, k)
    )
    n_inject = round(share * k)
    for row in range(50):
        slate = got[row].tolist()
        assert len(set(slate)) == k and -1 not in slate
        kept = [i for i in slate if i in ranked[row, : k - n_inject].tolist()]
        assert kept == ranked[row, : k - n_inject].tolist()  # the inner feed's best, in order
        assert len(slate) - len(kept) == n_inject
        assert set(slate) <= set(candidates[row].tolist())


def test_random_injection_is_deterministic_and_varies_positions():
    g = torch.Generator().manual_seed(2)
    candidates = torch.stack([torch.randperm(100, generator=g)[:40] for _ in range(30)])
    scores = torch.randn(30, 40, generator=g)
    a = slate_items(wrapped(RandomInjection, {"share": 0.3}, view(topic=[0] * 100), seed=7), candidates, scores, 10)
    b = slate_items(wrapped(RandomInjection, {"share": 0.3}, view(topic=[0] * 100), seed=7), candidates, scores, 10)
    c = slate_items(wrapped(RandomInjection, {"share": 0.3}, view(topic=[0] * 100), seed=8), candidates, scores, 10)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_fresh_injection_prefers_items_of_the_last_window():
    created = torch.tensor([0] * 50 + [9] * 50)  # items 50.. are fresh at step 10 with window 5
    candidates = torch.arange(100)[None].repeat(4, 1)
    scores = -torch.arange(100.0)[None].repeat(4, 1)  # the inner feed prefers old items
    feed = wrapped(
        RandomInjection,
        {"share": 0.5, "source": "fresh", "fresh_window": 5},
        view(topic=[0] * 100, created=created, step=10),
    )
    got = slate_items(feed, candidates, scores, 10)
    assert ((got >= 50).sum(dim=1) == 5).all()


@pytest.mark.parametrize("share", [0.1, 0.3, 0.6, 1.0])
def test_chronological_share_is_exact_and_newest_first(share):
    g = torch.Generator().manual_seed(3)
    m, k = 200, 10
    created = torch.randint(0, 40, (m,), generator=g)
    candidates = torch.stack([torch.randperm(m, generator=g)[:50] for _ in range(20)])
    scores = torch.randn(20, 50, generator=g)
    feed = wrapped(ChronologicalMix, {"share": share}, view(topic=[0] * m, created=created))
    got = slate_items(feed, candidates, scores, k)
    ranked = columns_to_items(
        candidates, PolicyFeed(TopK(EmptySettings()), g).build_slates(torch.arange(20), candidates, scores, k)
    )
    n_new = round(share * k)
    for row in range(20):
        kept = ranked[row, : k - n_new].tolist()
        filled = [i for i in got[row].tolist() if i not in kept]
        assert len(filled) == n_new
        others = [i for i in candidates[row].tolist() if i not in kept]
        newest = sorted(others, key=lambda i: (-int(created[i]), -float(scores[row][candidates[row] == i][0])))[:n_new]
        assert sorted(filled) == sorted(newest)
