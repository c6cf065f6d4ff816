"""``bridging``: bridging-based ranking after Community Notes (Wojcik et al. 2022)."""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.interventions.base import Intervention, InterventionContext
from simlab.interventions.common import StrictSettings, minmax_rows

PARAMETERS = ("mu", "user_intercept", "item_intercept", "user_factor", "item_factor")


def bridging_loss(
    user: Tensor, item: Tensor, rating: Tensor, params: dict[str, Tensor], reg_intercept: float, reg_factor: float
) -> float:
    """The regularised squared error of Wojcik et al. (2022, eq. 1) on (E,) observations:
    sum (r - mu - i_u - i_j - f_u f_j)^2 + reg_intercept (|i_u|^2 + |i_j|^2) + reg_factor (|f_u|^2 + |f_j|^2).
    """
    residual = rating - predict(user, item, params)
    intercepts = params["user_intercept"].square().sum() + params["item_intercept"].square().sum()
    factors = params["user_factor"].square().sum() + params["item_factor"].square().sum()
    return float(residual.square().sum() + reg_intercept * intercepts + reg_factor * factors)


def predict(user: Tensor, item: Tensor, params: dict[str, Tensor]) -> Tensor:
    """(E,) mu + i_u + i_j + f_u f_j."""
    p = params
    return (
        p["mu"]
        + p["user_intercept"][user]
        + p["item_intercept"][item]
        + p["user_factor"][user] * p["item_factor"][item]
    )


def fit_bridging(
    user: Tensor,
    item: Tensor,
    rating: Tensor,
    params: dict[str, Tensor],
    reg_intercept: float,
    reg_factor: float,
    iterations: int,
    fit_factors: bool = True,
) -> dict[str, Tensor]:
    """Fit r_uj ~ mu + i_u + i_j + f_u f_j (one factor) to (E,) observations by alternating
    closed-form least squares: each block (mu; all i_u; all i_j; all f_u; all f_j) is set to
    its exact minimiser of :func:`bridging_loss` given the others, e.g.

        i_u = sum_{j in u} (r_uj - mu - i_j - f_u f_j) / (n_u + reg_intercept),
        f_u = sum_{j in u} f_j (r_uj - mu - i_u - i_j) / (sum_{j in u} f_j^2 + reg_factor),

    so the loss never increases (block coordinate descent; with the factors fixed the problem
    is a ridge regression with a unique minimum, which it converges to). ``params`` (mu (),
    user_* (N,), item_* (M,)) is the warm start; a new dict is returned. Duplicated (u, j) pairs
    count as separate observations.
    """
    p = {name: value.clone() for name, value in params.items()}
    n_users, n_items = p["user_intercept"].shape[0], p["item_intercept"].shape[0]
    ones = torch.ones_like(rating)
    n_u = torch.zeros(n_users, dtype=rating.dtype, device=rating.device).index_add_(0, user, ones)
    n_j = torch.zeros(n_items, dtype=rating.dtype, device=rating.device).index_add_(0, item, ones)

    def per(index: Tensor, size: int, values: Tensor) -> Tensor:
        return torch.zeros(size, dtype=values.dtype, device=values.device).index_add_(0, index, values)

    for _ in range(iterations):
        cross = p["user_factor"][user] * p["item_factor"][item]
        p["mu"] = (rating - p["user_intercept"][user] - p["item_intercept"][item] - cross).mean()
        rest = rating - p["mu"] - p["item_intercept"][item] - cross
        p["user_intercept"] = per(user, n_users, rest) / (n_u + reg_intercept)
        rest = rating - p["mu"] - p["user_intercept"][user] - cross
        p["item_intercept"] = per(item, n_items, rest) / (n_j + reg_intercept)
        if fit_factors:
            rest = rating - p["mu"] - p["user_intercept"][user] - p["item_intercept"][item]
            f_j = p["item_factor"][item]
            p["user_factor"] = per(user, n_users, f_j * rest) / (per(user, n_users, f_j.square()) + reg_factor)
            f_u = p["user_factor"][user]
            p["item_factor"] = per(item, n_items, f_u * rest) / (per(item, n_items, f_u.square()) + reg_factor)
    return p


