"""The antidote intervention in the closed loop (ALS and DLRM) and the raw-prediction rpol metric."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch

from simlab.config import load_scenario
from simlab.core.errors import ScenarioError
from simlab.loop.simulation import Simulation
from simlab.metrics import measures as m
from simlab.recommenders.dlrm.trainer import split_batch


def _scenario(tiny, recommender: str, antidote: dict | None = None, steps: int = 6):
    tiny["steps"] = steps
    tiny["recommender"] = {"type": recommender, "slate_size": 5, "candidates": {"size": 20}, "retrain_every": 1}
    if recommender == "dlrm":
        # the label search differentiates one SGD step on the synthetic rows; these tests check
        # its mechanics on the regime it was written for: the whole log as the training window
        tiny["recommender"].update(
            {
                "embedding_dim": 8,
                "bottom_mlp": [16, 8],
                "top_mlp": [16, 1],
                "window": 50_000,
                "window_unit": "impressions",
                "batch_size": 1024,
            }
        )
    if antidote is not None:
        tiny["interventions"] = [{"type": "antidote", **antidote}]
    return load_scenario(tiny)


def _run(scenario, steps: int, replicate: int = 0) -> Simulation:
    sim = Simulation(scenario, replicate)
    for _ in range(steps):
        sim.step()
    return sim


def test_unsupported_recommender_is_a_clear_error(tiny):
    tiny["interventions"] = [{"type": "antidote", "budget": 0.05}]
    from simlab.interventions.antidote import Antidote

    assert "als or dlrm" in Antidote.check_scenario(tiny)  # the load-time check, as KarateClub's
    with pytest.raises(ScenarioError, match=r"interventions\.0\.type: expected recommender.type als or dlrm"):
        load_scenario(tiny)  # refused when the scenario loads, before any work


@pytest.mark.slow
def test_als_rows_reach_training_and_resume_is_exact(tiny):
    with_ = _scenario(tiny, "als", {"budget": 0.05, "iterations": 2, "every": 3})
    sim = _run(with_, 4)
    plain = _run(_scenario(dict(tiny, interventions=[]), "als"), 4)
    antidote = sim.interventions[0]
    assert antidote.ids.tolist() == [60, 61, 62]  # 5% of 60 users, past the real ones
    assert sim.recommender.n_users == 63
    assert antidote.values.shape[0] == 3 and antidote.values.shape[1] > 0
    assert float(antidote.values.min()) >= 0 and float(antidote.values.max()) <= 1
    # the synthetic users were fitted (non-zero factors) and the real model differs from the plain run
    assert float(sim.recommender.U[60:].abs().sum()) > 0
    assert not torch.allclose(sim.recommender.V, plain.recommender.V)

    # resume: state after 2 steps, restored into a fresh simulation, continues identically
    first = _run(with_, 2)
    buffer = io.BytesIO()  # a checkpoint round trip (the state dict aliases live tensors)
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    rows_a = [first.step() for _ in range(2)]
    second = Simulation(with_, 0)
    second.load_state_dict(state)
    rows_b = [second.step() for _ in range(2)]
    pd.testing.assert_frame_equal(pd.DataFrame(rows_a), pd.DataFrame(rows_b))  # NaN == NaN here
    torch.testing.assert_close(first.interventions[0].values, second.interventions[0].values)


def test_rpol_metric_of_als_is_on_raw_predicted_ratings(tiny):
    sim = _run(_scenario(tiny, "als"), 3)
    ctx = sim.context
    metric = dict(zip(sim.recorder.names, sim.recorder.metrics))["rpol"]
    raw = sim.recommender.predict_matrix(metric.users, metric.items)  # o_0 + b_i + c_j + u_i . v_j
    assert float(metric.compute(ctx)) == pytest.approx(float(raw.double().var(dim=0, correction=0).mean()), rel=1e-6)
    clamped = m.rpol_t(raw.clamp(1e-3, 1 - 1e-3))
    assert float(metric.compute(ctx)) != pytest.approx(float(clamped), rel=1e-3)  # the fix changes the value


@pytest.mark.parametrize("objective", ["polarization", "individual_unfairness"])
def test_dlrm_label_optimisation_lowers_the_probe_objective_against_random_labels(tiny, objective):
    settings = {"budget": 0.1, "iterations": 5, "probe_users": 30, "probe_items": 20, "lr": 1.0}
    sim = _run(_scenario(tiny, "dlrm", {**settings, "objective": objective}), 3)
    antidote = sim.interventions[0]
    step = sim.t - 1
    impressions = antidote.probe_impressions(sim.log, step)
    assert set(impressions["user"].tolist()) <= set(antidote.probe_users.tolist())
    assert torch.unique(impressions["user"]).numel() >= 2
    before = float(antidote.probe_objective(antidote.values.float(), impressions).detach())
    antidote.reoptimise(sim.log, step)  # against the current model
    optimised = antidote.values.float()
    assert optimised.shape == (6, 20) and float(optimised.min()) >= 0 and float(optimised.max()) <= 1
    g = torch.Generator().manual_seed(0)
    random = [antidote.probe_objective(torch.rand(optimised.shape, generator=g), impressions) for _ in range(5)]
    achieved = float(antidote.probe_objective(optimised, impressions).detach())
    assert achieved < min(float(r.detach()) for r in random) and achieved < before
    # the synthetic rows reach the DLRM's training
    rows = sim.recommender.training_batch(sim.log, step, antidote.rows(sim.log, step))
    assert int((rows["user"] >= 60).sum()) == 6 * 20


def test_dlrm_individual_unfairness_is_the_variance_of_per_user_squared_errors(tiny):
    """Brute force: without an SGD step (lr -> 0), the objective is the variance over probe users of
    each one's mean squared error of predicted engagement on their own impressions."""
    sim = _run(_scenario(tiny, "dlrm", {"budget": 0.1, "objective": "individual_unfairness", "lr": 1e-12}), 3)
    antidote = sim.interventions[0]
    impressions = antidote.probe_impressions(sim.log, sim.t - 1)
    value = float(antidote.probe_objective(antidote.values.float(), impressions).detach())
    with torch.no_grad():  # the model on the features logged with each impression
        predicted = torch.sigmoid(sim.recommender.model(*split_batch(impressions))).double()
    errors: dict[int, list[float]] = {}
    for user, p, y in zip(impressions["user"].tolist(), predicted.tolist(), impressions["label"].tolist()):
        errors.setdefault(user, []).append((p - y) ** 2)
    losses = torch.tensor([sum(e) / len(e) for e in errors.values()], dtype=torch.float64)
    assert value == pytest.approx(float(losses.var(correction=0)), rel=1e-3)


