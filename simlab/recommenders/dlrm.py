"""The DLRM model of Naumov et al. 2019 (arXiv:1906.00091), one module per stage as in torchrec.

    SparseArch       ids -> embedding vectors        (B, S, d)   S = 5 sparse features
    DenseArch        bottom MLP over dense features  (B, d)
    InteractionArch  pairwise dots (or concatenation) of the F = S + 1 vectors -> (B, top_in)
    OverArch         top MLP -> one logit            (B,)
    DLRM             the four stages; ``forward`` is the plain per-(user, item) model and
                     ``factored_forward`` the same function evaluated with user-side and
                     item-side work done once each (for ranking A users x C candidates).

Shapes: N users, M items, A active users, C candidates, B batch, H history length,
d embedding dim, F = S + 1 interacting vectors. The loss and the trainer live in
:mod:`simlab.recommenders.training`, outside the model.

Sparse features, in the order they interact: ``user`` (user id), ``item`` (item id),
``topic``, ``creator`` and ``history`` (the user's last H engaged items, a multi-hot bag with
mean pooling; -1 entries are padding and excluded). By default the history bag has its own
table (``history_table="own"``), as in the reference where every sparse feature has one;
``"shared"`` pools the item table's rows instead (fewer parameters, history and candidate
live in one space).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SPARSE_FEATURES = ("user", "item", "topic", "creator", "history")
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


def _mlp_inplace(mlp: nn.Sequential, x: Tensor) -> Tensor:
    """``mlp(x)`` with in-place ReLUs (inference only: saves a pass over each activation)."""
    for layer in mlp:
        x = x.relu_() if isinstance(layer, nn.ReLU) else layer(x)
    return x


def first_of_groups(groups: Tensor) -> tuple[Tensor, Tensor]:
    """(B,) group ids -> (first (G,) the lowest row of each of the G distinct groups, inverse (B,)
    each row's group index), so that ``x[first][inverse]`` equals ``x`` when rows of a group agree."""
    distinct, inverse = torch.unique(groups, return_inverse=True)
    rows = torch.arange(groups.shape[0], device=groups.device)
    first = torch.full_like(distinct, groups.shape[0])
    return first.scatter_reduce_(0, inverse, rows, reduce="amin"), inverse


class SparseArch(nn.Module):
    """Embedding tables (torchrec's EmbeddingBagCollection) for the sparse features.

    Tables are ``nn.EmbeddingBag`` parameter holders with ``capacity`` rows each; the item,
    creator, topic and user tables grow geometrically (:meth:`grow`) as the catalog and the
    synthetic users grow. The history bag is mean-pooled with per-sample weights 1/|valid|
    (padding -1 gets weight 0): by ``F.embedding_bag`` for inference and sparse gradients, and
    as a gather plus a weighted sum when training with dense gradients (faster backward) or
    inside :meth:`differentiable_twice` (PyTorch implements no double backward for
    embedding_bag; the unrolled training step of antidote data needs one).
    """

    def __init__(
        self,
        rows: dict[str, int],
        dim: int,
        generator: torch.Generator,
        device: torch.device,
        share_history: bool = False,
        init_scale: float = 0.05,
    ):
        super().__init__()
        self.dim = dim
        self.init_scale = init_scale
        self.share_history = share_history
        self.twice_differentiable = False
        names = ("user", "item", "topic", "creator") + (() if share_history else ("history",))
        self.embedding_bags = nn.ModuleDict()
        for name in names:
            n = rows[name]
            weight = _uniform((n, dim), init_scale, generator, device)
            self.embedding_bags[name] = nn.EmbeddingBag(n, dim, mode="mean", _weight=weight, device=device)

    def table_of(self, feature: str) -> str:
        return "item" if feature == "history" and self.share_history else feature

    def weight(self, feature: str) -> Tensor:
        """(rows, d) parameter of the table that serves ``feature``."""
        return self.embedding_bags[self.table_of(feature)].weight

    def capacity(self, table: str) -> int:
        return self.embedding_bags[table].weight.shape[0]

    def lookup(self, feature: str, ids: Tensor, groups: Tensor | None = None) -> Tensor:
        """(B,) ids -> (B, d); for ``history``, (B, H) bags -> (B, d) mean over non-padding ids.

        ``groups`` (B,), for ``history`` only: rows with equal group ids carry the same bag (a
        user's impressions within one logged step), so each distinct bag is pooled once and
        copied to its rows; the gradient reaching the table is the same sum over rows.
        """
        bag = self.embedding_bags[self.table_of(feature)]
        weight = bag.weight
        # Training with dense gradients gathers rows with index_select: its backward is one
        # index_add_, where embedding's and embedding_bag's backward sort the ids first (~3x
        # slower here). Inference and sparse gradients keep the embedding kernels.
        gather = not bag.sparse and torch.is_grad_enabled() and weight.requires_grad
        if feature != "history":
            return weight.index_select(0, ids) if gather else F.embedding(ids, weight, sparse=bag.sparse)
        if groups is not None:
            first, inverse = first_of_groups(groups)
            return self.lookup(feature, ids.index_select(0, first)).index_select(0, inverse)
        valid = ids >= 0
        w = valid.to(weight.dtype) / valid.sum(dim=1, keepdim=True).clamp(min=1)  # empty bag -> zeros
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
        with sparse gradients or without grad mode."""
        old, self.twice_differentiable = self.twice_differentiable, True
        try:
            yield
        finally:
            self.twice_differentiable = old

    def forward(self, sparse: dict[str, Tensor]) -> Tensor:
        """{feature: (B,) or (B, H)} -> (B, S, d) in SPARSE_FEATURES order; an optional
        ``history_group`` (B,) entry groups rows that share one history bag (see :meth:`lookup`)."""
        groups = sparse.get("history_group")
        return torch.stack([self.lookup(f, sparse[f], groups if f == "history" else None) for f in SPARSE_FEATURES], 1)

    def set_sparse_grad(self, sparse: bool) -> None:
        for bag in self.embedding_bags.values():
            bag.sparse = sparse

    def grow(self, table: str, rows: int, generator: torch.Generator) -> None:
        """Enlarge ``table`` to ``rows`` rows; old rows are kept, new rows freshly initialised.

        The parameter object changes, so an optimizer over it must be rebuilt
        (:meth:`simlab.recommenders.training.Trainer.regrow`).
        """
        bag = self.embedding_bags[table]
        old = bag.weight.detach()
        if rows <= old.shape[0]:
            return
        new = _uniform((rows - old.shape[0], self.dim), self.init_scale, generator, old.device).to(old.dtype)
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
    and apply the sigmoid in the loss (BCE with logits) and in ``predict``, which is stabler."""

    def __init__(self, n_in: int, layers: Sequence[int], generator: torch.Generator, device: torch.device):
        super().__init__()
        self.mlp = _mlp([n_in, *layers], last_relu=False, generator=generator, device=device)

    @property
    def first(self) -> nn.Linear:
        return self.mlp[0]  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x).squeeze(-1)