class Bridging(Intervention):
    """Bridging-based ranking after Community Notes (Wojcik et al. 2022, "Birdwatch: crowd
    wisdom and bridging algorithms can inform understanding and reduce the spread of
    misinformation", arXiv:2210.15723).

    A one-factor matrix factorisation of observed engagement, r_uj ~ mu + i_u + i_j + f_u f_j,
    is fitted (:func:`fit_bridging`; r = 1 engaged, 0 not, over the impressions of the last
    ``window`` steps) at every ``refit_every``-th retrain of the recommender. The factor f
    soaks up engagement explained by the latent divide (users on one side engaging with items on
    their side); the item intercept i_j is engagement left over, i.e. from users across the
    divide. Scores become

        s'_ij = (1 - weight) * rel_ij + weight * b_j,

    with rel the scores and b the intercepts of the row's candidates, each min-max normalised per
    row. Regularisation defaults are Community Notes' (intercepts 0.15, factors 0.03). Items
    not yet fitted have i_j = 0. ``weight = 0`` keeps the ranking.
    """

    class Settings(StrictSettings):
        weight: float = pydantic.Field(
            0.5,
            ge=0,
            le=1,
            description="mix (1-weight)*relevance + weight*item intercept i_j of mu+i_u+i_j+f_u.f_j (Wojcik et al. 2022); 0 = no change",
        )
        window: int = pydantic.Field(
            20, ge=1, le=1_000_000, description="steps of the impression log the factorisation is fitted on"
        )
        refit_every: int = pydantic.Field(
            1, ge=1, le=1_000_000, description="refit at every this-many-th retrain of the recommender"
        )
        iterations: int = pydantic.Field(
            10, ge=1, le=10_000, description="alternating least-squares sweeps per fit (warm-started)"
        )
        reg_intercept: float = pydantic.Field(
            0.15, ge=0, le=1e6, description="L2 penalty on i_u and i_j (Community Notes: 0.15)"
        )
        reg_factor: float = pydantic.Field(
            0.03, gt=0, le=1e6, description="L2 penalty on f_u and f_j (Community Notes: 0.03)"
        )

    settings: Settings

    def __init__(self, settings: pydantic.BaseModel):
        super().__init__(settings)
        self.params: dict[str, Tensor] = {}
        self.retrains = 0

    def setup(self, context: InterventionContext) -> None:
        self.view, self.generator, self.device = context.view, context.generator, context.device
        if not self.params:
            self.params = self._grown({}, context.view.n_users, 0)

    def _grown(self, params: dict[str, Tensor], n_users: int, n_items: int) -> dict[str, Tensor]:
        """Parameters covering n_users and n_items; new rows start at intercept 0 and a small
        random factor (a zero factor would be a fixed point of the alternating updates).
        """
        out = dict(params) or {"mu": torch.zeros((), device=self.device)}
        for side, n in (("user", n_users), ("item", n_items)):
            have = out.get(f"{side}_intercept", torch.zeros(0, device=self.device))
            extra = n - have.shape[0]
            if extra > 0 or f"{side}_intercept" not in out:
                factor = 0.1 * torch.randn(max(extra, 0), generator=self.generator, device=self.device)
                out[f"{side}_intercept"] = torch.cat([have, torch.zeros(max(extra, 0), device=self.device)])
                out[f"{side}_factor"] = torch.cat(
                    [out.get(f"{side}_factor", torch.zeros(0, device=self.device)), factor]
                )
        return out

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        self.retrains += 1
        if (self.retrains - 1) % self.settings.refit_every == 0:
            rows = log.rows(since_step=step - self.settings.window + 1)
            s = self.settings
            params = self._grown(self.params, self.view.n_users, self.view.n_items)
            self.params = fit_bridging(
                rows.user, rows.item, rows.label.float(), params, s.reg_intercept, s.reg_factor, s.iterations
            )
        return self.inner.training_rows(log, step)

    def item_intercepts(self, items: Tensor) -> Tensor:
        """i_j of the given item ids (any shape); 0 for items not yet fitted."""
        fitted = self.params["item_intercept"]
        padded = torch.zeros(max(self.view.n_items, fitted.shape[0]), dtype=fitted.dtype, device=fitted.device)
        padded[: fitted.shape[0]] = fitted
        return padded[items]

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        scores = self.inner.adjust_scores(users, candidates, scores)
        w = self.settings.weight
        if w == 0:
            return scores
        finite = torch.isfinite(scores)
        relevance = minmax_rows(scores)
        bridge = minmax_rows(torch.where(finite, self.item_intercepts(candidates).to(scores.dtype), float("-inf")))
        mixed = (1 - w) * torch.where(finite, relevance, 0.0) + w * torch.where(finite, bridge, 0.0)
        return torch.where(finite, mixed, float("-inf"))

    def state_dict(self) -> dict[str, Any]:
        return {"params": {k: v.clone() for k, v in self.params.items()}, "retrains": self.retrains}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.params = {k: v.clone() for k, v in state["params"].items()}
        self.retrains = int(state["retrains"])
