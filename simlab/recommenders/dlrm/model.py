"""The DLRM model of Naumov et al. 2019 (arXiv:1906.00091): the four stages of
:mod:`simlab.recommenders.dlrm.arches` composed, and its factored scoring entry point.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from simlab.recommenders.dlrm.arches import (
    HISTORY_FEATURES,
    SPARSE_FEATURES,
    DenseArch,
    InteractionArch,
    OverArch,
    PositionArch,
    SparseArch,
)


class DLRM(nn.Module):
    """Deep Learning Recommendation Model (Naumov et al. 2019) over simlab's observable features.

    ``forward(dense (B, n_dense), sparse {feature: ids}) -> logits (B,)`` with dense =
    [user_dense, item_dense]. ``dense_features`` chooses what the bottom MLP reads: ``"all"``
    (both halves, so the dense vector belongs to the (user, item) pair) or ``"user"`` (the
    user's half only: a per-request context, as in production ranking, so the dense vector is
    computed once per user and the item's dense half is not used). Either way F = S + 1.

    ``positions`` > 0 adds PAL's position tower (:class:`PositionArch`, Guo et al. 2019) as
    ``position_arch``: trained with the model (the loss reads it), never used by ``forward``,
    which is the reference DLRM's and predicts engagement at the top position.

    ``user_id`` False drops the user-id table: a user is then only the history bag and the dense
    counters (:data:`~simlab.recommenders.dlrm.arches.HISTORY_FEATURES`, F = 5), as in YouTube's
    candidate model (Covington, Adams & Sargin, RecSys 2016), so two users with the same
    history and counters get the same scores and wiping a history changes them.
    """

    def __init__(
        self,
        rows: dict[str, int],
        n_user_dense: int,
        n_item_dense: int,
        embedding_dim: int = 16,
        bottom_mlp: Sequence[int] = (64, 16),
        top_mlp: Sequence[int] = (64, 32, 1),
        interaction: str = "dot",
        self_interaction: bool = False,
        share_history: bool = False,
        init_scale: float = 0.05,
        dense_features: str = "all",
        pooling: str = "mean",
        init: str = "scale",
        positions: int = 0,
        user_id: bool = True,
        *,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        device = torch.device(device)
        if interaction == "dot" and bottom_mlp[-1] != embedding_dim:
            raise ValueError(f"dot interaction needs bottom_mlp[-1] == embedding_dim ({embedding_dim})")
        if top_mlp[-1] != 1:
            raise ValueError("top_mlp must end in 1 (one logit)")
        if dense_features not in ("all", "user"):
            raise ValueError(f"dense_features must be 'all' or 'user', not {dense_features!r}")
        self.n_user_dense = n_user_dense
        self.dense_features = dense_features
        n_bottom_in = n_user_dense + (n_item_dense if dense_features == "all" else 0)
        features = SPARSE_FEATURES if user_id else HISTORY_FEATURES
        self.sparse_arch = SparseArch(
            rows, embedding_dim, generator, device, share_history, init_scale, pooling, init, features
        )
        self.dense_arch = DenseArch(n_bottom_in, bottom_mlp, generator, device)
        self.inter_arch = InteractionArch(
            interaction, len(features), embedding_dim, self_interaction, dense_dim=bottom_mlp[-1]
        )
        self.over_arch = OverArch(self.inter_arch.out_features, top_mlp, generator, device)
        self.position_arch = PositionArch(positions, device) if positions > 0 else None

    @property
    def dense_per_user(self) -> bool:
        return self.dense_features == "user"

    @property
    def sparse_features(self) -> tuple[str, ...]:
        """The sparse features this model reads, in interaction order (declared by its SparseArch)."""
        return self.sparse_arch.features

    @property
    def has_user_id(self) -> bool:
        """Whether the model has a user-id embedding table."""
        return "user" in self.sparse_features

    def forward(self, dense: Tensor, sparse: dict[str, Tensor]) -> Tensor:
        """(B, n_dense), {user, item, topic, creator: (B,), history: (B, H)} -> logits (B,)
        (``user`` is not read without a user-id table).
        """
        x = self.dense_arch(dense[:, : self.n_user_dense] if self.dense_per_user else dense)
        e = self.sparse_arch(sparse)
        return self.over_arch(self.inter_arch(x, e))

    def factored_forward(
        self,
        user_dense: Tensor,
        user_sparse: dict[str, Tensor],
        item_dense: Tensor,
        item_sparse: dict[str, Tensor],
        candidates: Tensor,
        pairs_per_chunk: int | None = None,
    ) -> Tensor:
        """(A, C) logits equal to ``forward`` on every (user, candidate) pair, computed by
        :func:`simlab.recommenders.dlrm.scorer.factored_logits` (see there for the shapes).
        """
        from simlab.recommenders.dlrm.scorer import factored_logits

        return factored_logits(self, user_dense, user_sparse, item_dense, item_sparse, candidates, pairs_per_chunk)

    @torch.no_grad()
    def item_embeddings(self, n_items: int) -> Tensor:
        """(M, d) the item table's live rows."""
        return self.sparse_arch.weight("item")[:n_items].detach().clone()
