"""The objectives antidote data minimises, on the real users' raw predicted ratings X^ (n, d).

Rastegarpanah, Gummadi & Crovella (WSDM 2019), Sec. 4:

- polarization R_pol = (1/d) sum_j (1/n) sum_i (x^_ij - mu_j)^2 (their Eq. 3), the mean over
  items of the variance over users (:func:`simlab.metrics.measures.rpol_t`);
- individual unfairness R_indv = (1/n^2) sum_{i<l} (l_i - l_l)^2, l_i the MSE of user i's known
  ratings (Eq. 6): the variance of the per-user losses
  (:func:`simlab.metrics.measures.unfairness_individual_t`);
- group unfairness R_grp = (1/g^2) sum_{g<h} (L_g - L_h)^2, L_g the MSE over group g's known
  ratings (Eq. 7): the variance of the group losses, the value of
  :func:`simlab.metrics.measures.unfairness_group_t` weighted by entry counts (computed here with
  ``index_add``, which autograd differentiates, where that function's ``bincount`` is not).

All are evaluated on raw predictions (never clamped to the rating range), as the paper does, and
are differentiable torch functions of X^ (the antidote gradient backpropagates through them).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from simlab.antidote.als_fit import Entries
from simlab.metrics import measures as m

Objective = Literal["polarization", "individual_unfairness", "group_unfairness"]
OBJECTIVES: tuple[str, ...] = ("polarization", "individual_unfairness", "group_unfairness")


def mean_squared_error_by_row(pred: Tensor, target: Tensor, rows: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Per-row MSE of entries ``pred`` vs ``target`` (E,) with row ids ``rows`` (E,) in [0, n):
    the losses (n,), 0 for a row without entries, and the entry counts (n,). Differentiable with
    respect to ``pred`` (``index_add``).
    """
    err = (pred - target.to(pred.dtype)) ** 2
    total = pred.new_zeros(n).index_add(0, rows, err)
    count = torch.bincount(rows, minlength=n).to(pred.dtype)
    return total / count.clamp(min=1), count


def user_losses(pred: Tensor, entries: Entries) -> tuple[Tensor, Tensor]:
    """Per-user MSE over the known entries, (n,), and the entry counts (n,); 0 where a user has none."""
    return mean_squared_error_by_row(pred[entries.rows, entries.cols], entries.values, entries.rows, entries.n)


class Measures:
    """Evaluates the objectives (and the RMSE) of predictions X^ (n real users, d items).

    ``train`` are the real users' known ratings (the unfairness losses are measured on them, as in
    the paper); ``held_out`` (optional) are ratings hidden from the fit, on which the RMSE is then
    measured (else on ``train``); ``groups`` (n,) integer labels enable group unfairness.
    """

    def __init__(self, train: Entries, groups: Tensor | None = None, held_out: Entries | None = None):
        self.train, self.groups, self.held_out = train, groups, held_out
        self.has_ratings = torch.bincount(train.rows, minlength=train.n) > 0

    def objective(self, name: str, pred: Tensor) -> Tensor:
        """The named objective of ``pred`` (n, d), a differentiable scalar."""
        if name == "polarization":
            return m.rpol_t(pred)
        loss, count = user_losses(pred, self.train)
        keep = self.has_ratings
        if name == "individual_unfairness":
            return m.unfairness_individual_t(loss[keep])
        if name == "group_unfairness":
            if self.groups is None:
                raise ValueError("objective 'group_unfairness' needs groups (an (n,) array of group labels)")
            _, g = torch.unique(self.groups[keep], return_inverse=True)
            weight = count[keep]
            total = loss.new_zeros(int(g.max()) + 1).index_add(0, g, weight * loss[keep])
            group_mse = total / loss.new_zeros(total.shape).index_add(0, g, weight)
            return group_mse.var(correction=0)
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")

    def rmse(self, pred: Tensor) -> Tensor:
        e = self.held_out if self.held_out is not None else self.train
        return ((pred[e.rows, e.cols] - e.values.to(pred.dtype)) ** 2).mean().sqrt()

    def report(self, pred: Tensor) -> dict[str, float]:
        """polarization, individual_unfairness, group_unfairness (with groups) and rmse of ``pred``."""
        with torch.no_grad():
            out = {name: float(self.objective(name, pred)) for name in OBJECTIVES[:2]}
            if self.groups is not None:
                out["group_unfairness"] = float(self.objective("group_unfairness", pred))
            out["rmse"] = float(self.rmse(pred))
        return out
