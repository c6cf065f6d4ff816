"""``random_injection`` and ``chronological_mix``: a share of each slate's slots given to items
the engagement model did not choose (random or fresh items, or the newest items).
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import torch
from torch import Tensor

from simlab.interventions.common import ShareSettings, SlotFill, minmax_rows


def share_setting(default: float, what: str) -> Any:
    """A share-of-the-slate field in [0, 1], described as the share of slots ``what``."""
    return pydantic.Field(
        default, ge=0, le=1, description=f"share of each slate's slots {what} (m = round(share * slate size))"
    )


class RandomInjection(SlotFill):
    """m = round(share * k) slots of every slate go to candidates drawn uniformly at random
    (without replacement) among the row's distinct candidates not already in the slate, at
    positions drawn uniformly; the rest keep the inner feed's best k - m in order. The
    exploration slots of epsilon-greedy bandit feeds, per slot instead of per slate
    (Sutton & Barto 2018, §2.2), and the ``random_items_per_iter`` interleaving of the T-RECS
    simulator (Lucherini et al. 2021).

    ``source: fresh`` draws only among candidates created in the last ``fresh_window`` steps
    (falling back to any candidate when a row has too few). Injected items come from the
    candidate set (the seam's slates index candidates), whose ``random`` source already draws
    uniformly from the whole catalog.
    """

    class Settings(ShareSettings):
        share: float = share_setting(0.2, "given to random candidates")
        source: Literal["random", "fresh"] = pydantic.Field(
            "random", description="random: any candidate; fresh: candidates created in the last fresh_window steps"
        )
        fresh_window: int = pydantic.Field(
            5, ge=1, le=1_000_000, description="steps an item counts as fresh (source: fresh)"
        )

    settings: Settings

    def keys(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        keys = torch.rand(candidates.shape, generator=self.generator, device=candidates.device)
        if self.settings.source == "fresh":
            age = self.view.step - self.view.items.created[candidates]
            keys = keys + (age < self.settings.fresh_window).float()  # fresh ones first, random among them
        return keys


class ChronologicalMix(SlotFill):
    """m = round(share * k) slots of every slate go to the newest of the row's distinct
    candidates not already in the slate (reverse-chronological, the feed order the 2020 US
    election experiments switched Facebook and Instagram users to: Guess et al., Science
    2023), at positions drawn uniformly; items of the same age are ordered by the inner score.
    ``share = 1`` is a chronological feed over the candidates.
    """

    class Settings(ShareSettings):
        share: float = share_setting(0.3, "filled newest-first")

    settings: Settings

    def keys(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        # creation step first; the normalised score (in [0, 1], < 1 step apart) breaks ties
        created = self.view.items.created[candidates].float()
        relevance = minmax_rows(scores)
        return created + 0.5 * torch.where(torch.isfinite(relevance), relevance, torch.zeros_like(relevance))
