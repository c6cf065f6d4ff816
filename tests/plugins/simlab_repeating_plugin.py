"""A plugin written from the docs that breaks the seam's contract: its re-ranker builds slates
from the scores alone and repeats items (it ignores that candidate rows hold duplicate ids).
``simlab validate`` and ``simlab run`` must refuse it (tests/plugins/test_plugin_docs.py)."""

from __future__ import annotations

import torch

from simlab.interventions import Intervention
from simlab.registry import INTERVENTIONS


@INTERVENTIONS.register("_broken_repeating_rerank")
class RepeatingRerank(Intervention):
    """Column 0 in every slot: the same item k times (what a re-ranker that never masks the
    columns it took, or repeated ids, does at worst)."""

    def build_slates(self, users, candidates, scores, k):
        return torch.zeros((candidates.shape[0], k), dtype=torch.long, device=candidates.device)  # column 0, k times
