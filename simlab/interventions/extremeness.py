"""``extremeness_penalty``: ranking with the platform's noisy content classifier of extremeness."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import torch
from torch import Tensor

from simlab.interventions.base import Intervention, InterventionContext, Truth
from simlab.interventions.common import StrictSettings, row_range


def roc_auc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve of ``scores`` (B,) for binary ``labels`` (B,): the
    Mann–Whitney probability that a positive outranks a negative, ties counted 1/2. NaN when
    one class is empty.
    """
    from scipy import stats  # (here: scipy.stats takes about 0.4 s to import, and few runs need it)

    y = labels.bool().cpu().numpy()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores.double().cpu().numpy())  # average ranks of ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class ExtremenessPenalty(Intervention):
    """Lowers the scores of items a noisy content classifier rates extreme.

    The classifier's score of item j is c_j = clip(e_j + noise * z_j, 0, 1), z_j ~ N(0, 1),
    drawn once per item when it first appears (from the intervention's generator), where
    e_j = max_k |y_jk| is the item's true extremeness: a stand-in for a trained classifier whose
    accuracy is set by ``noise`` (:meth:`auc` reports its ROC AUC against the truth label
    e_j > threshold). Scores become

        subtract:  s'_ij = s_ij - weight * range_i * c_j,
        downrank:  s'_ij = s_ij - weight * range_i * [c_j > threshold],

    with range_i the spread (max - min) of row i's finite scores, so ``weight`` is unitless for
    any recommender: at weight 1 a flagged item falls to the bottom of its row. ``downrank`` is
    the intervention of the 2025 field experiment that re-ranked X/Twitter feeds with an LLM
    classifier of antidemocratic attitudes and partisan animosity, moving flagged posts down
    (Piccardi et al., Science 2025).

    ``privileged = True``: the classifier is simulated from the items' true stances (through
    noise), which the platform's view does not contain; the manifest records this.
    """

    privileged = True

    class Settings(StrictSettings):
        weight: float = pydantic.Field(
            0.5,
            ge=0,
            le=10,
            description="penalty strength: scores lose weight * (row's score range) * classified extremeness (or * flagged)",
        )
        mode: Literal["subtract", "downrank"] = pydantic.Field(
            "subtract",
            description="subtract the classified score, or down-rank items whose classified score exceeds threshold (Piccardi et al. 2025)",
        )
        noise: float = pydantic.Field(
            0.2, ge=0, le=10, description="std of the classifier's Gaussian error on extremeness e_j (0 = perfect)"
        )
        threshold: float = pydantic.Field(
            0.8,
            ge=0,
            le=1,
            description="classified score above which an item is flagged (and the truth label for the AUC)",
        )

    settings: Settings

    def __init__(self, settings: pydantic.BaseModel):
        super().__init__(settings)
        self.classified = torch.zeros(0)

    def setup(self, context: InterventionContext) -> None:
        assert context.truth is not None, "extremeness_penalty is privileged: the loop gives it the truth"
        self.truth: Truth = context.truth
        self.generator = context.generator
        self.classified = self.classified.to(context.device)

    def classify(self) -> Tensor:
        """(M,) classified extremeness of every live item; new items are classified once, in
        order of arrival, so the draws are the same however the steps are split.
        """
        catalog = self.truth.catalog
        seen = self.classified.shape[0]
        if catalog.size > seen:
            true = catalog.stance[seen : catalog.size].abs().amax(dim=1).float()
            noise = torch.randn(true.shape, generator=self.generator, device=true.device)
            self.classified = torch.cat([self.classified, (true + self.settings.noise * noise).clamp(0, 1)])
        return self.classified

    def auc(self) -> float:
        """ROC AUC of the classifier's scores against the truth e_j > threshold (all live items)."""
        classified = self.classify()
        return roc_auc(classified, self.truth.catalog.extremeness > self.settings.threshold)

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        scores = self.inner.adjust_scores(users, candidates, scores)
        return penalised(scores, self.classify()[candidates], self.settings)

    def state_dict(self) -> dict[str, Any]:
        return {"classified": self.classified.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.classified = state["classified"].clone()


def penalised(scores: Tensor, classified: Tensor, settings: Any) -> Tensor:
    """Scores (A, C) lowered by classified extremeness ``classified`` (A, C) of the candidates:
    subtract ``weight * range_i * c_j``, or (``mode: downrank``) ``weight * range_i *
    [c_j > threshold]`` (the rule of :class:`ExtremenessPenalty`; ``settings`` has ``weight``,
    ``mode`` and ``threshold``).
    """
    c = classified
    if settings.mode == "downrank":
        c = (c > settings.threshold).float()
    return scores - settings.weight * row_range(scores) * c
