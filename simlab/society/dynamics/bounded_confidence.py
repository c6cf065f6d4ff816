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

from simlab.core.state import Catalog, Graph, Users
from simlab.society.dynamics.base import (
    DynamicsBase,
    ExposureSettings,
    engaged_stances,
    random_matching,
    scatter_sum,
    uniform,
)

__all__ = ["AlgorithmicBias", "BoundedConfidence", "hk_complete_sums", "sequential_pairwise"]

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
    """Mean over user i's engaged items within eps_i of (y_j - x_i), (N, K); 0 without any."""
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
        variant: Literal["deffuant", "hegselmann_krause"] = Field(
            "deffuant", description="pairwise Deffuant meetings or synchronous Hegselmann-Krause averaging"
        )
        mixing: Literal["graph", "complete"] = Field(
            "graph", description="who can meet: graph neighbours, or everybody"
        )
        convergence: float = Field(0.5, gt=0.0, le=0.5, description="Deffuant's mu")

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


def sequential_pairwise(x: Tensor, eps: Tensor, a: Tensor, b: Tensor, mu: float) -> Tensor:
    """Deffuant moves of the pairs (a[p], b[p]) applied one after another in the order p = 0..P-1.

    x (N, K), eps (N,), a and b (P,) long (a user may appear in many pairs). The result equals a
    Python loop over p that applies :func:`_pairwise_step` to one pair at a time, each on the
    opinions left by the pairs before it. Vectorised in rounds: a round applies, at once, every
    remaining pair that comes first among the remaining pairs at both of its endpoints; such pairs
    are disjoint, and moves of disjoint pairs commute, so each user's pairs still act in index
    order. The number of rounds is the longest chain of pairs that share users (about 10 for P = N
    uniform initiators), not P.
    """
    out = x.clone()
    n, p = x.shape[0], a.numel()
    index = torch.arange(p, device=a.device)
    none = torch.iinfo(torch.long).max
    while index.numel():
        first = torch.full((n,), none, dtype=torch.long, device=a.device)
        first.scatter_reduce_(0, a[index], index, reduce="amin")
        first.scatter_reduce_(0, b[index], index, reduce="amin")
        ready = (first[a[index]] == index) & (first[b[index]] == index)
        now = index[ready]
        out = _pairwise_step(out, eps, a[now], b[now], mu)
        index = index[~ready]
    return out


