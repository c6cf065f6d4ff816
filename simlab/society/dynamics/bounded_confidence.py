"""Bounded-confidence models: Deffuant–Weisbuch, Hegselmann–Krause, and algorithmic bias.

Confidence bounds eps_i come from ``users.confidence``. ``mixing="graph"`` (default) lets
users meet their social-graph neighbours; ``mixing="complete"`` lets everybody meet everybody,
the setting of the original papers. Opinions live in [-1, 1]^K, twice the width of the
papers' [0, 1], so a paper's threshold d corresponds to eps = 2d here.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from simlab.loop.state import Catalog, Graph, Users
from simlab.registry import DYNAMICS
from simlab.society.dynamics.base import (
    DynamicsBase,
    ExposureSettings,
    engaged_stances,
    random_matching,
    scatter_sum,
    uniform,
)

__all__ = ["AlgorithmicBias", "BoundedConfidence", "hk_complete_sums"]

# Work on at most this many (user, peer) distances at a time in O(N^2) complete mixing.
_CHUNK_ENTRIES = 1 << 22
# Above this many users an O(N^2) step would take minutes: refuse with advice instead.
MAX_DENSE_USERS = 50_000


def _check_dense(n: int, advice: str) -> None:
    if n > MAX_DENSE_USERS:
        raise ValueError(f"complete mixing over all {n:,} users is O(N^2) per step; {advice}")


def _item_pull(
    x: Tensor, eps: Tensor, engaged_user: Tensor, engaged_item: Tensor, catalog: Catalog | None, strict: bool
) -> Tensor:
    """mean over user i's engaged items within eps_i of (y_j - x_i), (N, K); 0 without any."""
    n = x.shape[0]
    if engaged_user.numel() == 0:
        return torch.zeros_like(x)
    pull = engaged_stances(catalog, engaged_item, x) - x[engaged_user]
    dist = pull.norm(dim=1)
    close = (dist < eps[engaged_user]) if strict else (dist <= eps[engaged_user])
    total = scatter_sum(engaged_user, pull * close[:, None].to(x), n)
    count = torch.bincount(engaged_user[close], minlength=n).clamp_(min=1).to(x)
    return total / count[:, None]


def _pairwise_step(x: Tensor, eps: Tensor, a: Tensor, b: Tensor, mu: float) -> Tensor:
    """Deffuant's symmetric move for matched pairs (a[p], b[p]) (disjoint, each node once).

    Each side moves by mu times the gap when the gap is below its own confidence bound
    (Weisbuch et al. 2002 for heterogeneous bounds); with equal bounds the two moves cancel
    in the sum, so the mean opinion is conserved.
    """
    gap = x[b] - x[a]
    dist = gap.norm(dim=1)
    delta = mu * gap
    out = x.clone()
    out.index_add_(0, a, delta * (dist < eps[a])[:, None].to(x))
    out.index_add_(0, b, -delta * (dist < eps[b])[:, None].to(x))
    return out


