"""The ``antidote`` intervention: antidote data (Rastegarpanah, Gummadi & Crovella, WSDM 2019) in
the closed loop, optimised against the training the loop actually runs (issue 25).

At setup it reserves n' = budget * N synthetic user ids (``add_synthetic_users``, their rows
drawn from this intervention's own random stream, so that a variant with antidote and its
baseline draw the same numbers until the first antidote rows reach training). At every retrain
it hands the synthetic users' rows to training (:meth:`training_rows`); every ``every``
retrains it first re-optimises them. Each synthetic user rates every item of the retrain's
window (D items) with a label y in [0, 1].

The recommender is reached only through the :class:`~simlab.core.protocols.AntidoteTarget`
capability (implemented beside the ALS and the DLRM):

- **judged on the deployed procedure**: a candidate Y (n', D) is scored by the retrain the loop
  would run now with those rows (``trial_retrain``: the same window, sweeps or optimiser state,
  learning rates, mini-batch shuffle and random state), then restored. The candidates are **no
  antidote**, the neutral start, the previous antidote (warm start) and every trial of the
  search; the best on the objective wins, so the result is never worse than adding nothing on
  the deployed model (measured on the probe).
- **differentiated through that procedure**: the gradient dR/dY is taken through ``unrolled``:
  the ALS's own warm-started sweeps (``n_iters`` per retrain; exact), the DLRM's Adagrad with its
  accumulators and learning rates over the retrain's real mini-batches (the first ``unroll``).
- **neutral start**: y_kj = the mean engagement with item j in the window (what an average user
  does: no opinion about who likes what).
- **steps scaled to the label range**: trial steps move the largest coordinate by 0.5, 0.2 and
  0.05 of the range [0, 1], projected back onto it.
- ``horizon`` > 1 (beyond the paper): candidates are judged on R after ``horizon`` retrains in
  a row on the current log (the loop's next retrains before new data arrive; the ALS's gradient
  unrolls all their sweeps, the DLRM's only the first retrain's mini-batches).

Objectives, on the probe that the ``rpol`` metric uses (one probe: Q users x P items, drawn
once per replicate from the ``probe`` stream): ``polarization`` is R_pol of the predictions on
the grid (their Eq. 3); ``individual_unfairness`` is R_indv, the variance over probe users of
each one's mean squared error on their own logged impressions in the window (their Eq. 6, with
engagements as the ratings). Either way the intervention records the **antidote effect** of
each retrain, R_pol(with the rows) / R_pol(without, same random state) - 1, read by the
``antidote_effect`` metric.

Shapes: n' synthetic users, D items they rate, Q probe users, P probe items.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import pydantic
import torch
from torch import Tensor

from simlab.antidote import n_antidote
from simlab.antidote.objectives import mean_squared_error_by_row
from simlab.core.protocols import AntidoteTarget
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.interventions.base import Intervention, InterventionContext, concat_rows
from simlab.metrics import measures as m
from simlab.registry import RECOMMENDERS

STEP_FRACTIONS = (0.5, 0.2, 0.05)  # trial steps: largest label move as a share of the range [0, 1]


class Antidote(Intervention):
    """Synthetic users whose labels are optimised so that the retrained model is less polarised."""

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        budget: float = pydantic.Field(0.01, gt=0, lt=1, description="synthetic users as a fraction of real users")
        objective: Literal["polarization", "individual_unfairness"] = pydantic.Field(
            "polarization", description="what to lower"
        )
        method: Literal["gradient", "heuristic"] = pydantic.Field(
            "gradient", description="projected gradient with line search, or the one-step sign heuristic"
        )
        every: int = pydantic.Field(1, ge=1, le=100_000, description="re-optimise every this many retrains")
        iterations: int = pydantic.Field(3, ge=1, le=1000, description="gradient iterations per re-optimisation")
        horizon: int = pydantic.Field(
            1, ge=1, le=100, description="judge the antidote on R after this many retrains in a row (1: the paper's)"
        )
        unroll: int = pydantic.Field(
            8, ge=1, le=100_000, description="dlrm: mini-batches of the retrain unrolled for the gradient"
        )

    settings: Settings

    @staticmethod
    def check_scenario(scenario: dict) -> str | None:
        """Load-time check: the recommender declares the antidote capability."""
        kind = scenario["recommender"].get("type")
        if kind not in RECOMMENDERS:
            return None  # the recommender's own check reports an unknown type
        if not issubclass(RECOMMENDERS.get(kind), AntidoteTarget):
            return f"expected a recommender with the antidote capability (als, dlrm) for the antidote intervention, found {kind}"
        return None

    def setup(self, context: InterventionContext) -> None:
        rec = context.recommender
        if not isinstance(rec, AntidoteTarget):
            raise ValueError(f"antidote needs a recommender with the antidote capability, found {type(rec).__name__}")
        if context.probe is None:
            raise ValueError("antidote needs the run's probe set (InterventionContext.probe)")
        self.recommender: AntidoteTarget = rec
        self.view = context.view
        self.device = context.device
        self.ids = rec.add_synthetic_users(n_antidote(self.settings.budget, self.view.n_users), context.generator)
        self.probe_users, self.probe_items = (p.to(self.device) for p in context.probe)
        self.retrains = 0
        self.items = torch.zeros(0, dtype=torch.long, device=self.device)  # (D,) items the synthetic users rate
        self.values = torch.zeros(self.ids.numel(), 0, device=self.device)  # (n', D) their labels
        self.effects: dict[int, float] = {}  # retrain step -> R_pol with / without the rows - 1
        self.history_objective: list[float] = []

    # ------------------------------------------------------------------ the hook

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        if self.retrains % self.settings.every == 0:
            self.reoptimise(log, step)
        else:
            self.measure_effect(log, step)
        self.retrains += 1
        return concat_rows(self.inner.training_rows(log, step), self.rows(step))

    def rows(self, step: int, values: Tensor | None = None) -> Rows | None:
        """The synthetic users' rows: each rates each of ``self.items`` with ``values`` (n', D),
        default the current antidote; None when there is none.
        """
        values = self.values if values is None else values
        k, d = values.shape
        if d == 0:
            return None
        user = self.ids.repeat_interleave(d)
        item = self.items.repeat(k)
        return Rows.synthetic(user, item, values.reshape(-1), step, self.view.history.shape[1], dense=self._dense(item))

    def _dense(self, items: Tensor) -> Tensor:
        """(B, 8) dense features of synthetic impressions: the mean real user's counters and the items' own."""
        view = self.view
        user = view.user_dense(torch.arange(view.n_users, device=self.device)).mean(0, keepdim=True)
        return torch.cat([user.expand(items.numel(), -1), view.item_dense(items)], dim=1).float()

    # ------------------------------------------------------------------ the objective on the probe

    def probe_grid(self, step: int) -> Rows:
        """The probe grid, Q users x P items row-major, with the features the platform has now."""
        view = self.view
        q, p = self.probe_users.numel(), self.probe_items.numel()
        users = view.platform_users(self.probe_users).repeat_interleave(p)
        items = self.probe_items.repeat(q)
        return Rows(
            user=users,
            item=items,
            position=torch.zeros_like(users),
            label=torch.zeros(users.numel(), device=self.device),
            step=torch.full_like(users, step),
            dense=view.dense(users, items).float(),
            history=view.history[users],
        )

    def measures(self, predict: Any, grid: Rows, impressions: Rows | None) -> tuple[Tensor, Tensor]:
        """(objective, R_pol) of a predictor rows -> (R,) raw predictions: R_pol on the probe grid
        and, for ``individual_unfairness``, R_indv on the probe users' ``impressions``.
        """
        rpol = m.rpol_t(predict(grid).double().reshape(self.probe_users.numel(), -1))
        if self.settings.objective == "polarization":
            return rpol, rpol
        assert impressions is not None
        predicted = predict(impressions).double()
        users, row = torch.unique(impressions.user, return_inverse=True)
        losses, _ = mean_squared_error_by_row(predicted, impressions.label, row, users.numel())
        return m.unfairness_individual_t(losses), rpol

    def judge(self, log: ImpressionLog, step: int, values: Tensor | None, probe: tuple) -> tuple[float, float]:
        """(objective, R_pol) on the probe after the deployed retrain with ``values`` (None: no antidote)."""
        rows = None if values is None else self.rows(step, values)
        with self.recommender.trial_retrain(log, step, rows, self.settings.horizon), torch.no_grad():
            objective, rpol = self.measures(self.recommender.predict_rows, *probe)
        return float(objective), float(rpol)

    def gradient(self, log: ImpressionLog, step: int, values: Tensor, probe: tuple) -> Tensor:
        """(n', D) d objective / d labels through the unrolled retrain."""
        y = values.detach().clone().requires_grad_(True)
        rows = self.rows(step, y)
        assert rows is not None
        s = self.settings
        with torch.enable_grad():
            predict = self.recommender.unrolled(log, step, rows, s.horizon, s.unroll)
            objective, _ = self.measures(predict, *probe)
            (g,) = torch.autograd.grad(objective, y)
        return g

    # ------------------------------------------------------------------ the search

    def reoptimise(self, log: ImpressionLog, step: int) -> None:
        """Re-optimise the synthetic users' labels against the deployed retrain (module docstring)."""
        window = self.recommender.training_window(log, step)
        if len(window) == 0:
            self.items = torch.zeros(0, dtype=torch.long, device=self.device)
            self.values = torch.zeros(self.ids.numel(), 0, device=self.device)
            return
        items, inverse = torch.unique(window.item, return_inverse=True)
        engaged = torch.zeros(items.numel(), device=self.device).index_add(0, inverse, window.label.float())
        shown = torch.bincount(inverse, minlength=items.numel()).float()
        neutral = (engaged / shown).expand(self.ids.numel(), -1).clone()  # (n', D)
        previous = self._previous_on(items, neutral)
        self.items = items
        impressions = self._probe_impressions(window)
        probe = (self.probe_grid(step), impressions)
        if impressions is not None and torch.unique(impressions.user).numel() < 2:
            self.values = torch.zeros(self.ids.numel(), 0, device=self.device)  # no variance to lower yet
            self.effects[step] = 0.0
            return
        none_objective, none_rpol = self.judge(log, step, None, probe)
        judged: list[tuple[float, float, Tensor | None]] = [(none_objective, none_rpol, None)]

        def consider(values: Tensor) -> tuple[float, float, Tensor]:
            objective, rpol = self.judge(log, step, values, probe)
            entry = (objective, rpol, values)
            if math.isfinite(objective):
                judged.append(entry)
            return entry

        start = min([consider(neutral)] + ([consider(previous)] if previous is not None else []), key=lambda e: e[0])
        current_value, current = start[0], start[2]
        if self.settings.method == "heuristic":  # the paper's sign heuristic, from the neutral point
            g = self.gradient(log, step, neutral, probe)
            if bool(torch.isfinite(g).all()):
                consider((g < 0).to(neutral.dtype))
        else:
            for _ in range(self.settings.iterations):
                g = self.gradient(log, step, current, probe)
                top = float(g.abs().max())
                if top == 0 or not math.isfinite(top):
                    break
                trials = [consider((current - (fraction / top) * g).clamp(0, 1)) for fraction in STEP_FRACTIONS]
                best = min(trials, key=lambda e: e[0] if math.isfinite(e[0]) else math.inf)
                if not best[0] < current_value:
                    break
                current_value, current = best[0], best[2]
        objective, rpol, values = min(judged, key=lambda e: e[0])
        self.values = torch.zeros(self.ids.numel(), 0, device=self.device) if values is None else values
        if values is None:
            self.items = torch.zeros(0, dtype=torch.long, device=self.device)
        self.history_objective.append(objective)
        self.effects[step] = rpol / none_rpol - 1 if none_rpol > 0 else math.nan

    def measure_effect(self, log: ImpressionLog, step: int) -> None:
        """The antidote effect of a retrain that keeps the current labels (``every`` > 1)."""
        window = self.recommender.training_window(log, step)
        probe = (self.probe_grid(step), self._probe_impressions(window))
        _, without = self.judge(log, step, None, probe)
        _, with_ = self.judge(log, step, None if self.values.shape[1] == 0 else self.values, probe)
        self.effects[step] = with_ / without - 1 if without > 0 else math.nan

    def _probe_impressions(self, window: Rows) -> Rows | None:
        """The probe users' logged impressions in the window (individual unfairness only)."""
        if self.settings.objective != "individual_unfairness":
            return None
        return window.select(torch.isin(window.user, self.view.platform_users(self.probe_users)))

    def _previous_on(self, items: Tensor, neutral: Tensor) -> Tensor | None:
        """The previous antidote labels on the new ``items`` (neutral where an item is new), or None."""
        if self.values.shape[1] == 0:
            return None
        out = neutral.clone()
        pos = torch.searchsorted(items, self.items).clamp(max=items.numel() - 1)
        hit = items[pos] == self.items
        out[:, pos[hit]] = self.values[:, hit].to(out.dtype)
        return out

    def effect_between(self, after: int, until: int) -> float:
        """The antidote effect of the latest retrain at a step in (after, until]; NaN if none."""
        steps = [s for s in self.effects if after < s <= until]
        return self.effects[max(steps)] if steps else math.nan

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        effects = torch.tensor(sorted(self.effects.items()), dtype=torch.float64).reshape(-1, 2)
        return {
            "retrains": self.retrains,
            "ids": self.ids,
            "items": self.items,
            "values": self.values,
            "effects": effects,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.retrains = int(state["retrains"])
        self.ids, self.items, self.values = state["ids"], state["items"], state["values"]
        self.effects = {int(s): float(e) for s, e in state["effects"].tolist()}
