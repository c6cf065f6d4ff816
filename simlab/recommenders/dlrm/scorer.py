"""The DLRM's factored scorer: the logits of A users x C candidates with the user-side and
item-side work done once each, equal to :meth:`DLRM.forward` on every (user, candidate) pair
(docs/design.md §2: per-pair cost is only the cross terms).

Shapes: A users, C candidates, M' item rows, d embedding dim, H history length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from simlab.recommenders.dlrm.arches import _mlp_inplace

if TYPE_CHECKING:
    from simlab.recommenders.dlrm.model import DLRM


def factored_logits(
    model: DLRM,
    user_dense: Tensor,
    user_sparse: dict[str, Tensor],
    item_dense: Tensor,
    item_sparse: dict[str, Tensor],
    candidates: Tensor,
    pairs_per_chunk: int | None = None,
) -> Tensor:
    """Logits for A users x C candidates, equal to ``forward`` on every (user, candidate) pair.

    user_dense (A, n_user_dense), user_sparse {user (A,) (read when the model has a user-id
    table), history (A, H)}; item_dense
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
    sa, inter = model.sparse_arch, model.inter_arch
    top_first = model.over_arch.first
    # global index of each interacting vector: 0 = dense x, then the model's sparse features
    features, user_side, item_side = model.sparse_features, sa.user_side, sa.item_side
    u_idx = [1 + features.index(f) for f in user_side]
    i_idx = [1 + features.index(f) for f in item_side]

    # once per user / per item
    user_vectors = [sa.lookup(f, user_sparse[f]) for f in user_side]
    if model.dense_per_user:
        user_vectors.insert(0, model.dense_arch(user_dense))
        u_idx.insert(0, 0)
        hu = hi = None
    else:
        first, nu = model.dense_arch.first, model.n_user_dense
        hu = F.linear(user_dense, first.weight[:, :nu], first.bias)  # (A, h)
        hi = F.linear(item_dense, first.weight[:, nu:])  # (M', h)
    eu = torch.stack(user_vectors, dim=1)  # (A, n_u, d)
    ei = torch.stack([sa.lookup(f, item_sparse[f]) for f in item_side], dim=1)  # (M', n_i, d)

    # Which top-input columns each piece feeds: user-only, item-only, and per pair (in the
    # order _pairs builds them: x, x.x, [x, e_i...].e_u, x.e_i when x is per pair; e_i.e_u).
    pair_cols: list[int] = [] if model.dense_per_user else list(range(inter.dense_dim))
    if inter.kind == "cat":
        user_terms, user_cols = eu.flatten(1), [c for g in u_idx for c in inter.feature_columns(g)]
        item_terms, item_cols = ei.flatten(1), [c for g in i_idx for c in inter.feature_columns(g)]
    else:
        diag = 1 if inter.self_interaction else 0  # include (a, a) under self-interaction
        uu = [(a, b) for a in range(len(u_idx)) for b in range(a + diag)]
        ii = [(a, b) for a in range(len(i_idx)) for b in range(a + diag)]
        user_terms = _dots(eu, uu)  # (A, n_uu); no columns for a lone history vector (no user id)
        item_terms = _dots(ei, ii)  # (M', n_ii)
        user_cols = [inter.column(u_idx[a], u_idx[b]) for a, b in uu]
        item_cols = [inter.column(i_idx[a], i_idx[b]) for a, b in ii]
        if model.dense_per_user:
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
    if model.dense_per_user and inter.kind == "dot":
        aug_u, aug_i, w_pair = _cross_tables(model, eu, ei, item_terms, u_idx, i_idx, item_cols)
        return torch.cat([_cross_pairs(model, candidates[sl], tu[sl], aug_u[sl], aug_i, w_pair) for sl in chunks])
    w_pair = top_first.weight[:, torch.tensor(pair_cols + item_cols, device=eu.device)]  # (h_top, P)
    # one row per item: (dot) its vectors and item-only columns, gathered once per pair
    item_pack = torch.cat([ei.flatten(1), item_terms], dim=1) if inter.kind == "dot" else item_terms
    out = []
    for sl in chunks:
        hu_chunk = None if hu is None else hu[sl]
        out.append(_pairs(model, candidates[sl], hu_chunk, tu[sl], eu[sl], hi, item_pack, ei.shape[1:], w_pair))
    return torch.cat(out, dim=0)


