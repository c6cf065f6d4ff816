"""User response: the position-biased engagement model and interest drift (docs/design.md §2 step 4)."""

from __future__ import annotations

import math
from typing import Literal

import pydantic
import torch
from torch import Tensor

from simlab.core.gather import take_cells, take_rows
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

    Reliability (off by default, ``b_rel`` = 0): the term b_rel * w_i * (r_j - 1/2) is added,
    r_j in (0, 1) the item's reliability (a catalog with ``reliability: true``) and w_i >= 0 how
    much user i values it (population ``reliability_value_spread``; 1 for all without it), so
    users who value reliability engage less with unreliable items and the others do not mind
    (Spinelli & Crovella, UMAP 2020 adjunct: a personal history reveals the preference, an
    anonymous one cannot).

    Switchable assumptions (docs/assumptions.md; the defaults are the model above):

    - ``appetite_side``: ``any`` (above); ``same_side``: the appetite term applies only to items
      on the user's side (s_ij = 1 when x_ik* y_jk* > 0 on the item's most extreme axis k*);
      ``out_group``: b_ext on the user's side and its own weight ``b_out_group`` on the other
      side, b_ext*a_i*e_j*s_ij + b_out_group*a_i*e_j*(1 - s_ij) (out-group content drives
      engagement: Rathje, Van Bavel & van der Linden, PNAS 2021);
    - ``b_far`` * (d_ij/2)^``far_power`` added to the logit: engagement with far content
      (hate-engagement); with b_align > 0 and far_power > 1 engagement is U-shaped in d_ij;
    - ``appetite_shape``: ``linear`` a_i = a0 + a1*|x_i| (above); ``constant`` a_i = a0 + a1/2
      (the population mean of the linear form under uniform opinions, E|x| = 1/2, for every
      user); ``power`` a_i = a0 + a1*|x_i|^``appetite_power``.

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
        appetite_shape: Literal["linear", "constant", "power"] = pydantic.Field(
            "linear",
            description="how the appetite grows with |x_i|: linear a0 + a1*|x|, constant a0 + a1/2, "
            "or power a0 + a1*|x|^appetite_power",
        )
        appetite_power: float = pydantic.Field(
            2.0, gt=0, description="p in the power appetite a0 + a1*|x_i|^p (appetite_shape: power)"
        )
        appetite_side: Literal["any", "same_side", "out_group"] = pydantic.Field(
            "any",
            description="which items the appetite term rewards: any extreme item, only items on the user's "
            "side, or out_group (b_ext on the user's side, b_out_group on the other; Rathje et al. 2021)",
        )
        b_out_group: float = pydantic.Field(
            1.0,
            description="weight of appetite times extremeness for items on the other side (appetite_side: out_group)",
        )
        b_far: float = pydantic.Field(
            0.0, description="weight of (d_ij/2)^far_power, engagement with far content (hate-engagement); 0 = off"
        )
        far_power: float = pydantic.Field(1.0, gt=0, description="exponent of the far-content term (d_ij/2)^far_power")
        interest_drift: float = pydantic.Field(
            0.05, ge=0, le=1, description="g, rate at which interests move toward the step's consumed topics"
        )
        b_rel: float = pydantic.Field(
            0.0, description="weight of reliability, b_rel * w_i * (r_j - 1/2) (needs catalog reliability; 0 = off)"
        )

    def __init__(self, settings: Settings):
        self.settings = settings

    @staticmethod
    def check_scenario(scenario: dict) -> tuple[str, str] | None:
        """Load-time check: a reliability weight needs items that have a reliability.

        Args:
            scenario: the validated scenario document.

        Returns:
            None, or ("b_rel", message) when b_rel != 0 and the catalog draws no reliability.
        """
        if scenario["behavior"].get("b_rel", 0) and not scenario["catalog"].get("reliability", False):
            return "b_rel", "expected catalog.reliability: true with b_rel != 0 (users value a reliability items lack)"
        return None

    def reliability_term(self, users: Users, user: Tensor, catalog: Catalog, item: Tensor) -> Tensor:
        """b_rel * w_i * (r_j - 1/2) for (I,) user/item pairs (w_i = 1 without per-user values).

        Args:
            users: the users (``reliability_value`` (N,) w_i, or None).
            user: (I,) user ids.
            catalog: the catalog; its ``reliability`` (M,) r_j must exist.
            item: (I,) item ids.

        Returns:
            (I,) the logit term.
        """
        assert catalog.reliability is not None, "b_rel != 0 needs a catalog with reliability"
        term = self.settings.b_rel * (catalog.reliability[item] - 0.5)
        if users.reliability_value is not None:
            term = term * users.reliability_value[user]
        return term

    def appetite(self, opinion: Tensor) -> Tensor:
        """The extremity appetite a_i of users at opinions (I, K), in the form ``appetite_shape`` sets: (I,)."""
        s = self.settings
        extremity = opinion.abs().amax(dim=1)
        if s.appetite_shape == "constant":
            return torch.full_like(extremity, s.appetite0 + s.appetite1 / 2)
        if s.appetite_shape == "power":
            return s.appetite0 + s.appetite1 * extremity**s.appetite_power
        return s.appetite0 + s.appetite1 * extremity

    def appetite_term(self, opinion: Tensor, stance: Tensor) -> Tensor:
        """The logit's extremeness term for (I,) pairs of users at opinions (I, K) and items at
        stances (I, K): b_ext*a_i*e_j, restricted or re-weighted by side as ``appetite_side`` sets.
        """
        s = self.settings
        if s.appetite_side == "any":  # (in this order: the default's numbers stay bit-identical)
            return s.b_ext * self.appetite(opinion) * stance.abs().amax(dim=1)
        extremeness, axis = stance.abs().max(dim=1)
        term = self.appetite(opinion) * extremeness
        # the item's side is that of its most extreme axis; a user at 0 on it is on neither side
        same_side = (opinion.gather(1, axis[:, None]).squeeze(1) * stance.gather(1, axis[:, None]).squeeze(1) > 0).to(
            term.dtype
        )
        if s.appetite_side == "same_side":
            return s.b_ext * term * same_side
        return (s.b_ext * same_side + s.b_out_group * (1 - same_side)) * term

    def logit(self, users: Users, user: Tensor, catalog: Catalog, item: Tensor) -> Tensor:
        """The logit before position bias, for (I,) user/item pairs."""
        s = self.settings
        # each table gathered once per pair (take_rows: a one-column table as a vector, faster)
        stance, opinion = take_rows(catalog.stance, item), take_rows(users.opinion, user)
        distance = (opinion - stance).abs().mean(dim=1)
        interest = take_cells(users.interests, user, catalog.topic.index_select(0, item))
        logit = (
            s.b0
            + s.b_align * (1 - distance / 2)
            + self.appetite_term(opinion, stance)
            + s.b_topic * interest
            + s.b_q * catalog.quality.index_select(0, item)
        )
        if s.b_far:
            logit = logit + s.b_far * (distance / 2) ** s.far_power
        if s.b_taste and users.taste is not None and catalog.attributes is not None and users.taste.shape[1]:
            # take_rows (index_select), not [ ]: the same rows, several times faster on the CPU
            match = (take_rows(users.taste, user) * take_rows(catalog.attributes, item)).sum(dim=1)
            match = match / math.sqrt(users.taste.shape[1])
            logit = logit + s.b_taste * match
        if s.b_rel:
            logit = logit + self.reliability_term(users, user, catalog, item)
        return logit

    def probability(
        self, users: Users, user: Tensor, catalog: Catalog, item: Tensor, position: Tensor | None = None
    ) -> Tensor:
        """(I,) engagement probabilities at slate positions ``position`` (0 = top; None: every
        pair at the top, where the position bias (1 + 0)^-eta is exactly 1).
        """
        engaging = torch.sigmoid(self.logit(users, user, catalog, item))
        if position is None:
            return engaging
        return (1.0 + position.float()) ** (-self.settings.eta) * engaging

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
