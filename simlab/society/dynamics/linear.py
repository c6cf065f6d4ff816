"""Linear averaging models: DeGroot (1974) and Friedkin–Johnsen (1990)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from simlab.core.state import Catalog, Graph, Users
from simlab.society.dynamics.base import (
    DynamicsBase,
    ExposureSettings,
    engaged_stances,
    scatter_sum,
    weighted_neighbour_sum,
)

__all__ = ["DeGroot", "FriedkinJohnsen", "item_totals"]


def item_totals(
    users: Users, engaged_user: Tensor, engaged_item: Tensor, catalog: Catalog | None
) -> tuple[Tensor, Tensor]:
    """(sum over user i's engaged items of y_j (N, K), count n_i (N,)) in the opinions' dtype."""
    x = users.opinion
    n = x.shape[0]
    if engaged_user.numel() == 0:
        return torch.zeros_like(x), x.new_zeros(n)
    y = engaged_stances(catalog, engaged_item, x)
    return scatter_sum(engaged_user, y, n), torch.bincount(engaged_user, minlength=n).to(x)


class DeGroot(DynamicsBase):
    """DeGroot (1974, JASA 69:118) averaging: x(t+1) = W x(t), W the row-normalised adjacency.

    With self_weight a and each engaged item counted as an extra neighbour of weight omega
    (``item_weight``) beside the neighbourhood's total weight 1,

        x_i <- a x_i + (1 - a) * ((W x)_i + omega * sum_{j in J_i} y_j) / (1 + omega * n_i),

    n_i = |J_i|; isolated users use their own opinion for (W x)_i. With a = 0 and no
    engagements this is DeGroot's x <- W x: on a connected aperiodic undirected graph it
    converges to sum_i pi_i x_i(0) with pi_i = d_i / sum_k d_k (the walk's stationary
    distribution); on a bipartite graph it oscillates. Any a > 0 makes it aperiodic.
    """

    class Settings(ExposureSettings):
        self_weight: float = Field(0.0, ge=0.0, lt=1.0, description="a, weight on one's own opinion (> 0: aperiodic)")

    settings: Settings

    def update(
        self,
        users: Users,
        engaged_user: Tensor,
        engaged_item: Tensor,
        catalog: Catalog | None,
        graph: Graph,
        generator: torch.Generator,
    ) -> Tensor:
        s = self.settings
        x = users.opinion
        total, count = item_totals(users, engaged_user, engaged_item, catalog)
        social = (graph.neighbour_mean(x) + s.item_weight * total) / (1 + s.item_weight * count)[:, None]
        return (s.self_weight * x + (1 - s.self_weight) * social).clamp_(-1.0, 1.0)


class FriedkinJohnsen(DynamicsBase):
    """Friedkin–Johnsen (1990, J. Math. Sociol. 15:193) opinions anchored to innate ones s_i.

    ``form="laplacian"`` (default), as in Bindel, Kleinberg & Oren (2015, GEB 92:248), with
    raw weights w_ij:

        z_i <- (s_i + sum_j w_ij z_j + omega * sum_{j in J_i} y_j) / (1 + sum_j w_ij + omega * n_i),

    a Jacobi iteration whose fixed point without engagements is z* = (I + L)^-1 s,
    L = D - W (see :func:`simlab.society.dynamics.fj_equilibrium`); it converges because I + L is
    strictly diagonally dominant. Engaged items act as extra, fixed neighbours of weight
    omega = ``item_weight``.

    ``form="anchored"`` is Friedkin & Johnsen's original x <- Lambda s + (I - Lambda) W x with
    lambda_i = users.anchoring and W row-normalised (engaged items enter W x as in DeGroot);
    its fixed point is (I - (I - Lambda) W)^-1 Lambda s.
    """

    class Settings(ExposureSettings):
        form: Literal["laplacian", "anchored"] = Field(
            "laplacian", description="Bindel et al.'s Laplacian form, or the original anchored form"
        )

    settings: Settings

    def update(
        self,
        users: Users,
        engaged_user: Tensor,
        engaged_item: Tensor,
        catalog: Catalog | None,
        graph: Graph,
        generator: torch.Generator,
    ) -> Tensor:
        s = self.settings
        x = users.opinion
        innate = users.innate.to(x)
        total, count = item_totals(users, engaged_user, engaged_item, catalog)
        if s.form == "laplacian":
            numerator = innate + weighted_neighbour_sum(graph, x) + s.item_weight * total
            denominator = 1 + graph.degree.to(x) + s.item_weight * count
            return (numerator / denominator[:, None]).clamp_(-1.0, 1.0)
        social = (graph.neighbour_mean(x) + s.item_weight * total) / (1 + s.item_weight * count)[:, None]
        anchor = users.anchoring.to(x)[:, None]
        return (anchor * innate + (1 - anchor) * social).clamp_(-1.0, 1.0)
