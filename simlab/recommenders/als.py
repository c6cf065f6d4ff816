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

from typing import Any, Literal

import pydantic
import torch
from torch import Tensor

from simlab.loop.state import ImpressionLog
from simlab.protocols import PlatformView
from simlab.recommenders.dlrm.trainer import GROWTH, window_rows
from simlab.registry import RECOMMENDERS


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
    """sum over entries of (r - u.v)^2 + reg (||U||^2 + ||V||^2), a scalar."""
    err = ratings - (U[users] * V[items]).sum(1)
    return (err**2).sum() + reg * (U.pow(2).sum() + V.pow(2).sum())


def observed_entries(users: Tensor, items: Tensor, labels: Tensor, n_items: int) -> tuple[Tensor, Tensor, Tensor]:
    """Average repeated (user, item) impressions into one rating each: (E,) users, items, ratings."""
    key = users * n_items + items
    uniq, inverse = torch.unique(key, return_inverse=True)
    total = labels.new_zeros(uniq.shape[0]).index_add(0, inverse, labels)
    count = labels.new_zeros(uniq.shape[0]).index_add(0, inverse, torch.ones_like(labels))
    return uniq // n_items, uniq % n_items, total / count


@RECOMMENDERS.register("als")
class ALSRecommender:
    """Matrix-factorisation recommender retrained by ALS on the sliding window of the log."""

    scores_are_logits = False

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        rank: int = pydantic.Field(16, ge=1, le=4096, description="r, width of the user and item factors")
        reg: float = pydantic.Field(0.1, gt=0, description="lambda, L2 penalty on both factor matrices")
        n_iters: int = pydantic.Field(10, ge=1, le=10_000, description="ALS sweeps (users, then items) per retrain")
        window: int = pydantic.Field(
            50_000, ge=1, le=100_000_000, description="train on the newest `window` impressions (or steps)"
        )
        window_unit: Literal["impressions", "steps"] = pydantic.Field("impressions", description="unit of `window`")
        init_scale: float = pydantic.Field(0.1, gt=0, description="s, initial factors ~ N(0, s^2)")

    # set by setup(), which the loop calls before anything else
    view: PlatformView
    generator: torch.Generator

    def __init__(self, settings: Settings):
        self.settings = settings
        self.n_users = self.n_real_users = self.n_items = 0
        self._U = self._V = torch.zeros(0, settings.rank)

    def _init(self, n: int) -> Tensor:
        g = self.generator
        x = torch.randn(n, self.settings.rank, generator=g, device=g.device) * self.settings.init_scale
        return x.to(self.view.device)

    def setup(self, view: PlatformView, generator: torch.Generator) -> None:
        self.view, self.generator = view, generator
        self.n_users = self.n_real_users = view.n_users
        self.n_items = view.n_items
        self._U = self._init(view.n_users)
        self._V = self._init(max(view.catalog.capacity, view.n_items, 1))

    def _sync(self) -> None:
        """Grow V (geometrically, fresh rows random) to cover the catalog; learned rows are kept."""
        m = self.view.n_items
        if m > self._V.shape[0]:
            self._V = torch.cat([self._V, self._init(max(m, int(self._V.shape[0] * GROWTH)) - self._V.shape[0])])
        self.n_items = m

    def add_synthetic_users(self, n: int) -> Tensor:
        """Append n user rows (e.g. antidote users); returns their ids (n,)."""
        ids = torch.arange(self.n_users, self.n_users + n, device=self.view.device)
        self._U = torch.cat([self._U, self._init(n)])
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

    def predict_matrix(self, users: Tensor, items: Tensor) -> Tensor:
        """(A,), (B,) -> (A, B) predicted ratings U[users] V[items]^T (unclipped)."""
        return self.U[users] @ self.V[items].T

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        """(A,), (A, C) -> (A, C) predicted ratings."""
        return torch.einsum("ar,acr->ac", self.U[users], self.V[candidates])

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) predicted rating clipped to [1e-3, 1 - 1e-3] as an engagement probability
        (ratings are not calibrated probabilities; the clip bounds the logloss of a confident miss)."""
        return (self.U[users] * self.V[items]).sum(1).clamp(1e-3, 1 - 1e-3)

    def predict_raw(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) raw predicted rating u.v (unclipped; R_pol is defined on it)."""
        return (self.U[users] * self.V[items]).sum(1)

    def item_embeddings(self) -> Tensor:
        """(M, r) item factors (for the history-similar candidate source)."""
        return self.V.clone()

    def fit(self, users: Tensor, items: Tensor, ratings: Tensor) -> list[float]:
        """n_iters ALS sweeps on (E,) entries (duplicates averaged); returns the objective after each half step."""
        reg, m = self.settings.reg, self.n_items
        u, i, r = observed_entries(users, items, ratings.float(), max(m, 1))
        U, V = self.U, self.V
        history = []
        for _ in range(self.settings.n_iters):
            U = als_solve(V, u, i, r, self.n_users, reg)
            history.append(float(als_objective(U, V, u, i, r, reg)))
            V = als_solve(U, i, u, r, m, reg)
            history.append(float(als_objective(U, V, u, i, r, reg)))
        self._U = U
        self._V = torch.cat([V, self._V[m:]])
        return history

    def train(self, log: ImpressionLog, step: int, extra: dict[str, Tensor] | None = None) -> dict[str, float]:
        """Refit on the window (plus optional ``extra`` rows: user, item, label).

        Returns {"loss": objective / entries, "objective", "rmse"} after the last sweep."""
        self._sync()
        s = self.settings
        rows = window_rows(log, step, s.window, s.window_unit)
        users, items, labels = rows["user"], rows["item"], rows["label"].float()
        if extra is not None:
            users = torch.cat([users, extra["user"]])
            items = torch.cat([items, extra["item"]])
            labels = torch.cat([labels, extra["label"].float()])
        if users.numel() == 0:
            return {}
        history = self.fit(users, items, labels)
        u, i, r = observed_entries(users, items, labels, self.n_items)
        rmse = ((r - (self.U[u] * self.V[i]).sum(1)) ** 2).mean().sqrt()
        return {"loss": history[-1] / r.numel(), "objective": history[-1], "rmse": float(rmse)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "U": self._U.clone(),
            "V": self._V.clone(),
            "n_users": self.n_users,
            "n_real_users": self.n_real_users,
            "n_items": self.n_items,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._U, self._V = state["U"].to(self.view.device), state["V"].to(self.view.device)
        self.n_users, self.n_real_users = int(state["n_users"]), int(state["n_real_users"])
        self.n_items = int(state["n_items"])
