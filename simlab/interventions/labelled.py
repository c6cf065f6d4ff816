"""``labelled_extremeness``: the realistic extremeness penalty, from a small budget of rated items.

The privileged :class:`~simlab.interventions.extremeness.ExtremenessPenalty` reads a noisy copy
of every item's true extremeness. A platform has no such thing: it pays human raters to label a
few items and learns the rest from what it observes. This intervention does that and then
penalises the predicted extremeness with the same rule.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import torch
from torch import Tensor

from simlab.interventions.base import Intervention, InterventionContext
from simlab.interventions.common import StrictSettings
from simlab.interventions.extremeness import penalised

FEATURES = ("creator", "topic", "audience")


def shrunk_mean(total: Tensor, count: Tensor, prior: float, strength: float) -> Tensor:
    """(total + strength * prior) / (count + strength), elementwise: a group's mean label shrunk
    toward the overall mean (empirical-Bayes target encoding; a group with no labels gets
    ``prior``).
    """
    return (total + strength * prior) / (count + strength)


def ridge(features: Tensor, target: Tensor, penalty: float) -> Tensor:
    """Ridge regression weights (F,) of ``target`` (B,) on ``features`` (B, F) (the first column
    the intercept, not penalised).
    """
    eye = torch.eye(features.shape[1], dtype=features.dtype, device=features.device)
    eye[0, 0] = 0.0
    gram = features.T @ features + penalty * eye
    return torch.linalg.solve(gram, features.T @ target)


class LabelledExtremeness(Intervention):
    """Penalises extremeness predicted from ``labels`` rated items and the platform's observations.

    Labels: at setup, ``labels`` items drawn uniformly from the catalog (the intervention's own
    random stream) are rated by noisy human raters, r_j = clip(e_j + label_noise * z_j, 0, 1),
    z_j ~ N(0, 1), with e_j = max_k |y_jk| the true extremeness. These ratings are the only
    contact with the truth (``privileged = True`` because the loop must hand them over; the
    intervention keeps no reference to the true state afterwards).

    Features of item j, all observable (:class:`~simlab.core.view.PlatformView` and the logged
    engagements): (1) its creator's mean rating, (2) its topic's mean rating, each shrunk toward
    the overall mean r-bar with strength ``shrinkage`` (leave-one-out for the rated items
    themselves), and (3) its audience score: the mean, over the users who engaged with it, of
    each user's affinity at that moment, the shrunk mean rating of the rated items that user
    had engaged with (users who like rated-extreme items flag the items they engage with:
    label propagation through the engagement graph, Zhu & Ghahramani 2002). A ridge regression
    of r on [1, creator, topic, audience] over the rated items, refitted every ``refit_every``
    steps, gives the predicted extremeness c_j = clip(prediction, 0, 1), penalised as in
    :func:`~simlab.interventions.extremeness.penalised` (subtract or down-rank by ``weight``
    times the row's score range). With no labels c_j = 0 for every item: the feed is unchanged.
    """

    privileged = True

    class Settings(StrictSettings):
        labels: int = pydantic.Field(100, ge=0, le=10_000_000, description="labelling budget: items rated by humans")
        label_noise: float = pydantic.Field(
            0.2, ge=0, le=10, description="std of the raters' Gaussian error on extremeness e_j"
        )
        weight: float = pydantic.Field(
            0.5,
            ge=0,
            le=10,
            description="penalty strength: scores lose weight * (row's score range) * predicted extremeness",
        )
        mode: Literal["subtract", "downrank"] = pydantic.Field(
            "subtract", description="subtract the predicted extremeness, or down-rank items predicted above threshold"
        )
        threshold: float = pydantic.Field(
            0.8, ge=0, le=1, description="predicted extremeness above which an item is flagged"
        )
        shrinkage: float = pydantic.Field(
            2.0, gt=0, description="prior strength (in items) of the shrunk mean ratings of creators, topics, users"
        )
        ridge_penalty: float = pydantic.Field(1.0, ge=0, description="ridge penalty of the regression on the features")
        refit_every: int = pydantic.Field(5, ge=1, le=100_000, description="steps between refits of the regression")

    settings: Settings

    def __init__(self, settings: pydantic.BaseModel):
        super().__init__(settings)
        self.labelled = torch.zeros(0, dtype=torch.long)
        self.rating = torch.zeros(0)
        self.weights = torch.zeros(1 + len(FEATURES))
        self.user_total = torch.zeros(0)  # per platform id: sum and count of ratings of rated items engaged
        self.user_count = torch.zeros(0)
        self.audience_total = torch.zeros(0)  # per item: sum and count of engagers' affinities
        self.audience_count = torch.zeros(0)
        self.rated = torch.zeros(0, dtype=torch.bool)  # per item: whether it was rated (and its rating)
        self.item_rating = torch.zeros(0)
        self.steps_seen = 0

    def setup(self, context: InterventionContext) -> None:
        assert context.truth is not None, "labelled_extremeness is privileged: the loop gives it the ratings' source"
        self.view = context.view
        device = context.device
        stance = context.truth.catalog.live("stance")
        budget = min(self.settings.labels, stance.shape[0])
        g = context.generator
        chosen = torch.randperm(stance.shape[0], generator=g, device=g.device)[:budget].to(device)
        noise = torch.randn(budget, generator=g, device=g.device).to(device)
        true = stance[chosen].abs().amax(dim=1).float()
        self.labelled = chosen
        self.rating = (true + self.settings.label_noise * noise).clamp(0, 1)
        self.user_total = torch.zeros(self.view.n_users, device=device)
        self.user_count = torch.zeros(self.view.n_users, device=device)
        self.weights = self.weights.to(device)
        self.grow()
        self.rated[self.labelled] = True
        self.item_rating[self.labelled] = self.rating
        self.refit()  # creators and topics predict from the start; audiences join as engagements come

    @property
    def prior(self) -> float:
        """r-bar, the mean rating (0 with no labels)."""
        return float(self.rating.mean()) if self.rating.numel() else 0.0

    def grow(self) -> None:
        """Extend the per-item arrays to the catalog's live items."""
        n, have = self.view.n_items, self.audience_total.shape[0]
        if n <= have:
            return
        device = self.view.device
        extra = n - have
        self.audience_total = torch.cat([self.audience_total.to(device), torch.zeros(extra, device=device)])
        self.audience_count = torch.cat([self.audience_count.to(device), torch.zeros(extra, device=device)])
        self.rated = torch.cat([self.rated.to(device), torch.zeros(extra, dtype=torch.bool, device=device)])
        self.item_rating = torch.cat([self.item_rating.to(device), torch.zeros(extra, device=device)])

    def features(self, items: Tensor, leave_out: bool = False) -> Tensor:
        """(B,) item ids -> (B, 4) [1, creator, topic, audience] features.

        Args:
            items: (B,) live item ids.
            leave_out: drop each item's own rating from its creator and topic means (for the
                rated items the regression is fitted on).

        Returns:
            (B, 4) float features.
        """
        s, prior = self.settings, self.prior
        own = torch.where(self.rated[items], self.item_rating[items], 0.0) if leave_out else None
        columns = [torch.ones(items.shape[0], device=items.device)]
        for group in (self.view.item_creator, self.view.item_topic):
            size = int(group.max()) + 1 if group.numel() else 1
            labelled_group = group[self.labelled]
            total = torch.zeros(size, device=items.device).index_add_(0, labelled_group, self.rating)
            count = torch.zeros(size, device=items.device).index_add_(0, labelled_group, torch.ones_like(self.rating))
            t, c = total[group[items]], count[group[items]]
            if own is not None:
                t, c = t - own, c - self.rated[items].float()
            columns.append(shrunk_mean(t, c, prior, s.shrinkage))
        audience = shrunk_mean(self.audience_total[items], self.audience_count[items], prior, s.shrinkage)
        columns.append(audience)
        return torch.stack(columns, dim=1)

    def refit(self) -> None:
        """Fit the ridge regression on the rated items' features and ratings."""
        if self.labelled.numel() == 0:
            return
        x = self.features(self.labelled, leave_out=True).double()
        self.weights = ridge(x, self.rating.double(), self.settings.ridge_penalty).float()

    def predicted(self) -> Tensor:
        """(M,) predicted extremeness c_j of every live item (0 everywhere with no labels)."""
        self.grow()
        items = torch.arange(self.view.n_items, device=self.view.device)
        if self.labelled.numel() == 0:
            return torch.zeros(items.shape[0], device=items.device)
        return (self.features(items) @ self.weights).clamp(0, 1)

    def observe(self, rows: dict[str, Tensor]) -> None:
        """Update users' affinities and items' audience scores from this step's engagements,
        then refit every ``refit_every`` steps.
        """
        self.inner.observe(rows)
        self.grow()
        engaged = rows["label"] > 0
        user, item = rows["user"][engaged], rows["item"][engaged]
        if self.labelled.numel() and user.numel():
            affinity = shrunk_mean(self.user_total[user], self.user_count[user], self.prior, self.settings.shrinkage)
            self.audience_total.index_add_(0, item, affinity.float())
            self.audience_count.index_add_(0, item, torch.ones_like(affinity, dtype=torch.float))
            rated = self.rated[item]
            self.user_total.index_add_(0, user[rated], self.item_rating[item[rated]])
            self.user_count.index_add_(0, user[rated], torch.ones(int(rated.sum()), device=user.device))
        self.steps_seen += 1
        if self.steps_seen % self.settings.refit_every == 0:
            self.refit()

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        scores = self.inner.adjust_scores(users, candidates, scores)
        if self.labelled.numel() == 0:
            return scores
        return penalised(scores, self.predicted()[candidates], self.settings)

    def state_dict(self) -> dict[str, Any]:
        names = ("labelled", "rating", "weights", "user_total", "user_count", "audience_total", "audience_count")
        state: dict[str, Any] = {name: getattr(self, name).clone() for name in names}
        state.update(rated=self.rated.clone(), item_rating=self.item_rating.clone(), steps_seen=self.steps_seen)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value.clone() if isinstance(value, Tensor) else int(value))