class AlgorithmicBias(DynamicsBase):
    """Algorithmic bias model of Sîrbu, Pedreschi, Giannotti & Kertész (2019, PLoS ONE 14:e0213246).

    Deffuant-like pairwise encounters in which the platform biases whom a user meets. An
    encounter: an initiator i is drawn uniformly from all users, then its partner j with
    probability

        p_i(j) = d_ij^-gamma / sum_k d_ik^-gamma,   d_ij = ||x_i - x_j|| (floored at distance_floor),

    among its graph neighbours (times the edge weight w_ij) or, with complete mixing, all other
    users (``peers=None``: exact, O(N^2), refused above MAX_DENSE_USERS users) or ``peers``
    uniformly drawn users (an approximation of the paper's choice for large N). If d_ij < eps both
    move: x_i += mu (x_j - x_i), x_j += mu (x_i - x_j) (mu = 1/2 in the paper: both take the
    average). gamma = 0 is Deffuant's model; larger gamma slows convergence and fragments opinions
    into more clusters.

    Time unit: one step is ``encounters`` x N encounters (default 1: N encounters, the paper's and
    ndlib's ``AlgorithmicBiasModel`` iteration), so each user initiates on average ``encounters``
    encounters per step and takes part in twice as many. Vectorised step: all initiators and
    partners are drawn at once from the opinions at the start of the step (the reference redraws
    each partner from the opinions left by the previous encounter: the only difference), then the
    moves are applied in the drawn order by :func:`sequential_pairwise`, exactly as one encounter
    after another. Every drawn encounter happens: none is dropped for sharing a user with another,
    which would favour some pairs over others. Initiators without any neighbour have no encounter.
    Engaged items within eps_i pull as in Deffuant, from the step's starting opinions:
    x_i += omega mu mean_j (y_j - x_i).
    """

    class Settings(ExposureSettings):
        gamma: float = Field(1.0, ge=0.0, le=100.0, description="bias exponent")
        mixing: Literal["graph", "complete"] = Field(
            "graph", description="partners among graph neighbours, or among all users"
        )
        peers: int | None = Field(
            None, ge=1, le=100_000, description="complete mixing: sampled peers per encounter (None = all)"
        )
        convergence: float = Field(0.5, gt=0.0, le=0.5, description="mu")
        distance_floor: float = Field(1e-6, gt=0.0, le=1.0, description="distances below this count as this")
        encounters: float = Field(
            1.0, gt=0.0, le=100.0, description="encounters initiated per user per step (the paper's iteration: 1)"
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
        eps = users.confidence.to(x)
        a, b = self.encounters(x, graph, generator)
        out = sequential_pairwise(x, eps, a, b, s.convergence)
        if engaged_user.numel():
            out += s.item_weight * s.convergence * _item_pull(x, eps, engaged_user, engaged_item, catalog, strict=True)
        return out.clamp_(-1.0, 1.0)

    def encounters(self, x: Tensor, graph: Graph, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """This step's encounters on opinions x (N, K): (initiator (P,), partner (P,)) long, in order.

        P = round(encounters * N), less the initiators that have no neighbour to meet.
        """
        s = self.settings
        n = x.shape[0]
        empty = torch.zeros(0, dtype=torch.long, device=x.device)
        if n < 2:
            return empty, empty
        initiator = torch.randint(n, (round(s.encounters * n),), generator=generator, device=generator.device)
        initiator = initiator.to(x.device)
        xd = x.double()  # float64 weights and keys: d^-gamma spans many decades
        if s.mixing == "graph":
            return self._graph_partners(xd, initiator, graph, generator)
        if s.peers is not None or s.gamma == 0:
            m = 1 if s.gamma == 0 or s.peers is None else s.peers  # gamma = 0: one uniform other user is exact
            offset = torch.randint(1, n, (initiator.numel(), m), generator=generator, device=generator.device)
            peers = (initiator[:, None] + offset.to(x.device)) % n  # uniform over the others
            if m == 1:
                return initiator, peers[:, 0]
            key = self._log_weight((xd[peers] - xd[initiator, None]).norm(dim=2))
            key = key + self._gumbel(key.shape, generator, key)
            return initiator, peers.gather(1, key.argmax(dim=1, keepdim=True))[:, 0]
        _check_dense(n, "set peers (e.g. 64) or use mixing='graph'")
        partner = torch.empty_like(initiator)
        rows = max(1, _CHUNK_ENTRIES // n)
        for start in range(0, initiator.numel(), rows):  # loops over chunks of encounters, not users
            own = initiator[start : start + rows]
            key = self._log_weight(torch.cdist(xd[own], xd))
            key[torch.arange(own.numel(), device=x.device), own] = -torch.inf  # never oneself
            key = key + self._gumbel(key.shape, generator, key)
            partner[start : start + rows] = key.argmax(dim=1)
        return initiator, partner

    def _graph_partners(
        self, xd: Tensor, initiator: Tensor, graph: Graph, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Partners among graph neighbours by inverse-CDF sampling within each initiator's edges.

        graph.src is sorted, so user i's edges are one segment; weights w_ij d_ij^-gamma are
        normalised per segment before the global cumulative sum, so every segment spans a unit
        interval and float64 keeps its resolution whatever the weights' scale.
        """
        n = xd.shape[0]
        src, dst = graph.src, graph.dst
        w = graph.weight.double() * (src != dst)  # self-loops are no encounter
        w = w * self._log_weight((xd[dst] - xd[src]).norm(dim=1)).exp()
        total = xd.new_zeros(n).index_add_(0, src, w)
        count = torch.bincount(src, minlength=n)
        end = count.cumsum(0)
        begin = end - count
        has = total[initiator] > 0
        initiator = initiator[has]
        if src.numel() == 0 or initiator.numel() == 0:
            return initiator[:0], initiator[:0]
        cdf = (w / total[src].clamp(min=torch.finfo(w.dtype).tiny)).cumsum(0)
        base = torch.cat([cdf.new_zeros(1), cdf])[begin[initiator]]  # cdf just before the segment
        u = uniform((initiator.numel(),), generator, cdf)
        edge = torch.searchsorted(cdf, base + u, right=True)
        edge = torch.minimum(torch.maximum(edge, begin[initiator]), end[initiator] - 1)
        return initiator, dst[edge]

    def _log_weight(self, dist: Tensor) -> Tensor:
        return -self.settings.gamma * dist.clamp(min=self.settings.distance_floor).log()

    def _gumbel(self, shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
        u = uniform(shape, generator, like).clamp_(min=torch.finfo(like.dtype).tiny)
        return -torch.log(-torch.log(u))
