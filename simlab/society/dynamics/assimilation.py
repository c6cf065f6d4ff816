"""The default opinion update (docs/design.md §2, step 5) and the ``none`` model."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from simlab.core.state import Catalog, Graph, Users
from simlab.society.dynamics.base import DynamicsBase, DynamicsSettings, engaged_stances, scatter_sum

__all__ = ["Assimilation", "NoDynamics"]


class Assimilation(DynamicsBase):
    """Content assimilation/backfire + DeGroot social influence + Friedkin–Johnsen anchoring.

    With d_ij = ||x_i - y_j||_2 over the K axes and J_i the items user i engaged with this step,

        x_i <- clip( x_i + mu_i * mean_{j in J_i} w(d_ij) (y_j - x_i)
                         + sigma_social * (mean_{k ~ i} x_k - x_i)
                         + lambda_i * (s_i - x_i)
                         + noise_std * N(0, I),  -1, 1 )

    with w(d) = 1 if d <= eps_i (assimilation: bounded confidence, Deffuant et al. 2000),
    w(d) = -beta_backfire if d > rho (backfire: the user moves away from content too far
    from them), else 0; when eps_i >= rho the assimilation rule wins. Users with no
    engagement get no content term. The neighbour mean is the row-normalised graph average
    (DeGroot 1974; isolated users count as their own neighbour, so the term is 0), and s_i is
    the innate opinion with stubbornness lambda_i (Friedkin & Johnsen 1990). All terms use the
    current opinions (a synchronous update). mu_i, eps_i, lambda_i, s_i come from ``users``.
    """

    class Settings(DynamicsSettings):
        beta_backfire: float = Field(0.0, ge=0.0, description="backfire strength: w = -beta_backfire beyond rho")
        rho: float = Field(1.0, ge=0.0, description="backfire threshold on the distance")
        sigma_social: float = Field(0.0, ge=0.0, le=1.0, description="weight of the DeGroot pull to the neighbour mean")
        noise_std: float = Field(0.0, ge=0.0, description="std of the Gaussian noise added each step")

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
        n = x.shape[0]
        step = users.anchoring.to(x)[:, None] * (users.innate.to(x) - x)
        if engaged_user.numel():
            y = engaged_stances(catalog, engaged_item, x)  # (E, K)
            pull = y - x[engaged_user]
            dist = pull.norm(dim=1)
            w = torch.where(
                dist <= users.confidence.to(x)[engaged_user],
                torch.ones_like(dist),
                torch.where(dist > s.rho, torch.full_like(dist, -s.beta_backfire), torch.zeros_like(dist)),
            )
            total = scatter_sum(engaged_user, w[:, None] * pull, n)
            count = torch.bincount(engaged_user, minlength=n).clamp_(min=1).to(x)
            step += users.susceptibility.to(x)[:, None] * total / count[:, None]
        if s.sigma_social > 0:
            step += s.sigma_social * (graph.neighbour_mean(x) - x)
        if s.noise_std > 0:
            step += s.noise_std * torch.randn(x.shape, generator=generator, device=generator.device).to(x)
        return (x + step).clamp_(-1.0, 1.0)


class NoDynamics(DynamicsBase):
    """Opinions never change (a control: the recommender acts on fixed users)."""

    def update(
        self,
        users: Users,
        engaged_user: Tensor,
        engaged_item: Tensor,
        catalog: Catalog | None,
        graph: Graph,
        generator: torch.Generator,
    ) -> Tensor:
        return users.opinion.clone()
