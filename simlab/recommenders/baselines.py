"""Baseline recommenders: random, popularity, chronological and the oracle.

Each implements :class:`simlab.core.protocols.Recommender` and reads only the PlatformView
(the oracle excepted: it ranks by the true engagement probability by definition).
"""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.core.protocols import PlatformView
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog


class _Stateless:
    """Shared plumbing for recommenders that learn nothing from the log."""

    scores_are_logits = False
    privileged = False

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

    def __init__(self, settings: pydantic.BaseModel):
        self.settings = settings
        self.view: PlatformView | None = None
        self.generator: torch.Generator | None = None

    def setup(self, view: PlatformView, generator: torch.Generator) -> None:
        self.view, self.generator = view, generator

    def train(self, log: ImpressionLog, step: int, extra: Rows | None = None) -> dict[str, float]:
        """Nothing to learn: the log and any ``extra`` rows are ignored."""
        return {}

    def item_embeddings(self) -> Tensor | None:
        return None

    def predict_raw(self, users: Tensor, items: Tensor) -> Tensor:
        """Predictions are already the model's own numbers: ``predict``."""
        return self.predict(users, items)  # type: ignore[attr-defined]

    def add_synthetic_users(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Ids past the real users (rows for them are ignored: nothing is trained, nothing drawn)."""
        assert self.view is not None
        return torch.arange(self.view.n_users, self.view.n_users + n, device=self.view.device)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _item_scores(recommender: _Stateless, values: Tensor) -> Tensor:
    """(M,) per-item scores: ``values`` plus a random tie-break below 1e-3, drawn once per call
    for the whole catalog (equal values are ordered at random, not by id, and the same item
    always gets the same score within a step).
    """
    view = recommender.view
    assert view is not None
    n = view.n_items
    jitter = torch.rand(n, generator=recommender.generator, device=view.device) * 1e-3
    return values[:n].float() + jitter


class RandomRecommender(_Stateless):
    """Uniformly random ranking of the candidates; predicts the running platform CTR."""

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        return torch.rand(candidates.shape, generator=self.generator, device=candidates.device)

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        assert self.view is not None
        ctr = (self.view.user_engagements.sum() + 1).float() / (self.view.user_impressions.sum() + 2).float()
        return ctr.expand(users.shape[0]).clone()


class PopularityRecommender(_Stateless):
    """Ranks by observed engagements; predicts the smoothed item CTR (eng + c*w) / (imp + w), c the platform CTR."""

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        prior_impressions: float = pydantic.Field(
            10.0, ge=1e-3, le=1e9, description="w, weight (in impressions) of the platform CTR prior in predictions"
        )

    settings: Settings

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        assert self.view is not None
        return _item_scores(self, self.view.items.engagements)[candidates]

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        assert self.view is not None
        s = self.settings
        eng = self.view.items.engagements[items].float()
        imp = self.view.items.impressions[items].float()
        # shrink toward the platform CTR with the weight of `prior_impressions` impressions
        prior_ctr = (self.view.user_engagements.sum() + 1).float() / (self.view.user_impressions.sum() + 2).float()
        return (eng + prior_ctr * s.prior_impressions) / (imp + s.prior_impressions)


class ChronologicalRecommender(_Stateless):
    """Newest first (a reverse-chronological feed); predicts the running platform CTR."""

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        assert self.view is not None
        return _item_scores(self, self.view.items.created)[candidates]

    predict = RandomRecommender.predict


class OracleRecommender(_Stateless):
    """Ranks by the true engagement probability at the top position (an upper bound on
    what an engagement optimiser can reach). Privileged: the loop hands it the truth.
    """

    privileged = True

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        a, c = candidates.shape
        return self.predict(users[:, None].expand(a, c).reshape(-1), candidates.reshape(-1)).reshape(a, c)

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        assert self.view is not None and self.view.oracle_probability is not None
        return self.view.oracle_probability(users, items)
