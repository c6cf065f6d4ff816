"""Gradients of an objective of the refitted predictions with respect to the antidote ratings.

Notation (Rastegarpanah, Gummadi & Crovella, WSDM 2019, Sec. 5): real users' factors U (n, r),
antidote users' factors U~ (n', r), item factors V (d, r), antidote ratings X~ (n', d), the
objective R(X^) of the real users' predictions X^ = U V^T, and the ALS objective L of
:mod:`simlab.antidote.als_fit` on the real and antidote entries together.

- :func:`approx_gradient`, the paper's approximation (their Eq. 11-12, after Li et al. 2016,
  "Data poisoning attacks on factorization-based collaborative filtering"): hold U and U~ fixed,
  so only v_j moves, v_j = Sigma_j^-1 (sum_{i in Omega_j} x_ij u_i + sum_k x~_kj u~_k) with
  Sigma_j = sum_{i in Omega_j} u_i u_i^T + U~^T U~ + lambda I, hence dv_j/dx~_kj = Sigma_j^-1 u~_k and

      dR/dx~_kj = u~_k^T Sigma_j^-1 U^T (dR/dX^)_{:, j}.

  Computed by autograd through one exact V half step at the fixed point (the same number as the
  formula; tests check it against a brute-force numpy evaluation of the formula).
- :func:`exact_gradient`, the total derivative through the ALS fixed point by implicit
  differentiation: at a stationary point grad_theta L(theta*, x) = 0 with theta = (U, U~, V), so
  d theta*/dx = -H^-1 M with H = d^2L/dtheta^2 and M = d^2L/(dtheta dx), and

      dR/dx = -(H^-1 dR/dtheta)^T M = -d/dx [ w . grad_theta L ],   H w = dR/dtheta,

  solved by conjugate gradients with Hessian-vector products (H is positive semidefinite at a
  minimum; its null directions, rotations U Q, V Q, leave R and L unchanged, so CG stays in range).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from simlab.antidote.als_fit import Entries
from simlab.recommenders.als import als_objective, als_solve

ObjectiveFn = Callable[[Tensor], Tensor]  # (n, d) real users' predictions -> scalar


def approx_gradient(
    real: Entries, antidote: Tensor, u: Tensor, v: Tensor, reg: float, objective: ObjectiveFn
) -> Tensor:
    """(n', d) the paper's approximate gradient dR/dX~ at the fixed point (u (n + n', r), v (d, r))."""
    x = antidote.detach().requires_grad_(True)
    e = real.with_dense_rows(x)
    u = u.detach()
    v_new = als_solve(u, e.cols, e.rows, e.values, e.d, reg)  # equals v at the fixed point
    (grad,) = torch.autograd.grad(objective(u[: real.n] @ v_new.T), x)
    return grad


def exact_gradient(
    real: Entries,
    antidote: Tensor,
    u: Tensor,
    v: Tensor,
    reg: float,
    objective: ObjectiveFn,
    cg_tol: float = 1e-10,
    cg_iters: int = 1000,
) -> Tensor:
    """(n', d) the exact dR/dX~ through the ALS fixed point (u (n + n', r), v (d, r)), implicit."""
    n_all, r = u.shape
    split = n_all * r
    x = antidote.detach().requires_grad_(True)
    theta = torch.cat([u.detach().reshape(-1), v.detach().reshape(-1)]).requires_grad_(True)
    uu, vv = theta[:split].view(n_all, r), theta[split:].view(-1, r)
    e = real.with_dense_rows(x)
    (grad_l,) = torch.autograd.grad(als_objective(uu, vv, e.rows, e.cols, e.values, reg), theta, create_graph=True)
    (b,) = torch.autograd.grad(objective(uu[: real.n] @ vv.T), theta, retain_graph=True)

    def hvp(p: Tensor) -> Tensor:
        return torch.autograd.grad(grad_l, theta, p, retain_graph=True)[0]

    w = conjugate_gradient(hvp, b.detach(), cg_tol, min(cg_iters, theta.numel()))
    (grad,) = torch.autograd.grad(grad_l, x, w)
    return -grad


def conjugate_gradient(matvec: Callable[[Tensor], Tensor], b: Tensor, tol: float, max_iter: int) -> Tensor:
    """X with A x = b for symmetric positive (semi)definite A given as ``matvec``; stops at ||r|| <= tol ||b||."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = r @ r
    stop = tol**2 * float(b @ b)
    for _ in range(max_iter):
        if float(rs) <= stop:
            break
        ap = matvec(p)
        curvature = p @ ap
        if float(curvature) <= 0:  # not positive definite along p (a saddle): keep what we have
            break
        alpha = rs / curvature
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = r @ r
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x
