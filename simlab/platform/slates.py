"""Slate construction: the platform's own ranking stage, which interventions wrap.

:class:`PolicyFeed` is the innermost :class:`~simlab.core.protocols.Feed`: scores pass through
unchanged, slates are the ranking policy's choice among distinct candidates, and it adds no
training rows. Shapes: A active users, C candidates, k slate size.
"""

from __future__ import annotations

import torch
from torch import Tensor

from simlab.core.protocols import Policy
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.platform.candidates import first_occurrence


def mask_repeats(candidates: Tensor, scores: Tensor) -> Tensor:
    """(A, C) scores with -inf wherever an item already appears earlier in its row, so a
    greedy slate builder never picks the same item twice.
    """
    return torch.where(first_occurrence(candidates), scores, float("-inf"))


def columns_to_items(candidates: Tensor, columns: Tensor) -> Tensor:
    """(A, C) candidates, (A, k) column indices (-1 = empty) -> (A, k) item ids (-1 = empty)."""
    return torch.where(columns >= 0, torch.gather(candidates, 1, columns.clamp(min=0)), -1)


class PolicyFeed:
    """The ranking policy over distinct candidates (no intervention)."""

    def __init__(self, policy: Policy, generator: torch.Generator):
        self.policy, self.generator = policy, generator

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        return scores

    def build_slates(self, users: Tensor, candidates: Tensor, scores: Tensor, k: int) -> Tensor:
        """(A, C) candidates and scores -> (A, k) column indices of distinct items, -1 where a
        slot is empty (only when a row has fewer than k distinct candidates with finite score).

        Sources may propose an item twice; rather than sort all C candidates of every row, the
        policy ranks 3k of them and repeats are dropped there; only rows with more than 2k
        repeats among those 3k are deduplicated in full and ranked again.
        """
        ranked = self.policy.select(scores, 3 * k, self.generator)
        items = torch.gather(candidates, 1, ranked)
        keep = first_occurrence(items) & torch.isfinite(torch.gather(scores, 1, ranked))
        short = torch.nonzero(keep.sum(dim=1) < min(k, candidates.shape[1])).squeeze(1)
        if short.numel():
            # rows whose best 3k hold too many repeats (a heavy-tailed popular source): mask the
            # repeats among all C candidates of those rows and rank again
            masked = mask_repeats(candidates[short], scores[short])
            ranked[short] = self.policy.select(masked, 3 * k, self.generator)
            items[short] = torch.gather(candidates[short], 1, ranked[short])
            keep[short] = torch.isfinite(torch.gather(masked, 1, ranked[short]))
        order = torch.argsort((~keep).to(torch.uint8), dim=1, stable=True)[:, :k]
        filled = torch.gather(keep, 1, order)
        return torch.where(filled, torch.gather(ranked, 1, order), -1)

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        return None

    def observe(self, rows: dict[str, Tensor]) -> None:
        return None
