"""Antidote data on a ratings matrix: :func:`optimize` (Rastegarpanah, Gummadi & Crovella, WSDM 2019).

Given real ratings X (n, d) the method adds n' synthetic users with ratings X~ (n', d) in the
rating range so that, after ALS is refitted on [X; X~], an objective R of the real users' raw
predictions is minimal (their Eq. 8): min_{X~ in bounds} R(X^(theta*(X, X~))).

Methods:
- ``gradient``: projected gradient descent (their Sec. 5, Algorithm 1 as in the authors' code,
  rastegarpanah/antidote-data-framework ``optimization.gradient_descent_LS``): at each iterate
  refit, take the gradient (the paper's approximation or the exact one, :mod:`.gradient`),
  line-search the step over a decade grid (each candidate refitted), project onto the bounds.
  Stops after ``max_iter`` iterations, when the objective changes by less than ``tol`` (relative),
  or when the relative improvement stays below ``threshold`` for more than ``window``
  iterations. Several random restarts; the best iterate of all is kept.
- ``heuristic``: the paper's one-step heuristic (the authors' ``single_antidote_hueristic``):
  every antidote user rates item j at the top of the range where the first-order effect
  b . (dR/dX^)_{:, j}, b_i = sum_l U_il, says raising it lowers R, at the bottom where it says the
  opposite (the middle where it is ~0).
- ``random``: uniformly random ratings in the bounds, a control (synthetic users alone shrink the
  item factors and so lower R_pol a little, whatever they rate).

Differences from the authors' code (on purpose): ALS starts from a seeded random point instead of
U = ones and is refitted to convergence (see :mod:`.als_fit`); the line-search grid is re-derived
from the gradient's magnitude at every iteration (their code derives it once); R_pol uses the
paper's 1/d normalisation (their code sums over items, a constant factor).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from simlab.antidote import als_fit
from simlab.antidote.als_fit import Entries
from simlab.antidote.gradient import approx_gradient, exact_gradient
from simlab.antidote.objectives import OBJECTIVES, Measures

METHODS = ("gradient", "heuristic", "random")
NO_CHANGE = 1e-6  # relative change of the objective below which the descent stops


@dataclass
class AntidoteResult:
    """What :func:`optimize` returns.

    ``antidote`` (n', d) the synthetic ratings; ``before`` / ``after`` the measures of the real
    users' raw predictions without and with them (polarization, individual_unfairness,
    group_unfairness when groups were given, rmse), each from a converged ALS refit from the same
    seeded start; ``history`` the objective at each iterate of the best restart (``histories``: all).
    """

    antidote: np.ndarray
    before: dict[str, float]
    after: dict[str, float]
    objective: str
    method: str
    history: list[float] = field(default_factory=list)
    histories: list[list[float]] = field(default_factory=list)

    @property
    def reduction(self) -> float:
        """Relative reduction of the objective, 1 - after / before."""
        return 1.0 - self.after[self.objective] / self.before[self.objective]


@dataclass
class Problem:
    """A ratings matrix prepared for antidote optimisation (float64 torch on one device)."""

    train: Entries  # the real users' known ratings used for fitting
    measures: Measures
    bounds: tuple[float, float]
    rank: int
    reg: float
    v0: Tensor  # (d, r) the seeded random start of every cold refit
    tol: float = 1e-9
    max_sweeps: int = 2000

    @property
    def n(self) -> int:
        return self.train.n

    @property
    def d(self) -> int:
        return self.train.d

    def fit(self, antidote: Tensor | None, v0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """ALS on the real ratings plus ``antidote`` (n', d) rows, from ``v0`` (default: the seeded start)."""
        entries = self.train if antidote is None else self.train.with_dense_rows(antidote)
        u, v, _ = als_fit.fit(entries, self.reg, self.v0 if v0 is None else v0, self.tol, self.max_sweeps)
        return u, v

    def predictions(self, u: Tensor, v: Tensor) -> Tensor:
        return als_fit.predictions(u, v, self.n)

    def evaluate(self, antidote: Tensor | None) -> dict[str, float]:
        """Measures of the real users' predictions after a cold refit with ``antidote`` (None: without)."""
        u, v = self.fit(antidote)
        return self.measures.report(self.predictions(u, v))


def prepare(
    ratings: Any,
    *,
    rank: int = 4,
    reg: float = 0.1,
    bounds: tuple[float, float] | None = None,
    groups: Any = None,
    seed: int = 0,
    mask: Any = None,
    tol: float = 1e-9,
    max_sweeps: int = 2000,
    device: str | torch.device = "cpu",
) -> Problem:
    """A :class:`Problem` from an (n, d) ratings array (NaN = missing). ``mask`` (n, d) bool marks
    held-out ratings: hidden from the fit, used for the RMSE.
    """
    x = torch.as_tensor(np.asarray(ratings, dtype=np.float64), device=device)
    if x.dim() != 2 or x.numel() == 0:
        raise ValueError(f"ratings must be a non-empty (n, d) array, found shape {tuple(x.shape)}")
    held_out = None
    if mask is not None:
        hide = torch.as_tensor(np.asarray(mask, dtype=bool), device=device)
        if hide.shape != x.shape:
            raise ValueError(f"mask must have the ratings' shape {tuple(x.shape)}, found {tuple(hide.shape)}")
        held_out = als_fit.entries_from_matrix(torch.where(hide, x, math.nan))
        x = torch.where(hide, math.nan, x)
    train = als_fit.entries_from_matrix(x)
    if train.values.numel() == 0:
        raise ValueError("ratings have no known entries")
    if bounds is None:
        bounds = (float(train.values.min()), float(train.values.max()))
    lo, hi = float(bounds[0]), float(bounds[1])
    if not lo < hi:
        raise ValueError(f"bounds must be (low, high) with low < high, found {bounds}")
    g = None
    if groups is not None:
        g = torch.as_tensor(np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1), device=device)
        if g.shape[0] != train.n:
            raise ValueError(f"groups must have one label per user ({train.n}), found {g.shape[0]}")
    v0 = als_fit.random_start(train.d, rank, seed, device=device)
    return Problem(train, Measures(train, g, held_out), (lo, hi), rank, reg, v0, tol, max_sweeps)