def hk_complete_sums(x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
    """For every i: (sum of x_j over all j with ||x_j - x_i|| <= eps_i (N, K), their count (N,)).

    K = 1: sort + prefix sums + binary search, O(N log N). K > 1: chunked pairwise distances,
    O(N^2) time and O(_CHUNK_ENTRIES) memory, refused above MAX_DENSE_USERS users.
    """
    n, k = x.shape
    if k == 1:
        values, _ = torch.sort(x[:, 0])
        prefix = torch.cat([values.new_zeros(1), torch.cumsum(values.double(), 0)])
        lo = torch.searchsorted(values, x[:, 0] - eps, right=False)
        hi = torch.searchsorted(values, x[:, 0] + eps, right=True)
        total = (prefix[hi] - prefix[lo]).to(x)
        return total[:, None], (hi - lo).to(x)
    _check_dense(n, "use one opinion axis or mixing='graph'")
    total = torch.empty_like(x)
    count = x.new_empty(n)
    rows = max(1, _CHUNK_ENTRIES // n)
    for start in range(0, n, rows):  # loops over chunks of users, not users
        close = (torch.cdist(x[start : start + rows], x) <= eps[start : start + rows, None]).to(x)
        total[start : start + rows] = close @ x
        count[start : start + rows] = close.sum(dim=1)
    return total, count


@DYNAMICS.register("bounded_confidence")
class BoundedConfidence(DynamicsBase):
    """Bounded confidence, ``variant`` = ``deffuant`` or ``hegselmann_krause``.

    Deffuant, Neau, Amblard & Weisbuch (2000, Adv. Complex Syst. 3:87): random pairs (i, j)
    with ||x_i - x_j|| < eps move toward each other, x_i += mu (x_j - x_i) and
    x_j += mu (x_i - x_j). One step is a random matching: a random perfect pairing under
    complete mixing, or a random matching of graph edges (see
    :func:`simlab.society.dynamics.base.random_matching`), so each user meets at most one peer per
    step and, with equal bounds, the mean opinion is conserved exactly. Each engaged item
    within eps_i is a partner that does not move: x_i += omega mu mean_j (y_j - x_i).

    Hegselmann & Krause (2002, JASSS 5(3)): synchronous averaging over the confidence set,
    x_i <- mean {x_j : j in N_i + {i}, ||x_j - x_i|| <= eps_i}. On a graph, neighbours count
    with their raw edge weight w_ij and the user with weight 1; each engaged item within eps_i
    counts with weight omega = ``item_weight``. Under complete mixing with one axis and equal
    bounds it preserves the order of opinions and freezes in finite time into clusters more
    than eps apart (Dittmer 2001; Lorenz 2005).
    """

    class Settings(ExposureSettings):
        variant: Literal["deffuant", "hegselmann_krause"] = "deffuant"
        mixing: Literal["graph", "complete"] = "graph"
        convergence: float = Field(0.5, gt=0.0, le=0.5, description="Deffuant's mu")

    def update(
        self,
        users: Users,
        engaged_user: Tensor,
        engaged_item: Tensor,
        catalog: Catalog | None,
        graph: Graph,
        generator: torch.Generator,
    ) -> Tensor:
        if self.settings.variant == "deffuant":
            out = self._deffuant(users, engaged_user, engaged_item, catalog, graph, generator)
        else:
            out = self._hegselmann_krause(users, engaged_user, engaged_item, catalog, graph)
        return out.clamp_(-1.0, 1.0)

    def _deffuant(self, users, engaged_user, engaged_item, catalog, graph, generator) -> Tensor:
        s = self.settings
        x = users.opinion
        n = x.shape[0]
        eps = users.confidence.to(x)
        if s.mixing == "complete":
            order = torch.randperm(n, generator=generator, device=generator.device).to(x.device)
            a, b = order[: n // 2], order[n // 2 : 2 * (n // 2)]
        else:
            a, b = random_matching(graph.src, graph.dst, n, generator)
        out = _pairwise_step(x, eps, a, b, s.convergence)
        if engaged_user.numel():
            out += s.item_weight * s.convergence * _item_pull(x, eps, engaged_user, engaged_item, catalog, strict=True)
        return out

    def _hegselmann_krause(self, users, engaged_user, engaged_item, catalog, graph) -> Tensor:
        s = self.settings
        x = users.opinion
        n = x.shape[0]
        eps = users.confidence.to(x)
        if s.mixing == "complete":
            total, count = hk_complete_sums(x, eps)
        else:
            close = (x[graph.dst] - x[graph.src]).norm(dim=1) <= eps[graph.src]
            w = graph.weight.to(x) * close.to(x)
            total = x + scatter_sum(graph.src, w[:, None] * x[graph.dst], n)
            count = 1 + scatter_sum(graph.src, w, n)
        if engaged_user.numel():
            y = engaged_stances(catalog, engaged_item, x)
            close = ((y - x[engaged_user]).norm(dim=1) <= eps[engaged_user]).to(x) * s.item_weight
            total = total + scatter_sum(engaged_user, close[:, None] * y, n)
            count = count + scatter_sum(engaged_user, close, n)
        return total / count[:, None]


@DYNAMICS.register("algorithmic_bias")
class AlgorithmicBias(DynamicsBase):
    """Algorithmic bias model of Sîrbu, Pedreschi, Giannotti & Kertész (2019, PLoS ONE 14:e0213246).

    Deffuant-like pairwise interactions in which the platform biases whom a user meets:
    user i picks partner j with probability

        p_i(j) = d_ij^-gamma / sum_k d_ik^-gamma,   d_ij = ||x_i - x_j|| (floored at distance_floor),

    among its graph neighbours (times the edge weight w_ij) or, with complete mixing, all other
    users (``peers=None``: exact, O(N^2), refused above MAX_DENSE_USERS users) or ``peers``
    uniformly drawn users (an approximation of the paper's choice for large N). If d_ij < eps both
    move: x_i += mu (x_j - x_i), x_j += mu (x_i - x_j). gamma = 0 is Deffuant's model; larger
    gamma slows convergence and fragments opinions into more clusters.

    Vectorised step: every user draws a partner at once (Gumbel-max over log weights), then
    the proposals are thinned to a random matching so each user interacts at most once per step
    (the paper runs the same pairwise interactions one after another). Engaged items within eps_i
    pull as in Deffuant: x_i += omega mu mean_j (y_j - x_i).
    """

    class Settings(ExposureSettings):
        gamma: float = Field(1.0, ge=0.0, description="bias exponent")
        mixing: Literal["graph", "complete"] = "graph"
        peers: int | None = Field(
            None, ge=1, le=100_000, description="complete mixing: sampled peers per user (None = all)"
        )
        convergence: float = Field(0.5, gt=0.0, le=0.5, description="mu")
        distance_floor: float = Field(1e-6, gt=0.0)

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
        eps = users.confidence.to(x)
        a, b = self._proposals(x, graph, generator)
        a, b = random_matching(a, b, n, generator)
        out = _pairwise_step(x, eps, a, b, s.convergence)
        if engaged_user.numel():
            out += s.item_weight * s.convergence * _item_pull(x, eps, engaged_user, engaged_item, catalog, strict=True)
        return out.clamp_(-1.0, 1.0)

    def _log_weight(self, dist: Tensor) -> Tensor:
        return -self.settings.gamma * dist.clamp(min=self.settings.distance_floor).log()

    def _gumbel(self, shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
        u = uniform(shape, generator, like).clamp_(min=torch.finfo(like.dtype).tiny)
        return -torch.log(-torch.log(u))

    def _proposals(self, x: Tensor, graph: Graph, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Each user's chosen partner: (proposer, partner) long tensors."""
        s = self.settings
        n = x.shape[0]
        xd = x.double()  # Gumbel keys in float64 so distinct keys rarely tie
        if s.mixing == "graph":
            src, dst = graph.src, graph.dst
            proper = src != dst
            src, dst = src[proper], dst[proper]
            if src.numel() == 0:
                return src, dst
            key = self._log_weight((xd[dst] - xd[src]).norm(dim=1)) + graph.weight[proper].double().log()
            key = key + self._gumbel(key.shape, generator, key)
            best = torch.full((n,), -torch.inf, dtype=key.dtype, device=key.device)
            best.scatter_reduce_(0, src, key, reduce="amax")
            index = torch.arange(src.numel(), device=src.device)
            pick = torch.full((n,), src.numel(), dtype=torch.long, device=src.device)
            pick.scatter_reduce_(0, src, torch.where(key == best[src], index, src.numel()), reduce="amin")
            has = pick < src.numel()
            return torch.arange(n, device=x.device)[has], dst[pick[has]]
        if n < 2:
            empty = torch.zeros(0, dtype=torch.long, device=x.device)
            return empty, empty
        if s.peers is not None:
            offset = torch.randint(1, n, (n, s.peers), generator=generator, device=generator.device).to(x.device)
            peers = (torch.arange(n, device=x.device)[:, None] + offset) % n  # uniform over the others
            key = self._log_weight((xd[peers] - xd[:, None]).norm(dim=2))
            key = key + self._gumbel(key.shape, generator, key)
            return torch.arange(n, device=x.device), peers.gather(1, key.argmax(dim=1, keepdim=True))[:, 0]
        _check_dense(n, "set peers (e.g. 64) or use mixing='graph'")
        partner = torch.empty(n, dtype=torch.long, device=x.device)
        rows = max(1, _CHUNK_ENTRIES // n)
        for start in range(0, n, rows):  # loops over chunks of users, not users
            stop = min(start + rows, n)
            key = self._log_weight(torch.cdist(xd[start:stop], xd))
            own = torch.arange(start, stop, device=x.device)
            key[own - start, own] = -torch.inf  # never oneself
            key = key + self._gumbel(key.shape, generator, key)
            partner[start:stop] = key.argmax(dim=1)
        return torch.arange(n, device=x.device), partner
