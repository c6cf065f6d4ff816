"""A faithful small re-implementation of the authors' algorithm, for comparison only.

rastegarpanah/antidote-data-framework (Python 2, pandas): ``als.als`` (U = ones start; each
sweep computes U_new from V and V_new from the *previous* U; stops when one sweep lowers the RMSE
by less than ``threshold`` = 1e-6, keeping the previous factors; at most 50 sweeps),
``optimization.compute_gradient_fast3`` (the approximate gradient with
Sigma_j = sum_{i in Omega_j} u_i u_i^T + U~^T U~ + lambda I), ``optimization.gradient_descent_LS``
(line search over ``steps``, projection by clipping, the stopping rule "relative improvement
below ``threshold`` for more than ``window`` iterations" or "|change| < 1e-6", the best iterate
kept) and ``opt_alg.run`` (``runs`` restarts from uniform [0, max] ratings, the best kept), with
the settings of the authors' ``minimze_polarization.py`` as defaults. Its polarization utility is
the sum over items of the per-item variance (the paper's R_pol times d). Vectorised with numpy,
otherwise the same arithmetic. Not used by simlab itself: tests and the README compare against it.
"""

from __future__ import annotations

import numpy as np


def _solve_rows(x: np.ndarray, w: np.ndarray, fixed: np.ndarray, reg: float) -> np.ndarray:
    """Ridge solution of every row of x (n, d) on its known entries w, with the columns' factors ``fixed``."""
    k = fixed.shape[1]
    gram = np.einsum("nd,dr,ds->nrs", w.astype(float), fixed, fixed) + reg * np.eye(k)
    rhs = np.einsum("nd,dr->nr", np.where(w, x, 0.0), fixed)
    return np.linalg.solve(gram, rhs[..., None])[..., 0]


def reference_als(
    x: np.ndarray, rank: int, reg: float, max_iter: int = 50, threshold: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """The authors' ``als.als``: returns U (n, r), V (d, r)."""
    w = ~np.isnan(x)
    u = np.ones((x.shape[0], rank))
    v = _solve_rows(x.T, w.T, u, reg)
    n_known = w.sum()

    def rmse(u: np.ndarray, v: np.ndarray) -> float:
        return float(np.sqrt(np.nansum((x - u @ v.T) ** 2) / n_known))

    error = rmse(u, v)
    for _ in range(max_iter):
        u_new = _solve_rows(x, w, v, reg)
        v_new = _solve_rows(x.T, w.T, u, reg)  # the previous U, as in the authors' code
        error_new = rmse(u_new, v_new)
        if error - error_new < threshold:
            break
        error, u, v = error_new, u_new, v_new
    return u, v


def reference_gradient(x: np.ndarray, u: np.ndarray, v: np.ndarray, u_tilde: np.ndarray, reg: float) -> np.ndarray:
    """``compute_gradient_fast3`` for polarization: (n', d) with G3 = X^ - mean (the utility's gradient)."""
    w = ~np.isnan(x)
    est = u @ v.T
    g3 = est - est.mean(axis=0)
    sigma = np.einsum("nd,nr,ns->drs", w.astype(float), u, u) + u_tilde.T @ u_tilde + reg * np.eye(u.shape[1])
    c = np.linalg.solve(sigma, (g3.T @ u)[..., None])[..., 0]  # (d, r): Sigma_j^-1 U^T g_j (Sigma symmetric)
    return u_tilde @ c.T


def _theta(x: np.ndarray, antidote: np.ndarray, rank: int, reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, v = reference_als(np.vstack([x, antidote]), rank, reg)
    n = x.shape[0]
    return u[:n], u[n:], v


def polarization_sum(est: np.ndarray) -> float:
    """The authors' polarization utility: sum over items of the variance over users."""
    return float(est.var(axis=0).sum())


def reference_antidote(
    x: np.ndarray,
    budget: int,
    rank: int = 4,
    reg: float = 0.1,
    bounds: tuple[float, float] = (0.0, 5.0),
    max_iter: int = 20,
    threshold: float = 0.1,
    window: int = 1,
    steps: list[float] | None = None,
    runs: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """The authors' ``gradient_descent_LS`` with ``runs`` restarts for polarization: (budget, d)."""
    rng = np.random.default_rng(seed)
    steps = [1000.0 / 10**i for i in range(6)] if steps is None else steps
    lo, hi = bounds
    best, best_obj = None, np.inf
    for _ in range(runs):
        antidote = hi * rng.random((budget, x.shape[1]))  # their init: max_edge * rand
        obj, t = np.inf, 0
        hist: list[tuple[float, np.ndarray]] = []
        for _ in range(max_iter):
            u, u_t, v = _theta(x, antidote, rank, reg)
            obj_new = polarization_sum(u @ v.T)
            if abs(obj - obj_new) < 1e-6:
                break
            if obj - obj_new < threshold * obj:
                if t > window:
                    break
                t += 1
            else:
                obj, t = obj_new, 0
            hist.append((obj_new, antidote.copy()))
            g = reference_gradient(x, u, v, u_t, reg)
            trials = []
            for alpha in steps:
                new = np.clip(antidote - alpha * g, lo, hi)
                uu, _, vv = _theta(x, new, rank, reg)
                trials.append((polarization_sum(uu @ vv.T), alpha))
            alpha = min(trials)[1]
            antidote = np.clip(antidote - alpha * g, lo, hi)
        run_obj, run_x = min(hist, key=lambda h: h[0])
        if run_obj < best_obj:
            best_obj, best = run_obj, run_x
    assert best is not None
    return best
