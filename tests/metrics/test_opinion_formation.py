"""Opinion-formation metrics (issue 26) on hand-computed cases."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch

from simlab.metrics import opinion_formation as of
from simlab.metrics.recorder import Recorder
from simlab.registry import METRICS


def test_intensity_is_mean_absolute_opinion_over_users_and_axes():
    x = torch.tensor([[0.5, -1.0], [0.0, 0.5]])
    assert of.intensity_t(x).item() == pytest.approx((0.5 + 1.0 + 0.0 + 0.5) / 4)


def test_histogram_entropy_by_hand():
    # two bins on [-1, 1]: two users left of 0, two right -> log 2; all in one bin -> 0
    assert of.histogram_entropy_t(torch.tensor([-0.9, -0.1, 0.1, 0.9]), bins=2).item() == pytest.approx(math.log(2))
    assert of.histogram_entropy_t(torch.tensor([0.2, 0.3, 0.4]), bins=2).item() == pytest.approx(0.0)
    # 4 bins, shares 1/2, 1/4, 1/4 -> 1.5 log 2; the top edge 1.0 falls in the last bin
    x = torch.tensor([-0.9, -0.8, 0.1, 1.0])
    assert of.histogram_entropy_t(x, bins=4).item() == pytest.approx(1.5 * math.log(2))


def test_participation_ratio_counts_effective_axes():
    # two independent axes of equal variance: covariance diag(1, 1) -> PR 2; collapsed onto one: 1
    spread = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert of.participation_ratio_t(spread).item() == pytest.approx(2.0)
    collapsed = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [0.5, 0.5], [-0.5, -0.5]])
    assert of.participation_ratio_t(collapsed).item() == pytest.approx(1.0)
    # eigenvalues 1 and 1/4 (variances 1 and 1/4 on uncorrelated axes): 1.25^2 / 1.0625
    unequal = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [0.0, -0.5]]) * math.sqrt(2)
    assert of.participation_ratio_t(unequal).item() == pytest.approx(1.25**2 / (1 + 1 / 16))
    assert math.isnan(of.participation_ratio_t(torch.zeros(3, 2)).item())


def _path():
    # path 0 - 1 - 2 - 3, both directions
    src = torch.tensor([0, 1, 1, 2, 2, 3])
    dst = torch.tensor([1, 0, 2, 1, 3, 2])
    return src, dst


def test_echo_chamber_by_hand():
    src, dst = _path()
    x = torch.tensor([1.0, 0.0, 0.0, -1.0])
    # neighbour means: 0 -> 0, 1 -> 0.5, 2 -> -0.5, 3 -> 0; Pearson of x with (0, .5, -.5, 0)
    mean = np.array([0.0, 0.5, -0.5, 0.0])
    expected = np.corrcoef(x.numpy(), mean)[0, 1]
    assert of.echo_chamber_t(x, src, dst).item() == pytest.approx(expected)
    # opinions equal to their neighbours' mean on two cliques: perfect echo chamber
    src2 = torch.tensor([0, 1, 2, 3])
    dst2 = torch.tensor([1, 0, 3, 2])
    assert of.echo_chamber_t(torch.tensor([1.0, 1.0, -1.0, -1.0]), src2, dst2).item() == pytest.approx(1.0)
    # an isolated user is left out: users 0 and 1 follow each other (x = 1, -1; means -1, 1) -> -1
    # exactly (user 2 counted with its own value, 0.3 against 0.3, would move it off -1)
    assert of.echo_chamber_t(torch.tensor([1.0, -1.0, 0.3]), src2[:2], dst2[:2]).item() == pytest.approx(-1.0)
    assert math.isnan(of.echo_chamber_t(torch.tensor([1.0, -1.0, 0.3]), src2[:1], dst2[:1]).item())


def test_echo_chamber_uses_edge_weights():
    # user 0 follows 1 (weight 3) and 2 (weight 1): its neighbour mean is (3*1 + 1*(-1)) / 4 = 0.5
    src = torch.tensor([0, 0, 1, 2, 3])
    dst = torch.tensor([1, 2, 0, 3, 2])
    weight = torch.tensor([3.0, 1.0, 1.0, 1.0, 1.0])
    x = torch.tensor([0.2, 1.0, -1.0, 0.4])
    mean = np.array([0.5, 0.2, 0.4, -1.0])
    expected = np.corrcoef(x.numpy(), mean)[0, 1]
    assert of.echo_chamber_t(x, src, dst, weight).item() == pytest.approx(expected)


def test_assortativity_matches_networkx():
    graph = nx.karate_club_graph()
    rng = np.random.default_rng(0)
    values = rng.uniform(-1, 1, graph.number_of_nodes())
    nx.set_node_attributes(graph, {i: float(v) for i, v in enumerate(values)}, "x")
    expected = nx.numeric_assortativity_coefficient(graph, "x")
    edges = np.array(list(graph.edges()))
    src = torch.as_tensor(np.concatenate([edges[:, 0], edges[:, 1]]))
    dst = torch.as_tensor(np.concatenate([edges[:, 1], edges[:, 0]]))
    assert of.assortativity_t(torch.as_tensor(values), src, dst).item() == pytest.approx(expected)


def test_assortativity_by_hand():
    src, dst = _path()
    # edge ends (1,0),(0,1),(0,0),(0,0),(0,-1),(-1,0): symmetric pairs, r = sum ab / sum a^2 = 0 / 4
    x = torch.tensor([1.0, 0.0, 0.0, -1.0])
    assert of.assortativity_t(x, src, dst).item() == pytest.approx(0.0, abs=1e-12)
    # two camps joined only inside: r = 1
    assert of.assortativity_t(
        torch.tensor([1.0, 1.0, -1.0, -1.0]), torch.tensor([0, 1, 2, 3]), torch.tensor([1, 0, 3, 2])
    ).item() == pytest.approx(1.0)


def test_wasserstein_by_hand():
    # shifting every sample by 0.3 moves the distribution by 0.3
    a = np.array([-0.5, 0.0, 0.5])
    assert of.wasserstein_1d(a, a + 0.3) == pytest.approx(0.3)
    assert of.wasserstein_1d(a, a[::-1]) == pytest.approx(0.0)
    # different sizes: {0} vs {0, 1}: CDFs differ by 1/2 on [0, 1)
    assert of.wasserstein_1d(np.array([0.0]), np.array([0.0, 1.0])) == pytest.approx(0.5)


def test_divergence_averages_the_axes():
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 0.5], [1.0, 0.5]])  # axis 0 equal, axis 1 shifted by 0.5
    assert of.divergence(x, y) == pytest.approx(0.25)


def test_divergence_from_snapshots_pairs_replicate_and_step(tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()

    def save(name, variant, replicate, step, opinion):
        np.savez(
            folder / name,
            variant=np.array(variant),
            sweep=np.array("{}"),
            replicate=np.array(replicate),
            step=np.array(step),
            opinion=np.array(opinion),
        )

    save("a.npz", "neither", 0, 10, [[0.0], [0.2]])
    save("b.npz", "link", 0, 10, [[0.5], [0.7]])
    save("c.npz", "link", 1, 10, [[0.5], [0.7]])  # no baseline for replicate 1: left out
    rows = of.divergence_from_snapshots(tmp_path, "neither")
    by_variant = {r["variant"]: r for r in rows}
    assert len(rows) == 2
    assert by_variant["link"]["divergence"] == pytest.approx(0.5)
    assert by_variant["neither"]["divergence"] == 0.0


class _Ctx:
    """The part of a StepContext the stateful columns read."""

    def __init__(self, opinion):
        self.users = type("U", (), {"opinion": opinion})()


def test_simplification_is_the_entropy_lost_since_step_0():
    column = METRICS.build({"type": "simplification", "bins": 2})
    column.setup(_Ctx(torch.tensor([-0.9, -0.1, 0.1, 0.9])))  # entropy log 2
    assert column.compute(_Ctx(torch.tensor([-0.9, -0.1, 0.1, 0.9]))).item() == pytest.approx(0.0)
    assert column.compute(_Ctx(torch.tensor([0.1, 0.2, 0.3, 0.9]))).item() == pytest.approx(1.0)
    # shares 3/4, 1/4: H = -(.75 log .75 + .25 log .25)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert column.compute(_Ctx(torch.tensor([-0.9, 0.1, 0.2, 0.3]))).item() == pytest.approx(1 - h / math.log(2))


def test_axis_simplification_is_the_participation_ratio_lost():
    column = METRICS.build({"type": "axis_simplification"})
    column.setup(_Ctx(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])))  # PR 2
    collapsed = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [0.5, 0.5], [-0.5, -0.5]])  # PR 1
    assert column.compute(_Ctx(collapsed)).item() == pytest.approx(0.5)


def test_new_columns_are_opt_in():
    everything = Recorder.from_settings(type("S", (), {"include": "all", "exclude": [], "params": {}})())
    new = {"intensity", "simplification", "axis_simplification", "echo_chamber", "assortativity", "rewired_edges"}
    assert new <= set(METRICS.names())
    assert not new & set(everything.names)
    assert "opinion_variance" in everything.names
