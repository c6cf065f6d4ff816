"""The platform's own slate builder (PolicyFeed): distinct items in policy order."""

from __future__ import annotations

import torch

from simlab.platform.slates import PolicyFeed, columns_to_items, mask_repeats
from simlab.registry import POLICIES


def _slates(candidates: torch.Tensor, scores: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    feed = PolicyFeed(POLICIES.build({"type": "top_k"}), torch.Generator().manual_seed(0))
    columns = feed.build_slates(torch.zeros(candidates.shape[0], dtype=torch.long), candidates, scores, k)
    return columns_to_items(candidates, columns), columns


def test_slates_hold_distinct_items_in_score_order():
    candidates = torch.tensor([[5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]])
    scores = torch.arange(12, 0, -1).float()[None]
    slate, columns = _slates(candidates, scores)
    assert slate.tolist() == [[5, 6, 7, 8, 9]]
    assert columns.tolist() == [[0, 2, 3, 4, 5]]


def test_slates_fill_up_when_the_best_candidates_repeat():
    # the ten best-scored candidates are all item 3: the slate must still hold 5 distinct items
    candidates = torch.tensor([[3] * 10 + [20, 21, 22, 23, 24, 25]])
    scores = torch.cat([torch.full((10,), 9.0), torch.arange(6, 0, -1).float()])[None]
    assert _slates(candidates, scores)[0].tolist() == [[3, 20, 21, 22, 23]]
    few = torch.tensor([[3] * 10 + [20, 21, 20, 21, 20, 21]])
    slate, columns = _slates(few, scores)
    assert slate.tolist() == [[3, 20, 21, -1, -1]]
    assert columns.tolist() == [[0, 10, 11, -1, -1]]


def test_masked_candidates_never_fill_a_slot():
    candidates = torch.tensor([[1, 2, 3, 4]])
    scores = torch.tensor([[4.0, float("-inf"), 2.0, float("-inf")]])
    slate, _ = _slates(candidates, scores, k=3)
    assert slate.tolist() == [[1, 3, -1]]


def test_mask_repeats_keeps_the_first_of_each_item():
    masked = mask_repeats(torch.tensor([[7, 7, 8]]), torch.tensor([[1.0, 5.0, 2.0]]))
    assert masked.tolist() == [[1.0, float("-inf"), 2.0]]
