"""A user's plugin module, as a scenario names it (``plugins: [simlab_test_plugins]``).

Importing it registers three interventions, each overriding one hook of the seam
(:mod:`simlab.interventions.base`):

- ``_plugin_topic_spread``, a slate re-ranker (``build_slates``): a greedy slate that docks a
  candidate ``penalty`` per item of its topic already in the slate;
- ``_plugin_synthetic_fans``, training data (``training_rows``): synthetic users, reserved with
  ``recommender.add_synthetic_users``, who engage with the least-shown items at every retrain;
- ``_plugin_true_closeness``, a privileged score adjustment (``adjust_scores``) that reads the
  true opinions and stances, as an upper-bound experiment would (the manifest records it).

The names start with an underscore, like the suite's other test doubles.
"""

from __future__ import annotations

import pydantic
import torch
from torch import Tensor

from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.core.view import N_DENSE
from simlab.interventions import Intervention, InterventionContext, concat_rows
from simlab.platform.slates import mask_repeats
from simlab.registry import INTERVENTIONS


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


@INTERVENTIONS.register("_plugin_topic_spread")
class TopicSpread(Intervention):
    """Slot r takes argmax_j score_j - penalty * (items of j's topic among slots < r), over the
    distinct candidates with a finite score; -1 where none is left. (A, C) -> (A, k)."""

    class Settings(_Strict):
        penalty: float = pydantic.Field(1.0, ge=0, le=1e6, description="score docked per slate item of the same topic")

    def setup(self, context: InterventionContext) -> None:
        self.view = context.view

    def build_slates(self, users: Tensor, candidates: Tensor, scores: Tensor, k: int) -> Tensor:
        scores = mask_repeats(candidates, scores)
        topic = self.view.item_topic[candidates]  # (A, C)
        same = torch.zeros_like(scores)  # slate items sharing each candidate's topic
        slate = torch.full((candidates.shape[0], k), -1, dtype=torch.long, device=candidates.device)
        for slot in range(min(k, candidates.shape[1])):
            value = scores - self.settings.penalty * same
            best = value.argmax(dim=1, keepdim=True)  # (A, 1)
            found = torch.isfinite(value.gather(1, best))
            slate[:, slot] = torch.where(found, best, -1).squeeze(1)
            scores = scores.scatter(1, best, float("-inf"))  # taken
            same += ((topic == topic.gather(1, best)) & found).to(same.dtype)
        return slate


@INTERVENTIONS.register("_plugin_synthetic_fans")
class SyntheticFans(Intervention):
    """``users`` synthetic users each engage (label 1) with the ``per_user`` least-shown items and
    pass over (label 0) the ``per_user`` most-shown ones at every retrain; rows with the log's
    columns (zero dense features, empty history). The contrast matters: a recommender with user
    biases explains a user who engages with everything by the user's bias, not the items'."""

    class Settings(_Strict):
        users: int = pydantic.Field(3, ge=1, le=10_000, description="synthetic users")
        per_user: int = pydantic.Field(20, ge=1, le=10_000, description="engagements per synthetic user and retrain")

    def setup(self, context: InterventionContext) -> None:
        self.view = context.view
        self.ids = context.recommender.add_synthetic_users(self.settings.users)

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        per_user = min(self.settings.per_user, self.view.n_items // 2)
        shown = self.view.items.impressions[: self.view.n_items]
        order = torch.argsort(shown, stable=True)  # least shown first, ties by id
        items = torch.cat([order[:per_user], order[-per_user:]])
        labels = torch.cat([torch.ones(per_user), torch.zeros(per_user)]).to(shown.device)
        user = self.ids.repeat_interleave(2 * per_user)
        n, device = user.shape[0], user.device
        mine = Rows(
            user=user,
            item=items.repeat(self.ids.shape[0]),
            position=torch.zeros(n, dtype=torch.long, device=device),
            label=labels.repeat(self.ids.shape[0]),
            step=torch.full((n,), step, dtype=torch.long, device=device),
            dense=torch.zeros(n, N_DENSE, device=device),
            history=torch.full((n, log.history.shape[1]), -1, dtype=torch.long, device=device),
        )
        return concat_rows(self.inner.training_rows(log, step), mine)


@INTERVENTIONS.register("_plugin_true_closeness")
class TrueCloseness(Intervention):
    """Adds -weight * ||x_i - y_j||_2 to each score, x_i the user's true opinion and y_j the
    item's true stance: privileged, so it is handed ``context.truth``. (A, C) -> (A, C)."""

    privileged = True

    class Settings(_Strict):
        weight: float = pydantic.Field(1.0, ge=0, le=1e6, description="score docked per unit of true distance")

    def setup(self, context: InterventionContext) -> None:
        assert context.truth is not None
        self.truth = context.truth

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        x = self.truth.users.opinion[users]  # (A, K), read each step: the loop replaces it
        y = self.truth.catalog.stance[candidates]  # (A, C, K)
        distance = (y - x[:, None, :]).norm(dim=2).to(scores.dtype)
        return self.inner.adjust_scores(users, candidates, scores) - self.settings.weight * distance
