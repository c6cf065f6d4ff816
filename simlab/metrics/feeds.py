"""Measures of what feeds do, as pure functions of arrays: the recommender's predictions
(R_pol, unfairness), slates and catalog (diversity, entropy, coverage, Gini, homogenization,
miscalibration, reach), exposure and engagement (CTR, AUC, log loss) (conventions:
:mod:`simlab.metrics.measures`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from simlab.metrics.arrays import (
    ArrayLike,
    as_columns,
    as_index,
    as_real,
    as_tensor,
    compute_dtype,
    float_form,
    nan,
    true_share,
)

__all__ = [
    "auc",
    "auc_t",
    "consumption_extremeness",
    "consumption_extremeness_t",
    "coverage",
    "coverage_t",
    "ctr",
    "ctr_t",
    "engagement",
    "engagement_t",
    "exposure_drift_share",
    "exposure_drift_share_t",
    "exposure_extremeness",
    "exposure_extremeness_t",
    "extreme_exposure_share",
    "extreme_exposure_share_t",
    "gini",
    "gini_t",
    "grouped_auc_t",
    "homogenization",
    "homogenization_from_counts_t",
    "homogenization_from_keys_t",
    "homogenization_t",
    "intra_list_diversity",
    "intra_list_diversity_t",
    "logloss",
    "logloss_t",
    "mean_user_topic_entropy",
    "mean_user_topic_entropy_t",
    "miscalibration",
    "miscalibration_t",
    "nearest_consumer_jaccard",
    "nearest_consumer_jaccard_t",
    "nearest_jaccard_from_overlap_t",
    "nearest_opinion_pairs",
    "pair_overlap_counts_t",
    "row_jaccard",
    "row_jaccard_t",
    "row_topic_entropy",
    "row_topic_entropy_t",
    "rpol",
    "rpol_t",
    "topic_entropy",
    "topic_entropy_t",
    "unfairness_group",
    "unfairness_group_t",
    "unfairness_individual",
    "unfairness_individual_t",
    "window_reach",
    "window_reach_t",
]

_EDGE_CHUNK = 1 << 20  # elements per chunk in the log-loss sum

# --------------------------------------------------------------------------- recommender predictions


def rpol_t(pred: ArrayLike) -> Tensor:
    """Polarization of predicted ratings, R_pol (Rastegarpanah, Gummadi & Crovella, WSDM 2019).

    "Fighting fire with fire: using antidote data to improve polarization and fairness of
    recommender systems": R_pol = (1/M) sum_j (1/N) sum_i (pred_ij - mu_j)^2, mu_j = mean_i pred_ij,
    i.e. the mean over items of the population variance over users.

    pred: (N users, M items) dense predictions, e.g. on a fixed probe set.
    """
    return as_real(pred).var(dim=0, correction=0).mean()


def unfairness_individual_t(loss_per_user: ArrayLike) -> Tensor:
    """Individual unfairness R_indv (Rastegarpanah et al., WSDM 2019).

    R_indv = (1/N^2) sum_{i<l} (l_i - l_l)^2 = (1/N) sum_i (l_i - mean(l))^2: the population variance
    of the per-user losses l_i (in the paper the MSE over user i's observed ratings).

    loss_per_user: (N,).
    """
    return as_real(loss_per_user).reshape(-1).var(correction=0)


def unfairness_group_t(loss_per_user: ArrayLike, group: ArrayLike, weight: ArrayLike | None = None) -> Tensor:
    """Group unfairness R_grp (Rastegarpanah et al., WSDM 2019).

    R_grp = (1/G^2) sum_{g<h} (L_g - L_h)^2, which for the paper's two groups is (L_1 - L_2)^2 / 4 and
    in general equals the population variance of the G group losses (each group counted once). The
    group loss L_g is the loss over the group's observed entries; from per-user losses it is the
    weighted mean L_g = sum_{i in g} w_i l_i / sum_{i in g} w_i. With ``weight`` = each user's number
    of observed entries (and l_i the user's MSE) this is exactly the paper's entry-level group MSE;
    ``weight=None`` uses the plain mean of the members' losses. Groups with zero total weight are
    left out.

    loss_per_user: (N,); group: (N,) integer labels (any values); weight: (N,) or None.
    """
    loss = as_real(loss_per_user).reshape(-1)
    _, g = torch.unique(as_index(group, loss.device), return_inverse=True)
    w = torch.ones_like(loss) if weight is None else as_real(weight, loss.device).reshape(-1)
    total = torch.bincount(g, weights=w)
    means = torch.bincount(g, weights=w * loss) / total
    return means[total > 0].var(correction=0)


# --------------------------------------------------------------------------- slates and catalog


def intra_list_diversity_t(features: ArrayLike, chunk_elements: int = 1 << 22) -> Tensor:
    """Intra-list diversity: mean over slates of the mean pairwise distance between slate items.

    Smyth & McClave (2001), "Similarity vs. diversity", ICCBR; Ziegler, McNee, Konstan & Lausen
    (2005), "Improving recommendation lists through topic diversification", WWW:

        ILD = (1/A) sum_s (1/(k(k-1))) sum_{a != b} ||f_sa - f_sb||_2.

    features: (A, k, D) feature vectors of the k items of each of A slates (e.g. stance, D = K, or a
    one-hot topic, where differing topics are sqrt(2) apart), or (A, k) for scalar features. A
    slate of one item has diversity 0; A = 0 gives NaN. For D = 1 the sum over each sorted slate
    is O(k log k); for D > 1 the k^2 distances are computed ``chunk_elements // (k^2 D)`` slates
    at a time, bounding memory.
    """
    f = as_tensor(features)
    f = f[..., None] if f.dim() == 2 else f
    a, k, d = f.shape
    if a == 0:
        return nan(f.device)
    if k < 2:
        return torch.zeros((), dtype=compute_dtype(f.device), device=f.device)
    if d == 1:  # sum_{a != b} |f_a - f_b| = 2 sum_i (2i - k - 1) f_(i) over each sorted slate
        ordered = f[..., 0].sort(dim=1).values.to(compute_dtype(f.device))  # sorting is exact in any precision
        coefficient = 2 * torch.arange(1, k + 1, device=f.device, dtype=ordered.dtype) - k - 1
        total = 2 * (ordered @ coefficient).sum()
    else:
        f = f.to(compute_dtype(f.device))
        step = max(1, chunk_elements // (k * k * d))
        total = sum((c[:, :, None, :] - c[:, None, :, :]).norm(dim=-1).sum() for c in f.split(step))
    return total / (a * k * (k - 1))


def topic_entropy_t(counts: ArrayLike) -> Tensor:
    """Shannon entropy (nats) of a topic consumption distribution, H = -sum_t p_t log p_t.

    counts: (T,) nonnegative consumption counts (or weights); p = counts / sum(counts), 0 log 0 = 0.
    H in [0, log T]; NaN if all counts are 0.
    """
    c = as_real(counts).reshape(-1)
    p = c / c.sum()
    return -torch.special.xlogy(p, p).sum()


def mean_user_topic_entropy_t(user: ArrayLike, topic: ArrayLike, n_users: int, n_topics: int) -> Tensor:
    """Mean over users of the entropy (nats) of each user's own topic consumption distribution.

    user, topic: (E,) flat arrays of consumption events (e.g. the engaged impressions). Users with
    no event are left out of the mean (their entropy is undefined). Cost O(E log E + N): per-user
    topic counts are built from the sorted distinct (user, topic) keys, never as an N x T matrix.
    """
    u = as_index(user)
    t = as_index(topic, u.device)
    keys, counts = torch.unique(u * n_topics + t, return_counts=True)
    if keys.numel() == 0:
        return nan(u.device)
    owner = keys // n_topics
    counts = counts.to(compute_dtype(u.device))
    total = torch.bincount(owner, weights=counts, minlength=n_users)
    p = counts / total[owner]
    entropy = torch.bincount(owner, weights=-torch.special.xlogy(p, p), minlength=n_users)
    active = total > 0
    return entropy.sum() / active.sum()


def row_topic_entropy_t(topics: ArrayLike, n_topics: int) -> Tensor:
    """:func:`mean_user_topic_entropy` for padded per-user rows: topics (N, H) with -1 for empty
    slots (e.g. the topics of each user's last H engaged items). Rows with no entry are left
    out. One scatter into an (N, T) count matrix: for modest T, cheaper than sorting keys.
    """
    t = as_tensor(topics).long()
    valid = t >= 0
    counts = torch.zeros(t.shape[0], n_topics, dtype=compute_dtype(t.device), device=t.device)
    counts.scatter_add_(1, t.clamp(min=0), valid.to(counts.dtype))
    total = counts.sum(dim=1, keepdim=True)
    p = counts / total.clamp(min=1)
    entropy = -torch.special.xlogy(p, p).sum(dim=1)
    active = total.squeeze(1) > 0
    return entropy.sum() / active.sum()


def row_jaccard_t(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Mean Jaccard overlap |A_i & B_i| / |A_i | B_i| of the sets in rows of a and b, (N, H) each
    with -1 for empty slots (repeats within a row count once); rows whose union is empty are left
    out. The padded-row form of :func:`homogenization` (Chaney et al. 2018) with b = a[pairs].
    """
    x = as_tensor(a).long()
    y = as_tensor(b, x.device).long()
    if x.shape[1] == 0:
        return nan(x.device)
    xs, ys = x.sort(dim=1).values, y.sort(dim=1).values  # -1 padding sorts first

    def n_distinct(rows: Tensor) -> Tensor:  # distinct valid values per sorted row
        new = torch.ones_like(rows, dtype=torch.bool)
        new[:, 1:] = rows[:, 1:] != rows[:, :-1]
        return (new & (rows >= 0)).sum(dim=1)

    # each distinct valid value of x, looked up in the sorted row of y
    first_x = torch.ones_like(xs, dtype=torch.bool)
    first_x[:, 1:] = xs[:, 1:] != xs[:, :-1]
    at = torch.searchsorted(ys, xs).clamp_(max=ys.shape[1] - 1)
    shared = ((ys.gather(1, at) == xs) & first_x & (xs >= 0)).sum(dim=1)
    union = n_distinct(xs) + n_distinct(ys) - shared
    jaccard = shared.to(compute_dtype(x.device)) / union.clamp(min=1)
    return jaccard.sum() / (union > 0).sum()


def coverage_t(item_ids: ArrayLike, n_items: int) -> Tensor:
    """Catalog coverage: the share of the n_items catalog items shown at least once.

    item_ids: (I,) ids in [0, n_items) of the shown items (repeats allowed).
    """
    ids = as_index(item_ids)
    seen = torch.zeros(n_items, dtype=torch.bool, device=ids.device)
    seen.index_fill_(0, ids, True)
    return true_share(seen)


def gini_t(counts: ArrayLike) -> Tensor:
    """Gini coefficient of (exposure) counts, from the sorted values c_(1) <= ... <= c_(n):

        G = sum_i (2i - n - 1) c_(i) / (n sum_i c_i).

    0 for equal counts, (n-1)/n when one item has everything; scale invariant; NaN for all-zero.
    counts: (n,) nonnegative, e.g. impressions per catalog item (zeros included).
    """
    c = as_real(counts).reshape(-1).sort().values
    n = c.numel()
    rank = torch.arange(1, n + 1, device=c.device, dtype=c.dtype)
    return ((2 * rank - n - 1) * c).sum() / (n * c.sum())


def nearest_opinion_pairs(x: ArrayLike, chunk: int = 4096) -> Tensor:
    """Partner of each user: the index of the other user with the nearest opinion (Euclidean).

    x: (N,) or (N, K), N >= 2. Returns (N,) int64 on x's device. For K = 1 this is exact in
    O(N log N) (sort, then the closer of the two sorted neighbours; ties go to the lower one); for
    K > 1 it is an exact chunked brute force, O(N^2 K) time and O(chunk N) memory (compute it once,
    e.g. from the innate opinions, and reuse the pairs).
    """
    x = as_columns(as_real(x))
    n = x.shape[0]
    if n < 2:
        raise ValueError("nearest_opinion_pairs needs at least two users")
    if x.shape[1] == 1:
        values, order = x[:, 0].sort(stable=True)
        inf = values.new_full((1,), math.inf)
        gap = values.diff()
        rank = torch.arange(n, device=x.device)
        neighbour = torch.where(torch.cat([inf, gap]) <= torch.cat([gap, inf]), rank - 1, rank + 1)
        pairs = torch.empty_like(order)
        pairs[order] = order[neighbour]
        return pairs
    parts = []
    for start in range(0, n, chunk):
        d = torch.cdist(x[start : start + chunk], x, compute_mode="donot_use_mm_for_euclid_dist")
        rows = torch.arange(d.shape[0], device=x.device)
        d[rows, rows + start] = math.inf
        parts.append(d.argmin(dim=1))
    return torch.cat(parts)


def homogenization_t(user: ArrayLike, item: ArrayLike, n_users: int, pairs: ArrayLike) -> Tensor:
    """Homogenization: mean Jaccard overlap of paired users' consumed-item sets.

    Chaney, Stewart & Engelhardt (2018), "How algorithmic confounding in recommendation systems
    increases homogeneity and decreases utility", RecSys. They pair each user with the most similar
    user by true preferences and measure J(S_i, S_p(i)) = |S_i ∩ S_p(i)| / |S_i ∪ S_p(i)| of their
    consumed item sets; rising J means users become more alike than their preferences warrant.

    user, item: (E,) consumption events (repeats are fine, sets are taken); n_users: N;
    pairs: (N,) partner index p(i) of each user (e.g. :func:`nearest_opinion_pairs` of the innate
    opinions). The mean is over users i, with pairs where both sets are empty left out (NaN if all
    are). O(E log E): the distinct (item, user) keys are sorted once and each membership
    "item in S_p(i)" is a binary search.
    """
    u = as_index(user)
    i = as_index(item, u.device)
    return homogenization_from_keys_t(torch.unique(i * n_users + u), n_users, pairs)


def homogenization_from_keys_t(keys: Tensor, n_users: int, pairs: ArrayLike) -> Tensor:
    """:func:`homogenization_t` from the consumption already as keys: (E,) sorted distinct
    item * N + user (what a recorder that keeps the sets from step to step holds).

    Examples:
        >>> float(homogenization_from_keys_t(torch.tensor([0, 1, 2, 3]), 2, [1, 0]))  # items 0, 1: both users
        1.0
    """
    partner = as_index(pairs, keys.device)
    if keys.numel() == 0:
        return nan(keys.device)
    size, inter = pair_overlap_counts_t(keys, n_users, partner)
    return homogenization_from_counts_t(size, inter, partner)


def pair_overlap_counts_t(keys: Tensor, n_users: int, partner: Tensor) -> tuple[Tensor, Tensor]:
    """Set sizes |S_i| (N,) long and overlaps |S_i ∩ S_p(i)| (N,) float64 of each user and its
    partner, from (E,) sorted distinct keys item * N + user: each membership "item in S_p(i)" is
    a binary search.
    """
    owner, owned = keys % n_users, keys // n_users
    size = torch.bincount(owner, minlength=n_users)
    probe = owned * n_users + partner[owner]
    hit = keys[torch.searchsorted(keys, probe).clamp_(max=keys.numel() - 1)] == probe
    return size, torch.bincount(owner, weights=hit.double(), minlength=n_users)


def homogenization_from_counts_t(size: Tensor, inter: Tensor, partner: Tensor) -> Tensor:
    """Mean over users of |S_i ∩ S_p(i)| / |S_i ∪ S_p(i)| from :func:`pair_overlap_counts_t`'s
    counts; pairs whose sets are both empty are left out (NaN if all are).
    """
    union = size + size[partner] - inter
    jaccard = torch.where(union > 0, inter / union.clamp(min=1), 0.0)
    return jaccard.sum() / (union > 0).sum()


def nearest_consumer_jaccard_t(user: ArrayLike, item: ArrayLike, n_users: int) -> Tensor:
    """Mean over users of the Jaccard overlap with their most similar user by consumption.

    J_i = max_{v != i} |S_i ∩ S_v| / |S_i ∪ S_v| over the consumed item sets S (the form of
    Chaney, Stewart & Engelhardt 2018's homogenization in which the partner is the nearest
    consumer instead of the nearest by true preference). user, item: (E,) consumption events
    (repeats are fine) of users 0..n_users-1; users with an empty set are left out of the mean
    (NaN if all are, or n_users < 2). O(n_users^2) memory for the overlap matrix (one sparse
    times dense product): call it on a sample of a few thousand users.
    """
    u = as_index(user)
    i = as_index(item, u.device)
    if n_users < 2 or u.numel() == 0:
        return nan(u.device)
    items, column = torch.unique(i, return_inverse=True)
    m = items.numel()
    keys = torch.unique(u * m + column)  # sorted distinct (user, item): sets, repeats count once
    rows, cols = keys // m, keys % m
    dtype = compute_dtype(u.device)
    ones = torch.ones(keys.numel(), dtype=dtype, device=u.device)
    # the keys are sorted and distinct, so the tensor is coalesced by construction
    x = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), ones, (n_users, m), is_coalesced=True, check_invariants=False
    )
    inter = torch.sparse.mm(x, x.t().to_dense())  # (n_users, n_users) |S_i ∩ S_v|
    return nearest_jaccard_from_overlap_t(inter)


_JACCARD_ROWS = 128  # rows of the S x S overlap matrix handled at once (~1 MB at S = 1,000)


def nearest_jaccard_from_overlap_t(inter: Tensor) -> Tensor:
    """The last step of :func:`nearest_consumer_jaccard_t`, from the overlap matrix.

    The overlap is symmetric, so each Jaccard value is computed once, from the upper triangle:
    block by block of rows, for the columns from the block's first row on, and it enters the
    maximum of its row and (by symmetry) of its column. Every value is the same float as from the
    full matrix ((s_i + s_v) - I is (s_v + s_i) - I), and so is every maximum.

    Args:
        inter: (S, S) |S_i ∩ S_v| for i <= v, the item sets' overlaps (its diagonal is each set's
            size), in the computing dtype; below the diagonal either the same values (a full
            symmetric matrix) or zeros. It is not modified.

    Returns:
        Mean over users with a non-empty set of max_{v != i} |S_i ∩ S_v| / |S_i ∪ S_v| (NaN if
        every set is empty).

    Examples:
        >>> import torch
        >>> inter = torch.tensor([[2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
        >>> float(nearest_jaccard_from_overlap_t(inter))  # users 0 and 1: 1/2 each; user 2 left out
        0.5
        >>> float(nearest_jaccard_from_overlap_t(inter.triu()))  # the upper triangle is enough
        0.5
    """
    size = inter.diagonal()
    s = inter.shape[0]
    nearest = torch.full_like(size, -1.0)  # every Jaccard value is >= 0 (S >= 2)
    # blocks of rows small enough to stay in the cache through the passes below
    for a in range(0, s, _JACCARD_ROWS):
        b = min(a + _JACCARD_ROWS, s)
        block = inter[a:b, a:]  # (a zero below the diagonal gives Jaccard 0: never above the maximum)
        # union >= inter >= 0 are integers: where the union is 0 so is the overlap, and clamping
        # it to 1 gives Jaccard 0 there without a separate select
        union = (size[a:b, None] + size[None, a:]).sub_(block).clamp_(min=1)
        jaccard = torch.div(block, union, out=union)
        jaccard.diagonal().fill_(-1.0)  # never oneself
        torch.maximum(nearest[a:b], jaccard.amax(dim=1), out=nearest[a:b])
        torch.maximum(nearest[a:], jaccard.amax(dim=0), out=nearest[a:])  # (v, i) is (i, v)
    has = size > 0
    return nearest[has].sum() / has.sum()


def miscalibration_t(shown_topics: ArrayLike, history_topics: ArrayLike, n_topics: int, alpha: float = 0.01) -> Tensor:
    """Mean miscalibration of recommended topic mixes (Steck, RecSys 2018; the measure Mansoury
    et al., CIKM 2020, track per user group):

        C_KL(p, q) = sum_t p(t) log(p(t) / q~(t)),   q~ = (1 - alpha) q + alpha p,

    with p the topic distribution of a user's history and q that of what the user is shown.
    shown_topics (A, k), history_topics (A, H): topic ids, -1 for empty slots; rows with an empty
    slate or an empty history are left out (NaN if all are). 0 when the mixes agree.
    """
    shown = as_tensor(shown_topics).long()
    history = as_tensor(history_topics, shown.device).long()
    dtype = compute_dtype(shown.device)

    def mix(rows: Tensor) -> tuple[Tensor, Tensor]:
        valid = rows >= 0
        counts = torch.zeros(rows.shape[0], n_topics, dtype=dtype, device=rows.device)
        counts.scatter_add_(1, rows.clamp(min=0), valid.to(dtype))
        total = counts.sum(dim=1, keepdim=True)
        return counts / total.clamp(min=1), total[:, 0] > 0

    q, has_q = mix(shown)
    p, has_p = mix(history)
    q_smooth = (1 - alpha) * q + alpha * p
    terms = torch.where(p > 0, p * (p / q_smooth.clamp(min=torch.finfo(dtype).tiny)).log(), 0.0)
    keep = has_q & has_p
    return terms.sum(dim=1)[keep].sum() / keep.sum()


def window_reach_t(last_flagged: ArrayLike, last_shown: ArrayLike, step: int, window: int) -> Tensor:
    """Reach within a window: the share of users shown anything in steps (step - window, step]
    who were shown at least one flagged (e.g. extreme) item in those steps (Haroon et al., PNAS
    2023, report such reach beside the share of recommendations). last_flagged, last_shown: (N,)
    the last step each user was shown a flagged item / anything (a step < step - window + 1, e.g.
    -2**62, for never). NaN when nobody was shown anything in the window.
    """
    flagged = as_index(last_flagged)
    shown = as_index(last_shown, flagged.device)
    start = step - window + 1
    seen = shown >= start
    return ((flagged >= start) & seen).sum().to(compute_dtype(flagged.device)) / seen.sum()


# --------------------------------------------------------------------------- exposure


def exposure_extremeness_t(item_extremeness_shown: ArrayLike) -> Tensor:
    """Mean extremeness e_j = max_k |y_jk| of the shown items (one entry per impression). (I,)."""
    return as_real(item_extremeness_shown).mean()


def consumption_extremeness_t(item_extremeness_engaged: ArrayLike) -> Tensor:
    """Mean extremeness of the engaged items (one entry per engagement). (E,)."""
    return as_real(item_extremeness_engaged).mean()


def extreme_exposure_share_t(item_extremeness_shown: ArrayLike, threshold: float = 0.8) -> Tensor:
    """Share of impressions whose item extremeness exceeds ``threshold``. (I,)."""
    return true_share(as_tensor(item_extremeness_shown) > threshold)


def exposure_drift_share_t(exposure_now: ArrayLike, exposure_start: ArrayLike, delta: float = 0.1) -> Tensor:
    """Share of users whose exposure extremeness rose by more than ``delta`` since step 0.

    (1/|U|) #{i in U : now_i - start_i > delta}, U the users with both values defined.
    exposure_now, exposure_start: (N,) per-user mean extremeness of the items shown (NaN for a user
    never exposed, who is left out).
    """
    now = as_real(exposure_now)
    start = as_real(exposure_start, now.device)
    defined = ~(now.isnan() | start.isnan())
    return ((now - start) > delta).to(now.dtype).sum() / defined.sum()


# --------------------------------------------------------------------------- engagement and accuracy


def ctr_t(labels: ArrayLike) -> Tensor:
    """Click-through rate: engagements per impression, mean(labels). labels: (I,) 0/1."""
    return as_real(labels).mean()


def engagement_t(labels: ArrayLike, n_users: int) -> Tensor:
    """Engagements per user in one step: sum(labels) / n_users, over all N users (active or not).

    labels: (I,) 0/1 labels of the step's impressions.
    """
    return as_real(labels).sum() / n_users


def _order_key(s: Tensor) -> Tensor:
    """Integers with the same order and ties as the floats ``s`` (CPU torch sorts integers ~5x faster).

    IEEE-754 bits read as signed integers order non-negative floats correctly and negative ones in
    reverse; flipping all but the sign bit of the negatives fixes that. Adding 0.0 merges -0.0
    into +0.0 so that they tie. (NaN gets an arbitrary place.)
    """
    if not s.is_floating_point():
        return s
    s = s.float() if s.element_size() < 4 else s
    bits = (s + 0.0).view(torch.int32 if s.element_size() == 4 else torch.int64)
    return torch.where(bits < 0, bits ^ torch.iinfo(bits.dtype).max, bits)


def auc_t(labels: ArrayLike, scores: ArrayLike) -> Tensor:
    """ROC AUC via the Mann–Whitney U statistic with average ranks for ties.

    AUC = (R_+ - n_+ (n_+ + 1)/2) / (n_+ n_-), R_+ the sum of the positives' (tie-averaged) ranks of
    the scores: the probability that a random positive outscores a random negative, ties counting
    1/2. Equals ``sklearn.metrics.roc_auc_score``; NaN when only one class is present.
    labels: (I,) 0/1 (positive = label > 0); scores: (I,) real scores, no NaN. O(I log I): it is
    :func:`grouped_auc_t` with one group.
    """
    s = as_tensor(scores).reshape(-1)
    if s.numel() == 0:
        return nan(s.device)
    return grouped_auc_t(labels, s, torch.zeros(s.numel(), dtype=torch.long, device=s.device))[0]


def grouped_auc_t(labels: ArrayLike, scores: ArrayLike, groups: ArrayLike) -> Tensor:
    """:func:`auc_t` within each group at once: (I,) labels, scores and integer groups -> (G,) the
    AUC of each of the G distinct groups in ascending order (NaN for a group with one class).

    One sort by (group, score) instead of one per group. The rank sums are sums of half-integers
    and the counts integers, so every group's value is bit-identical to :func:`auc_t` on its rows.

    Examples:
        >>> [round(float(v), 2) for v in grouped_auc_t([1, 0, 1, 0, 1], [0.9, 0.1, 0.2, 0.8, 0.5], [0, 0, 1, 1, 2])]
        [1.0, 0.0, nan]
    """
    s = as_tensor(scores).reshape(-1)
    positive = as_tensor(labels, s.device).reshape(-1) > 0
    g = as_tensor(groups, s.device).reshape(-1)
    dtype = compute_dtype(s.device)
    if s.numel() == 0:
        return torch.zeros(0, dtype=dtype, device=s.device)
    # sorted by score, then stably by group: by (group, score)
    key, by_score = _order_key(s).sort(stable=True)
    group, by_group = g[by_score].sort(stable=True)
    key, order = key[by_group], by_score[by_group]
    n = key.numel()
    new_tie = torch.ones(n, dtype=torch.bool, device=s.device)
    new_tie[1:] = (key[1:] != key[:-1]) | (group[1:] != group[:-1])
    starts = new_tie.nonzero().squeeze(1)
    ends = torch.cat([starts[1:], starts.new_full((1,), n)])  # each tie's end (exclusive)
    tie_size = ends - starts
    # positives per tie from a running count read at each tie's last element: integer work on I
    # elements, floating point only per tie
    positives_so_far = positive[order].cumsum(0)
    per_tie = torch.diff(positives_so_far[ends - 1], prepend=positives_so_far.new_zeros(1))
    distinct, tie_group = torch.unique_consecutive(group[starts], return_inverse=True)
    group_rows = torch.unique_consecutive(group, return_counts=True)[1]
    group_start = torch.cumsum(group_rows, 0) - group_rows
    # 1-based average rank of each tie within its group
    mean_rank = (ends - group_start[tie_group]).to(dtype) - (tie_size.to(dtype) - 1) / 2
    per_tie = per_tie.to(dtype)
    rank_sum = torch.zeros(distinct.numel(), dtype=dtype, device=s.device).index_add_(0, tie_group, mean_rank * per_tie)
    n_pos = torch.zeros_like(rank_sum).index_add_(0, tie_group, per_tie)
    n_neg = group_rows.to(dtype) - n_pos
    u = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return torch.where(n_pos * n_neg > 0, u, math.nan)


def logloss_t(labels: ArrayLike, probs: ArrayLike, eps: float = 1e-7) -> Tensor:
    """Binary cross-entropy, -(1/I) sum (y log p + (1-y) log(1-p)), p clipped to [eps, 1-eps].

    labels: (I,) in [0, 1]; probs: (I,) predicted engagement probabilities.
    """
    p = as_tensor(probs).reshape(-1)
    p = p if p.is_floating_point() else p.to(compute_dtype(p.device))
    y = as_tensor(labels, p.device).reshape(-1).to(p.dtype)
    if p.numel() == 0:
        return nan(p.device)
    # terms in the inputs' precision, chunk sums in float64 (as in the Musco disagreement)
    total = torch.zeros((), dtype=compute_dtype(p.device), device=p.device)
    for start in range(0, p.numel(), _EDGE_CHUNK):
        part = slice(start, start + _EDGE_CHUNK)
        chunk = p[part].clamp(eps, 1 - eps)
        total += torch.nn.functional.binary_cross_entropy(chunk, y[part], reduction="sum").to(total.dtype)
    return total / p.numel()


# --------------------------------------------------------------------------- float forms

rpol = float_form(rpol_t)
unfairness_individual = float_form(unfairness_individual_t)
unfairness_group = float_form(unfairness_group_t)
intra_list_diversity = float_form(intra_list_diversity_t)
topic_entropy = float_form(topic_entropy_t)
mean_user_topic_entropy = float_form(mean_user_topic_entropy_t)
coverage = float_form(coverage_t)
gini = float_form(gini_t)
homogenization = float_form(homogenization_t)
nearest_consumer_jaccard = float_form(nearest_consumer_jaccard_t)
miscalibration = float_form(miscalibration_t)
window_reach = float_form(window_reach_t)
row_jaccard = float_form(row_jaccard_t)
row_topic_entropy = float_form(row_topic_entropy_t)
exposure_extremeness = float_form(exposure_extremeness_t)
consumption_extremeness = float_form(consumption_extremeness_t)
extreme_exposure_share = float_form(extreme_exposure_share_t)
exposure_drift_share = float_form(exposure_drift_share_t)
ctr = float_form(ctr_t)
engagement = float_form(engagement_t)
auc = float_form(auc_t)
logloss = float_form(logloss_t)
