"""The ``antidote`` intervention: antidote data (Rastegarpanah, Gummadi & Crovella, WSDM 2019) in
the closed loop, for the ``als`` and ``dlrm`` recommenders.

At setup it reserves n' = budget * N synthetic user ids (``recommender.add_synthetic_users``). At
every retrain it hands the synthetic users' rows to training (:meth:`training_rows`, the
training-data hook); every ``every`` retrains it first re-optimises them against the current
platform data and model:

- ``als``: the offline method (:func:`simlab.antidote.optimize`) on the platform's observed
  engagements (the recommender's training window, averaged per (user, item) pair, the users and
  items present in it), with the recommender's rank and lambda, bounds [0, 1], warm-started from
  the previous antidote ratings; the synthetic users rate every item of the window.
- ``dlrm`` (new): the synthetic users are extra user-embedding rows with synthetic impressions of
  a fixed probe set of real items (dense features: the mean real user's counters and the items'
  own; empty history bags). Their relaxed labels y in [0, 1] are optimised by differentiating
  the objective through one unrolled SGD training step on the synthetic impressions
  (:func:`simlab.recommenders.dlrm.trainer.functional_sgd_step`, torch.func), with a line search
  over step sizes and projection onto [0, 1]; the heuristic sets y from the sign of one gradient
  at y = 1/2 (1 where raising the label lowers the objective, else 0). One SGD step stands in for
  the recommender's real update (Adagrad over many mini-batches): the direction, not the magnitude.
  The objective is measured on a fixed probe set of Q real users, never on true opinions:
  ``polarization`` is R_pol of the predicted engagement on the probe users x probe items grid;
  ``individual_unfairness`` is R_indv, the variance over probe users of each one's squared error
  of predicted engagement on their own logged impressions in the training window (the paper's
  per-user MSE over known ratings, with engagements as the ratings).

Shapes: n' synthetic users, P probe items (their impressions), Q probe users.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pydantic
import torch
from torch import Tensor
from torch.func import functional_call

from simlab.antidote import n_antidote, optimize
from simlab.antidote.objectives import mean_squared_error_by_row
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.interventions.base import Intervention, InterventionContext, concat_rows
from simlab.metrics import measures as m
from simlab.recommenders.als import ALSRecommender, observed_entries
from simlab.recommenders.dlrm.recommender import DLRMRecommender
from simlab.recommenders.dlrm.trainer import functional_sgd_step, split_batch, window_rows

SUPPORTED = ("als", "dlrm")


class Antidote(Intervention):
    """Synthetic users whose data is optimised so that the retrained model is less polarised."""

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        budget: float = pydantic.Field(0.01, gt=0, lt=1, description="synthetic users as a fraction of real users")
        objective: Literal["polarization", "individual_unfairness"] = pydantic.Field(
            "polarization", description="what to lower"
        )
        method: Literal["gradient", "heuristic"] = pydantic.Field(
            "gradient", description="projected gradient or one-step heuristic"
        )
        gradient: Literal["approx", "exact"] = pydantic.Field(
            "approx", description="als: the paper's approximate gradient or the exact one through the ALS fixed point"
        )
        every: int = pydantic.Field(1, ge=1, le=100_000, description="re-optimise every this many retrains")
        iterations: int = pydantic.Field(5, ge=1, le=1000, description="gradient iterations per re-optimisation")
        probe_users: int = pydantic.Field(
            200, ge=2, le=100_000, description="dlrm: real users the objective is measured on"
        )
        probe_items: int = pydantic.Field(
            50, ge=2, le=100_000, description="dlrm: real items of the probe and of the synthetic impressions"
        )
        lr: float | None = pydantic.Field(
            None, gt=0, le=1e3, description="dlrm: unrolled step's learning rate (default: the recommender's)"
        )

    settings: Settings

    @staticmethod
    def check_scenario(scenario: dict) -> str | None:
        """Load-time check: a supported recommender."""
        kind = scenario["recommender"].get("type")
        if kind not in SUPPORTED:
            return f"expected recommender.type als or dlrm for the antidote intervention, found {kind}"
        return None

    def setup(self, context: InterventionContext) -> None:
        rec = context.recommender
        if not isinstance(rec, ALSRecommender | DLRMRecommender):
            raise ValueError(f"antidote needs an als or dlrm recommender, found {type(rec).__name__}")
        self.recommender = rec
        self.view = context.view
        self.generator = context.generator
        self.device = context.device
        self.ids = rec.add_synthetic_users(n_antidote(self.settings.budget, self.view.n_users))
        self.retrains = 0
        self.items = torch.zeros(0, dtype=torch.long, device=self.device)  # (D,) items the synthetic users rate
        self.values = torch.zeros(self.ids.numel(), 0, dtype=torch.float64, device=self.device)  # (n', D)
        self.history_objective: list[float] = []
        if isinstance(rec, DLRMRecommender):
            g, view = self.generator, self.view
            self.probe_users = torch.randperm(view.n_users, generator=g, device=g.device)[: self.settings.probe_users]
            self.items = torch.randperm(view.n_items, generator=g, device=g.device)[: self.settings.probe_items]
            self.probe_users, self.items = self.probe_users.to(self.device), self.items.to(self.device)
            self.values = torch.full(
                (self.ids.numel(), self.items.numel()), 0.5, dtype=torch.float64, device=self.device
            )

    # ------------------------------------------------------------------ the hook

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        if self.retrains % self.settings.every == 0:
            self.reoptimise(log, step)
        self.retrains += 1
        return concat_rows(self.inner.training_rows(log, step), self.rows(log, step))

    def reoptimise(self, log: ImpressionLog, step: int) -> None:
        """Re-optimise the synthetic users' data against the current model and platform data."""
        if isinstance(self.recommender, ALSRecommender):
            self._optimise_als(log, step)
        else:
            self._optimise_dlrm(log, step)

    def rows(self, log: ImpressionLog, step: int) -> Rows | None:
        """The synthetic users' rows with the log's columns: each rates each of ``self.items``."""
        k, d = self.values.shape
        if d == 0:
            return None
        user = self.ids.repeat_interleave(d)
        item = self.items.repeat(k)
        n = user.numel()
        return Rows(
            user=user,
            item=item,
            position=torch.zeros(n, dtype=torch.long, device=self.device),
            label=self.values.reshape(-1).float(),
            dense=self._dense(item),
            history=torch.full((n, log.history.shape[1]), -1, dtype=torch.long, device=self.device),
            step=torch.full((n,), step, dtype=torch.long, device=self.device),
        )

    def _dense(self, items: Tensor) -> Tensor:
        """(B, 8) dense features of synthetic impressions: the mean real user's counters and the items' own."""
        view = self.view
        user = view.user_dense(torch.arange(view.n_users, device=self.device)).mean(0, keepdim=True)
        return torch.cat([user.expand(items.numel(), -1), view.item_dense(items)], dim=1).float()

    # ------------------------------------------------------------------ ALS: the offline method

    def _optimise_als(self, log: ImpressionLog, step: int) -> None:
        rec = self.recommender
        assert isinstance(rec, ALSRecommender)
        s = rec.settings
        rows = window_rows(log, step, s.window, s.window_unit)
        if len(rows) == 0:
            return
        u, i, r = observed_entries(rows.user, rows.item, rows.label.double(), max(self.view.n_items, 1))
        users, ui = torch.unique(u, return_inverse=True)
        items, ii = torch.unique(i, return_inverse=True)
        matrix = torch.full((users.numel(), items.numel()), math.nan, dtype=torch.float64, device=self.device)
        matrix[ui, ii] = r
        init = None
        if self.values.shape[1]:  # warm start: previous ratings where the item was rated, else 1/2
            init = torch.full((self.ids.numel(), items.numel()), 0.5, dtype=torch.float64, device=self.device)
            pos = torch.searchsorted(items, self.items).clamp(max=items.numel() - 1)
            hit = items[pos] == self.items
            init[:, pos[hit]] = self.values[:, hit]
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator, device=self.generator.device))
        result = optimize(
            matrix.cpu().numpy(), budget=self.ids.numel(), objective=self.settings.objective,
            method=self.settings.method, rank=s.rank, reg=s.reg, bounds=(0.0, 1.0), seed=seed,
            gradient=self.settings.gradient, max_iter=self.settings.iterations, restarts=1,
            init=None if init is None else init.cpu().numpy(), tol=1e-6, max_sweeps=300,
        )  # fmt: skip
        self.items = items
        self.values = torch.as_tensor(result.antidote, device=self.device)
        self.history_objective.append(result.after[self.settings.objective])

    # ------------------------------------------------------------------ DLRM: through an unrolled step

    def _probe_batch(self) -> tuple[Tensor, dict[str, Tensor]]:
        """Model inputs of the probe grid, Q users x P items (row-major)."""
        view = self.view
        q, p = self.probe_users.numel(), self.items.numel()
        users, items = self.probe_users.repeat_interleave(p), self.items.repeat(q)
        sparse = {
            "user": users,
            "item": items,
            "topic": view.items.topic[items],
            "creator": view.items.creator[items],
            "history": view.history[users],
        }
        return view.dense(users, items).float(), sparse

    def _synthetic_batch(self, labels: Tensor) -> dict[str, Tensor]:
        k, d = self.values.shape
        user, item = self.ids.repeat_interleave(d), self.items.repeat(k)
        view = self.view
        return {
            "user": user,
            "item": item,
            "topic": view.items.topic[item],
            "creator": view.items.creator[item],
            "history": torch.full((user.numel(), view.history.shape[1]), -1, dtype=torch.long, device=self.device),
            "dense": self._dense(item),
            "label": labels.reshape(-1),
        }

    def probe_impressions(self, log: ImpressionLog, step: int) -> dict[str, Tensor]:
        """The probe users' logged impressions in the recommender's training window, as a model
        batch (B rows): the known engagements individual unfairness is measured on."""
        rec = self.recommender
        assert isinstance(rec, DLRMRecommender)
        batch = rec.training_batch(log, step)
        keep = torch.isin(batch["user"], self.probe_users)
        return {k: v[keep] for k, v in batch.items() if k != "history_group"}  # the grouping spans dropped rows

    def probe_objective(self, labels: Tensor, impressions: dict[str, Tensor] | None = None) -> Tensor:
        """The objective on the probe after one SGD step on the synthetic impressions with ``labels``
        (n', P); differentiable with respect to ``labels``. ``individual_unfairness`` needs the probe
        users' ``impressions`` (:meth:`probe_impressions`)."""
        rec = self.recommender
        assert isinstance(rec, DLRMRecommender)
        model = rec.model
        lr = self.settings.lr or rec.settings.lr
        params = {name: p.detach().requires_grad_(True) for name, p in model.named_parameters()}
        new = functional_sgd_step(model, params, self._synthetic_batch(labels.float()), lr)
        if self.settings.objective == "polarization":
            with model.sparse_arch.differentiable_twice():
                predicted = torch.sigmoid(functional_call(model, new, self._probe_batch()))
            return m.rpol_t(predicted.reshape(self.probe_users.numel(), -1))
        if impressions is None:
            raise ValueError("individual_unfairness is measured on the probe users' impressions; pass them")
        with model.sparse_arch.differentiable_twice():
            predicted = torch.sigmoid(functional_call(model, new, split_batch(impressions)))
        users, row = torch.unique(impressions["user"], return_inverse=True)
        losses, _ = mean_squared_error_by_row(predicted, impressions["label"], row, users.numel())
        return m.unfairness_individual_t(losses)

    def _gradient(self, labels: Tensor, impressions: dict[str, Tensor] | None) -> tuple[float, Tensor]:
        y = labels.detach().clone().requires_grad_(True)
        value = self.probe_objective(y, impressions)
        (g,) = torch.autograd.grad(value, y)
        return float(value.detach()), g

    def _optimise_dlrm(self, log: ImpressionLog, step: int) -> None:
        rec = self.recommender
        assert isinstance(rec, DLRMRecommender)
        rec.sync_catalog()
        impressions = None
        if self.settings.objective == "individual_unfairness":
            impressions = self.probe_impressions(log, step)
            if torch.unique(impressions["user"]).numel() < 2:  # no variance to lower yet
                return
        bags = rec.model.sparse_arch.embedding_bags
        sparse = {name: bag.sparse for name, bag in bags.items()}
        rec.model.sparse_arch.set_sparse_grad(False)  # dense table gradients: differentiable twice
        try:
            if self.settings.method == "heuristic":
                _, g = self._gradient(torch.full_like(self.values, 0.5), impressions)
                if bool(torch.isfinite(g).all()):
                    self.values = (g < 0).to(self.values.dtype)
                return
            y = self.values.float()
            value, g = self._gradient(y, impressions)
            if not math.isfinite(value):  # e.g. a saturated model: keep the current data, never hand on NaN
                return
            for _ in range(self.settings.iterations):
                top = float(g.abs().max())
                if top == 0 or not math.isfinite(top):
                    break
                trials = []
                for alpha in (1.0 / top) * np.array([1.0, 0.3, 0.1, 0.03]):
                    y_try = (y - float(alpha) * g).clamp(0, 1)
                    with torch.enable_grad():
                        trial = float(self.probe_objective(y_try, impressions).detach())
                    if math.isfinite(trial):
                        trials.append((trial, y_try))
                if not trials:
                    break
                best, y_best = min(trials, key=lambda t: t[0])
                if best >= value:
                    break
                y, value = y_best, best
                _, g = self._gradient(y, impressions)
            self.values = y.double()
            self.history_objective.append(value)
        finally:
            for name, bag in bags.items():
                bag.sparse = sparse[name]

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"retrains": self.retrains, "ids": self.ids, "items": self.items, "values": self.values}
        if isinstance(self.recommender, DLRMRecommender):
            state["probe_users"] = self.probe_users
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.retrains = int(state["retrains"])
        self.ids, self.items, self.values = state["ids"], state["items"], state["values"]
        if "probe_users" in state:
            self.probe_users = state["probe_users"]
