"""``calibrated``: calibrated recommendations (Steck, RecSys 2018)."""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.interventions.common import GreedySlate, PoolSettings


def smoothed(p: Tensor, q: Tensor, alpha: float) -> Tensor:
    """q~ = (1 - alpha) q + alpha p (Steck 2018, eq. 5): finite KL(p || q~) even where q = 0."""
    return (1 - alpha) * q + alpha * p


def calibration_kl(p: Tensor, q: Tensor, alpha: float = 0.01) -> Tensor:
    """C_KL(p, q) = sum_g p(g) log(p(g) / q~(g)) over the last axis (Steck 2018, eq. 4-5), with
    q~ the smoothed slate distribution; terms with p(g) = 0 are 0. (..., T) -> (...).
    """
    return (torch.xlogy(p, p) - torch.xlogy(p, smoothed(p, q, alpha))).sum(dim=-1)


def history_topics(history: Tensor, item_topic: Tensor, topics: int) -> Tensor:
    """(A, H) last engaged item ids (-1 = empty) -> (A, T) the topic distribution p(g|u) of
    that history (each item has one topic, p(g|i) one-hot); rows without history are 0.
    """
    valid = history >= 0
    topic = torch.where(valid, item_topic[history.clamp(min=0)], 0)
    counts = torch.zeros(history.shape[0], topics, device=history.device)
    counts.scatter_add_(1, topic, valid.float())
    return counts / counts.sum(dim=1, keepdim=True).clamp(min=1)


class Calibrated(GreedySlate):
    """Calibrated re-ranking (Steck 2018, eq. 6): the slate I maximises

        (1 - lam) * sum_{j in I} rel_j - lam * C_KL(p, q(I)),

    built greedily (the paper's approximation) over the inner feed's best ``pool`` candidates.
    p(g|u) is the topic distribution of the user's last H engaged items (the view's
    ``history``); q(g|I) the topic distribution of the slate so far plus the candidate, with
    uniform item weights (the paper allows rank weights; uniform is its simplest choice); and
    q~ = (1 - alpha) q + alpha p with the paper's alpha = 0.01. ``rel`` is the score min-max
    normalised over the row's pool. Users with an empty history have no p to calibrate to and
    keep the relevance order. ``lam = 0`` is the plain ranking.
    """

    class Settings(PoolSettings):
        lam: float = pydantic.Field(
            0.5,
            ge=0,
            le=1,
            description="lambda of Steck (2018): (1-lam)*sum relevance - lam*KL(p || q~) of the slate's topic mix; 0 = no calibration",
        )
        alpha: float = pydantic.Field(
            0.01, gt=0, le=1, description="smoothing q~ = (1-alpha) q + alpha p (Steck 2018 uses 0.01)"
        )

    settings: Settings

    def start(self, users: Tensor, items: Tensor, relevance: Tensor, available: Tensor) -> dict[str, Any]:
        topic = self.view.item_topic
        topics = int(topic.max()) + 1 if topic.numel() else 1
        p = history_topics(self.view.history[users], topic, topics)
        return {
            "p": p,
            "pool_topic": topic[items.clamp(min=0)],  # (A, P)
            "counts": torch.zeros_like(p),  # topic counts of the chosen items
        }

    def gain(self, state: dict[str, Any], relevance: Tensor, position: int) -> Tensor:
        """The objective of S + {j} for every pool entry j, less the relevance of S (the same for
        every j of a row). Adding j changes q only in j's topic, so the cross-entropy
        sum_g p log q~ is updated in that one term (no (A, P, T) tensor).
        """
        p, counts, lam, alpha = state["p"], state["counts"], self.settings.lam, self.settings.alpha
        n = position + 1  # slate size once j is added
        without = torch.xlogy(p, smoothed(p, counts / n, alpha))  # (A, T) terms if j's topic is not g
        with_j = torch.xlogy(p, smoothed(p, (counts + 1) / n, alpha))  # (A, T) terms in j's topic
        cross = without.sum(dim=1, keepdim=True) + torch.gather(with_j - without, 1, state["pool_topic"])
        kl = torch.xlogy(p, p).sum(dim=1, keepdim=True) - cross
        return (1 - lam) * relevance - lam * kl

    def update(self, state: dict[str, Any], items: Tensor, best: Tensor, ok: Tensor, position: int) -> None:
        topic = torch.gather(state["pool_topic"], 1, best[:, None])
        state["counts"].scatter_add_(1, topic, ok[:, None].float())
