"""The flagship claim on a small population: an engagement-trained DLRM pushes exposure and
opinions outward compared with a random feed (mean over paired replicates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import simlab
from simlab.loop.simulation import Simulation


@pytest.mark.slow  # about a minute on 2 cores: CI runs it with -m slow
def test_dlrm_raises_exposure_extremeness_and_opinion_variance_over_random():
    doc = yaml.safe_load((Path(__file__).parents[2] / "scenarios" / "dlrm_engagement.yaml").read_text())
    doc.pop("variants")
    doc["device"] = "cpu"
    doc["population"]["size"] = 400
    doc["catalog"].update(size=400, new_per_step=8, creators=40)
    finals = {}
    for name, override in {"dlrm": {}, "random": {"recommender.type": "random"}}.items():
        scenario = simlab.load_scenario(doc, override)
        rows = []
        for replicate in range(4):
            sim = Simulation(scenario, replicate)
            for _ in range(30):
                row = sim.step()
            rows.append([row["exposure_extremeness"], row["opinion_variance"], row["learned_share"]])
        finals[name] = np.array(rows)
    dlrm, random = finals["dlrm"].mean(0), finals["random"].mean(0)
    assert dlrm[0] > random[0] + 0.02  # exposure_extremeness
    assert dlrm[1] > random[1]  # opinion_variance
    # the model has learned who engages with what: within-position AUC at least a third of the way
    # from chance to the Bayes ceiling (not the pooled AUC, which slate position alone inflates)
    assert dlrm[2] > 0.33


def test_predictions_from_scores_equal_predict(tiny):
    tiny["recommender"] = {"type": "dlrm", "slate_size": 5, "candidates": {"size": 20}, "batch_size": 64}
    sim = Simulation(simlab.load_scenario(tiny), 0)
    for _ in range(3):
        sim.step()
    ctx = sim.context
    # the recommender has trained since, so re-score with the current weights on both paths
    users = ctx.active
    candidates = torch.randint(0, sim.catalog.size, (users.numel(), 7))
    from_scores = torch.sigmoid(sim.recommender.score(users, candidates))
    from_predict = sim.recommender.predict(users.repeat_interleave(7), candidates.reshape(-1)).reshape(-1, 7)
    assert torch.allclose(from_scores, from_predict, atol=1e-5)
    assert 0.0 <= sim.step()["auc_pooled"] <= 1.0
