"""Learning diagnostics as pure functions: what a recommender learned, against what could be learned.

A feed's predictions can look accurate for reasons that are not learning who engages with what:
engagement falls with the slate position, so any score that follows the position (every ranked
feed's does) gets a high AUC when impressions of all positions are pooled. These measures remove
that confound and compare the learner with the Bayes ceiling, the same measure computed from the
true engagement probabilities (docs/learning.md):

- :func:`auc_within_t`: AUC within each slate position, averaged over positions;
- :func:`learned_share_t`: (AUC - 1/2) / (ceiling - 1/2), 0 for a feed that learned nothing and 1
  for one that ranks as well as the truth;
- :func:`interaction_share_t`: the share of a user x item score matrix's variance that is
  user-by-item (personalisation) rather than a user or an item main effect;
- :func:`ndcg_t`: NDCG@k of the shown slates under the true engagement probabilities, relative
  to the best slate of the same candidates (Jarvelin & Kekalainen, TOIS 2002).

Each returns a 0-dim tensor on the input's device (NaN where undefined); the float forms without
``_t`` are exported by :mod:`simlab.metrics`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from simlab.metrics.arrays import ArrayLike, as_real, as_tensor, float_form
from simlab.metrics.measures import grouped_auc_t

__all__ = [
    "auc_within",
    "auc_within_t",
    "interaction_share",
    "interaction_share_t",
    "learned_share",
    "learned_share_t",
    "ndcg",
    "ndcg_t",
]


def auc_within_t(labels: ArrayLike, scores: ArrayLike, groups: ArrayLike) -> Tensor:
    """Mean over groups of the ROC AUC of ``scores`` for ``labels`` within each group.

    labels, scores, groups: (I,). Groups with only one class are left out; NaN if none is left.
    With the slate position as the group, a score that only follows the position gets 1/2.

    >>> float(auc_within_t([1, 0, 1, 0], [0.9, 0.1, 0.2, 0.8], [0, 0, 1, 1]))
    0.5
    """
    s = as_real(scores).reshape(-1)
    values = grouped_auc_t(labels, s, as_tensor(groups, s.device))
    values = values[~values.isnan()]
    if not values.numel():
        return torch.tensor(math.nan, dtype=s.dtype, device=s.device)
    return values.to(s.dtype).mean()


def learned_share_t(auc: ArrayLike, ceiling: ArrayLike) -> Tensor:
    """(auc - 1/2) / (ceiling - 1/2): the share of the learnable ranking signal a model has learned.

    NaN when the ceiling is at most 1/2 (nothing to learn).

    >>> float(learned_share_t(0.65, 0.8))
    0.5
    """
    a = as_real(auc).reshape(())
    c = as_real(ceiling, a.device).reshape(())
    share = (a - 0.5) / (c - 0.5)
    return torch.where(c > 0.5, share, torch.full_like(share, math.nan))


def interaction_share_t(matrix: ArrayLike) -> Tensor:
    """Share of the variance of a (U, I) score matrix that is user-by-item interaction.

    Two-way decomposition S_ui = m + a_u + b_i + e_ui (row and column means, as in a two-way
    ANOVA without replication); returns sum e^2 / sum (S - m)^2. 0 for scores that add a user
    effect to an item effect (a popularity feed), near 1 for scores that depend only on the
    pair; NaN for a constant matrix.

    >>> float(interaction_share_t([[1.0, 2.0], [3.0, 4.0]]))
    0.0
    >>> float(interaction_share_t([[1.0, 0.0], [0.0, 1.0]]))
    1.0
    """
    s = as_real(matrix)
    centred = s - s.mean()
    interaction = centred - centred.mean(dim=1, keepdim=True) - centred.mean(dim=0, keepdim=True)
    total = centred.pow(2).sum()
    # a constant matrix leaves only rounding error: call it constant below 1e-12 of its scale
    varies = total > 1e-12 * s.pow(2).sum()
    return torch.where(varies, interaction.pow(2).sum() / total, torch.full_like(total, math.nan))


def top_values(x: Tensor, k: int) -> Tensor:
    """The k largest values of each row of (R, C) ``x``, largest first: ``torch.topk(x, k).values``.

    On the CPU, for float32 or float64 rows without NaN, numpy's partition and a sort of the k
    kept (about 4x faster than torch's topk for 600 x 100, k = 10); the same values either way.

    Examples:
        >>> top_values(torch.tensor([[0.125, 0.75, 0.25], [0.0, 0.5, 0.5]]), 2).tolist()
        [[0.75, 0.25], [0.5, 0.5]]
    """
    numpy_sorts = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    if not numpy_sorts or k == 0 or k >= x.shape[1] or bool(x.isnan().any()):
        return torch.topk(x, k, dim=1).values
    negated = np.negative(x.numpy())  # ascending order of -x is descending order of x
    kept = np.partition(negated, k - 1, axis=1)[:, :k]
    return torch.from_numpy(np.negative(np.sort(kept, axis=1)))


def ndcg_t(shown_gains: ArrayLike, candidate_gains: ArrayLike) -> Tensor:
    """Mean NDCG@k of the shown slates relative to the best slate of each row's candidates.

    shown_gains (A, k): the gain (true engagement probability) of each shown item in slate
    order, 0 for an empty slot; candidate_gains (A, C): the gains of the row's distinct
    candidates (0 for repeats). DCG = sum_r gain_r / log2(r + 2); the ideal DCG sorts the
    candidates' gains and keeps the best k. Rows whose ideal DCG is 0 are left out.

    >>> round(float(ndcg_t([[0.1, 0.5]], [[0.5, 0.1, 0.0]])), 4)
    0.7378
    """
    shown = as_real(shown_gains)
    candidates = as_tensor(candidate_gains, shown.device)
    k = shown.shape[1]
    discount = 1.0 / torch.log2(torch.arange(k, device=shown.device, dtype=shown.dtype) + 2)
    dcg = (shown * discount).sum(dim=1)
    # the best k before widening to the computing dtype (exact and order-preserving): the same
    # values, with one conversion of A x k gains instead of A x C
    candidates = candidates if candidates.is_floating_point() else candidates.to(shown.dtype)
    best = top_values(candidates, min(k, candidates.shape[1])).to(shown.dtype)
    ideal = (best * discount[: best.shape[1]]).sum(dim=1)
    keep = ideal > 0
    if not bool(keep.any()):
        return torch.tensor(math.nan, dtype=shown.dtype, device=shown.device)
    return (dcg[keep] / ideal[keep]).mean()


auc_within = float_form(auc_within_t)
learned_share = float_form(learned_share_t)
interaction_share = float_form(interaction_share_t)
ndcg = float_form(ndcg_t)