def test_als_gradient_setting_reaches_the_optimisation(tiny):
    """``gradient: exact`` is handed to the offline method: it ends on different antidote ratings
    (after the first retrain, while both variants still have the same log)."""
    values = {}
    for gradient in ("approx", "exact"):
        sim = _run(_scenario(dict(tiny), "als", {"budget": 0.05, "iterations": 2, "gradient": gradient}), 1)
        values[gradient] = sim.interventions[0].values
        assert float(values[gradient].min()) >= 0 and float(values[gradient].max()) <= 1
    assert values["approx"].shape == values["exact"].shape
    assert not torch.allclose(values["approx"], values["exact"])


@pytest.mark.parametrize("method", ["gradient", "heuristic"])
def test_dlrm_non_finite_objective_keeps_the_current_labels(tiny, method):
    """A saturated model can make the probe objective NaN: the labels handed to training stay finite."""
    sim = _run(_scenario(tiny, "dlrm", {"budget": 0.1, "method": method, "probe_users": 30, "probe_items": 20}), 2)
    antidote = sim.interventions[0]
    before = antidote.values.clone()
    antidote.probe_objective = lambda labels, impressions=None: labels.sum() * float("nan")
    antidote.reoptimise(sim.log, sim.t - 1)
    torch.testing.assert_close(antidote.values, before)
    sim.step()  # training on the kept labels works
