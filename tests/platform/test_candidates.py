"""Candidate sources: each draws what its name says, from the platform's observable state."""

from __future__ import annotations

import torch

import simlab
from simlab.loop.simulation import Simulation
from simlab.platform import candidates as cg


def _sim(tiny, full_history: bool = False):
    sim = Simulation(simlab.load_scenario(tiny), 0)
    for _ in range(3):
        sim.step()
    if full_history:  # every user has engaged with H known items
        sim.history.copy_(
            torch.randint(0, sim.catalog.size, sim.history.shape, generator=torch.Generator().manual_seed(9))
        )
    return sim


def test_sources_draw_valid_ids_of_the_right_kind(tiny):
    sim = _sim(tiny)
    view, users, g = sim.view, torch.arange(sim.users.n), torch.Generator().manual_seed(0)
    m = view.n_items
    for name, sampler in cg.SAMPLERS.items():
        items = sampler(view, users, 7, g, recommender=sim.recommender, window=10, popular_pool=5)
        assert items.shape == (sim.users.n, 7) and int(items.min()) >= 0 and int(items.max()) < m, name
    recent = cg.sample_recent(view, users, 7, g, window=10)
    assert int(recent.min()) >= m - 10  # the ten newest items
    popular = cg.sample_popular(view, users, 7, g, popular_pool=5)
    top = set(torch.topk(view.item_engagements, 5).indices.tolist())
    assert set(popular.unique().tolist()) <= top


def test_social_source_takes_items_from_neighbours_histories(tiny):
    sim = _sim(tiny, full_history=True)
    view, users = sim.view, torch.arange(sim.users.n)
    crow, col = view.graph.adjacency.crow_indices(), view.graph.adjacency.col_indices()
    items = cg.sample_social(view, users, 5, torch.Generator().manual_seed(1))
    checked = 0
    for u in range(sim.users.n):
        neighbours = col[crow[u] : crow[u + 1]]
        if neighbours.numel():  # users without neighbours fall back to random items
            assert set(items[u].tolist()) <= set(view.history[neighbours].reshape(-1).tolist())
            checked += 1
    assert checked > 0


def test_history_source_same_topic_without_embeddings(tiny):
    sim = _sim(tiny, full_history=True)  # popularity: no item embeddings
    view, g = sim.view, torch.Generator().manual_seed(2)
    users = torch.arange(sim.users.n)
    items = cg.sample_history(view, users, 6, g, recommender=sim.recommender)
    own_topics = [set(view.item_topic[view.history[u]].tolist()) for u in users.tolist()]
    for row, topics in zip(items.tolist(), own_topics):
        assert {int(view.item_topic[i]) for i in row} <= topics


def test_history_source_nearest_by_item_embeddings(tiny):
    tiny["recommender"]["history_length"] = 1  # one anchor per user, so the anchor is known
    sim = _sim(tiny, full_history=True)
    view = sim.view
    table = torch.randn(view.n_items, 4, generator=torch.Generator().manual_seed(3))

    class WithEmbeddings:
        def item_embeddings(self):
            return table

    users = torch.arange(sim.users.n)
    items = cg.sample_history(view, users, 3, torch.Generator().manual_seed(4), recommender=WithEmbeddings())
    # each pick is the nearest (dot product) to the anchor within a random pool of about M
    # draws: far above a typical item, never the anchor itself
    for u, row in zip(users.tolist(), items.tolist()):
        anchor = int(view.history[u, 0])
        sims = table @ table[anchor]
        high = torch.quantile(sims, 0.75)
        assert all(i != anchor and sims[i] >= high for i in row)
