"""The intervention seam: wrappers forward every hook, stack in YAML order, reach training."""

from __future__ import annotations

from typing import ClassVar

import pydantic
import pytest
import torch

import simlab
from simlab.core.rows import Rows
from simlab.interventions import Intervention, InterventionContext
from simlab.loop.simulation import Simulation
from simlab.registry import INTERVENTIONS


class _Offset(Intervention):
    """Adds ``offset`` to every score and records the order in which hooks ran."""

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        offset: float = 0.0

    calls: ClassVar[list[str]] = []

    def adjust_scores(self, users, candidates, scores):
        _Offset.calls.append(f"adjust{self.settings.offset}")
        return self.inner.adjust_scores(users, candidates, scores) + self.settings.offset


class _Reverse(Intervention):
    """Builds slates from the lowest scores (a re-ranker overriding build_slates only)."""

    def build_slates(self, users, candidates, scores, k):
        return self.inner.build_slates(users, candidates, -scores, k)


class _Rows(Intervention):
    """Adds rows for one synthetic user that engages with item 0 at every retrain."""

    def setup(self, context: InterventionContext) -> None:
        self.synthetic = context.recommender.add_synthetic_users(1)
        self.seen_truth = context.truth
        self.observed = 0

    def training_rows(self, log, step):
        n = 50
        return Rows(
            user=self.synthetic.repeat(n),
            item=torch.zeros(n, dtype=torch.long),
            position=torch.zeros(n, dtype=torch.long),
            label=torch.ones(n),
            step=torch.full((n,), step),
            dense=torch.zeros(n, 8),
            history=torch.full((n, log.history.shape[1]), -1),
        )

    def observe(self, rows):
        self.observed += int(rows["user"].numel())
        self.inner.observe(rows)

    def state_dict(self):
        return {"observed": self.observed}

    def load_state_dict(self, state):
        self.observed = int(state["observed"])


class _NoRows(_Rows):
    """Reserves the synthetic user like _Rows (same random draws) but adds no rows."""

    def training_rows(self, log, step):
        return self.inner.training_rows(log, step)


for name, cls in {
    "_test_norows": _NoRows,
    "_test_offset": _Offset,
    "_test_reverse": _Reverse,
    "_test_rows": _Rows,
}.items():
    if name not in INTERVENTIONS:
        INTERVENTIONS.register(name)(cls)


def _sim(tiny, interventions, recommender="popularity"):
    tiny["interventions"] = interventions
    tiny["recommender"]["type"] = recommender
    return Simulation(simlab.load_scenario(tiny), 0)


def test_wrappers_stack_in_list_order(tiny):
    sim = _sim(tiny, [{"type": "_test_offset", "offset": 1.0}, {"type": "_test_offset", "offset": 2.0}])
    assert sim.feed is sim.interventions[1] and sim.interventions[1].inner is sim.interventions[0]
    _Offset.calls.clear()
    scores = sim.feed.adjust_scores(torch.arange(2), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3))
    assert scores.tolist() == [[3.0] * 3] * 2
    assert _Offset.calls == ["adjust2.0", "adjust1.0"]  # the outermost runs first and calls inward


def test_a_slate_reranker_changes_what_is_shown(tiny):
    plain, reversed_ = _sim(tiny, []), _sim(tiny, [{"type": "_test_reverse"}])
    plain.step()
    reversed_.step()
    assert not torch.equal(plain.context.slates, reversed_.context.slates)


@pytest.mark.parametrize("recommender", ["als", "dlrm"])
def test_training_rows_reach_the_recommender(tiny, recommender):
    import copy

    sim = _sim(copy.deepcopy(tiny), [{"type": "_test_rows"}], recommender)
    plain = _sim(copy.deepcopy(tiny), [{"type": "_test_norows"}], recommender)  # same draws, no rows
    assert sim.interventions[0].seen_truth is None  # not privileged: no true state
    for _ in range(3):
        sim.step()
        plain.step()
    assert sim.interventions[0].observed > 0
    users, items = torch.arange(10), torch.zeros(10, dtype=torch.long)
    # the synthetic user's engagements with item 0 moved the model's predictions for real users
    assert not torch.allclose(sim.recommender.predict(users, items), plain.recommender.predict(users, items))


def test_intervention_state_is_checkpointed(tiny):
    sim = _sim(tiny, [{"type": "_test_rows"}], "als")
    sim.step()
    state = sim.state_dict()
    fresh = _sim(tiny, [{"type": "_test_rows"}], "als")
    fresh.load_state_dict(state)
    assert fresh.interventions[0].observed == sim.interventions[0].observed > 0
