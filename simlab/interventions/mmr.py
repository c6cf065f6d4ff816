"""``mmr``: maximal marginal relevance re-ranking (Carbonell & Goldstein, SIGIR 1998)."""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.interventions.common import GreedySlate, PoolSettings


class MMR(GreedySlate):
    """Maximal marginal relevance (Carbonell & Goldstein 1998, eq. 1): slot r takes

        argmax_{j in R - S}  lam * rel_j - (1 - lam) * max_{i in S} sim(j, i),

    over the pool R (the inner feed's best ``pool`` candidates) given the already chosen S (for
    the first slot the similarity term is 0). ``rel`` is the score min-max normalised over the
    row's pool (so 0 <= rel <= 1, on the scale of the similarity). ``sim`` is the cosine of the
    recommender's item embeddings (``recommender.item_embeddings()``, e.g. the DLRM's learned
    item vectors) when it has them, else 0.5 * same topic + 0.5 * same creator (observable
    features). ``lam = 1`` is the plain ranking; ``lam = 0`` only diversifies.
    """

    class Settings(PoolSettings):
        lam: float = pydantic.Field(
            0.5,
            ge=0,
            le=1,
            description="lambda of MMR (Carbonell & Goldstein 1998): lam*relevance - (1-lam)*max similarity to the chosen items; 1 = no re-ranking",
        )

    settings: Settings

    def start(self, users: Tensor, items: Tensor, relevance: Tensor, available: Tensor) -> dict[str, Any]:
        embeddings = self.recommender.item_embeddings()
        state: dict[str, Any] = {"max_sim": torch.zeros_like(relevance)}
        if embeddings is not None:
            # the pool's unit vectors (A, P, d), gathered once for all k positions
            unit = torch.nn.functional.normalize(embeddings.float(), dim=1)
            state["pool_unit"] = unit[items.clamp(min=0)]
        else:
            state["topic"] = self.view.item_topic[items.clamp(min=0)]
            state["creator"] = self.view.item_creator[items.clamp(min=0)]
        return state

    def gain(self, state: dict[str, Any], relevance: Tensor, position: int) -> Tensor:
        lam = self.settings.lam
        return lam * relevance - (1 - lam) * state["max_sim"]

    def update(self, state: dict[str, Any], items: Tensor, best: Tensor, ok: Tensor, position: int) -> None:
        column = best[:, None]
        if "pool_unit" in state:
            unit = state["pool_unit"]
            picked = torch.gather(unit, 1, column[:, :, None].expand(-1, 1, unit.shape[2]))  # (A, 1, d)
            sim = torch.bmm(unit, picked.transpose(1, 2)).squeeze(2)
        else:
            topic, creator = state["topic"], state["creator"]
            sim = 0.5 * (topic == torch.gather(topic, 1, column)).float()
            sim += 0.5 * (creator == torch.gather(creator, 1, column)).float()
        # the max over an empty set is taken as 0 (first slot); afterwards it is the true max
        state["max_sim"] = sim if position == 0 else torch.maximum(state["max_sim"], sim)
