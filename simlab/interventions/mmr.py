"""``mmr``: maximal marginal relevance re-ranking (Carbonell & Goldstein, SIGIR 1998)."""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.interventions.common import GreedySlate, PoolSettings
from simlab.registry import INTERVENTIONS


def pool_similarity(items: Tensor, picked: Tensor, embeddings: Tensor | None, topic: Tensor, creator: Tensor) -> Tensor:
    """Similarity of every pool item (A, P) to each row's picked item (A,), as the platform can
    measure it: the cosine of the recommender's item embeddings (M, d) when it has them, else
    0.5 * [same topic] + 0.5 * [same creator] (both in [-1, 1]; -1 ids are treated as item 0 and
    masked by the caller)."""
    items, picked = items.clamp(min=0), picked.clamp(min=0)
    if embeddings is not None:
        unit = torch.nn.functional.normalize(embeddings.float(), dim=1)
        return torch.einsum("apd,ad->ap", unit[items], unit[picked])
    same_topic = (topic[items] == topic[picked][:, None]).float()
    same_creator = (creator[items] == creator[picked][:, None]).float()
    return 0.5 * same_topic + 0.5 * same_creator


@INTERVENTIONS.register("mmr")
class MMR(GreedySlate):
    """Maximal marginal relevance (Carbonell & Goldstein 1998, eq. 1): slot r takes

        argmax_{j in R \\ S}  lam * rel_j - (1 - lam) * max_{i in S} sim(j, i),

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
        view = self.view
        return {
            "embeddings": self.recommender.item_embeddings(),
            "topic": view.item_topic,
            "creator": view.item_creator,
            "max_sim": torch.zeros_like(relevance),
        }

    def gain(self, state: dict[str, Any], relevance: Tensor, position: int) -> Tensor:
        lam = self.settings.lam
        return lam * relevance - (1 - lam) * state["max_sim"]

    def update(self, state: dict[str, Any], items: Tensor, best: Tensor, ok: Tensor, position: int) -> None:
        picked = torch.gather(items, 1, best[:, None]).squeeze(1)
        sim = pool_similarity(items, picked, state["embeddings"], state["topic"], state["creator"])
        # the max over an empty set is taken as 0 (first slot); afterwards it is the true max
        state["max_sim"] = sim if position == 0 else torch.maximum(state["max_sim"], sim)
