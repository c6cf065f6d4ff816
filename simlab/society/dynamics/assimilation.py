"""The default opinion update (docs/design.md §2, step 5) and the ``none`` model."""

from __future__ import annotations

from typing import ClassVar, Literal

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

    Two switchable assumptions (docs/assumptions.md; the defaults are the rule above):

    - exposure: with ``exposure_weight`` omega > 0, every item shown to user i this step (S_i,
      engaged or not) also pulls, adding mu_i * omega * mean_{j in S_i} w(d_ij) (y_j - x_i)
      (mere exposure moves attitudes: Zajonc 1968; a shown-but-skipped post is still read);
    - ``bounds``: ``clip`` (above), or ``bounded``: x_i <- x_i + (1 - x_i^2) * step, the
      first-order update of an unbounded latent attitude h_i with x_i = tanh(h_i), so steps
      shrink near the ends instead of piling users on +-1 (a logistic/tanh opinion map as in
      Baumann et al., PRL 2020); the clip stays as a guard for steps larger than the room left.
    """

    reads_exposure: ClassVar[bool] = True

    class Settings(DynamicsSettings):
        beta_backfire: float = Field(0.0, ge=0.0, description="backfire strength: w = -beta_backfire beyond rho")
        rho: float = Field(1.0, ge=0.0, description="backfire threshold on the distance")
        sigma_social: float = Field(0.0, ge=0.0, le=1.0, description="weight of the DeGroot pull to the neighbour mean")
        noise_std: float = Field(0.0, ge=0.0, description="std of the Gaussian noise added each step")
        exposure_weight: float = Field(
            0.0,
            ge=0.0,
            description="omega: weight of the pull of every shown item (0 = only engagement moves opinions)",
        )
        bounds: Literal["clip", "bounded"] = Field(
            "clip", description="clip: clip to [-1, 1]; bounded: scale the step by (1 - x^2) (tanh-bounded opinions)"
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
        *,
        exposed_user: Tensor | None = None,
        exposed_item: Tensor | None = None,
    ) -> Tensor:
        """The next opinions (N, K).

        Args:
            users: the users (opinions x (N, K) and the per-user parameters).
            engaged_user: (E,) users of this step's engagements.
            engaged_item: (E,) the items they engaged with.
            catalog: the catalog (stances y); None when there are no items.
            graph: the social graph.
            generator: the dynamics' random stream (noise).
            exposed_user: (S,) users of this step's impressions, engaged or not (read only when
                ``exposure_weight`` > 0).
            exposed_item: (S,) the items shown.

        Returns:
            (N, K) next opinions in [-1, 1].
        """
        s = self.settings
        x = users.opinion
        step = users.anchoring.to(x)[:, None] * (users.innate.to(x) - x)
        mu = users.susceptibility.to(x)
        if engaged_user.numel():
            step += self.content_pull(users, engaged_user, engaged_item, catalog, mu)
        if s.exposure_weight > 0 and exposed_user is not None and exposed_item is not None and exposed_user.numel():
            step += self.content_pull(users, exposed_user, exposed_item, catalog, s.exposure_weight * mu)
        if s.sigma_social > 0:
            step += s.sigma_social * (graph.neighbour_mean(x) - x)
        if s.noise_std > 0:
            step += s.noise_std * torch.randn(x.shape, generator=generator, device=generator.device).to(x)
        if s.bounds == "bounded":
            step = (1 - x * x) * step
        return (x + step).clamp_(-1.0, 1.0)

    def content_pull(self, users: Users, user: Tensor, item: Tensor, catalog: Catalog | None, rate: Tensor) -> Tensor:
        """rate_i * mean_{j in J_i} w(d_ij) (y_j - x_i) over the (E,) pairs (user, item).

        Args:
            users: the users (opinions x (N, K), confidences eps_i).
            user: (E,) user of each pair.
            item: (E,) item of each pair.
            catalog: the catalog (stances y).
            rate: (N,) per-user rate (mu_i, or omega * mu_i for exposure).

        Returns:
            (N, K) the pull; 0 for users with no pair (the kernel w of the class docstring).
        """
        s = self.settings
        x = users.opinion
        n = x.shape[0]
        y = engaged_stances(catalog, item, x)  # (E, K)
        pull = y - x[user]
        dist = pull.norm(dim=1)
        w = torch.where(
            dist <= users.confidence.to(x)[user],
            torch.ones_like(dist),
            torch.where(dist > s.rho, torch.full_like(dist, -s.beta_backfire), torch.zeros_like(dist)),
        )
        total = scatter_sum(user, w[:, None] * pull, n)
        count = torch.bincount(user, minlength=n).clamp_(min=1).to(x)
        return rate[:, None] * total / count[:, None]


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