def n_antidote(budget: float | int, n: int) -> int:
    """Antidote users for a ``budget``: a float in (0, 1) is a fraction of n (at least 1), an int a count."""
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise ValueError(f"budget must be a float in (0, 1) or a positive int, found {budget!r}")
    if isinstance(budget, int):
        if budget < 1:
            raise ValueError(f"budget as a count must be >= 1, found {budget}")
        return budget
    if not 0 < budget < 1:
        raise ValueError(f"budget as a fraction must be in (0, 1), found {budget}")
    return max(1, round(budget * n))


def optimize(
    ratings: Any,
    *,
    budget: float | int = 0.01,
    objective: str = "polarization",
    method: str = "gradient",
    rank: int = 4,
    reg: float = 0.1,
    bounds: tuple[float, float] | None = None,
    groups: Any = None,
    seed: int = 0,
    mask: Any = None,
    gradient: Literal["approx", "exact"] = "approx",
    max_iter: int = 20,
    restarts: int = 3,
    steps: list[float] | None = None,
    threshold: float = 1e-3,
    window: int = 2,
    tol: float = 1e-9,
    max_sweeps: int = 2000,
    init: Any = None,
    device: str | torch.device = "cpu",
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> AntidoteResult:
    """Optimise antidote ratings for ``ratings`` (n, d), NaN = missing (see the module docstring).

    budget: float in (0, 1) = fraction of n, int = count of antidote users. objective:
    polarization | individual_unfairness | group_unfairness (needs ``groups``, (n,) labels).
    method: gradient | heuristic | random. bounds: the rating range (default: the data's min, max).
    mask: (n, d) bool of held-out ratings (for the RMSE). gradient: "approx" (the paper's) or
    "exact" (implicit differentiation through the ALS fixed point). max_iter, restarts, steps
    (line-search step sizes; None: 6 decades from 100 / max|grad|), threshold, window, tol: the
    stopping rules. init: (n', d) initial ratings of the first restart (else uniform random).
    ALS: rank, reg (lambda), refitted from a seeded random start to relative change ``tol``.
    progress: called after every iterate of the gradient search with ``{"restart", "restarts",
    "iteration", "max_iter", "value"}`` (1-based counts; ``value`` the objective at the iterate's
    warm-started refit).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if gradient not in ("approx", "exact"):
        raise ValueError(f"gradient must be 'approx' or 'exact', found {gradient!r}")
    problem = prepare(
        ratings, rank=rank, reg=reg, bounds=bounds, groups=groups, seed=seed, mask=mask, tol=tol,
        max_sweeps=max_sweeps, device=device,
    )  # fmt: skip
    if objective == "group_unfairness" and problem.measures.groups is None:
        raise ValueError("objective 'group_unfairness' needs groups (an (n,) array of group labels)")
    k = n_antidote(budget, problem.n)
    generator = torch.Generator(device=device).manual_seed(seed)
    histories: list[list[float]] = []
    if method == "random":
        antidote = uniform(k, problem.d, problem.bounds, generator)
    elif method == "heuristic":
        antidote = heuristic(problem, objective, k)
    else:
        antidote, histories = gradient_descent(
            problem, objective, k, generator, gradient, max_iter, restarts, steps, threshold, window, init, progress
        )
    after = problem.evaluate(antidote)
    best = min(histories, key=min) if histories else []
    return AntidoteResult(
        antidote.cpu().numpy(), problem.evaluate(None), after, objective, method, list(best), histories
    )


def uniform(k: int, d: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    """(k, d) ratings uniform in the bounds, float64."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(k, d, generator=generator, device=generator.device, dtype=torch.float64)


def objective_gradient(problem: Problem, objective: str, pred: Tensor) -> Tensor:
    """(n, d) dR/dX^ at the real users' predictions ``pred``."""
    x = pred.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(problem.measures.objective(objective, x), x)
    return g


def heuristic(problem: Problem, objective: str, k: int, threshold: float = 1e-8) -> Tensor:
    """(k, d) the one-step heuristic: all k users rate item j max / min / mid by the sign of
    -(b . (dR/dX^)_{:, j}), b_i = sum_l U_il (the first-order effect with Sigma_j ~ I, u~ = 1).
    """
    u, v = problem.fit(None)
    g = objective_gradient(problem, objective, problem.predictions(u, v))
    a = -(u.sum(1) @ g)
    lo, hi = problem.bounds
    row = torch.where(a > threshold, hi, torch.where(a < -threshold, lo, (lo + hi) / 2))
    return row.to(torch.float64).expand(k, -1).clone()


def step_grid(grad: Tensor, steps: list[float] | None) -> list[float]:
    """Line-search step sizes: ``steps``, or six decades from 100 / max|grad| down (as the
    authors' code: 10^-(round(log10 max|g|) - 2) / 10^i, i = 0..5).
    """
    if steps is not None:
        return list(steps)
    top = float(grad.abs().max())
    if top == 0 or not math.isfinite(top):
        return []
    largest = 10.0 ** -(round(math.log10(top)) - 2)
    return [largest / 10**i for i in range(6)]


def gradient_descent(
    problem: Problem,
    objective: str,
    k: int,
    generator: torch.Generator,
    gradient: str,
    max_iter: int,
    restarts: int,
    steps: list[float] | None,
    threshold: float,
    window: int,
    init: Any,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Tensor, list[list[float]]]:
    """Projected gradient descent with line search and restarts; returns the best iterate (k, d)
    over all restarts and each restart's objective history (``progress``: see :func:`optimize`).
    """
    lo, hi = problem.bounds
    grad_fn = exact_gradient if gradient == "exact" else approx_gradient

    def value(u: Tensor, v: Tensor) -> float:
        with torch.no_grad():
            return float(problem.measures.objective(objective, problem.predictions(u, v)))

    best_x: Tensor | None = None
    best_value = math.inf
    histories = []
    _, v_real = problem.fit(None)  # warm start of the first refit of every restart
    for restart in range(max(1, restarts)):
        if restart == 0 and init is not None:
            x = torch.as_tensor(np.asarray(init, dtype=np.float64), device=problem.v0.device).clamp(lo, hi)
            if tuple(x.shape) != (k, problem.d):
                raise ValueError(f"init must have shape {(k, problem.d)}, found {tuple(x.shape)}")
        else:
            x = uniform(k, problem.d, problem.bounds, generator)
        u, v = problem.fit(x, v_real)
        current = value(u, v)
        history: list[float] = []
        reference, stalled = math.inf, 0
        for iteration in range(max_iter):
            history.append(current)
            if progress is not None:
                progress(
                    {"restart": restart + 1, "restarts": max(1, restarts), "iteration": iteration + 1,
                     "max_iter": max_iter, "value": current}
                )  # fmt: skip
            if current < best_value:
                best_value, best_x = current, x.clone()
            if abs(reference - current) <= NO_CHANGE * abs(current):  # the authors' |change| < 1e-6, relative
                break
            if reference - current < threshold * abs(reference):  # too little improvement
                stalled += 1
                if stalled > window:
                    break
            else:
                reference, stalled = current, 0
            g = grad_fn(problem.train, x, u, v, problem.reg, lambda p: problem.measures.objective(objective, p))
            trials = []
            for alpha in step_grid(g, steps):
                x_try = (x - alpha * g).clamp(lo, hi)
                u_try, v_try = problem.fit(x_try, v)
                trials.append((value(u_try, v_try), x_try, u_try, v_try))
            if not trials:
                break
            current, x, u, v = min(trials, key=lambda t: t[0])
        else:
            history.append(current)
            if current < best_value:
                best_value, best_x = current, x.clone()
        histories.append(history)
    assert best_x is not None
    return best_x, histories
