"""The DLRM model of Naumov et al. 2019 (arXiv:1906.00091), one module per stage as in torchrec.

    SparseArch       ids -> embedding vectors        (B, S, d)   S = 5 sparse features
    DenseArch        bottom MLP over dense features  (B, d)
    InteractionArch  pairwise dots (or concatenation) of the F = S + 1 vectors -> (B, top_in)
    OverArch         top MLP -> one logit            (B,)
    PositionArch     slate position -> log-probability of examination (B,), training only (PAL)
The model that composes them is :class:`simlab.recommenders.dlrm.model.DLRM`; its factored
scorer (user-side and item-side work once each) is :mod:`simlab.recommenders.dlrm.scorer`.

Shapes: N users, M items, A active users, C candidates, B batch, H history length,
d embedding dim, F = S + 1 interacting vectors. The loss and the trainer live in
:mod:`simlab.recommenders.dlrm.trainer`, outside the model.

Sparse features, in the order they interact: ``user`` (user id), ``item`` (item id),
``topic``, ``creator`` and ``history`` (the user's last H engaged items, a multi-hot bag, mean
pooled by default or summed as in the reference; -1 entries are padding and excluded). A model
without a user-id table (``HISTORY_FEATURES``, the DLRM's ``user_id: false``) knows a user only by
the history bag and the dense counters, as YouTube's candidate model does (Covington, Adams &
Sargin, RecSys 2016). Each model declares its features (``SparseArch.features``); every stage
reads the model's own list. By
default the history bag has its own table (``history_table="own"``), as in the reference where
every sparse feature has one;
``"shared"`` pools the item table's rows instead (fewer parameters, history and candidate
live in one space).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SPARSE_FEATURES = ("user", "item", "topic", "creator", "history")  # with a user-id table (the default)
HISTORY_FEATURES = ("item", "topic", "creator", "history")  # without one: users known by their history
USER_SIDE = ("user", "history")  # known once per active user
ITEM_SIDE = ("item", "topic", "creator")  # known once per candidate item


def interaction_width(kind: str, n_features: int, dim: int, self_interaction: bool = False) -> int:
    """Top-MLP input width for F interacting vectors of width d.

    dot: d + F(F-1)/2 (strict lower triangle), with self-interaction d + F(F+1)/2; cat: F*d.
    """
    if kind == "cat":
        return n_features * dim
    pairs = n_features * (n_features + 1) // 2 if self_interaction else n_features * (n_features - 1) // 2
    return dim + pairs


def _normal(shape: Sequence[int], std: float, generator: torch.Generator, device: torch.device) -> Tensor:
    # draw on the generator's device so CPU and CUDA runs are each reproducible from their seed
    return (torch.randn(tuple(shape), generator=generator, device=generator.device) * std).to(device)


def _uniform(shape: Sequence[int], bound: float, generator: torch.Generator, device: torch.device) -> Tensor:
    u = torch.rand(tuple(shape), generator=generator, device=generator.device)
    return ((u * 2 - 1) * bound).to(device)


def _mlp(sizes: Sequence[int], last_relu: bool, generator: torch.Generator, device: torch.device) -> nn.Sequential:
    """Linear layers with ReLU between (and after the last one if ``last_relu``).

    Initialised as in facebookresearch/dlrm: W ~ N(0, 2/(fan_in+fan_out)), b ~ N(0, 1/fan_out).
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(n_in, n_out, device=device)
        with torch.no_grad():
            linear.weight.copy_(_normal((n_out, n_in), math.sqrt(2 / (n_in + n_out)), generator, device))
            linear.bias.copy_(_normal((n_out,), math.sqrt(1 / n_out), generator, device))
        layers.append(linear)
        if last_relu or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _mlp_inplace(mlp: nn.Module, x: Tensor) -> Tensor:
    """``mlp(x)`` for a Sequential (or a slice of one) with in-place ReLUs (inference only:
    saves a pass over each activation).
    """
    for layer in mlp.children():
        x = x.relu_() if isinstance(layer, nn.ReLU) else layer(x)
    return x


