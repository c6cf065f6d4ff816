"""Social graphs: generators, edge-list files and the tensor conversion."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

import simlab.society.population  # noqa: F401  (registers the population types)
from simlab.registry import NETWORKS, POPULATIONS
from simlab.society.network import Edges, build_graph, gnp_pairs, read_edge_list, to_graph
from simlab.society.network.generators import unrank_pairs


def users(n: int, seed: int = 0):
    return POPULATIONS.build({"type": "uniform", "size": n}).sample(2, torch.Generator().manual_seed(seed), "cpu")


def graph_of(spec: dict, n: int, seed: int = 1):
    return build_graph(NETWORKS.build(spec), users(n), seed)


def row_sums(graph) -> torch.Tensor:
    return torch.sparse.mm(graph.adjacency, torch.ones(graph.n, 1))[:, 0]


def check_consistent(graph) -> None:
    sums = row_sums(graph)
    assert torch.isfinite(graph.adjacency.values()).all()
    torch.testing.assert_close(sums[graph.degree > 0], torch.ones(int((graph.degree > 0).sum())))
    assert (sums[graph.degree == 0] == 0).all()
    torch.testing.assert_close(torch.bincount(graph.src, graph.weight, graph.n).float(), graph.degree)


def test_unrank_pairs_enumerates_the_upper_triangle():
    for n in (2, 3, 10, 101):
        u, v = unrank_pairs(np.arange(n * (n - 1) // 2), n)
        iu, iv = np.triu_indices(n, 1)
        assert (u == iu).all() and (v == iv).all()


@pytest.mark.parametrize("n", [300, 50_000])  # enumerated and sampled code paths
def test_erdos_renyi_degree_and_simplicity(n):
    graph = graph_of({"type": "erdos_renyi", "mean_degree": 8}, n)
    assert graph.n == n
    assert abs(graph.degree.mean().item() - 8) < (0.6 if n == 300 else 0.1)
    pairs = graph.src * n + graph.dst
    assert pairs.unique().numel() == pairs.numel() and (graph.src != graph.dst).all()
    check_consistent(graph)


def test_gnp_pairs_large_sampler_is_distinct_and_binomial():
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(20):
        u, v = gnp_pairs(rng, 3000, 1e-3)  # 4.5e6 pairs: sampled path
        assert (u < v).all() and np.unique(u * 3000 + v).size == u.size
        counts.append(u.size)
    mean = 3000 * 2999 / 2 * 1e-3
    assert abs(np.mean(counts) - mean) < 4 * np.sqrt(mean / 20)
    a, b = gnp_pairs(rng, 3000, 1e-3, size_b=2000)
    assert a.max() < 3000 and b.max() < 2000 and abs(a.size - 6000) < 400


def test_generators_are_seeded():
    for spec in (
        {"type": "erdos_renyi"},
        {"type": "watts_strogatz", "k": 6, "p": 0.2},
        {"type": "sbm"},
        {"type": "barabasi_albert", "m": 2},
    ):
        a, b, c = graph_of(spec, 200, seed=3), graph_of(spec, 200, seed=3), graph_of(spec, 200, seed=4)
        assert torch.equal(a.src, b.src) and torch.equal(a.dst, b.dst)
        assert not (a.src.shape == c.src.shape and torch.equal(a.src, c.src) and torch.equal(a.dst, c.dst))


def test_barabasi_albert_and_watts_strogatz_sizes():
    ba = graph_of({"type": "barabasi_albert", "m": 3}, 500)
    assert ba.src.numel() == 2 * (500 - 3) * 3  # networkx: (N - m) m edges, both directions
    ring = graph_of({"type": "watts_strogatz", "k": 6, "p": 0.0}, 100)
    assert (ring.degree == 6).all()
    nxg = nx.Graph(list(zip(ring.src.tolist(), ring.dst.tolist())))
    assert nx.is_isomorphic(nxg, nx.watts_strogatz_graph(100, 6, 0.0))
    small_world = graph_of({"type": "watts_strogatz", "k": 6, "p": 0.3}, 2000)
    assert abs(small_world.src.numel() / 2 - 6000) <= 10  # collisions are redrawn
    check_consistent(small_world)
    with pytest.raises(ValueError, match="m < N"):
        graph_of({"type": "barabasi_albert", "m": 5}, 5)


def test_sbm_homophily_follows_opinion_blocks():
    n = 4000
    people = users(n)
    model = NETWORKS.build({"type": "sbm", "blocks": 2, "mean_degree": 12, "homophily": 0.9})
    graph = build_graph(model, people, 0)
    block = torch.as_tensor(model.blocks_of(people))
    assert torch.equal(block, (people.opinion[:, 0] > people.opinion[:, 0].median()).long())  # torch: lower median
    within = (block[graph.src] == block[graph.dst]).float().mean().item()
    assert abs(within - 0.9) < 0.02 and abs(graph.degree.mean().item() - 12) < 0.3
    explicit = build_graph(NETWORKS.build({"type": "sbm", "p_in": 0.01, "p_out": 0.0}), people, 0)
    assert (block[explicit.src] == block[explicit.dst]).all()
    with pytest.raises(Exception, match="both p_in and p_out"):
        NETWORKS.build({"type": "sbm", "p_in": 0.1})


def test_karate_club():
    graph = graph_of({"type": "karate_club"}, 34)
    assert graph.src.numel() == 2 * 78 and (graph.weight == 1).all()
    weighted = graph_of({"type": "karate_club", "weighted": True}, 34)
    assert weighted.weight.max() > 1
    with pytest.raises(ValueError, match="34"):
        graph_of({"type": "karate_club"}, 35)


def test_none_network_is_all_isolated_and_harmless():
    graph = graph_of({"type": "none"}, 10)
    assert graph.src.numel() == 0 and (graph.degree == 0).all()
    x = torch.rand(10, 2)
    assert torch.equal(graph.neighbour_mean(x), x)
    check_consistent(graph)


def test_isolated_nodes_give_zero_rows_and_no_nan():
    graph = to_graph(Edges(np.array([0, 0]), np.array([1, 2]), 5, np.array([1.0, 3.0])), 5)
    dense = graph.adjacency.to_dense()
    expected = torch.zeros(5, 5)
    expected[0, 1], expected[0, 2], expected[1, 0], expected[2, 0] = 0.25, 0.75, 1.0, 1.0
    torch.testing.assert_close(dense, expected)
    torch.testing.assert_close(graph.degree, torch.tensor([4.0, 1.0, 3.0, 0.0, 0.0]))
    check_consistent(graph)
    x = torch.arange(5.0)[:, None]
    torch.testing.assert_close(graph.neighbour_mean(x)[:, 0], torch.tensor([1.75, 0.0, 0.0, 3.0, 4.0]))


def test_networkx_digraph_and_self_loops():
    dg = nx.DiGraph()
    dg.add_nodes_from(range(3))
    dg.add_edge(0, 1, weight=2.0)
    dg.add_edge(2, 2)
    graph = to_graph(dg, 3)
    assert graph.src.tolist() == [0, 2] and graph.dst.tolist() == [1, 2]
    loop = to_graph(Edges(np.array([1]), np.array([1]), 2), 2)  # undirected self-loop: listed once
    assert loop.src.tolist() == [1] and loop.degree.tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"nodes 0\.\.3"):
        to_graph(nx.path_graph(3), 4)


def test_edge_list_files(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text("source,target,weight\n# a comment\n0,1,2.5\n1,0,4\n2,3,1\n\n")
    graph = build_graph(NETWORKS.build({"type": "edge_list", "path": str(path)}), users(5), 0)
    # undirected: 0-1 given twice, the last weight wins; node 4 is isolated
    assert graph.src.tolist() == [0, 1, 2, 3] and graph.dst.tolist() == [1, 0, 3, 2]
    assert graph.weight.tolist() == [4.0, 4.0, 1.0, 1.0]
    check_consistent(graph)
    directed = build_graph(NETWORKS.build({"type": "edge_list", "path": str(path), "directed": True}), users(5), 0)
    assert directed.src.tolist() == [0, 1, 2] and directed.weight.tolist() == [2.5, 4.0, 1.0]
    space = tmp_path / "edges.txt"
    space.write_text("0 1\n1   2  # trailing comment\n")
    edges = read_edge_list(space, 3)
    assert edges.weight is None and edges.src.tolist() == [0, 1] and edges.dst.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0 1\n1 7\n", r"line 2: node ids must be in \[0, 5\)"),
        ("0 1\n\n1 x\n", "line 3: cannot parse"),
        ("0,1,1\n1,2\n", "line 2: expected 'u v' or 'u v weight'"),
        ("0 1 -1\n", "line 1: weight must be finite and >= 0"),
        ("0 1.5\n", "line 1: cannot parse"),
    ],
)
def test_edge_list_errors_name_file_and_line(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as error:
        read_edge_list(path, 5)
    assert "bad.txt" in str(error.value)


def test_to_graph_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="3 nodes but the population has 4"):
        to_graph(Edges(np.array([0]), np.array([1]), 3), 4)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        to_graph(Edges(np.array([0]), np.array([5]), 3), 3)
