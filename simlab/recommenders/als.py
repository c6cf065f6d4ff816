"""The ``als`` baseline: explicit matrix factorisation fitted by alternating least squares.

This is the recommender model of Rastegarpanah, Gummadi & Crovella 2019 ("Fighting Fire with
Fire: Using Antidote Data to Improve Polarization and Fairness of Recommender Systems", WSDM):
ratings r_ij ~ u_i . v_j on the observed entries Omega, minimising

    sum_{(i,j) in Omega} (r_ij - u_i . v_j)^2 + lambda (||U||_F^2 + ||V||_F^2).

Here the ratings are the logged engagement labels (repeated impressions of a pair are averaged
into one entry). Each half step solves every row's normal equations at once,
(V_i^T V_i + lambda I) u_i = V_i^T r_i, as one batched ``torch.linalg.solve``; each half step is
an exact minimisation, so the objective never increases. Shapes: N users (real + synthetic),
M items, r rank, E observed entries, A active users, C candidates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import pydantic
import torch
from torch import Tensor

from simlab.core.protocols import PlatformView
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.recommenders.dlrm.trainer import GROWTH, window_rows
from simlab.recommenders.replay import trial_retrain


def als_solve(
    fixed: Tensor, rows: Tensor, cols: Tensor, values: Tensor, n_rows: int, reg: float, chunk: int = 1 << 15
) -> Tensor:
    """Ridge solution for every row's factor with the other side held fixed.

    fixed (K, r) the fixed factors; rows, cols, values (E,) observed entries (row index, index
    into ``fixed``, rating). Returns X (n_rows, r) with x_i = (F_i^T F_i + reg I)^-1 F_i^T r_i,
    F_i the fixed factors of row i's observed columns (rows without entries get 0).
    Differentiable with respect to ``fixed`` and ``values`` (antidote data optimises through it).
    """
    r = fixed.shape[1]
    gram = fixed.new_zeros(n_rows, r, r)
    rhs = fixed.new_zeros(n_rows, r)
    for s in range(0, rows.shape[0], chunk):  # chunks bound the (E, r, r) outer products
        f = fixed[cols[s : s + chunk]]
        gram = gram.index_add(0, rows[s : s + chunk], f.unsqueeze(2) * f.unsqueeze(1))
        rhs = rhs.index_add(0, rows[s : s + chunk], f * values[s : s + chunk, None].to(f.dtype))
    gram = gram + reg * torch.eye(r, dtype=fixed.dtype, device=fixed.device)
    return torch.linalg.solve(gram, rhs.unsqueeze(-1)).squeeze(-1)


def als_objective(U: Tensor, V: Tensor, users: Tensor, items: Tensor, ratings: Tensor, reg: float) -> Tensor:
    """Sum over entries of (r - u.v)^2 + reg (||U||^2 + ||V||^2), a scalar."""
    err = ratings - (U[users] * V[items]).sum(1)
    return (err**2).sum() + reg * (U.pow(2).sum() + V.pow(2).sum())


def observed_entries(users: Tensor, items: Tensor, labels: Tensor, n_items: int) -> tuple[Tensor, Tensor, Tensor]:
    """Average repeated (user, item) impressions into one rating each: (E,) users, items, ratings."""
    key = users * n_items + items
    uniq, inverse = torch.unique(key, return_inverse=True)
    total = labels.new_zeros(uniq.shape[0]).index_add(0, inverse, labels)
    count = labels.new_zeros(uniq.shape[0]).index_add(0, inverse, torch.ones_like(labels))
    return uniq // n_items, uniq % n_items, total / count


class Factors(NamedTuple):
    """An ALS model's parameters: U (N, r), V (M, r), user biases b (N,), item biases c (M,),
    position offsets o (P,).
    """

    U: Tensor
    V: Tensor
    b: Tensor
    c: Tensor
    o: Tensor


def _padded(offsets: Tensor, n: int) -> Tensor:
    """``offsets`` extended with zeros to at least n entries."""
    if offsets.numel() >= n:
        return offsets
    return torch.cat([offsets, offsets.new_zeros(n - offsets.numel())])


class ALSRecommender:
    """Matrix-factorisation recommender retrained by ALS on the sliding window of the log.

    Each logged impression (user i, item j, slate position p, label y) is one observation of

        y ~ o_p + b_i + c_j + u_i . v_j,

    fitted by least squares with the penalty lambda (||U||^2 + ||V||^2 + ||b||^2 + ||c||^2).
    The biases b (users) and c (items) are the usual baseline predictors of matrix factorisation
    (Koren, Bell & Volinsky 2009) and are fitted jointly with the factors (each ridge solve
    gets a constant column); without them (``biases: false``) the model is the paper's plain
    u_i . v_j. The offsets o_p absorb the slate position's effect on engagement (additive
    position debiasing, the least-squares counterpart of the position feature of Guo et al.,
    RecSys 2019 "PAL"): engagement at lower positions is not blamed on the items shown there,
    and serving predicts at the top position, o_0 + b_i + c_j + u_i . v_j. With
    ``position_debias: false`` one global offset replaces them. Every step of a sweep (offsets,
    users, items) is an exact minimisation, so the objective never increases.
    """

    scores_are_logits = False
    privileged = False

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        rank: int = pydantic.Field(4, ge=1, le=4096, description="r, width of the user and item factors")
        reg: float = pydantic.Field(2.0, gt=0, description="lambda, L2 penalty on the factors and biases")
        n_iters: int = pydantic.Field(10, ge=1, le=10_000, description="ALS sweeps (users, then items) per retrain")
        window: int = pydantic.Field(
            200_000, ge=1, le=100_000_000, description="train on the newest `window` impressions (or steps)"
        )
        window_unit: Literal["impressions", "steps"] = pydantic.Field("impressions", description="unit of `window`")
        init_scale: float = pydantic.Field(0.1, gt=0, description="s, initial factors ~ N(0, s^2)")
        biases: bool = pydantic.Field(True, description="fit user and item biases b_i, c_j beside the factors")
        position_debias: bool = pydantic.Field(
            True, description="fit one offset per slate position and serve at the top one (else one global offset)"
        )

    # set by setup(), which the loop calls before anything else
    view: PlatformView
    generator: torch.Generator

    def __init__(self, settings: Settings):
        self.settings = settings
        self.n_users = self.n_real_users = self.n_items = 0
        self._U = self._V = torch.zeros(0, settings.rank)
        self._user_bias = self._item_bias = torch.zeros(0)
        self._offset = torch.zeros(1)  # o_p per slate position p (one entry without position_debias)

    def _init(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        g = generator or self.generator
        x = torch.randn(n, self.settings.rank, generator=g, device=g.device) * self.settings.init_scale
        return x.to(self.view.device)

    def setup(self, view: PlatformView, generator: torch.Generator) -> None:
        self.view, self.generator = view, generator
        self.n_users = self.n_real_users = view.n_users
        self.n_items = view.n_items
        self._U = self._init(view.n_users)
        self._V = self._init(max(view.items.capacity, view.n_items, 1))
        self._user_bias = torch.zeros(self._U.shape[0], device=view.device)
        self._item_bias = torch.zeros(self._V.shape[0], device=view.device)
        self._offset = torch.zeros(1, device=view.device)

    def _sync(self) -> None:
        """Grow V and c (geometrically) to cover the catalog; learned rows are kept. New items start
        at zero: a cold item is predicted from the biases alone until it has observations (random
        rows would rank it by noise; the initial catalog's rows are random to break the symmetry of
        the first solve).
        """
        m = self.view.n_items
        if m > self._V.shape[0]:
            grown = max(m, int(self._V.shape[0] * GROWTH)) - self._V.shape[0]
            self._V = torch.cat([self._V, self._V.new_zeros(grown, self._V.shape[1])])
            self._item_bias = torch.cat([self._item_bias, self._item_bias.new_zeros(grown)])
        self.n_items = m

    def add_synthetic_users(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Append n user rows (e.g. antidote users).

        Args:
            n: how many.
            generator: the stream their initial factors are drawn from (default: the
                recommender's own; an intervention passes its own, so that the real users'
                draws stay those of a run without it).

        Returns:
            Their ids, (n,) long.
        """
        ids = torch.arange(self.n_users, self.n_users + n, device=self.view.device)
        self._U = torch.cat([self._U, self._init(n, generator)])
        self._user_bias = torch.cat([self._user_bias, self._user_bias.new_zeros(n)])
        self.n_users += n
        return ids

    @property
    def U(self) -> Tensor:
        """(N, r) user factors (real users first, then synthetic)."""
        return self._U[: self.n_users]

    @property
    def V(self) -> Tensor:
        """(M, r) item factors."""
        self._sync()
        return self._V[: self.n_items]

    @property
    def user_bias(self) -> Tensor:
        """(N,) user biases b_i (zero without ``biases``)."""
        return self._user_bias[: self.n_users]

    @property
    def item_bias(self) -> Tensor:
        """(M,) item biases c_j (zero without ``biases``)."""
        self._sync()
        return self._item_bias[: self.n_items]

    @property
    def offset(self) -> Tensor:
        """(P,) offsets o_p per slate position (one global offset without ``position_debias``)."""
        return self._offset

    def predict_matrix(self, users: Tensor, items: Tensor) -> Tensor:
        """(A,), (B,) -> (A, B) predicted ratings at the top position (unclipped)."""
        base = self._offset[0] + self.user_bias[users][:, None] + self.item_bias[items][None, :]
        return base + self.U[users] @ self.V[items].T

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        """(A,), (A, C) -> (A, C) predicted ratings at the top position."""
        cross = torch.einsum("ar,acr->ac", self.U[users], self.V[candidates])
        return cross + self.item_bias[candidates] + (self.user_bias[users] + self._offset[0])[:, None]

    def predict_raw(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) raw predicted rating at the top position (unclipped; R_pol is defined on it)."""
        cross = (self.U[users] * self.V[items]).sum(1)
        return cross + self.user_bias[users] + self.item_bias[items] + self._offset[0]

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) predicted rating clipped to [1e-3, 1 - 1e-3] as an engagement probability
        (ratings are not calibrated probabilities; the clip bounds the logloss of a confident miss).
        """
        return self.predict_raw(users, items).clamp(1e-3, 1 - 1e-3)

    def item_embeddings(self) -> Tensor:
        """(M, r) item factors (for the history-similar candidate source)."""
        return self.V.clone()

    def fit(self, users: Tensor, items: Tensor, ratings: Tensor, positions: Tensor | None = None) -> list[float]:
        """n_iters ALS sweeps on (E,) observations; returns the objective after each user and item step.

        A sweep sets the offsets o_p (the mean residual at each position), then solves every
        user's (u_i, b_i) and every item's (v_j, c_j) ridge problem with the other side fixed.
        ``positions`` (E,) slate positions (None, or ``position_debias: false``: one offset).
        """
        m = self.n_items
        positions = self._fit_positions(users, positions)
        self._offset = _padded(self._offset, int(positions.max()) + 1 if positions.numel() else 1)
        start = Factors(self.U, self.V, self.user_bias, self.item_bias, self._offset)
        fitted, history = self._sweeps(start, users, items, ratings.float(), positions, self.settings.n_iters)
        self._U, self._user_bias, self._offset = fitted.U, fitted.b, fitted.o
        self._V = torch.cat([fitted.V, self._V[m:]])
        self._item_bias = torch.cat([fitted.c, self._item_bias[m:]])
        return history

    def _fit_positions(self, users: Tensor, positions: Tensor | None) -> Tensor:
        """The slate positions a fit uses: zeros without ``position_debias`` (one offset)."""
        if positions is None or not self.settings.position_debias or positions.numel() == 0:
            return torch.zeros_like(users)
        return positions

    def _sweeps(
        self,
        start: Factors,
        users: Tensor,
        items: Tensor,
        y: Tensor,
        positions: Tensor,
        sweeps: int,
        track: bool = True,
    ) -> tuple[Factors, list[float]]:
        """``sweeps`` ALS sweeps from ``start`` on (E,) observations, out of place (so that the
        result is differentiable with respect to the ratings ``y``: antidote data unrolls them).

        Args:
            start: the factors before the first sweep (offsets already cover every position).
            users: (E,) long user ids.
            items: (E,) long item ids.
            positions: (E,) long slate positions.
            y: (E,) float ratings.
            sweeps: how many sweeps.
            track: record the objective after each half step (a float: breaks no graph).

        Returns:
            The factors after the last sweep and the tracked objectives.
        """
        s = self.settings
        reg, m, n = s.reg, self.n_items, self.n_users
        U, V, b, c, o = start.U, start.V, start.b, start.c, start.o
        rows_per_position = torch.bincount(positions, minlength=o.numel()).clamp(min=1).to(y.dtype)

        def solve(fixed: Tensor, fixed_bias: Tensor, row: Tensor, col: Tensor, size: int) -> tuple[Tensor, Tensor]:
            """Every row's (factor, bias) with the other side (fixed (K, r), fixed_bias (K,)) held."""
            target = y - o[positions] - fixed_bias[col]
            if not s.biases:
                return als_solve(fixed, row, col, target, size, reg), fixed_bias.new_zeros(size)
            augmented = als_solve(torch.cat([fixed, torch.ones_like(fixed[:, :1])], 1), row, col, target, size, reg)
            return augmented[:, :-1], augmented[:, -1]

        def objective() -> float:
            error = y - o[positions] - b[users] - c[items] - (U[users] * V[items]).sum(1)
            penalty = U.pow(2).sum() + V.pow(2).sum() + b.pow(2).sum() + c.pow(2).sum()
            return float(error.pow(2).sum() + reg * penalty)

        history = []
        for _ in range(sweeps):
            residual = y - b[users] - c[items] - (U[users] * V[items]).sum(1)
            o = o.new_zeros(o.numel()).index_add(0, positions, residual) / rows_per_position
            U, b = solve(V, c, users, items, n)
            if track:
                history.append(objective())
            V, c = solve(U, b, items, users, m)
            if track:
                history.append(objective())
        return Factors(U, V, b, c, o), history

    def training_window(self, log: ImpressionLog, step: int) -> Rows:
        """The logged rows a retrain at ``step`` trains on (before any extra rows)."""
        return window_rows(log, step, self.settings.window, self.settings.window_unit)

    def train(self, log: ImpressionLog, step: int, extra: Rows | None = None) -> dict[str, float]:
        """Refit on the window (plus optional ``extra`` rows, e.g. synthetic users').

        Returns {"loss": objective / observations, "objective", "rmse"} after the last sweep.
        """
        self._sync()
        rows = Rows.concat(self.training_window(log, step), extra)
        assert rows is not None
        users, items, labels, positions = rows.user, rows.item, rows.label.float(), rows.position
        if users.numel() == 0:
            return {}
        history = self.fit(users, items, labels, positions)
        rmse = labels - self.predict_raw(users, items) + self._offset[0] - self._offset[self._positions(positions)]
        return {
            "loss": history[-1] / labels.numel(),
            "objective": history[-1],
            "rmse": float(rmse.pow(2).mean().sqrt()),
        }

    # ------------------------------------------------------------------ antidote capability

    def predict_rows(self, rows: Rows) -> Tensor:
        """(R,) raw predicted ratings of ``rows`` at the top position (``predict_raw``)."""
        return self.predict_raw(rows.user, rows.item)

    def trial_retrain(
        self, log: ImpressionLog, step: int, extra: Rows | None, horizon: int = 1
    ) -> contextlib.AbstractContextManager[None]:
        """The retrain the loop would run now, on trial (:func:`simlab.recommenders.replay.trial_retrain`)."""
        self._sync()
        return trial_retrain(self, log, step, extra, horizon)

    def unrolled(
        self, log: ImpressionLog, step: int, extra: Rows, horizon: int = 1, max_steps: int | None = None
    ) -> Callable[[Rows], Tensor]:
        """A differentiable stand-in for ``horizon`` retrains ``train(log, step, extra)``: the very
        sweeps the loop runs (``n_iters`` per retrain, warm-started from the current factors),
        out of place, so the factors are functions of ``extra.label``.

        Args:
            log: the impression log.
            step: the retrain's step.
            extra: the synthetic rows; ``extra.label`` may require grad.
            horizon: retrains in a row (``n_iters * horizon`` sweeps).
            max_steps: unused (every sweep is unrolled; they are cheap).

        Returns:
            predict(rows) -> (R,) raw predicted ratings at the top position, differentiable with
            respect to ``extra.label``.
        """
        del max_steps
        self._sync()
        rows = Rows.concat(self.training_window(log, step), extra)
        assert rows is not None
        positions = self._fit_positions(rows.user, rows.position)
        offsets = _padded(self._offset, int(positions.max()) + 1 if positions.numel() else 1)
        start = Factors(self.U, self.V, self.user_bias, self.item_bias, offsets)
        sweeps = self.settings.n_iters * horizon
        fitted, _ = self._sweeps(start, rows.user, rows.item, rows.label.float(), positions, sweeps, track=False)

        def predict(query: Rows) -> Tensor:
            u, i = query.user, query.item
            return fitted.o[0] + fitted.b[u] + fitted.c[i] + (fitted.U[u] * fitted.V[i]).sum(1)

        return predict

    def _positions(self, positions: Tensor) -> Tensor:
        """The offset index of each position (0 everywhere without ``position_debias``)."""
        return positions if self.settings.position_debias else torch.zeros_like(positions)

    def state_dict(self) -> dict[str, Any]:
        return {
            "U": self._U.clone(),
            "V": self._V.clone(),
            "user_bias": self._user_bias.clone(),
            "item_bias": self._item_bias.clone(),
            "offset": self._offset.clone(),
            "n_users": self.n_users,
            "n_real_users": self.n_real_users,
            "n_items": self.n_items,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = self.view.device
        self._U, self._V = state["U"].to(device), state["V"].to(device)
        self._user_bias, self._item_bias = state["user_bias"].to(device), state["item_bias"].to(device)
        self._offset = state["offset"].to(device)
        self.n_users, self.n_real_users = int(state["n_users"]), int(state["n_real_users"])
        self.n_items = int(state["n_items"])
