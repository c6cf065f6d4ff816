"""Opinion measures as pure functions of arrays: mean, variance, Esteban-Ray polarization,
bimodality, the Musco et al. polarization and disagreement, extremity and extreme shares
(conventions: :mod:`simlab.metrics.measures`).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from simlab.metrics.arrays import (
    ArrayLike,
    as_columns,
    as_index,
    as_real,
    as_tensor,
    compute_dtype,
    device_of,
    float_form,
    nan,
    true_share,
)

__all__ = [
    "PolarizationDisagreement",
    "bimodality_coefficient",
    "bimodality_coefficient_t",
    "esteban_ray",
    "esteban_ray_t",
    "extreme_share",
    "extreme_share_t",
    "extremity",
    "extremity_t",
    "opinion_mean",
    "opinion_mean_t",
    "opinion_variance",
    "opinion_variance_t",
    "polarization_disagreement",
    "polarization_disagreement_edges",
    "polarization_disagreement_edges_t",
    "polarization_disagreement_t",
]

_EDGE_CHUNK = 1 << 20  # elements per chunk in the Musco disagreement sum

# --------------------------------------------------------------------------- opinions


def opinion_mean_t(x: ArrayLike) -> Tensor:
    """Mean opinion, (1/(N K)) sum_i sum_k x_ik.

    x: (N,) or (N, K). For K > 1 this is the mean over all coordinates (the mean of the per-axis
    means).
    """
    return as_real(x).mean()


def opinion_variance_t(x: ArrayLike) -> Tensor:
    """Population variance of opinions, (1/N) sum_i ||x_i - mean(x)||^2.

    x: (N,) or (N, K). For K > 1 this is the sum of the per-axis population variances (the trace
    of the covariance matrix), so it scales by c^2 under x -> c x and is rotation invariant.
    """
    x = as_columns(as_real(x))
    return x.var(dim=0, correction=0).sum()


def esteban_ray_t(
    x: ArrayLike,
    alpha: float = 1.0,
    bins: int = 20,
    value_range: tuple[float, float] = (-1.0, 1.0),
    representative: Literal["mean", "centre"] = "mean",
) -> Tensor:
    """Esteban–Ray polarization of the binned opinion distribution.

    Esteban & Ray (1994), "On the measurement of polarization", Econometrica 62(4):

        P = sum_b sum_c pi_b^(1 + alpha) pi_c |y_b - y_c|,

    with the normalising constant K = 1. The opinions are split into ``bins`` equal-width bins of
    ``value_range`` (values outside it fall into the edge bins); pi_b is the population share of
    bin b and y_b its representative opinion: the mean opinion of the bin's members
    (``representative="mean"``, the default, exact for any distribution whose support points lie
    in distinct bins, e.g. P = 0.5^alpha for a 50/50 split at -1 and +1) or the bin centre
    (``"centre"``). alpha in (0, 1.6] is the "polarization sensitivity" (alpha = 0 gives the Gini
    mean difference up to a factor). P >= 0; P = 0 for a consensus.

    x: (N,) or (N, K); for K > 1 the mean over axes of the per-axis P. Must be finite.
    """
    x = as_columns(as_real(x))
    n, k = x.shape
    if n == 0:
        return nan(x.device)
    lo, hi = value_range
    cell = ((x - lo) * (bins / (hi - lo))).floor().clamp_(0, bins - 1).long()
    cell = (cell + bins * torch.arange(k, device=x.device)).reshape(-1)  # (N K,) axis-major bin ids
    counts = torch.bincount(cell, minlength=bins * k).reshape(k, bins).to(x.dtype)
    if representative == "mean":
        y = torch.bincount(cell, weights=x.reshape(-1), minlength=bins * k).reshape(k, bins) / counts.clamp(min=1)
    else:
        y = (lo + (torch.arange(bins, device=x.device, dtype=x.dtype) + 0.5) * ((hi - lo) / bins)).expand(k, bins)
    pi = counts / n
    gaps = (y[:, :, None] - y[:, None, :]).abs()
    return (pi.pow(1 + alpha)[:, :, None] * pi[:, None, :] * gaps).sum(dim=(1, 2)).mean()


def bimodality_coefficient_t(x: ArrayLike) -> Tensor:
    """Bimodality coefficient, sample (bias-corrected) form of Pfister et al. (2013).

    Pfister, Schwarz, Janczyk, Dale & Freeman (2013), "Good things peak in pairs: a note on the
    bimodality coefficient", Frontiers in Psychology 4:700:

        BC = (G1^2 + 1) / (G2 + 3 (n-1)^2 / ((n-2)(n-3))),

    with G1 the adjusted sample skewness and G2 the adjusted sample excess kurtosis (as
    ``scipy.stats.skew(bias=False)`` and ``scipy.stats.kurtosis(bias=False)``). The denominator
    simplifies to (n^2 - 1) b2 / ((n-2)(n-3)), b2 = m4 / m2^2 > 0, which is how it is computed.
    BC > 5/9 (its value for a uniform distribution, asymptotically) suggests bimodality; a
    symmetric two-point distribution gives (n-2)(n-3) / ((n-1)(n+1)) -> 1.

    x: (N,) or (N, K); for K > 1 the mean over axes of the per-axis BC. NaN if N < 4 or the
    opinions are constant (spread within rounding error of their magnitude, as scipy does).
    """
    x = as_columns(as_real(x))
    n = x.shape[0]
    if n < 4:
        return nan(x.device)
    d = x - x.mean(dim=0)
    m2, m3, m4 = (d.pow(p).mean(dim=0) for p in (2, 3, 4))
    g1 = m3 / m2.pow(1.5) * (math.sqrt(n * (n - 1)) / (n - 2))
    denominator = (n * n - 1) * (m4 / m2.pow(2)) / ((n - 2) * (n - 3))
    constant = m2 <= (16 * torch.finfo(x.dtype).eps * x.abs().amax(dim=0)).pow(2)  # only rounding spread
    return torch.where(constant, math.nan, (g1.pow(2) + 1) / denominator).mean()


class PolarizationDisagreement(NamedTuple):
    """Musco et al. (2018) polarization P(z) and disagreement D(z) (floats or 0-dim tensors)."""

    polarization: float | Tensor
    disagreement: float | Tensor

    @property
    def index(self) -> float | Tensor:  # type: ignore[override]  # (shadows tuple.index on purpose)
        """The polarization-disagreement index I(z) = P(z) + D(z)."""
        return self.polarization + self.disagreement


def polarization_disagreement_edges_t(
    src: ArrayLike, dst: ArrayLike, weight: ArrayLike | None, z: ArrayLike
) -> PolarizationDisagreement:
    """Musco et al. polarization and disagreement from a directed edge list.

    Musco, Musco & Tsourakakis (2018), "Minimizing polarization and disagreement in social
    networks", WWW:

        P(z) = sum_i (z_i - mean(z))^2,        D(z) = sum_{(i,j) in E} w_ij (z_i - z_j)^2 = z^T L z.

    src, dst, weight: (E,) edge list with raw (not row-normalised) weights, holding **both
    directions** of every undirected edge, as ``simlab.core.state.Graph`` does; each stored edge gets a
    factor 1/2, so D = (1/2) sum_e w_e (z_src - z_dst)^2 counts each undirected edge once. An edge
    stored in one direction only thus counts w/2: a directed graph is measured as the undirected
    graph with weights (W + W^T)/2. weight None means unit weights.
    z: (N,) or (N, K) opinions; for K > 1 squared differences are squared Euclidean norms (the sum
    of the per-axis P and D). Edge differences are taken in z's precision (float32 opinions stay
    float32) and summed in float64. For the FJ equilibrium z* = (I+L)^-1 s, P(z*) + D(z*) =
    s'^T (I+L)^-1 s' with s' = s - mean(s) (Musco et al., Lemma 3.2).
    """
    z = as_columns(as_tensor(z))
    z = z if z.is_floating_point() else z.to(compute_dtype(z.device))
    src, dst = as_index(src, z.device), as_index(dst, z.device)
    w = None if weight is None else as_tensor(weight, z.device).reshape(-1).to(z.dtype)
    polarization = (z.to(compute_dtype(z.device)) - z.to(compute_dtype(z.device)).mean(dim=0)).pow(2).sum()
    # Edge terms in z's own precision, chunk sums accumulated in float64: at 1e7 edges, full-size
    # float64 temporaries cost several times the arithmetic (allocation and memory traffic).
    disagreement = torch.zeros((), dtype=compute_dtype(z.device), device=z.device)
    for start in range(0, src.numel(), _EDGE_CHUNK):
        part = slice(start, start + _EDGE_CHUNK)
        squared = (z[src[part]] - z[dst[part]]).square_().sum(dim=1)  # (chunk,)
        if w is not None:
            squared.mul_(w[part])
        disagreement += squared.sum(dtype=disagreement.dtype)
    return PolarizationDisagreement(polarization, 0.5 * disagreement)


def _edge_list(adjacency: Any, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """(src, dst, weight) of the nonzero entries of a torch (sparse or dense), scipy or numpy matrix."""
    if isinstance(adjacency, Tensor):
        a = adjacency.to(device)
        if a.layout == torch.sparse_csr:
            rows = torch.arange(a.shape[0], device=device).repeat_interleave(a.crow_indices().diff())
            return rows, a.col_indices(), a.values()
        if a.layout != torch.strided:
            a = a.to_sparse_coo().coalesce()
            return a.indices()[0], a.indices()[1], a.values()
        src, dst = a.nonzero(as_tuple=True)
        return src, dst, a[src, dst]
    import scipy.sparse

    if scipy.sparse.issparse(adjacency):
        c = adjacency.tocoo()
        return (as_tensor(c.row, device), as_tensor(c.col, device), as_tensor(c.data, device))
    return _edge_list(as_tensor(adjacency), device)


def polarization_disagreement_t(adjacency: object, z: ArrayLike) -> PolarizationDisagreement:
    """Musco et al. (2018) polarization P(z) and disagreement D(z) on a weighted graph.

    adjacency: (N, N) weight matrix W as a torch tensor (dense, sparse COO, CSR or CSC), a scipy
    sparse matrix or a numpy array; the raw weights are used as given (a row-normalised matrix is
    **not** un-normalised: pass the raw one, or use :func:`polarization_disagreement_edges` with
    ``Graph.src, Graph.dst, Graph.weight``). D(z) = (1/2) sum_ij W_ij (z_i - z_j)^2, which is
    z^T L z with L = diag(W 1) - W for symmetric W; for non-symmetric W it equals z^T L z for the
    symmetrised (W + W^T)/2. z: (N,) or (N, K). See :func:`polarization_disagreement_edges`.
    """
    device = device_of(adjacency, z)
    src, dst, weight = _edge_list(adjacency, device)
    return polarization_disagreement_edges_t(src, dst, weight, as_real(z, device))


def extremity_t(x: ArrayLike) -> Tensor:
    """Mean extremity, (1/N) sum_i ||x_i||_inf: the mean |x_i| (max |x_ik| over axes for K > 1).

    x: (N,) or (N, K).
    """
    return as_columns(as_real(x)).abs().amax(dim=1).mean()


def extreme_share_t(values: ArrayLike, threshold: float = 0.8) -> Tensor:
    """Share of rows whose magnitude exceeds ``threshold``: (1/N) #{i : ||v_i||_inf > threshold}.

    values: (N,) or (N, K), e.g. opinions (the metric extreme_user_share) or item extremeness.
    """
    return true_share(as_columns(as_real(values)).abs().amax(dim=1) > threshold)


# --------------------------------------------------------------------------- float forms

opinion_mean = float_form(opinion_mean_t)
opinion_variance = float_form(opinion_variance_t)
esteban_ray = float_form(esteban_ray_t)
bimodality_coefficient = float_form(bimodality_coefficient_t)
extremity = float_form(extremity_t)
extreme_share = float_form(extreme_share_t)


def polarization_disagreement(adjacency: object, z: ArrayLike) -> PolarizationDisagreement:
    """Float form of :func:`polarization_disagreement_t` (same arguments and definitions)."""
    p, d = polarization_disagreement_t(adjacency, z)
    return PolarizationDisagreement(float(p), float(d))


def polarization_disagreement_edges(
    src: ArrayLike, dst: ArrayLike, weight: ArrayLike | None, z: ArrayLike
) -> PolarizationDisagreement:
    """Float form of :func:`polarization_disagreement_edges_t` (same arguments and definitions)."""
    p, d = polarization_disagreement_edges_t(src, dst, weight, z)
    return PolarizationDisagreement(float(p), float(d))
