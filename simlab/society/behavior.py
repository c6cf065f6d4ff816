"""User response: the position-biased engagement model and interest drift (docs/design.md §2 step 4)."""

from __future__ import annotations

import math

import pydantic
import torch
from torch import Tensor

from simlab.core.state import Catalog, Users


class EngagementModel:
    """p_ij = pos(r) * sigmoid(z_ij), the engagement logit

        z_ij = b0 + b_align*(1 - d_ij/2) + b_ext*a_i*e_j + b_topic*theta_i[tau_j] + b_q*q_j
               + b_taste * u_i . v_j / sqrt(D)

    with pos(r) = (1 + r)^(-eta) the position bias of a cascade-free examination model
    (Craswell et al. 2008), d_ij = mean_k |x_ik - y_jk| in [0, 2] the opinion distance,
    a_i = a0 + a1*|x_i| the extremity appetite (grows as the user becomes extreme),
    e_j = max_k |y_jk| the item's extremeness, theta_i the user's topic interests, q_j quality,
    and u_i, v_j the user's latent tastes and the item's latent attributes (D dimensions, unit
    variance each, so the last term has standard deviation b_taste): the user-by-item preference
    of T-RECS, RecSim and Chaney et al. (RecSys 2018), absent when the catalog has D = 0.

    Interest drift (RecSim interest evolution, Ie et al. 2019): after engaging, a user's
    interests move toward the topics consumed, theta_i <- (1 - g) theta_i + g * h_i with h_i
    the topic histogram of the step's engagements (users with none keep theta_i).
    """

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        b0: float = pydantic.Field(-3.0, description="intercept of the engagement logit")
        b_align: float = pydantic.Field(2.0, description="weight of opinion alignment 1 - d_ij/2")
        b_ext: float = pydantic.Field(1.0, description="weight of appetite times extremeness, a_i * e_j")
        b_topic: float = pydantic.Field(1.0, description="weight of topic interest theta_i[tau_j]")
        b_q: float = pydantic.Field(0.5, description="weight of item quality q_j")
        b_taste: float = pydantic.Field(
            4.0, description="weight of latent taste match u_i . v_j / sqrt(D) (its standard deviation)"
        )
        eta: float = pydantic.Field(0.3, ge=0, description="position-bias exponent")
        appetite0: float = pydantic.Field(0.0, description="a0 in the extremity appetite a_i = a0 + a1*|x_i|")
        appetite1: float = pydantic.Field(1.0, description="a1 in the extremity appetite a_i = a0 + a1*|x_i|")
        interest_drift: float = pydantic.Field(
            0.05, ge=0, le=1, description="g, rate at which interests move toward the step's consumed topics"
        )

    def __init__(self, settings: Settings):
        self.settings = settings

    def appetite(self, users: Users, user: Tensor) -> Tensor:
        s = self.settings
        return s.appetite0 + s.appetite1 * users.opinion[user].abs().amax(dim=1)

    def logit(self, users: Users, user: Tensor, catalog: Catalog, item: Tensor) -> Tensor:
        """The logit before position bias, for (I,) user/item pairs."""
        s = self.settings
        stance = catalog.stance[item]
        distance = (users.opinion[user] - stance).abs().mean(dim=1)
        extremeness = stance.abs().amax(dim=1)
        interest = users.interests[user, catalog.topic[item]]
        logit = (
            s.b0
            + s.b_align * (1 - distance / 2)
            + s.b_ext * self.appetite(users, user) * extremeness
            + s.b_topic * interest
            + s.b_q * catalog.quality[item]
        )
        if s.b_taste and users.taste is not None and catalog.attributes is not None and users.taste.shape[1]:
            match = (users.taste[user] * catalog.attributes[item]).sum(dim=1) / math.sqrt(users.taste.shape[1])
            logit = logit + s.b_taste * match
        return logit

    def probability(self, users: Users, user: Tensor, catalog: Catalog, item: Tensor, position: Tensor) -> Tensor:
        """(I,) engagement probabilities at slate positions ``position`` (0 = top)."""
        position_bias = (1.0 + position.float()) ** (-self.settings.eta)
        return position_bias * torch.sigmoid(self.logit(users, user, catalog, item))

    def drift_interests(self, users: Users, engaged_user: Tensor, engaged_item: Tensor, catalog: Catalog) -> None:
        rate = self.settings.interest_drift
        if rate == 0 or engaged_user.numel() == 0:
            return
        # only the users who engaged change: count their topics, not an N x T matrix
        touched, row = torch.unique(engaged_user, return_inverse=True)
        histogram = torch.zeros(touched.numel(), users.interests.shape[1], device=users.interests.device)
        histogram.index_put_(
            (row, catalog.topic[engaged_item]), torch.ones_like(row, dtype=histogram.dtype), accumulate=True
        )
        target = histogram / histogram.sum(dim=1, keepdim=True)
        users.interests[touched] = (1 - rate) * users.interests[touched] + rate * target