def _dots(vectors: Tensor, pairs: list[tuple[int, int]]) -> Tensor:
    """(R, n, d) vectors, P index pairs -> (R, P) their dots (P may be 0)."""
    if not pairs:
        return vectors.new_zeros(vectors.shape[0], 0)
    return torch.stack([(vectors[:, a] * vectors[:, b]).sum(-1) for a, b in pairs], dim=1)


def _cross_tables(
    model: DLRM, eu: Tensor, ei: Tensor, item_terms: Tensor, u_idx: list[int], i_idx: list[int], item_cols: list[int]
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
    inter, top = model.inter_arch, model.over_arch.first.weight
    w_pair = top.new_zeros(top.shape[0], n_i, n_u + q)
    for b in range(n_i):
        for j in range(n_u):
            w_pair[:, b, j] = top[:, inter.column(u_idx[j], i_idx[b])]
        for k in range(q):
            if b * q + k < n_ii:
                w_pair[:, b, n_u + k] = top[:, item_cols[b * q + k]]
    return aug_u, aug_i, w_pair.flatten(1)


def _cross_pairs(model: DLRM, cand: Tensor, tu: Tensor, aug_u: Tensor, aug_i: Tensor, w_pair: Tensor) -> Tensor:
    """Per-pair part when only cross terms remain: (a, C) candidates -> (a, C) logits.

    One gather of the candidates' augmented item rows, one batched matmul per user with its
    augmented vectors (:func:`_cross_tables`), then the top MLP.
    """
    a, c = cand.shape
    n_i, width = aug_i.shape[1], aug_i.shape[2]
    rows = aug_i.view(aug_i.shape[0], -1).index_select(0, cand.reshape(-1)).view(a, c * n_i, width)
    # the products with the long side (C n_i) last run ~3x faster than rows @ aug_u^T (n_u + q
    # columns); one copy then lays each pair's n_i (n_u + q) values out for the GEMM
    prods = torch.bmm(aug_u, rows.transpose(1, 2))  # (a, n_u + q, C n_i)
    pool = prods.view(a, -1, c, n_i).permute(0, 2, 3, 1).reshape(a, c, -1)  # (a, C, n_i (n_u + q))
    z = F.linear(pool, w_pair).add_(tu.unsqueeze(1))
    return _mlp_inplace(model.over_arch.mlp[1:], z).squeeze(-1)


def _pairs(
    model: DLRM,
    cand: Tensor,
    hu: Tensor | None,
    tu: Tensor,
    eu: Tensor,
    hi: Tensor | None,
    item_pack: Tensor,
    item_shape: torch.Size,
    w_pair: Tensor,
) -> Tensor:
    """Per-(user, candidate) part of ``factored_logits`` for a chunk of a users: (a, C) logits.

    ``hu``/``hi`` are the user and item halves of the first bottom layer when x is per pair
    (None when x is user-side and sits in ``eu``); ``item_pack`` (M', [n_i d] + n_ii) holds
    per item (dot only) its n_i item-side vectors of width d (``item_shape``) and its
    item-only top-input columns. Memory-bound, hence one gather per pair on flat ids and
    in-place add/ReLU.
    """
    inter = model.inter_arch
    a, C = cand.shape
    flat = cand.reshape(-1)
    n_i, d = item_shape
    pieces = []
    if hu is not None:  # the dense vector x of each pair
        assert hi is not None  # the user and item halves come together
        h = hi.shape[1]
        hid = hi.index_select(0, flat).view(a, C, h).add_(hu.unsqueeze(1)).relu_()
        x = _mlp_inplace(model.dense_arch.mlp[1:], hid)  # (a, C, dx)
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
    return _mlp_inplace(model.over_arch.mlp[1:], z).squeeze(-1)