def first_of_groups(groups: Tensor) -> tuple[Tensor, Tensor]:
    """(B,) group ids -> (first (G,) the lowest row of each of the G distinct groups, inverse (B,)
    each row's group index), so that ``x[first][inverse]`` equals ``x`` when rows of a group agree.
    """
    distinct, inverse = torch.unique(groups, return_inverse=True)
    rows = torch.arange(groups.shape[0], device=groups.device)
    first = torch.full_like(distinct, groups.shape[0])
    return first.scatter_reduce_(0, inverse, rows, reduce="amin"), inverse


class SparseArch(nn.Module):
    """Embedding tables (torchrec's EmbeddingBagCollection) for the sparse features.

    Tables are ``nn.EmbeddingBag`` parameter holders with ``capacity`` rows each; the item,
    creator, topic and user tables grow geometrically (:meth:`grow`) as the catalog and the
    synthetic users grow. The history bag is pooled with per-sample weights: ``pooling="mean"``
    (default) 1/|valid|, ``"sum"`` 1 as in the reference implementation (facebookresearch/dlrm's
    ``EmbeddingBag(mode="sum")``); padding -1 gets weight 0 either way. Pooling runs by
    ``F.embedding_bag`` for inference and sparse gradients, and as a gather plus a weighted sum
    when training with dense gradients (faster backward) or inside :meth:`differentiable_twice`
    (PyTorch implements no double backward for embedding_bag; the unrolled training step of
    antidote data needs one).

    ``features``: the sparse features the model reads, in interaction order (a sub-sequence of
    :data:`SPARSE_FEATURES` with ``history`` last); one table each (the history bag's may be
    the item table), created in that order.

    Initialisation: ``init="scale"`` (default: every row ~ U(-init_scale, init_scale)) or
    ``init="reference"``, the reference's (facebookresearch/dlrm ``create_emb``)
    U(-sqrt(1/rows), sqrt(1/rows)) with rows the table's initial capacity; rows added when a table
    grows are drawn from the same distribution as its first rows.
    """

    def __init__(
        self,
        rows: dict[str, int],
        dim: int,
        generator: torch.Generator,
        device: torch.device,
        share_history: bool = False,
        init_scale: float = 0.05,
        pooling: str = "mean",
        init: str = "scale",
        features: Sequence[str] = SPARSE_FEATURES,
    ):
        super().__init__()
        if tuple(f for f in SPARSE_FEATURES if f in features) != tuple(features) or "history" not in features:
            raise ValueError(f"features must be a sub-sequence of {SPARSE_FEATURES} with history, not {features}")
        if pooling not in ("mean", "sum"):
            raise ValueError(f"pooling must be 'mean' or 'sum', not {pooling!r}")
        if init not in ("scale", "reference"):
            raise ValueError(f"init must be 'scale' or 'reference', not {init!r}")
        self.dim = dim
        self.init_scale = init_scale
        self.pooling = pooling
        self.share_history = share_history
        self.twice_differentiable = False
        self.features = tuple(features)
        names = tuple(f for f in self.features if f != "history" or not share_history)
        self.embedding_bags = nn.ModuleDict()
        # per-table bound of U(-bound, bound), fixed at creation so grown rows match the first ones
        self.init_bound = {n: init_scale if init == "scale" else math.sqrt(1 / max(rows[n], 1)) for n in names}
        for name in names:
            n = rows[name]
            weight = _uniform((n, dim), self.init_bound[name], generator, device)
            self.embedding_bags[name] = nn.EmbeddingBag(n, dim, mode=pooling, _weight=weight, device=device)

    @property
    def user_side(self) -> tuple[str, ...]:
        """The features known once per user (of :data:`USER_SIDE`, those this model reads)."""
        return tuple(f for f in USER_SIDE if f in self.features)

    @property
    def item_side(self) -> tuple[str, ...]:
        """The features known once per candidate item."""
        return tuple(f for f in ITEM_SIDE if f in self.features)

    def table_of(self, feature: str) -> str:
        return "item" if feature == "history" and self.share_history else feature

    def bag(self, table: str) -> nn.EmbeddingBag:
        """The embedding table ``table`` (typed: a ModuleDict's items are plain Modules)."""
        return cast(nn.EmbeddingBag, self.embedding_bags[table])

    def weight(self, feature: str) -> Tensor:
        """(rows, d) parameter of the table that serves ``feature``."""
        return self.bag(self.table_of(feature)).weight

    def capacity(self, table: str) -> int:
        return self.bag(table).weight.shape[0]

    def lookup(
        self, feature: str, ids: Tensor, groups: Tensor | None = None, bags: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        """(B,) ids -> (B, d); for ``history``, (B, H) bags -> (B, d) mean over non-padding ids.

        ``groups`` (B,), for ``history`` only: rows with equal group ids carry the same bag (a
        user's impressions within one logged step), so each distinct bag is pooled once and
        copied to its rows; the gradient reaching the table is the same sum over rows.
        ``bags``: ``first_of_groups(groups)`` computed beforehand (a compiled training step
        takes it as an input, since ``torch.unique`` has a data-dependent shape).
        """
        bag = self.bag(self.table_of(feature))
        weight = bag.weight
        # Training with dense gradients gathers rows with index_select: its backward is one
        # index_add_, where embedding's and embedding_bag's backward sort the ids first (~3x
        # slower here). Inference and sparse gradients keep the embedding kernels.
        gather = not bag.sparse and torch.is_grad_enabled() and weight.requires_grad
        if feature != "history":
            return weight.index_select(0, ids) if gather else F.embedding(ids, weight, sparse=bag.sparse)
        if bags is None and groups is not None:
            bags = first_of_groups(groups)
        if bags is not None:
            first, inverse = bags
            return self.lookup(feature, ids.index_select(0, first)).index_select(0, inverse)
        valid = ids >= 0
        w = valid.to(weight.dtype)  # sum pooling: weight 1 per valid id, 0 for padding
        if self.pooling == "mean":
            w = w / valid.sum(dim=1, keepdim=True).clamp(min=1)  # empty bag -> zeros
        if gather or self.twice_differentiable:  # gather + weighted sum (twice differentiable)
            ids = ids.clamp(min=0)
            if bag.sparse:
                rows = F.embedding(ids, weight, sparse=True)
            else:
                rows = weight.index_select(0, ids.reshape(-1)).view(*ids.shape, -1)  # (B, H, d)
            return (rows * w.unsqueeze(-1)).sum(1)
        return F.embedding_bag(ids.clamp(min=0), weight, mode="sum", per_sample_weights=w, sparse=bag.sparse)

    @contextlib.contextmanager
    def differentiable_twice(self) -> Iterator[None]:
        """Within this context the history bag is pooled by gather + sum, which (unlike
        embedding_bag) PyTorch can differentiate twice (for the unrolled training step), also
        with sparse gradients or without grad mode.
        """
        old, self.twice_differentiable = self.twice_differentiable, True
        try:
            yield
        finally:
            self.twice_differentiable = old

    def forward(self, sparse: dict[str, Tensor]) -> Tensor:
        """{feature: (B,) or (B, H)} -> (B, S, d) in the order of :attr:`features` (other keys are
        not read); an optional ``history_group`` (B,) entry groups rows that share one history
        bag (see :meth:`lookup`), or ``history_first`` and ``history_inverse``, the groups'
        :func:`first_of_groups`.
        """
        groups = sparse.get("history_group")
        bags = (sparse["history_first"], sparse["history_inverse"]) if "history_first" in sparse else None
        vectors = [
            self.lookup(f, sparse[f], groups, bags) if f == "history" else self.lookup(f, sparse[f])
            for f in self.features
        ]
        return torch.stack(vectors, 1)

    def set_sparse_grad(self, sparse: bool) -> None:
        for table in self.embedding_bags:
            self.bag(table).sparse = sparse

    def grow(self, table: str, rows: int, generator: torch.Generator) -> None:
        """Enlarge ``table`` to ``rows`` rows; old rows are kept, new rows freshly initialised.

        The parameter object changes, so an optimizer over it must be rebuilt
        (:meth:`simlab.recommenders.dlrm.trainer.Trainer.regrow`).
        """
        bag = self.bag(table)
        old = bag.weight.detach()
        if rows <= old.shape[0]:
            return
        new = _uniform((rows - old.shape[0], self.dim), self.init_bound[table], generator, old.device).to(old.dtype)
        bag.weight = nn.Parameter(torch.cat([old, new]))
        bag.num_embeddings = rows


class DenseArch(nn.Module):
    """Bottom MLP: the dense features [user_dense, item_dense] (B, n_dense) -> (B, d), ReLU after every layer."""

    def __init__(self, n_dense: int, layers: Sequence[int], generator: torch.Generator, device: torch.device):
        super().__init__()
        self.mlp = _mlp([n_dense, *layers], last_relu=True, generator=generator, device=device)

    @property
    def first(self) -> nn.Linear:
        return self.mlp[0]  # type: ignore[return-value]

    def forward(self, dense: Tensor) -> Tensor:
        return self.mlp(dense)


class _PairDots(torch.autograd.Function):
    """Selected pairwise dots of the rows of t: (B, F, d), (P,) flat indices i*F + j -> (B, P).

    The forward is the reference's bmm T T^T. Autograd would differentiate that bmm as a product
    of two inputs (two bmms); since both are T, the gradient is one bmm of the symmetrised
    upstream gradient, S T with S_ij = S_ji = dL/dz_ij (2x on the diagonal), about 2x faster
    for these tiny per-sample matrices. Written in differentiable ops, so it can be
    differentiated again (the unrolled training step).
    """

    @staticmethod
    def forward(ctx, t: Tensor, flat: Tensor, flat_t: Tensor) -> Tensor:
        ctx.save_for_backward(t, flat, flat_t)
        return torch.bmm(t, t.transpose(1, 2)).flatten(1).index_select(1, flat)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        t, flat, flat_t = ctx.saved_tensors
        n = t.shape[1]
        grad = grad.to(t.dtype)  # (a forward under autocast returns bf16 dots for fp32 inputs)
        sym = grad.new_zeros(grad.shape[0], n * n).index_add(1, flat, grad).index_add(1, flat_t, grad)
        return torch.bmm(sym.view(-1, n, n), t), None, None


class InteractionArch(nn.Module):
    """Feature interaction of the dense vector x and the S sparse vectors (F = S + 1).

    ``dot``: x concatenated with the pairwise dots T T^T of T = [x, e_1..e_S] (B, F, d), strictly
    lower triangle (or with the diagonal if ``self_interaction``), ordered as the reference's
    ``li, lj`` tril indices. ``cat``: the F vectors concatenated.
    """

    def __init__(
        self, kind: str, n_sparse: int, dim: int, self_interaction: bool = False, dense_dim: int | None = None
    ):
        super().__init__()
        if kind not in ("dot", "cat"):
            raise ValueError(f"unknown interaction {kind!r}")
        self.kind, self.dim, self.self_interaction = kind, dim, self_interaction
        self.dense_dim = dim if dense_dim is None else dense_dim  # cat allows a different width
        self.n_features = n_sparse + 1
        offset = 0 if self_interaction else -1
        li, lj = torch.tril_indices(self.n_features, self.n_features, offset=offset)
        # z[:, li, lj] as one index_select on the flattened (F*F) dots, and its mirror z[:, lj, li]
        self.register_buffer("tril_flat", li * self.n_features + lj, persistent=False)
        self.register_buffer("tril_flat_t", lj * self.n_features + li, persistent=False)
        self.pairs = list(zip(li.tolist(), lj.tolist()))

    @property
    def out_features(self) -> int:
        if self.kind == "cat":
            return self.dense_dim + (self.n_features - 1) * self.dim
        return interaction_width(self.kind, self.n_features, self.dim, self.self_interaction)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        """(B, d), (B, S, d) -> (B, out_features)."""
        if self.kind == "cat":
            return torch.cat([dense, sparse.flatten(1)], dim=1)
        t = torch.cat([dense.unsqueeze(1), sparse], dim=1)  # (B, F, d)
        dots = _PairDots.apply(t, self.tril_flat, self.tril_flat_t)  # (B, pairs) of T T^T
        return torch.cat([dense, dots], dim=1)

    # --- factored evaluation: which output columns depend on the user, the item or the pair
    def column(self, i: int, j: int) -> int:
        """Output column of the dot between interacting vectors i and j (0 = dense)."""
        return self.dim + self.pairs.index((max(i, j), min(i, j)))

    def feature_columns(self, f: int) -> list[int]:
        """Output columns of interacting vector f (0 = dense) under ``cat``."""
        if f == 0:
            return list(range(self.dense_dim))
        start = self.dense_dim + (f - 1) * self.dim
        return list(range(start, start + self.dim))


class OverArch(nn.Module):
    """Top MLP (B, top_in) -> one logit (B,). The reference ends in a sigmoid; we return the logit
    and apply the sigmoid in the loss (BCE with logits) and in ``predict``, which is stabler.
    """

    def __init__(self, n_in: int, layers: Sequence[int], generator: torch.Generator, device: torch.device):
        super().__init__()
        self.mlp = _mlp([n_in, *layers], last_relu=False, generator=generator, device=device)

    @property
    def first(self) -> nn.Linear:
        return self.mlp[0]  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x).squeeze(-1)


