"""Closed-form Friedkin–Johnsen equilibrium."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from simlab.core.state import Graph

__all__ = ["fj_equilibrium", "laplacian", "to_scipy"]

# Direct sparse LU below this size; above it, Jacobi-preconditioned Krylov iterations, since LU
# fill-in on random graphs explodes while I + L is well conditioned (cond <= 1 + 2 max degree).
_DIRECT_LIMIT = 5000


def to_scipy(adjacency: Any) -> sp.csr_matrix:
    """An (N, N) weighted adjacency as scipy CSR float64.

    Accepts a scipy sparse matrix, a numpy array, a torch tensor (dense, COO or CSR) or a
    :class:`simlab.core.state.Graph` (whose raw weights src -> dst are used, not the row-normalised
    ``adjacency``).
    """
    n: int
    if isinstance(adjacency, Graph):
        n = adjacency.n
        return sp.csr_matrix(
            (
                adjacency.weight.detach().cpu().double().numpy(),
                (adjacency.src.detach().cpu().numpy(), adjacency.dst.detach().cpu().numpy()),
            ),
            shape=(n, n),
        )
    if isinstance(adjacency, torch.Tensor):
        t = adjacency.detach().cpu()
        if t.layout == torch.strided:
            return sp.csr_matrix(t.double().numpy())
        coo = t.to_sparse_coo().coalesce()
        i = coo.indices().numpy()
        return sp.csr_matrix((coo.values().double().numpy(), (i[0], i[1])), shape=tuple(coo.shape))
    if sp.issparse(adjacency):
        return sp.csr_matrix(adjacency, dtype=np.float64)
    return sp.csr_matrix(np.asarray(adjacency, dtype=np.float64))


def laplacian(adjacency: Any) -> sp.csr_matrix:
    """L = D - W with D the diagonal of row sums (weighted out-degrees); any input of :func:`to_scipy`."""
    w = to_scipy(adjacency)
    return (sp.diags(np.asarray(w.sum(axis=1)).ravel()) - w).tocsr()


def fj_equilibrium(adjacency: Any, innate: Any, rtol: float = 1e-10) -> Any:
    """Friedkin–Johnsen equilibrium z* = (I + L)^-1 s (Bindel, Kleinberg & Oren 2015, eq. 2).

    This is the fixed point of z_i <- (s_i + sum_j w_ij z_j) / (1 + sum_j w_ij), the
    ``friedkin_johnsen`` dynamics without engagements. ``adjacency`` (N, N): anything
    :func:`to_scipy` accepts (weights w_ij, symmetric or not); ``innate`` s: (N,) or (N, K),
    numpy or torch. Returns z* with innate's shape, as a float64 numpy array, or as a torch
    tensor of innate's dtype and device when innate is a tensor.

    Small graphs use a sparse LU solve; large ones conjugate gradients (symmetric W) or
    BiCGSTAB, preconditioned by the diagonal, to relative tolerance ``rtol``. Works at 1e5+ users.
    """
    import scipy.sparse.linalg as spla  # (here: it imports most of scipy, and few runs need it)

    is_torch = isinstance(innate, torch.Tensor)
    s = innate.detach().cpu().double().numpy() if is_torch else np.asarray(innate, dtype=np.float64)
    b = s.reshape(s.shape[0], -1)
    system = (sp.identity(b.shape[0], format="csr") + laplacian(adjacency)).tocsc()
    if system.shape[0] != b.shape[0]:
        raise ValueError(f"adjacency is {system.shape} but innate has {b.shape[0]} rows")
    if b.shape[0] <= _DIRECT_LIMIT:
        z = spla.splu(system).solve(b)
    else:
        symmetric = abs(system - system.T).max() <= 1e-12 * abs(system).max()
        solver = spla.cg if symmetric else spla.bicgstab
        jacobi = sp.diags(1.0 / system.diagonal())
        z = np.empty_like(b)
        for k in range(b.shape[1]):  # loops over opinion axes only
            z[:, k], info = solver(system, b[:, k], x0=b[:, k], rtol=rtol, atol=0.0, M=jacobi, maxiter=10_000)
            if info != 0:
                raise RuntimeError(f"FJ equilibrium solve did not converge (info={info})")
    z = z.reshape(s.shape)
    if is_torch:
        return torch.as_tensor(z, dtype=innate.dtype, device=innate.device)
    return z
