"""``labelled_extremeness``: the non-privileged extremeness penalty learned from rated items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import simlab
from simlab.core.state import Catalog, Users
from simlab.interventions.base import Truth
from simlab.interventions.labelled import ridge, shrunk_mean
from simlab.loop.simulation import Simulation


def run(tiny, labels: int, steps: int = 6, **settings) -> Simulation:
    tiny["population"]["size"] = 150
    tiny["catalog"] = {
        "type": "default",
        "size": 400,
        "topics": 4,
        "creators": 40,
        "new_per_step": 5,
        "item_spread": 0.1,
    }
    tiny["interventions"] = [{"type": "labelled_extremeness", "labels": labels, "refit_every": 2, **settings}]
    sim = Simulation(simlab.load_scenario(tiny, {"steps": steps}), 0)
    for _ in range(steps):
        sim.step()
    return sim


def held_out_correlation(sim: Simulation) -> float:
    intervention = sim.interventions[0]
    predicted = intervention.predicted()
    held = ~intervention.rated[: predicted.shape[0]]
    return float(np.corrcoef(predicted[held].numpy(), sim.catalog.extremeness[held].numpy())[0, 1])


def test_shrunk_mean_and_ridge_by_hand():
    got = shrunk_mean(torch.tensor([3.0, 0.0]), torch.tensor([4.0, 0.0]), prior=0.5, strength=2.0)
    assert got.tolist() == pytest.approx([(3 + 1) / 6, 0.5])
    # y = 1 + 2 x exactly, no penalty: the weights are recovered
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    assert ridge(x, 1 + 2 * x[:, 1], 0.0).tolist() == pytest.approx([1.0, 2.0])


def test_prediction_improves_with_the_labelling_budget(tiny):
    correlations = [held_out_correlation(run(tiny, labels)) for labels in (10, 60, 300)]
    assert correlations[0] < correlations[1] < correlations[2]
    assert correlations[2] > 0.6


def test_no_labels_leave_the_feed_unchanged(tiny):
    with_none = run(tiny, 0, steps=4)
    tiny.pop("interventions")
    without = Simulation(simlab.load_scenario(tiny, {"steps": 4}), 0)
    for _ in range(4):
        without.step()
    assert torch.equal(with_none.users.opinion, without.users.opinion)
    assert torch.equal(with_none.interventions[0].predicted(), torch.zeros(with_none.catalog.size))


def test_ratings_are_the_only_contact_with_the_truth(tiny):
    sim = run(tiny, 50, steps=2, label_noise=0.0)
    intervention = sim.interventions[0]
    assert not [v for v in vars(intervention).values() if isinstance(v, Truth | Users | Catalog)]
    # noise-free ratings are the labelled items' true extremeness
    true = sim.catalog.extremeness[intervention.labelled]
    torch.testing.assert_close(intervention.rating, true.float())
    assert intervention.labelled.unique().numel() == 50


def test_penalty_lowers_extreme_exposure(tiny):
    base = run(tiny, 0, steps=6)
    mitigated = run(tiny, 300, steps=6, weight=1.0)
    exposure = lambda sim: float((sim.exposure_sum / sim.exposure_count.clamp(min=1)).mean())  # noqa: E731
    assert exposure(mitigated) < exposure(base)


def test_state_dict_resumes_exactly(tiny):
    tiny["population"]["size"] = 150
    tiny["interventions"] = [{"type": "labelled_extremeness", "labels": 40, "refit_every": 2}]
    scenario = simlab.load_scenario(tiny, {"steps": 6})
    straight = Simulation(scenario, 0)
    for _ in range(6):
        straight.step()
    first = Simulation(scenario, 0)
    for _ in range(3):
        first.step()
    resumed = Simulation(scenario, 0)
    resumed.load_state_dict(first.state_dict())
    for _ in range(3):
        resumed.step()
    assert torch.equal(straight.users.opinion, resumed.users.opinion)
    assert torch.equal(straight.interventions[0].predicted(), resumed.interventions[0].predicted())
