"""The antidote intervention in the closed loop (issue 25): judged on and differentiated through
the retrain the loop runs, paired with its baseline, the antidote_effect column, one probe."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest
import torch

from simlab.config import load_scenario
from simlab.core.errors import ScenarioError
from simlab.core.protocols import AntidoteTarget
from simlab.loop.simulation import Simulation
from simlab.metrics import measures as m

DLRM = {"embedding_dim": 8, "bottom_mlp": [16, 8], "top_mlp": [16, 1], "window": 50_000, "window_unit": "retrains"}


def _scenario(tiny, recommender: str, antidote: dict | None = None, steps: int = 6, retrain_every: int = 1):
    tiny["steps"] = steps
    tiny["recommender"] = {
        "type": recommender,
        "slate_size": 5,
        "candidates": {"size": 20},
        "retrain_every": retrain_every,
        **(DLRM if recommender == "dlrm" else {"n_iters": 3}),
    }
    tiny["metrics"] = {"include": ["rpol", "opinion_variance", "ctr", "antidote_effect"]}
    tiny["interventions"] = [] if antidote is None else [{"type": "antidote", **antidote}]
    return load_scenario(tiny)


def _run(scenario, steps: int, replicate: int = 0) -> tuple[Simulation, list[dict]]:
    sim = Simulation(scenario, replicate)
    rows = [sim.step() for _ in range(steps)]
    return sim, rows


def test_a_recommender_without_the_capability_is_a_clear_error_at_load(tiny):
    tiny["interventions"] = [{"type": "antidote", "budget": 0.05}]
    with pytest.raises(
        ScenarioError, match=r"interventions\.0\.type: expected a recommender with the antidote capability"
    ):
        load_scenario(tiny)  # popularity: refused when the scenario loads, before any work


def test_als_and_dlrm_declare_the_capability(tiny):
    for kind in ("als", "dlrm"):
        sim = Simulation(_scenario(dict(tiny), kind), 0)
        assert isinstance(sim.recommender, AntidoteTarget)


@pytest.mark.parametrize("kind", ["als", "dlrm"])
def test_variant_and_baseline_are_identical_until_the_antidote_reaches_training(tiny, kind):
    """The synthetic users draw from the intervention's own stream: before the first retrain the
    run with antidote draws exactly the numbers of the run without (step-0 metrics identical)."""
    import copy

    plain_sim, plain = _run(_scenario(copy.deepcopy(tiny), kind, retrain_every=3), 3)
    with_sim, with_ = _run(_scenario(copy.deepcopy(tiny), kind, {"budget": 0.05, "iterations": 1}, retrain_every=3), 3)
    first = {k: v for k, v in plain[0].items() if k != "antidote_effect"}
    assert first == {k: v for k, v in with_[0].items() if k != "antidote_effect"}
    assert torch.equal(plain_sim.log.rows().item, with_sim.log.rows().item)  # the same slates throughout
    # the retrain at step 2 is the first with antidote rows: from then on the models differ
    assert plain[2]["rpol"] != with_[2]["rpol"] or math.isclose(with_[2]["antidote_effect"], 0.0)


@pytest.mark.parametrize("kind", ["als", "dlrm"])
def test_the_trial_retrain_is_the_retrain_the_loop_runs(tiny, kind):
    """R_pol judged in the trial (with the chosen antidote) equals R_pol of the real retrain, and
    the trial leaves no trace; the choice is never worse than no antidote on the probe."""
    sim, _ = _run(_scenario(tiny, kind, {"budget": 0.1, "iterations": 2}), 3)
    antidote, rec, step = sim.interventions[0], sim.recommender, sim.t
    rows = antidote.training_rows(sim.log, step)  # re-optimises against the current model
    probe = (antidote.probe_grid(step), None)
    before = rec.predict_rows(probe[0]).clone()
    judged_objective, judged_rpol = antidote.judge(sim.log, step, antidote.values if rows is not None else None, probe)
    assert torch.equal(rec.predict_rows(probe[0]), before)  # restored
    _, none_rpol = antidote.judge(sim.log, step, None, probe)
    rec.train(sim.log, step, extra=rows)
    after = rec.predict_rows(probe[0]).double().reshape(antidote.probe_users.numel(), -1)
    assert float(m.rpol_t(after)) == pytest.approx(judged_rpol, rel=1e-5)
    assert antidote.history_objective[-1] == pytest.approx(judged_objective, rel=1e-5)
    assert judged_rpol <= none_rpol * (1 + 1e-9)  # the best candidate includes "no antidote"
    assert antidote.effects[step] == pytest.approx(judged_rpol / none_rpol - 1, rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("kind", ["als", "dlrm"])
def test_the_unrolled_retrain_matches_the_real_one_and_carries_the_label_gradient(tiny, kind):
    """Unrolled over all of it, the stand-in is the retrain itself (ALS: the warm sweeps; the
    DLRM: Adagrad over the real mini-batches), and its gradient matches finite differences."""
    sim, _ = _run(_scenario(tiny, kind, {"budget": 0.1, "iterations": 1}), 3)
    antidote, rec, step = sim.interventions[0], sim.recommender, sim.t
    antidote.reoptimise(sim.log, step)
    values = torch.full((antidote.ids.numel(), antidote.items.numel()), 0.5)
    grid = antidote.probe_grid(step)
    predict = rec.unrolled(sim.log, step, antidote.rows(step, values), max_steps=None)
    with rec.trial_retrain(sim.log, step, antidote.rows(step, values)):
        torch.testing.assert_close(predict(grid).detach().float(), rec.predict_rows(grid).float(), rtol=1e-3, atol=1e-4)

    def objective(y: torch.Tensor) -> torch.Tensor:
        out = rec.unrolled(sim.log, step, antidote.rows(step, y), max_steps=None)(grid)
        return m.rpol_t(out.double().reshape(antidote.probe_users.numel(), -1))

    y = values.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(objective(y), y)
    direction = torch.randn(values.shape, generator=torch.Generator().manual_seed(0))
    h = 1e-2
    with torch.no_grad():
        numeric = (objective(values + h * direction) - objective(values - h * direction)) / (2 * h)
    # (float32 through Adagrad's square roots: a central difference agrees to about 15%)
    assert float((g * direction).sum()) == pytest.approx(float(numeric), rel=0.25, abs=1e-7)


def test_antidote_effect_is_recorded_on_rows_after_a_retrain_and_nan_without_antidote(tiny):
    import copy

    _, plain = _run(_scenario(copy.deepcopy(tiny), "als", retrain_every=2), 4)
    _, with_ = _run(_scenario(copy.deepcopy(tiny), "als", {"budget": 0.05, "iterations": 1}, retrain_every=2), 4)
    assert all(math.isnan(r["antidote_effect"]) for r in plain)
    # metrics every step, retrains at steps 1 and 3: a value on the rows of a retrain, NaN between
    assert [math.isfinite(r["antidote_effect"]) for r in with_] == [False, True, False, True]


def test_the_optimiser_and_the_rpol_metric_share_one_probe(tiny):
    sim, _ = _run(_scenario(tiny, "als", {"budget": 0.05, "iterations": 1}), 1)
    metric = dict(zip(sim.recorder.names, sim.recorder.metrics))["rpol"]
    antidote = sim.interventions[0]
    assert torch.equal(metric.users, antidote.probe_users) and torch.equal(metric.items, antidote.probe_items)


@pytest.mark.parametrize("objective", ["polarization", "individual_unfairness"])
def test_dlrm_optimised_labels_beat_random_labels_on_the_deployed_retrain(tiny, objective):
    sim, _ = _run(_scenario(tiny, "dlrm", {"budget": 0.1, "iterations": 3, "objective": objective}), 3)
    antidote, step = sim.interventions[0], sim.t
    antidote.reoptimise(sim.log, step)
    probe = (
        antidote.probe_grid(step),
        antidote._probe_impressions(antidote.recommender.training_window(sim.log, step)),
    )
    chosen = antidote.values if antidote.values.shape[1] else None
    achieved, _ = antidote.judge(sim.log, step, chosen, probe)
    shape = (antidote.ids.numel(), antidote.recommender.training_window(sim.log, step).item.unique().numel())
    g = torch.Generator().manual_seed(0)
    antidote.items = antidote.recommender.training_window(sim.log, step).item.unique()
    random = [antidote.judge(sim.log, step, torch.rand(shape, generator=g), probe)[0] for _ in range(3)]
    none, _ = antidote.judge(sim.log, step, None, probe)
    assert achieved <= none and achieved < min(random)


def test_horizon_judges_on_several_retrains(tiny):
    sim, _ = _run(_scenario(tiny, "als", {"budget": 0.05, "iterations": 1, "horizon": 3}), 3)
    antidote, rec, step = sim.interventions[0], sim.recommender, sim.t
    antidote.reoptimise(sim.log, step)
    grid = antidote.probe_grid(step)
    with rec.trial_retrain(sim.log, step, None, horizon=1):
        once = rec.predict_rows(grid).clone()
    with rec.trial_retrain(sim.log, step, None, horizon=3):
        thrice = rec.predict_rows(grid).clone()
    assert not torch.allclose(once, thrice)  # three warm retrains are not one
    objective, _ = antidote.judge(sim.log, step, None, (grid, None))
    assert objective == pytest.approx(float(m.rpol_t(thrice.double().reshape(antidote.probe_users.numel(), -1))))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["als", "dlrm"])
def test_resume_is_exact(tiny, kind):
    scenario = _scenario(tiny, kind, {"budget": 0.05, "iterations": 1})
    first, _ = _run(scenario, 2)
    buffer = io.BytesIO()  # a checkpoint round trip (the state dict aliases live tensors)
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    rows_a = [first.step() for _ in range(2)]
    second = Simulation(scenario, 0)
    second.load_state_dict(state)
    rows_b = [second.step() for _ in range(2)]
    pd.testing.assert_frame_equal(pd.DataFrame(rows_a), pd.DataFrame(rows_b))  # NaN == NaN here
    torch.testing.assert_close(first.interventions[0].values, second.interventions[0].values)


def test_retrains_that_keep_the_labels_still_measure_the_effect(tiny):
    """every: 2 re-optimises at every other retrain; the retrains between keep the labels and still
    record R_pol with / without them."""
    sim, rows = _run(_scenario(tiny, "als", {"budget": 0.05, "iterations": 1, "every": 2}), 3)
    antidote = sim.interventions[0]
    assert sorted(antidote.effects) == [0, 1, 2] and antidote.retrains == 3
    assert all(math.isfinite(r["antidote_effect"]) for r in rows)