class PositionArch(nn.Module):
    """The position tower of PAL (Guo, Yu, Liu, Ma & Tang, RecSys 2019, "PAL: a position-bias
    aware learning framework for CTR prediction in recommender systems").

    An impression at slate position r is engaged with probability q_r * sigmoid(z), with z the
    DLRM's logit (engagement once examined) and q_r the probability that position r is
    examined. Training fits both on the logged impressions; serving ranks by z alone, as if
    every candidate were shown at the top, so the model does not learn that what it once
    ranked high was engaged with more because it was ranked high. q_0 = 1 (the top position is
    the reference, which also fixes the scale between q and sigmoid(z)); q_r = sigmoid(w_r)
    for r >= 1, w_r learned. Positions past the table's capacity share its last entry until
    :meth:`grow` adds rows.
    """

    def __init__(self, positions: int, device: torch.device):
        super().__init__()
        # w_r starts at 2 (q_r = 0.88): positions begin nearly as examined as the top one
        self.logit = nn.Parameter(torch.full((max(positions, 2),), 2.0, device=device))

    @property
    def capacity(self) -> int:
        return self.logit.shape[0]

    def forward(self, position: Tensor) -> Tensor:
        """(B,) slate positions -> (B,) log q_r, the log-probability that the position is examined."""
        logit = self.logit.index_select(0, position.clamp(max=self.capacity - 1))
        return torch.where(position > 0, F.logsigmoid(logit), torch.zeros_like(logit))

    def grow(self, positions: int) -> None:
        """Room for ``positions`` positions; new entries start like the first ones. The parameter
        object changes, so the optimizer must be rebuilt (``Trainer.regrow``).
        """
        old = self.logit.detach()
        if positions > old.shape[0]:
            self.logit = nn.Parameter(torch.cat([old, old.new_full((positions - old.shape[0],), 2.0)]))