class DLRM(nn.Module):
    """Deep Learning Recommendation Model (Naumov et al. 2019) over simlab's observable features.

    ``forward(dense (B, n_dense), sparse {feature: ids}) -> logits (B,)`` with dense =
    [user_dense, item_dense]. ``dense_features`` chooses what the bottom MLP reads: ``"all"``
    (both halves, so the dense vector belongs to the (user, item) pair) or ``"user"`` (the
    user's half only: a per-request context, as in production ranking, so the dense vector is
    computed once per user and the item's dense half is not used). Either way F = S + 1.
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
        self.sparse_arch = SparseArch(rows, embedding_dim, generator, device, share_history, init_scale)
        self.dense_arch = DenseArch(n_bottom_in, bottom_mlp, generator, device)
        self.inter_arch = InteractionArch(
            interaction, len(SPARSE_FEATURES), embedding_dim, self_interaction, dense_dim=bottom_mlp[-1]
        )
        self.over_arch = OverArch(self.inter_arch.out_features, top_mlp, generator, device)

    @property
    def dense_per_user(self) -> bool:
        return self.dense_features == "user"

    def forward(self, dense: Tensor, sparse: dict[str, Tensor]) -> Tensor:
        """(B, n_dense), {user, item, topic, creator: (B,), history: (B, H)} -> logits (B,)."""
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
        """Logits for A users x C candidates, equal to ``forward`` on every (user, candidate) pair.

        user_dense (A, n_user_dense), user_sparse {user (A,), history (A, H)}; item_dense
        (M', n_item_dense), item_sparse {item, topic, creator (M',)}; candidates (A, C) row
        indices into the M' item rows. Returns (A, C).

        User-side work (user and history embeddings, dots among user-side vectors) runs once per
        user, item-side work (item, topic, creator embeddings, dots among them) once per item;
        the top MLP's first layer is linear, so columns that depend on the user alone enter it as
        a per-user bias and those of the item alone are gathered per pair. The dense vector x:

        - ``dense_features="user"``: x is user-side (the bottom MLP runs once per user), so per
          pair remain only the cross dots of user-side [x, user, history] with item-side
          [item, topic, creator] vectors (one batched matmul per chunk) and the top MLP.
        - ``"all"``: the first bottom layer is linear in [user_dense, item_dense], so
          W [u; i] + b = (W_u u + b) + W_i i exactly; per pair remain its ReLU and the rest of
          the bottom MLP, the dots of x with every vector, the cross dots, and the top MLP.

        Users are processed in chunks of about ``pairs_per_chunk`` pairs to bound memory (all
        at once if None).
        """
        sa, inter = self.sparse_arch, self.inter_arch
        top_first = self.over_arch.first
        # global index of each interacting vector: 0 = dense x, then SPARSE_FEATURES
        u_idx = [1 + SPARSE_FEATURES.index(f) for f in USER_SIDE]
        i_idx = [1 + SPARSE_FEATURES.index(f) for f in ITEM_SIDE]

        # once per user / per item
        user_vectors = [sa.lookup(f, user_sparse[f]) for f in USER_SIDE]
        if self.dense_per_user:
            user_vectors.insert(0, self.dense_arch(user_dense))
            u_idx.insert(0, 0)
            hu = hi = None
        else:
            first, nu = self.dense_arch.first, self.n_user_dense
            hu = F.linear(user_dense, first.weight[:, :nu], first.bias)  # (A, h)
            hi = F.linear(item_dense, first.weight[:, nu:])  # (M', h)
        eu = torch.stack(user_vectors, dim=1)  # (A, n_u, d)
        ei = torch.stack([sa.lookup(f, item_sparse[f]) for f in ITEM_SIDE], dim=1)  # (M', n_i, d)

        # Which top-input columns each piece feeds: user-only, item-only, and per pair (in the
        # order _pairs builds them: x, x.x, [x, e_i...].e_u, x.e_i when x is per pair; e_i.e_u).
        pair_cols: list[int] = [] if self.dense_per_user else list(range(inter.dense_dim))
        if inter.kind == "cat":
            user_terms, user_cols = eu.flatten(1), [c for g in u_idx for c in inter.feature_columns(g)]
            item_terms, item_cols = ei.flatten(1), [c for g in i_idx for c in inter.feature_columns(g)]
        else:
            diag = 1 if inter.self_interaction else 0  # include (a, a) under self-interaction
            uu = [(a, b) for a in range(len(u_idx)) for b in range(a + diag)]
            ii = [(a, b) for a in range(len(i_idx)) for b in range(a + diag)]
            user_terms = torch.stack([(eu[:, a] * eu[:, b]).sum(-1) for a, b in uu], dim=1)  # (A, n_uu)
            item_terms = torch.stack([(ei[:, a] * ei[:, b]).sum(-1) for a, b in ii], dim=1)  # (M', n_ii)
            user_cols = [inter.column(u_idx[a], u_idx[b]) for a, b in uu]
            item_cols = [inter.column(i_idx[a], i_idx[b]) for a, b in ii]
            if self.dense_per_user:
                user_terms = torch.cat([eu[:, 0], user_terms], dim=1)  # x's own columns
                user_cols = list(range(inter.dense_dim)) + user_cols
            else:
                pair_cols += [inter.column(0, 0)] if inter.self_interaction else []
                pair_cols += [inter.column(0, g) for g in u_idx] + [inter.column(0, g) for g in i_idx]
            pair_cols += [inter.column(gu, gi) for gi in i_idx for gu in u_idx]  # item-major, as computed
        tu = F.linear(user_terms, top_first.weight[:, user_cols], top_first.bias)  # (A, h_top)
        A, C = candidates.shape
        if A == 0 or C == 0:  # no active users this step
            return tu.new_zeros(A, C)
        step = A if pairs_per_chunk is None else max(1, pairs_per_chunk // max(C, 1))
        chunks = [slice(s, s + step) for s in range(0, A, step)]
        if self.dense_per_user and inter.kind == "dot":
            aug_u, aug_i, w_pair = self._cross_tables(eu, ei, item_terms, u_idx, i_idx, item_cols)
            return torch.cat([self._cross_pairs(candidates[sl], tu[sl], aug_u[sl], aug_i, w_pair) for sl in chunks])
        w_pair = top_first.weight[:, torch.tensor(pair_cols + item_cols, device=eu.device)]  # (h_top, P)
        # one row per item: (dot) its vectors and item-only columns, gathered once per pair
        item_pack = torch.cat([ei.flatten(1), item_terms], dim=1) if inter.kind == "dot" else item_terms
        out = []
        for sl in chunks:
            hu_chunk = None if hu is None else hu[sl]
            out.append(self._pairs(candidates[sl], hu_chunk, tu[sl], eu[sl], hi, item_pack, ei.shape[1:], w_pair))
        return torch.cat(out, dim=0)

    def _cross_tables(
        self, eu: Tensor, ei: Tensor, item_terms: Tensor, u_idx: list[int], i_idx: list[int], item_cols: list[int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Augmented vectors whose batched products give, per pair, the cross dots and the
        item-only columns at once (dot interaction, x user-side).

        Each of the n_i item-side vectors gets q = ceil(n_ii / n_i) extra coordinates holding
        the item's n_ii item-only top-input values, and the user side gets q unit vectors that
        pick them out: [e_b, s_b] . [e_a, 0] = e_b . e_a and [e_b, s_b] . [0, u_k] = s_b[k].
        Returns aug_u (A, n_u + q, d + q), aug_i (M', n_i, d + q) and the matching first-layer
        weight w_pair (h_top, n_i (n_u + q)), zero where a slot holds padding.
        """
        (a, n_u, d), (m, n_i, _), n_ii = eu.shape, ei.shape, item_terms.shape[1]
        q = -(-n_ii // n_i)
        aug_u = eu.new_zeros(a, n_u + q, d + q)
        aug_u[:, :n_u, :d] = eu
        aug_u[:, n_u:, d:] = torch.eye(q, dtype=eu.dtype, device=eu.device)
        aug_i = ei.new_zeros(m, n_i, d + q)
        aug_i[:, :, :d] = ei
        aug_i[:, :, d:] = F.pad(item_terms, (0, n_i * q - n_ii)).view(m, n_i, q)
        inter, top = self.inter_arch, self.over_arch.first.weight
        w_pair = top.new_zeros(top.shape[0], n_i, n_u + q)
        for b in range(n_i):
            for j in range(n_u):
                w_pair[:, b, j] = top[:, inter.column(u_idx[j], i_idx[b])]
            for k in range(q):
                if b * q + k < n_ii:
                    w_pair[:, b, n_u + k] = top[:, item_cols[b * q + k]]
        return aug_u, aug_i, w_pair.flatten(1)

    def _cross_pairs(self, cand: Tensor, tu: Tensor, aug_u: Tensor, aug_i: Tensor, w_pair: Tensor) -> Tensor:
        """Per-pair part when only cross terms remain: (a, C) candidates -> (a, C) logits.

        One gather of the candidates' augmented item rows, one batched matmul per user with its
        augmented vectors (:meth:`_cross_tables`), then the top MLP."""
        a, c = cand.shape
        n_i, width = aug_i.shape[1], aug_i.shape[2]
        rows = aug_i.view(aug_i.shape[0], -1).index_select(0, cand.reshape(-1)).view(a, c * n_i, width)
        # the products with the long side (C n_i) last run ~3x faster than rows @ aug_u^T (n_u + q
        # columns); one copy then lays each pair's n_i (n_u + q) values out for the GEMM
        prods = torch.bmm(aug_u, rows.transpose(1, 2))  # (a, n_u + q, C n_i)
        pool = prods.view(a, -1, c, n_i).permute(0, 2, 3, 1).reshape(a, c, -1)  # (a, C, n_i (n_u + q))
        z = F.linear(pool, w_pair).add_(tu.unsqueeze(1))
        return _mlp_inplace(self.over_arch.mlp[1:], z).squeeze(-1)

    def _pairs(
        self,
        cand: Tensor,
        hu: Tensor | None,
        tu: Tensor,
        eu: Tensor,
        hi: Tensor | None,
        item_pack: Tensor,
        item_shape: torch.Size,
        w_pair: Tensor,
    ) -> Tensor:
        """Per-(user, candidate) part of ``factored_forward`` for a chunk of a users: (a, C) logits.

        ``hu``/``hi`` are the user and item halves of the first bottom layer when x is per pair
        (None when x is user-side and sits in ``eu``); ``item_pack`` (M', [n_i d] + n_ii) holds
        per item (dot only) its n_i item-side vectors of width d (``item_shape``) and its
        item-only top-input columns. Memory-bound, hence one gather per pair on flat ids and
        in-place add/ReLU."""
        inter = self.inter_arch
        a, C = cand.shape
        flat = cand.reshape(-1)
        n_i, d = item_shape
        pieces = []
        if hu is not None:  # the dense vector x of each pair
            h = hi.shape[1]
            hid = hi.index_select(0, flat).view(a, C, h).add_(hu.unsqueeze(1)).relu_()
            x = _mlp_inplace(self.dense_arch.mlp[1:], hid)  # (a, C, dx)
            pieces.append(x)
        if inter.kind == "dot":
            # one gather per pair of the item's vectors and its item-only columns, packed per item
            packed = item_pack.index_select(0, flat)  # (a C, n_i d + n_ii)
            ip = packed[:, : n_i * d].view(a, C, n_i, d)
            ut = eu.transpose(1, 2)  # (a, d, n_u)
            if hu is not None:
                if inter.self_interaction:
                    pieces.append((x * x).sum(-1, keepdim=True))
                pieces.append(torch.bmm(x, ut))  # (a, C, n_u) x.eu
                pieces.append(torch.einsum("acd,acnd->acn", x, ip))  # (a, C, n_i) x.ei
            pieces.append(torch.bmm(ip.reshape(a, C * n_i, d), ut).view(a, C, -1))  # (a, C, n_i n_u) eu.ei
            pieces.append(packed[:, n_i * d :].view(a, C, -1))  # item-only columns
        else:
            pieces.append(item_pack.index_select(0, flat).view(a, C, -1))  # item-only columns
        pool = torch.cat(pieces, dim=-1)  # (a, C, P)
        # one GEMM over all a*C pairs, then the per-user part broadcast (a batched baddbmm would
        # materialise the broadcast bias and run a*C-row GEMMs one user at a time)
        z = F.linear(pool, w_pair).add_(tu.unsqueeze(1))
        return _mlp_inplace(self.over_arch.mlp[1:], z).squeeze(-1)

    @torch.no_grad()
    def item_embeddings(self, n_items: int) -> Tensor:
        """(M, d) the item table's live rows."""
        return self.sparse_arch.weight("item")[:n_items].detach().clone()
