"""Ranking policies: turn candidate scores (A, C) into slates (A, k) of column indices."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from simlab.config import PolicySettings


def top_k(scores: Tensor, k: int) -> Tensor:
    """(A, C) -> (A, k) column indices of the k largest scores per row, best first.

    On CPU this uses numpy's introselect (argpartition) and then sorts only the k picked:
    about 2.5x faster than torch.topk for slate-sized k, and ranking is the loop's largest cost.
    """
    if scores.device.type != "cpu" or k >= scores.shape[1] or scores.shape[0] == 0:
        return torch.topk(scores, k, dim=1).indices
    negated = -scores.detach().numpy()
    picked = np.argpartition(negated, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(negated, picked, axis=1), axis=1, kind="stable")
    return torch.from_numpy(np.take_along_axis(picked, order, axis=1))


def gumbel_top_k(logits: Tensor, k: int, g: torch.Generator) -> Tensor:
    """k draws without replacement from softmax(logits) per row (Plackett–Luce), via the
    Gumbel-top-k trick (Kool, van Hoof & Welling 2019)."""
    u = torch.rand(logits.shape, generator=g, device=logits.device).clamp_(1e-20, 1.0)
    return torch.topk(logits - torch.log(-torch.log(u)), k, dim=1).indices


def select(scores: Tensor, k: int, settings: PolicySettings, g: torch.Generator) -> Tensor:
    """Slate of k candidates per row; masked candidates carry score -inf and come last.

    top_k: the k best. epsilon_greedy: with probability epsilon a user's whole slate is a
    uniformly random k of the valid candidates, else top-k. softmax: Plackett–Luce sampling
    with probabilities softmax(score / temperature).
    """
    k = min(k, scores.shape[1])
    if settings.type == "top_k":
        return top_k(scores, k)
    if settings.type == "softmax":
        return gumbel_top_k(scores / settings.temperature, k, g)
    explore = torch.rand(scores.shape[0], 1, generator=g, device=scores.device) < settings.epsilon
    random_keys = torch.rand(scores.shape, generator=g, device=scores.device)
    random_keys = torch.where(torch.isfinite(scores), random_keys, float("-inf"))
    return top_k(torch.where(explore, random_keys, scores), k)
