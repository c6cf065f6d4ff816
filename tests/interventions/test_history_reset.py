"""history_reset: the platform's records of a random cohort are wiped through
PlatformView.forget before the given step, and nothing else changes."""

from __future__ import annotations

import io
import math

import numpy as np
import torch

import simlab
from simlab.loop.simulation import Simulation


def _scenario(tiny, share: float = 0.5, step: int = 3, logged_out: float = 0.0):
    tiny["population"] = {"type": "uniform", "size": 60, "activity": 0.9, "logged_out": logged_out}
    tiny["recommender"] = {"type": "dlrm", "slate_size": 5, "candidates": {"size": 20}}
    tiny["interventions"] = [{"type": "history_reset", "step": step, "share": share}]
    return simlab.load_scenario(tiny, {"steps": 6})


def test_the_cohort_is_wiped_at_the_end_of_the_step_before(tiny):
    sim = Simulation(_scenario(tiny, share=0.4, step=3), 0)
    cohort = sim.feed.cohort
    assert cohort.numel() == round(0.4 * 60) and cohort.unique().numel() == cohort.numel()
    for _ in range(2):  # steps 0, 1: nothing wiped yet
        row = sim.step()
    assert row is not None and math.isnan(row["exposure_extremeness_reset"])
    assert bool((sim.forgotten_at == -1).all())
    before = {k: getattr(sim.view, k).clone() for k in ("history", "user_impressions", "user_engagements")}
    log_before = sim.log.cursor
    sim.step()  # step 2 = step - 1: its engagements are recorded, then the cohort is wiped
    others = torch.ones(60, dtype=torch.bool)
    others[cohort] = False
    assert bool((sim.view.history[cohort] == -1).all())
    assert int(sim.view.user_impressions[cohort].sum()) == int(sim.view.user_engagements[cohort].sum()) == 0
    assert bool((sim.forgotten_at[cohort] == 2).all()) and bool((sim.forgotten_at[others] == -1).all())
    # the rest of the platform's records moved on as usual (counters only grow), the log is kept
    assert bool((sim.view.user_impressions[others] >= before["user_impressions"][others]).all())
    assert sim.log.cursor > log_before
    assert bool((sim.view.user_impressions[others] > 0).any())
    row = sim.step()
    assert row is not None and not math.isnan(row["exposure_extremeness_reset"])
    assert not math.isnan(row["exposure_distance_kept"])


def test_logged_out_users_are_not_in_the_cohort(tiny):
    sim = Simulation(_scenario(tiny, share=1.0, logged_out=0.5), 0)
    cohort = sim.feed.cohort
    assert cohort.numel() == 30 and not bool(sim.users.logged_out[cohort].any())


def test_resume_mid_run_gives_the_same_numbers(tiny):
    scenario = _scenario(tiny, share=0.5, step=3)
    straight = Simulation(scenario, 1)
    rows = [straight.step() for _ in range(6)]
    first = Simulation(scenario, 1)
    for _ in range(2):
        first.step()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    restored = Simulation(scenario, 1)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    np.testing.assert_equal([restored.step() for _ in range(4)], rows[2:])
