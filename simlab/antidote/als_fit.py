"""ALS matrix factorisation refit to convergence, on observed entries (the model of antidote data).

Rastegarpanah, Gummadi & Crovella (WSDM 2019, "Fighting Fire with Fire", Sec. 3) fit
X ~ U V^T on the known entries Omega by minimising (their Eq. 1)

    L(U, V) = sum_{(i,j) in Omega} (x_ij - u_i . v_j)^2 + lambda (||U||_F^2 + ||V||_F^2)

with alternating least squares. Each half step is the exact ridge solution of every row at once
(:func:`simlab.recommenders.als.als_solve`), so L never increases and a converged fit is a
stationary point of L: the ALS fixed point through which the antidote gradient is taken.

Start: the reference code (rastegarpanah/antidote-data-framework, ``als.py``) starts every fit at
U = ones, a rank-1 point (all users identical). Its ALS then updates V with the previous U
(a Jacobi sweep) and stops as soon as one sweep lowers the RMSE by less than 1e-6, so a fit can
stop near that rank-1 point; a measured "55% reduction" of R_pol was an artefact of such a refit.
simlab starts from a seeded random point N(0, s^2) and sweeps (Gauss-Seidel: U, then V with the
new U) until the relative decrease of L is below ``tol``.

Balancing: after each sweep the factors are rebalanced, U -> U A, V -> V A^-T with A chosen so
that U^T U = V^T V (:func:`balance`). Predictions are unchanged and the ridge penalty can only
fall (the balanced pair minimises it over all such A), so L still never increases; a stationary
point of L is balanced already, so the fixed points are those of plain ALS. It removes plain
ALS's slowest mode (the trade of scale between U and V, pinned only by the small lambda): on the
60 x 40 two-camp matrix a fit converges in tens to hundreds of sweeps instead of 1,000-1,800.

Shapes: E entries, n rows (users, real then synthetic), d columns (items), r rank.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Entries:
    """Observed entries of an (n, d) matrix: ``rows``, ``cols`` (E,) long and ``values`` (E,)."""

    rows: Tensor
    cols: Tensor
    values: Tensor
    n: int
    d: int

    def with_dense_rows(self, block: Tensor) -> Entries:
        """These entries plus a fully observed (n', d) block appended as rows n .. n + n' - 1
        (the antidote users rate every item); differentiable with respect to ``block``.
        """
        k, d = block.shape
        rows = torch.arange(self.n, self.n + k, device=block.device).repeat_interleave(d)
        cols = torch.arange(d, device=block.device).repeat(k)
        return Entries(
            torch.cat([self.rows, rows]),
            torch.cat([self.cols, cols]),
            torch.cat([self.values.to(block.dtype), block.reshape(-1)]),
            self.n + k,
            d,
        )


def entries_from_matrix(ratings: Tensor) -> Entries:
    """(n, d) ratings with NaN for missing -> its observed entries."""
    rows, cols = torch.nonzero(~torch.isnan(ratings), as_tuple=True)
    return Entries(rows, cols, ratings[rows, cols], ratings.shape[0], ratings.shape[1])


def random_start(d: int, rank: int, seed: int, scale: float = 0.1, device: str | torch.device = "cpu") -> Tensor:
    """Seeded random item factors V0 (d, r) ~ N(0, scale^2), float64 (ALS solves U from them first)."""
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(d, rank, generator=g, device=device, dtype=torch.float64) * scale


def fit(
    entries: Entries, reg: float, v0: Tensor, tol: float = 1e-9, max_sweeps: int = 2000
) -> tuple[Tensor, Tensor, int]:
    """ALS sweeps from item factors ``v0`` (d, r) until L's relative decrease is below ``tol``.

    Each sweep solves U from V, then V from the new U, so only V0 is needed: a cold start passes
    :func:`random_start`, a warm start the V of a nearby fixed point. Returns U (n, r), V (d, r)
    and the number of sweeps. Runs without autograd (the gradient is taken at the fixed point).

    The sweeps are the ridge solves of :func:`simlab.recommenders.als.als_solve` computed with
    sparse matrices built once per fit: every row's Gram matrix is W (vec v_j v_j^T)_j, W the
    (n, d) 0/1 pattern of the known entries, so no (E, r, r) tensor of per-entry outer products is
    formed; L is evaluated from the V half step's normal equations (O(d r^2), not O(E r)).
    """
    e = entries
    with torch.no_grad():
        v = v0.to(e.values.dtype)
        by_row = RowPattern(e.rows, e.cols, e.values.detach().to(v.dtype), e.n, e.d)
        by_col = by_row.transposed()
        sum_sq = float((by_row.values**2).sum())
        previous = float("inf")
        sweeps = 0
        for sweeps in range(1, max_sweeps + 1):  # noqa: B007  (the count is returned)
            u, _, _ = by_row.solve(v, reg)
            v, gram, rhs = by_col.solve(u, reg)
            # data term sum_e (x_e - u_i.v_j)^2 = sum x^2 - 2 sum_j v_j.b_j + sum_j v_j^T G_j v_j
            fit_term = sum_sq - 2 * float((v * rhs).sum()) + float(torch.einsum("dr,drs,ds->", v, gram, v))
            u, v = balance(u, v)  # predictions, so the data term, unchanged
            objective = fit_term + reg * float(u.pow(2).sum() + v.pow(2).sum())
            if previous - objective <= tol * max(abs(objective), 1e-300):
                break
            previous = objective
    return u, v, sweeps


class RowPattern:
    """Known entries as sparse CSR matrices, for ALS half steps: the 0/1 pattern W and the values X
    (n_rows, n_cols), sharing one index structure.
    """

    def __init__(self, rows: Tensor, cols: Tensor, values: Tensor, n_rows: int, n_cols: int):
        if rows.numel() > 1 and bool((rows[1:] < rows[:-1]).any()):
            order = torch.sort(rows, stable=True).indices
            rows, cols, values = rows[order], cols[order], values[order]
        self.rows, self.cols, self.values, self.shape = rows, cols, values, (n_rows, n_cols)
        crow = torch.zeros(n_rows + 1, dtype=torch.long, device=rows.device)
        crow[1:] = torch.bincount(rows, minlength=n_rows).cumsum(0)
        with warnings.catch_warnings():  # torch flags sparse CSR as beta; W @ dense is all we use
            warnings.simplefilter("ignore", UserWarning)
            self.pattern = torch.sparse_csr_tensor(crow, cols, torch.ones_like(values), self.shape)
            self.matrix = torch.sparse_csr_tensor(crow, cols, values, self.shape)

    def transposed(self) -> RowPattern:
        order = torch.sort(self.cols, stable=True).indices
        return RowPattern(self.cols[order], self.rows[order], self.values[order], self.shape[1], self.shape[0])

    def solve(self, fixed: Tensor, reg: float) -> tuple[Tensor, Tensor, Tensor]:
        """Ridge factors of every row given the columns' ``fixed`` (n_cols, r): X (n_rows, r), and
        the unregularised Gram matrices (n_rows, r, r) and right-hand sides (n_rows, r) of the solve.
        """
        r = fixed.shape[1]
        outer = (fixed.unsqueeze(2) * fixed.unsqueeze(1)).reshape(-1, r * r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            gram = (self.pattern @ outer).reshape(-1, r, r)
            rhs = self.matrix @ fixed
        eye = reg * torch.eye(r, dtype=fixed.dtype, device=fixed.device)
        return torch.linalg.solve(gram + eye, rhs.unsqueeze(-1)).squeeze(-1), gram, rhs


def balance(u: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """(U A, V A^-T) with equal Gram matrices (U A)^T U A = (V A^-T)^T V A^-T = S (diagonal).

    With P = U^T U = L_P L_P^T, Q = V^T V = L_Q L_Q^T and L_P^T L_Q = W S Z^T (SVD),
    A = L_P^-T W S^1/2 and A^-T = L_P W S^-1/2. Returns (u, v) unchanged if either Gram is singular.
    """
    try:
        lp = torch.linalg.cholesky(u.T @ u)
        lq = torch.linalg.cholesky(v.T @ v)
    except torch.linalg.LinAlgError:
        return u, v
    w, s, _ = torch.linalg.svd(lp.T @ lq)
    if float(s.min()) <= 0:
        return u, v
    a = torch.linalg.solve_triangular(lp.T, w * s.sqrt(), upper=True)
    return u @ a, v @ (lp @ (w / s.sqrt()))


def predictions(u: Tensor, v: Tensor, n_real: int) -> Tensor:
    """(n_real, d) raw predicted ratings of the real users, U[:n_real] V^T (never clamped)."""
    return u[:n_real] @ v.T
