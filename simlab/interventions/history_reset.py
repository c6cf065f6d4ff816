"""The ``history_reset`` intervention: a cohort's platform records are wiped at one step.

After Hosseinmardi et al. (PNAS 2024), whose counterfactual bots showed how fast YouTube's feed
forgets a watch history: at the end of step ``step - 1`` (so the feed of step ``step`` is the
first built without it) a random ``share`` of the users has its history bag emptied and its
counters zeroed through :meth:`simlab.core.view.PlatformView.forget`, the declared way to
change the platform's records. Everything else stays: the recommender's learned parameters
(e.g. the DLRM's user-id embedding) and the impression log it retrains on. The metrics
``exposure_extremeness_reset`` / ``_kept`` and ``exposure_distance_reset`` / ``_kept`` compare
the wiped cohort with the never-wiped users (the control) from then on.
"""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.core.view import PlatformView
from simlab.interventions.base import Intervention, InterventionContext


class HistoryReset(Intervention):
    """Wipe the platform's history and counters of a random cohort before step ``step``."""

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        step: int = pydantic.Field(
            20, ge=1, le=10_000_000, description="the first step whose feed is built without the wiped records"
        )
        share: float = pydantic.Field(
            0.5, gt=0, le=1, description="share of the users (with an account) whose records are wiped"
        )

    settings: Settings

    def setup(self, context: InterventionContext) -> None:
        """Draw the cohort once, from the intervention's own stream: round(share * N) of the
        users with an account (a logged-out user has no records to wipe).
        """
        self.view: PlatformView = context.view
        logged_out = context.view.logged_out
        accounts = torch.arange(context.view.n_users - (logged_out is not None), device=context.device)
        if logged_out is not None:
            accounts = accounts[~logged_out]
        order = torch.randperm(accounts.numel(), generator=context.generator, device=context.generator.device)
        self.cohort: Tensor = accounts[order.to(context.device)[: round(self.settings.share * accounts.numel())]]

    def observe(self, rows: dict[str, Tensor]) -> None:
        """At the end of step ``step - 1``, after the step's engagements reached the records."""
        self.inner.observe(rows)
        if self.view.step == self.settings.step - 1:
            self.view.forget(self.cohort)

    def state_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cohort = state["cohort"].clone()
