"""Can the recommender learn this world? Online and offline learned share on a random feed.

A learner is judged by what it learns against what could be learned (docs/learning.md). On a
random feed (``epsilon_greedy`` with epsilon 1, so the slate position carries no score), the
learner trains in the loop as configured and its progressive-validation predictions are scored
within slate positions against the Bayes ceiling, the same AUC computed from the true
engagement probabilities (:func:`simlab.metrics.learning.learned_share`). The same log is then
fitted offline to convergence (ALS: sweeps until the objective settles; the DLRM: passes with
early stopping on a held-out tenth of the training rows) on a random 80% of its impressions and
scored on the other 20%: what the learner can learn from this log, without the online learner's
handicap of predicting each step from the steps before it.

>>> from simlab.config import load_scenario
>>> small = {"population.size": 200, "catalog.size": 200, "recommender.candidates.size": 20}
>>> report = measure(load_scenario("scenarios/dlrm_engagement.yaml", small), steps=6)
>>> 0.5 < report.ceiling <= 1.0 and report.steps == 6  # also online_share, offline_share, ...
True
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from simlab.config import Scenario, load_scenario
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.loop.simulation import Simulation
from simlab.metrics.learning import auc_within_t, learned_share_t
from simlab.recommenders.als import ALSRecommender
from simlab.recommenders.dlrm.recommender import DLRMRecommender
from simlab.recommenders.dlrm.trainer import batch_loss, split_batch
from simlab.registry import RECOMMENDERS
from simlab.running.resources import plan
from simlab.society.population import population_size

__all__ = ["Learnability", "measure", "offline_scores", "to_markdown"]


@dataclass(frozen=True)
class Learnability:
    """What one replicate's learner learned on a random feed.

    ceiling / online_auc / online_share: means over the second half of the run of the
    ``auc_ceiling``, ``auc_within_position`` and ``learned_share`` columns; offline_*: the same
    measures on a random ``holdout`` share of the run's impressions, of a model fitted offline to
    convergence on the others (NaN for feeds that do not train).
    """

    recommender: str
    ceiling: float
    online_auc: float
    online_share: float
    offline_ceiling: float
    offline_auc: float
    offline_share: float
    steps: int


def measure(
    scenario: Scenario, steps: int = 40, replicate: int = 0, holdout: float = 0.2, max_memory: int | None = None
) -> Learnability:
    """Run ``scenario``'s recommender on a random feed for ``steps`` steps (metrics every step, no
    interventions, the log kept whole) and measure its online and offline learned share (see the
    module docstring). A run whose estimated peak memory exceeds ``max_memory`` (bytes; default
    SIMLAB_MAX_MEMORY or the available memory) is refused first (ScenarioError).
    """
    doc = scenario.model_dump()
    doc.pop("variants", None)
    doc.pop("sweep", None)
    doc["recommender"]["policy"] = {"type": "epsilon_greedy", "epsilon": 1.0}
    doc["interventions"] = []  # the learner alone: nothing re-ranks the feed or adds training rows
    doc["metrics"] = {"include": ["auc_within_position", "auc_ceiling", "learned_share"], "every": 1}
    doc["steps"] = steps
    # keep every impression (the offline fit uses the whole log): at most N * k per step
    most = population_size(doc["population"]) * doc["recommender"]["slate_size"] * steps
    doc["recommender"]["log_capacity"] = max(doc["recommender"]["log_capacity"], min(most, 10_000_000))
    resolved = load_scenario(doc)
    resolved._source = scenario.source  # errors name the scenario's file
    plan(resolved, 1, max_memory)  # refused up front (one line) when it cannot fit the budget, as a run is
    sim = Simulation(resolved, replicate)
    rows, truth = [], []
    for _ in range(steps):
        row = sim.step()
        assert row is not None and sim.context is not None
        rows.append(row)
        truth.append(sim.context.impressions.probability.float())
    second = rows[steps // 2 :]
    mean = {k: float(np.nanmean([r[k] for r in second])) for k in rows[0]}
    offline = _offline(sim, torch.cat(truth), holdout, seed=replicate)
    return Learnability(
        recommender=doc["recommender"]["type"],
        ceiling=mean["auc_ceiling"],
        online_auc=mean["auc_within_position"],
        online_share=mean["learned_share"],
        offline_ceiling=offline[0],
        offline_auc=offline[1],
        offline_share=float(learned_share_t(offline[1], offline[0])),
        steps=steps,
    )


def _offline(sim: Simulation, truth: Tensor, holdout: float, seed: int) -> tuple[float, float]:
    """(ceiling, AUC) within positions on a random ``holdout`` share of the logged impressions,
    of the scenario's recommender fitted offline on the others (AUC NaN for feeds that do not
    train).
    """
    log = sim.log.rows()
    if len(log) != truth.numel():  # the log dropped rows: not the whole run
        raise ValueError("the impression log is smaller than the run; raise recommender.log_capacity")
    test = torch.rand(truth.shape, generator=torch.Generator().manual_seed(seed)) < holdout
    ceiling = float(auc_within_t(log.label[test], truth[test], log.position[test]))
    spec = sim.scenario.recommender.to_dict()
    if spec["type"] not in ("als", "dlrm"):
        return ceiling, math.nan
    train_rows, test_rows = log.select(~test), log.select(test)
    scores = offline_scores(spec, sim, train_rows, test_rows, seed=seed)
    return ceiling, float(auc_within_t(test_rows.label, scores, test_rows.position))


def offline_scores(
    spec: dict[str, Any],
    sim: Simulation,
    train: Rows,
    test: Rows,
    max_epochs: int = 30,
    patience: int = 2,
    seed: int = 0,
) -> Tensor:
    """Fit a fresh ``als`` or ``dlrm`` recommender (settings ``spec``) to convergence on the
    logged ``train`` rows and return its scores (T,) of the ``test`` rows, from the features
    logged with each impression. ALS: sweeps until the objective changes by less than 1e-6
    (relative); the DLRM: passes until the BCE on a held-out tenth of ``train`` has not improved
    for ``patience`` passes (the best pass is kept), since more passes only overfit.
    """
    generator = torch.Generator().manual_seed(seed)
    rec = RECOMMENDERS.build(copy.deepcopy(spec))
    rec.setup(sim.view, generator)
    if isinstance(rec, ALSRecommender):
        rec.settings = rec.settings.model_copy(update={"n_iters": 1})
        previous = math.inf
        for _ in range(1000):
            objective = rec.fit(train.user, train.item, train.label, train.position)[-1]
            if abs(previous - objective) <= 1e-6 * abs(objective):
                break
            previous = objective
        return rec.predict_raw(test.user, test.item)
    assert isinstance(rec, DLRMRecommender)
    batch = rec.training_batch(_as_log(train), step=int(train.step.max()) + 1)
    batch.pop("history_group", None)
    held = torch.rand(batch["label"].shape[0], generator=generator) < 0.1
    fit = {k: v[~held] for k, v in batch.items()}
    validation = {k: v[held] for k, v in batch.items()}
    best, best_loss, waited = copy.deepcopy(rec.model.state_dict()), math.inf, 0
    for _ in range(max_epochs):
        rec.trainer.fit(fit, 1, generator)
        with torch.no_grad():
            loss = float(batch_loss(rec.model, validation))
        if loss < best_loss:
            best, best_loss, waited = copy.deepcopy(rec.model.state_dict()), loss, 0
        else:
            waited += 1
            if waited >= patience:
                break
    rec.model.load_state_dict(best)
    test_batch = rec.training_batch(_as_log(test), step=int(test.step.max()) + 1)
    test_batch.pop("history_group", None)
    with torch.no_grad():
        return rec.model(*split_batch(test_batch))


def _as_log(rows: Rows) -> ImpressionLog:
    n = len(rows)
    log = ImpressionLog(max(n, 1), rows.dense.shape[1], rows.history.shape[1], rows.user.device)
    log.append(**rows.columns())
    return log


def to_markdown(reports: list[Learnability]) -> str:
    """A Markdown table of reports: per recommender, the mean over its replicates (and their
    range when there are several) of the ceiling and the online and offline learned shares.
    """
    rows = [
        "| recommender | replicates | steps | ceiling (AUC) | online AUC | online learned share | offline learned share |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(values: list[float]) -> str:
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return "n/a"
        text = f"{np.mean(finite):.3f}"
        return text + (f" ({min(finite):.3f}-{max(finite):.3f})" if len(finite) > 1 else "")

    for name in dict.fromkeys(r.recommender for r in reports):
        mine = [r for r in reports if r.recommender == name]
        rows.append(
            f"| {name} | {len(mine)} | {mine[0].steps} | {cell([r.ceiling for r in mine])} | "
            f"{cell([r.online_auc for r in mine])} | {cell([r.online_share for r in mine])} | "
            f"{cell([r.offline_share for r in mine])} |"
        )
    return "\n".join(rows)
