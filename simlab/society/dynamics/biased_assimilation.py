"""Biased assimilation (Dandekar, Goel & Lee 2013, PNAS 110:5791)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from simlab.core.state import Catalog, Graph, Users
from simlab.society.dynamics.base import DynamicsBase, ExposureSettings, weighted_neighbour_sum
from simlab.society.dynamics.linear import item_totals

__all__ = ["BiasedAssimilation"]


class BiasedAssimilation(DynamicsBase):
    """Dandekar, Goel & Lee (2013), eq. for the biased opinion formation process.

    On each axis, with p_i = (x_i + 1)/2 in [0, 1] (the paper's scale), raw weights w_ij,
    s_i = sum_j w_ij p_j the weighted neighbour opinion and d_i = sum_j w_ij the degree:

        p_i <- (w_ii p_i + p_i^b s_i) / (w_ii + p_i^b s_i + (1 - p_i)^b (d_i - s_i)),

    i.e. a user weighs confirming evidence (s_i, evidence for "1") by p_i^b and disconfirming
    evidence (d_i - s_i) by (1 - p_i)^b. b = 0 is DeGroot, which never polarises; b > 0 is
    biased assimilation (Lord, Ross & Lepper 1979). w_ii = ``self_weight``, b = ``bias``.
    Engaged items are extra neighbours: each adds omega * p(y_j) to s_i and omega to d_i.

    Fixed points (used by the tests): p stays put iff p^(b-1) s = (1-p)^(b-1) (d - s), whatever
    w_ii. On a two-island network with homophily h > 1/2 (share of a node's weight inside its
    island) and islands at p and 1 - p, s/d = m = h p + (1-h)(1-p): for b >= 1 the islands
    move to the extremes 0 and 1 (polarisation); for b < 1 they stop at the interior root of
    (p/(1-p))^(b-1) = (1-m)/m, which exists iff b > 2(1 - h); for b <= 2(1 - h) the islands
    agree. A unanimous group (all at p) moves toward the nearer extreme whenever b > 0, since
    p^b > (1-p)^b iff p > 1/2; only b = 0 keeps a consensus where it is.
    """

    class Settings(ExposureSettings):
        bias: float = Field(1.0, ge=0.0, description="b, the bias exponent")
        self_weight: float = Field(1.0, ge=0.0, description="w_ii, weight on one's own opinion")

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
        p = ((x + 1) / 2).clamp(0.0, 1.0)
        total, count = item_totals(users, engaged_user, engaged_item, catalog)
        support = weighted_neighbour_sum(graph, p) + s.item_weight * (total + count[:, None]) / 2
        degree = (graph.degree.to(x) + s.item_weight * count)[:, None]
        agree = p.pow(s.bias) * support
        disagree = (1 - p).pow(s.bias) * (degree - support).clamp(min=0)
        numerator = s.self_weight * p + agree
        denominator = s.self_weight + agree + disagree
        # a user with no self weight and no evidence at all keeps their opinion
        p_next = torch.where(denominator > 0, numerator / denominator.clamp(min=torch.finfo(x.dtype).tiny), p)
        return (2 * p_next - 1).clamp_(-1.0, 1.0)
