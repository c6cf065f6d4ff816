"""The per-step recorder gives the same numbers as the pure functions on the same arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import simlab
from simlab.loop.simulation import Simulation
from simlab.metrics import measures as m


def test_recorder_equals_pure_functions(tiny):
    tiny["metrics"] = {
        "params": {"polarization_er": {"alpha": 1.3, "bins": 10}, "extreme_user_share": {"threshold": 0.5}}
    }
    sim = Simulation(simlab.load_scenario(tiny), 0)
    for _ in range(3):
        row = sim.step()
    ctx = sim.context
    x = ctx.users.opinion.numpy()
    shown = ctx.catalog.stance[ctx.impressions.item].abs().amax(1).numpy()
    labels = ctx.impressions.label.numpy()
    g = ctx.graph
    expected = {
        "opinion_mean": m.opinion_mean(x),
        "opinion_variance": m.opinion_variance(x),
        "polarization_er": m.esteban_ray(x, alpha=1.3, bins=10),
        "bimodality": m.bimodality_coefficient(x),
        "polarization_p": m.polarization_disagreement_edges(g.src, g.dst, g.weight, x).polarization,
        "disagreement": m.polarization_disagreement_edges(g.src, g.dst, g.weight, x).disagreement,
        "extremity": m.extremity(x),
        "extreme_user_share": m.extreme_share(np.abs(x).max(1), 0.5),
        "exposure_extremeness": m.exposure_extremeness(shown),
        "consumption_extremeness": m.consumption_extremeness(shown[labels > 0]),
        "extreme_exposure_share": m.extreme_exposure_share(shown, 0.8),
        "coverage": m.coverage(ctx.impressions.item.numpy(), ctx.n_items),
        "exposure_gini": m.gini(np.bincount(ctx.impressions.item.numpy(), minlength=ctx.n_items)),
        "ctr": m.ctr(labels),
        "engagement": m.engagement(labels, ctx.users.n),
        "auc_pooled": m.auc(labels, ctx.predictions.numpy()),
        "logloss": m.logloss(labels, ctx.predictions.numpy()),
        "slate_diversity": m.intra_list_diversity(ctx.catalog.stance[ctx.slates[(ctx.slates >= 0).all(1)]].numpy()),
    }
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name


def test_probe_metrics_are_fixed_per_replicate_and_use_predictions(tiny):
    tiny["recommender"]["type"] = "oracle"
    sim = Simulation(simlab.load_scenario(tiny), 0)
    row = sim.step()
    probe = next(x for n, x in zip(sim.recorder.names, sim.recorder.metrics) if n == "rpol")
    users, items = probe.users.clone(), probe.items.clone()
    sim.step()
    assert torch.equal(probe.users, users) and torch.equal(probe.items, items)
    # the oracle predicts the truth: zero loss, so zero unfairness
    assert row["unfairness_individual"] == pytest.approx(0.0, abs=1e-15)
    pred = sim.view.oracle_probability(users.repeat_interleave(len(items)), items.repeat(len(users)))
    assert sim.step() is not None
    assert row["rpol"] > 0 and np.isfinite(row["rpol"])
    assert pred.numel() == len(users) * len(items)


def test_metric_selection(tiny):
    tiny["metrics"] = {"include": ["ctr", "extremity", "coverage"], "exclude": ["coverage"]}
    sim = Simulation(simlab.load_scenario(tiny), 0)
    assert set(sim.step()) == {"ctr", "extremity"}


def test_sampled_history_metrics_equal_the_pure_functions_on_the_sample(tiny):
    tiny["metrics"] = {
        "include": ["homogenization", "topic_entropy"],
        "params": {"homogenization": {"sample_users": 25}, "topic_entropy": {"sample_users": 25}},
    }
    sim = Simulation(simlab.load_scenario(tiny), 0)
    for _ in range(4):
        row = sim.step()
    metric = dict(zip(sim.recorder.names, sim.recorder.metrics))
    sample, pairs = metric["homogenization"].users, metric["homogenization"].pairs
    assert sample.numel() == 25 and torch.equal(sample, metric["topic_entropy"].users)
    history = sim.history

    def jaccard(a, b):
        a, b = set(a.tolist()) - {-1}, set(b.tolist()) - {-1}
        return len(a & b) / len(a | b) if a | b else None

    values = [jaccard(history[u], history[pairs[u]]) for u in sample.tolist()]
    values = [v for v in values if v is not None]
    assert row["homogenization"] == pytest.approx(sum(values) / len(values), rel=1e-9)
    topics = sim.catalog.topic
    entropies = []
    for u in sample.tolist():
        items = history[u][history[u] >= 0]
        if items.numel():
            p = torch.bincount(topics[items]).double()
            p = p[p > 0] / p.sum()
            entropies.append(float(-(p * p.log()).sum()))
    assert row["topic_entropy"] == pytest.approx(sum(entropies) / len(entropies), rel=1e-9)


def test_recorded_values_are_each_metrics_value_as_float64():
    """The recorder reads a CPU metric's value as a Python float: the same number as the value
    converted to float64, for every dtype a metric returns (and plain Python numbers)."""
    from types import SimpleNamespace

    from simlab.metrics.recorder import Recorder

    values = [
        torch.tensor(0.1, dtype=torch.float32),  # not representable: float32's own nearest value
        torch.tensor(1 / 3, dtype=torch.float64),
        torch.tensor(7),
        torch.tensor([2.5]),
        torch.tensor(float("nan")),
        0.25,
    ]
    recorder = Recorder.__new__(Recorder)
    recorder.names = [f"m{i}" for i in range(len(values))]
    recorder.metrics = [SimpleNamespace(compute=lambda ctx, v=v: v) for v in values]
    ctx = SimpleNamespace(users=SimpleNamespace(opinion=torch.zeros(3, 1)))
    row = recorder.record(ctx)
    expected = [torch.as_tensor(v).double().reshape(()).item() for v in values]
    assert [type(v) for v in row.values()] == [float] * len(values)
    assert row["m0"] == float(np.float32(0.1)) != 0.1
    for got, want in zip(row.values(), expected):
        assert got == want or (math.isnan(got) and math.isnan(want))
