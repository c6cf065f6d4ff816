"""Metric columns of single experiments, a pack apart from the general columns: the supply of extreme items, the
logged-in/out cohorts (privacy-seeking users), the history-reset cohorts, the homogenization
forms of Chaney et al. (2018), the group-wise popularity-bias measures (Mansoury et al. 2020)
and extreme reach (Haroon et al. 2023). Registered in ``METRICS`` like the general columns of
:mod:`simlab.metrics.columns`, and recorded when a scenario's ``metrics.include`` names them
(or is ``all``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import pydantic
import torch
from torch import Tensor

from simlab.metrics import measures as m
from simlab.metrics.arrays import compute_dtype, nan
from simlab.metrics.columns import UserSample
from simlab.metrics.recorder import StepContext, metric
from simlab.registry import METRICS


class _Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


# ----------------------------------------------------------------------- supply and cohorts


class Supply(_Settings):
    """Settings of the supply-side metrics (items created in a recent window)."""

    window: int = pydantic.Field(10, ge=1, le=1_000_000, description="W: items created in the last W steps")


@metric("supply_extremeness", Supply)
def _supply_extremeness(ctx: StepContext, s: Supply) -> Tensor:
    """Mean extremeness e_j of the items created in the last W steps, created in
    [t - W + 1, t] (the initial catalog counts as created at step 0): what creators supply now.
    """
    recent = ctx.catalog.live("created") > ctx.step - s.window
    return m.exposure_extremeness_t(ctx.catalog.extremeness[recent])


def _cohort_mean(ctx: StepContext, values: Tensor, member: Tensor | None, engaged: bool) -> Tensor:
    """Mean of per-impression ``values`` (I,) over the impressions (or only the engagements) of
    users in the cohort ``member`` (N,) bool; NaN when the cohort saw nothing (or is None).
    """
    if member is None:
        return torch.tensor(float("nan"), device=values.device)
    keep = member[ctx.impressions.user]
    if engaged:
        keep = keep & (ctx.impressions.label > 0)
    return m.exposure_extremeness_t(values[keep])


def _logged_out(ctx: StepContext, out: bool) -> Tensor | None:
    """(N,) bool cohort of logged-out (``out``) or logged-in users; None when it is empty."""
    flags = ctx.users.logged_out
    if flags is None:
        flags = torch.zeros(ctx.users.n, dtype=torch.bool, device=ctx.users.opinion.device)
    member = flags if out else ~flags
    return member if bool(member.any()) else None


def _cohort_metric(what: str, feature: str, cohort: str) -> None:
    """Register ``{what}_{feature}_{cohort}``: the mean quality q_j (for a source's reliability)
    or extremeness e_j of the items shown to (``exposure``) or engaged with by (``consumption``)
    the logged-out or logged-in users (Spinelli & Crovella 2020).
    """
    engaged, out = what == "consumption", cohort == "logged_out"

    def compute(ctx: StepContext, s: Any) -> Tensor:
        i = ctx.impressions
        values = ctx.catalog.quality[i.item] if feature == "quality" else i.extremeness
        return _cohort_mean(ctx, values, _logged_out(ctx, out), engaged)

    verb = "engaged with by" if engaged else "shown to"
    compute.__doc__ = f"Mean {feature} of the items {verb} {cohort.replace('_', '-')} users (NaN if none)."
    metric(f"{what}_{feature}_{cohort}")(compute)


for _what in ("exposure", "consumption"):
    for _feature in ("quality", "extremeness"):
        for _cohort in ("logged_out", "logged_in"):
            _cohort_metric(_what, _feature, _cohort)


class Unreliable(_Settings):
    """Settings of the unreliable-share metrics."""

    threshold: float = pydantic.Field(0.3, ge=0, le=1, description="an item is unreliable when r_j < this")


def _unreliable_metric(what: str, cohort: str | None) -> None:
    """Register ``{what}_unreliable[_{cohort}]``: the share of the impressions shown to
    (``exposure``) or engaged with by (``consumption``) the logged-out or logged-in users (or
    everybody, ``cohort`` None) whose item has reliability r_j below ``threshold`` (Spinelli &
    Crovella, UMAP 2020 adjunct). NaN when the catalog has no reliability or the cohort saw
    nothing. Opt-in: recorded only where a scenario names it, so that no other table changes.
    """
    engaged = what == "consumption"

    def compute(ctx: StepContext, s: Unreliable) -> Tensor:
        reliability = ctx.catalog.reliability
        if reliability is None:
            return torch.tensor(float("nan"), device=ctx.users.opinion.device)
        i = ctx.impressions
        unreliable = (reliability[i.item] < s.threshold).to(reliability.dtype)
        if cohort is None:
            everybody = torch.ones(ctx.users.n, dtype=torch.bool, device=unreliable.device)
            return _cohort_mean(ctx, unreliable, everybody, engaged)
        return _cohort_mean(ctx, unreliable, _logged_out(ctx, cohort == "logged_out"), engaged)

    verb = "engaged with by" if engaged else "shown to"
    who = "all" if cohort is None else cohort.replace("_", "-")
    compute.__doc__ = (
        f"Share of the impressions {verb} {who} users whose item's reliability r_j is below the threshold "
        "(NaN without catalog reliability or when the cohort saw nothing)."
    )
    name = f"{what}_unreliable" + ("" if cohort is None else f"_{cohort}")
    metric(name, Unreliable, opt_in=True)(compute)


for _what in ("exposure", "consumption"):
    for _unreliable_cohort in (None, "logged_out", "logged_in"):
        _unreliable_metric(_what, _unreliable_cohort)


def _reset(ctx: StepContext, wiped: bool) -> Tensor | None:
    """(N,) bool: users whose platform records were wiped (``PlatformView.forget``) or never
    wiped; None when that cohort is empty.
    """
    stamps = ctx.view.forgotten_at
    n = ctx.users.n
    forgotten = torch.zeros(n, dtype=torch.bool, device=ctx.users.opinion.device) if stamps is None else stamps[:n] >= 0
    member = forgotten if wiped else ~forgotten
    return member if bool(member.any()) else None


def _shown_distance(ctx: StepContext) -> Tensor:
    """(I,) opinion distance d_ij = mean_k |x_ik - y_jk| between each impression's user and item."""
    i = ctx.impressions
    return (ctx.users.opinion[i.user] - ctx.catalog.stance[i.item]).abs().mean(dim=1)


@metric("exposure_extremeness_reset")
def _exposure_extremeness_reset(ctx: StepContext, s: Any) -> Tensor:
    """Mean e_j shown to users whose history the platform wiped (history_reset; NaN before)."""
    return _cohort_mean(ctx, ctx.impressions.extremeness, _reset(ctx, True), engaged=False)


@metric("exposure_extremeness_kept")
def _exposure_extremeness_kept(ctx: StepContext, s: Any) -> Tensor:
    """Mean e_j shown to users whose history was never wiped (the control of history_reset)."""
    return _cohort_mean(ctx, ctx.impressions.extremeness, _reset(ctx, False), engaged=False)


@metric("exposure_distance_reset")
def _exposure_distance_reset(ctx: StepContext, s: Any) -> Tensor:
    """Mean opinion distance d_ij of the items shown to users whose history was wiped: how
    closely their feed still matches them (NaN before any reset).
    """
    return _cohort_mean(ctx, _shown_distance(ctx), _reset(ctx, True), engaged=False)


@metric("exposure_distance_kept")
def _exposure_distance_kept(ctx: StepContext, s: Any) -> Tensor:
    """Mean opinion distance d_ij of the items shown to users whose history was never wiped."""
    return _cohort_mean(ctx, _shown_distance(ctx), _reset(ctx, False), engaged=False)


# ----------------------------------------------------------------------- homogenization forms, group-wise
# popularity-bias measures, extreme reach


def merge_sorted_keys(keys: Tensor, new: Tensor) -> tuple[Tensor, Tensor]:
    """The sorted distinct union of two sorted distinct (E,) and (F,) key arrays, in O(E + F log E)
    (``torch.unique(torch.cat(...))`` would sort all E + F keys every step), and which of its
    entries were not in ``keys``.

    Examples:
        >>> merged, added = merge_sorted_keys(torch.tensor([1, 4, 9]), torch.tensor([0, 4, 5, 10]))
        >>> merged.tolist(), added.tolist()
        ([0, 1, 4, 5, 9, 10], [True, False, False, True, False, True])
    """
    at = torch.searchsorted(keys, new)
    if keys.numel():  # keep only the keys not held yet
        absent = keys[at.clamp(max=keys.numel() - 1)] != new
        new, at = new[absent], at[absent]
    out = torch.empty(keys.numel() + new.numel(), dtype=keys.dtype, device=keys.device)
    slot = at + torch.arange(new.numel(), device=keys.device)  # where each new key lands
    is_new = torch.zeros(out.numel(), dtype=torch.bool, device=keys.device)
    is_new[slot] = True
    out[slot] = new
    out[~is_new] = keys
    return out, is_new


def expand_runs(start: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    """The elements of runs [start_r, start_r + count_r), run after run: (Q,) each element's run r
    and (Q,) its index.

    Examples:
        >>> run, index = expand_runs(torch.tensor([5, 0, 9]), torch.tensor([2, 0, 3]))
        >>> run.tolist(), index.tolist()
        ([0, 0, 2, 2, 2], [5, 6, 9, 10, 11])
    """
    run = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count)
    offset = torch.repeat_interleave(start - torch.cumsum(count, 0) + count, count)
    return run, offset + torch.arange(run.numel(), device=count.device)


class _ConsumedSets:
    """Base of the cumulative homogenization forms: the distinct (item, user) consumption keys so
    far of the tracked users (all users, or ``sample_users`` drawn once per replicate), grown each
    recorded step from its engagements (with ``metrics.every`` > 1 only recorded steps count).
    """

    Settings = UserSample

    def __init__(self, settings: UserSample):
        self.settings = settings
        self.users: Tensor | None = None  # None: all users
        self.keys: Tensor | None = None  # sorted distinct item * N + user
        self.fresh: Tensor | None = None  # which of the keys the latest step added

    def setup(self, ctx: StepContext) -> None:
        n, size = ctx.users.n, self.settings.sample_users
        device = ctx.users.opinion.device
        if 0 < size < n:
            rng = ctx.streams.numpy("metric_sample")
            self.users = torch.as_tensor(np.sort(rng.choice(n, size, replace=False)), device=device)
        # every form that tracks all users starts from the same (empty) keys object, so that
        # they can share each step's merge (see merge)
        empty = torch.zeros(0, dtype=torch.long, device=device)
        self.keys = ctx.cached("consumption:all:start", lambda: empty) if self.users is None else empty

    def tracked(self, ctx: StepContext) -> Tensor | None:
        """(N,) bool of users whose consumption is kept, or None for all."""
        return None

    def merge(self, ctx: StepContext) -> tuple[Tensor, int]:
        """Merge this step's engagements into the keys; returns the keys (E,) and N."""
        assert self.keys is not None
        n = ctx.users.n
        imp = ctx.impressions
        engaged = imp.label > 0
        user, item = imp.user[engaged], imp.item[engaged]
        keep = self.tracked(ctx)
        if keep is not None:
            user, item = user[keep[user]], item[keep[user]]
        before = self.keys

        def merged() -> tuple[Tensor, Tensor]:
            return merge_sorted_keys(before, torch.unique(item * n + user))

        if keep is None:
            # forms that track every user and hold the very same keys object merge the same
            # engagements into it: the first of them merges, the others take its result (after a
            # resume each holds its own keys and merges alone)
            held, result = ctx.cached("consumption:all", lambda: (before, merged()))
            self.keys, self.fresh = result if held is before else merged()
        else:
            self.keys, self.fresh = merged()
        return self.keys, n

    def consumed(self, ctx: StepContext) -> tuple[Tensor, Tensor]:
        """All (user (E,), item (E,)) consumption so far, this step's engagements included."""
        keys, n = self.merge(ctx)
        return keys % n, keys // n

    def state_dict(self) -> dict[str, Any]:
        return {"users": self.users, "keys": self.keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.users, self.keys = state["users"], state["keys"]


@METRICS.register("homogenization_cumulative")
class HomogenizationCumulative(_ConsumedSets):
    """Cumulative homogenization: mean over users i of the Jaccard overlap |S_i ∩ S_p(i)| /
    |S_i ∪ S_p(i)| of all items consumed so far by i and by p(i), the user nearest in innate opinion
    (pairs fixed at step 0), i.e. T-RECS's InteractionSimilarity over these pairs and the
    pairing of Chaney, Stewart & Engelhardt (2018) by true preference. With sample_users < N the
    mean is over the sampled users (their partners' consumption is tracked too).
    """

    def __init__(self, settings: UserSample):
        super().__init__(settings)
        # Over all users, the set sizes and pair overlaps are kept up to date from each step's new
        # consumption (the same integers as counted from every set, so the same result). Not
        # checkpointed: after a resume they are counted again from the consumption keys.
        self.counts: tuple[Tensor, Tensor] | None = None
        # users grouped by partner: (N,) user ids sorted by partner, (N,) where each partner's
        # run starts, (N,) its length
        self.followers: tuple[Tensor, Tensor, Tensor] | None = None

    def setup(self, ctx: StepContext) -> None:
        super().setup(ctx)
        self.pairs = m.nearest_opinion_pairs(ctx.users.innate) if ctx.users.n >= 2 else None

    def tracked(self, ctx: StepContext) -> Tensor | None:
        if self.users is None or self.pairs is None:
            return None
        keep = torch.zeros(ctx.users.n, dtype=torch.bool, device=self.users.device)
        keep[self.users] = True
        keep[self.pairs[self.users]] = True
        return keep

    def compute(self, ctx: StepContext) -> Tensor:
        n = ctx.users.n
        if self.users is None:
            keys, _ = self.merge(ctx)
            if self.pairs is None or keys.numel() == 0:
                return torch.tensor(float("nan"), device=ctx.users.opinion.device)
            if self.counts is None:  # the first step, or after a resume
                self.counts = m.pair_overlap_counts_t(keys, n, self.pairs)
            else:
                assert self.fresh is not None  # set by merge()
                self.add_consumption(keys, self.fresh, n)
            return m.homogenization_from_counts_t(*self.counts, self.pairs)
        user, item = self.consumed(ctx)
        if self.pairs is None or user.numel() == 0:
            return torch.tensor(float("nan"), device=ctx.users.opinion.device)
        # sampled: only the sampled users' own pairs enter the mean
        keys = item * n + user
        owner_in = torch.zeros(n, dtype=torch.bool, device=user.device)
        owner_in[self.users] = True
        own = owner_in[user]
        size = torch.bincount(user, minlength=n)
        probe = item[own] * n + self.pairs[user[own]]
        hit = keys[torch.searchsorted(keys, probe).clamp_(max=keys.numel() - 1)] == probe
        inter = torch.zeros(n, dtype=torch.float64, device=user.device).index_add_(0, user[own], hit.double())
        u = self.users
        union = size[u] + size[self.pairs[u]] - inter[u]
        return torch.where(union > 0, inter[u] / union.clamp(min=1), 0.0).sum() / (union > 0).sum()

    def add_consumption(self, keys: Tensor, fresh: Tensor, n: int) -> None:
        """Grow the set sizes and pair overlaps by this step's new keys.

        A pair (j, u), (j, p(u)) becomes complete either because (j, u) is new (counted at u when
        (j, p(u)) is held after the step) or because (j, p(u)) is new while (j, u) was held before
        (counted at u, found among the new key's owner's followers w with p(w) = its owner): each
        newly complete pair once.

        Args:
            keys: (E,) sorted distinct item * N + user after the step.
            fresh: (E,) bool, the keys new this step.
            n: N users.
        """
        assert self.counts is not None and self.pairs is not None
        size, inter = self.counts
        new = keys[fresh]
        if new.numel() == 0:
            return
        owner, owned = new % n, new // n
        size += torch.bincount(owner, minlength=n)
        last = keys.numel() - 1
        # (j, u) new: is (j, p(u)) held?
        probe = owned * n + self.pairs.index_select(0, owner)
        hit = keys[torch.searchsorted(keys, probe).clamp_(max=last)] == probe
        # (j, v) new: for each follower w of v (p(w) = v), was (j, w) held before this step?
        if self.followers is None:
            count = torch.bincount(self.pairs, minlength=n)
            self.followers = (torch.argsort(self.pairs, stable=True), torch.cumsum(count, 0) - count, count)
        order, start, count = self.followers
        which, at_order = expand_runs(start.index_select(0, owner), count.index_select(0, owner))
        follower = order.index_select(0, at_order)
        probe = owned.index_select(0, which) * n + follower
        at = torch.searchsorted(keys, probe).clamp_(max=last)
        held = (keys[at] == probe) & ~fresh[at]
        counted = torch.cat([owner[hit], follower[held]])
        inter.index_add_(0, counted, torch.ones(counted.numel(), dtype=inter.dtype, device=inter.device))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pairs": self.pairs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.pairs = state["pairs"]
        self.counts = self.followers = None


class ChaneySample(UserSample):
    """Settings of the homogenization metric (Chaney et al. 2018) on a user sample."""

    sample_users: int = pydantic.Field(
        1000, ge=0, le=20_000, description="users compared, fixed per replicate (0 = all; O(S^2) memory)"
    )


@METRICS.register("homogenization_chaney")
class HomogenizationChaney(_ConsumedSets):
    """Nearest-consumer homogenization, the per-run part of Chaney, Stewart & Engelhardt (2018)'s
    measure: mean over (sampled) users of the Jaccard overlap of all items consumed so far with
    the most similar (sampled) user by consumption (see
    :func:`simlab.metrics.measures.nearest_consumer_jaccard_t`). Chaney et al. report it minus
    the same under the ideal recommender: ``analysis/homogenization.py`` subtracts the oracle
    variant of the same replicate.
    """

    Settings = ChaneySample

    def __init__(self, settings: ChaneySample):
        super().__init__(settings)
        # The overlap matrix |S_i ∩ S_v| (S, S) of the tracked users, in its upper triangle, kept up to date from each
        # step's new consumption instead of recomputed from every set at every step (the same
        # integers, so the same result). Not checkpointed: after a resume it is rebuilt from the
        # consumption keys.
        self.overlap: Tensor | None = None
        self.rank: Tensor | None = None  # (N,) user id -> row of the sample, -1 outside it

    def tracked(self, ctx: StepContext) -> Tensor | None:
        if self.users is None:
            return None
        keep = torch.zeros(ctx.users.n, dtype=torch.bool, device=self.users.device)
        keep[self.users] = True
        return keep

    def compute(self, ctx: StepContext) -> Tensor:
        keys, n = self.merge(ctx)
        n_tracked = n if self.users is None else self.users.numel()
        if self.users is not None and self.rank is None:  # sampled users are rows 0..S-1 of the overlap
            self.rank = torch.full((n,), -1, dtype=torch.long, device=keys.device)
            self.rank[self.users] = torch.arange(n_tracked, device=keys.device)
        if n_tracked < 2 or keys.numel() == 0:
            return nan(keys.device)
        if self.overlap is None:  # the first step, or after a resume: every pair counts as new
            self.overlap = torch.zeros(n_tracked, n_tracked, dtype=compute_dtype(keys.device), device=keys.device)
            fresh = torch.ones_like(keys, dtype=torch.bool)
        else:
            assert self.fresh is not None  # set by merge()
            fresh = self.fresh
        self.add_consumption(keys, fresh, n)
        return m.nearest_jaccard_from_overlap_t(self.overlap)

    def add_consumption(self, keys: Tensor, fresh: Tensor, n: int) -> None:
        """Grow the overlap matrix by this step's new consumption.

        With X the (S, items) 0/1 consumption matrix before and dX the new pairs, X'X'^T =
        XX^T + dX X'^T + (dX X^T)^T: each new pair (u, j) adds 1 at (u, v) for every consumer v
        of item j after the step and at (v, u) for every consumer before it. The matrix is
        symmetric, so only its upper triangle is kept: each such pair of users counts once, at
        (min(u, v), max(u, v)). Only those entries are touched (work in proportion to the new
        pairs' co-consumers, not to S^2).

        Args:
            keys: (E,) sorted distinct item * N + user of every consumption pair so far.
            fresh: (E,) bool, the keys new this step.
            n: N users.
        """
        assert self.overlap is not None
        new = keys[fresh]
        if new.numel() == 0:
            return
        new_item = new // n
        # the keys are sorted by item, so each item's consumers are one run of them
        lo = torch.searchsorted(keys, new_item * n)
        owner, pair = expand_runs(lo, torch.searchsorted(keys, new_item * n + n) - lo)  # (Q,) its item's consumers
        u, v = (new % n).index_select(0, owner), keys.index_select(0, pair) % n
        if self.rank is not None:  # user ids -> rows of the sample
            u, v = self.rank.index_select(0, u), self.rank.index_select(0, v)
        # the matrix is kept in its upper triangle (nearest_jaccard_from_overlap_t reads no more):
        # each pair of consumers of the item counts once, at (min, max); a pair of two new ones
        # is met from both sides, so it counts from the side whose row is the smaller (adding 0
        # for the other gives the same integers as selecting first, without a masked copy)
        once = ~fresh.index_select(0, pair) | (u <= v)
        s, flat = self.overlap.shape[0], self.overlap.view(-1)
        flat.index_add_(0, torch.minimum(u, v) * s + torch.maximum(u, v), once.to(flat.dtype))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.overlap = self.rank = None


def _group_impressions(ctx: StepContext, group: int) -> Tensor:
    """(I_g,) item ids of this step's impressions shown to users of ``group``."""
    imp = ctx.impressions
    return imp.item[ctx.users.group[imp.user] == group]


def _group_metrics(group: int) -> None:
    """Register exposure_gini_group{g}, coverage_group{g} and miscalibration_group{g}: the same
    three columns in every scenario (NaN where the group has no users or impressions).
    """

    @metric(f"exposure_gini_group{group}")
    def _gini(ctx: StepContext, s: Any) -> Tensor:
        items = _group_impressions(ctx, group)
        if items.numel() == 0:
            return torch.tensor(float("nan"), device=ctx.users.opinion.device)
        return m.gini_t(torch.bincount(items, minlength=ctx.n_items))

    @metric(f"coverage_group{group}")
    def _coverage(ctx: StepContext, s: Any) -> Tensor:
        items = _group_impressions(ctx, group)
        if items.numel() == 0:
            return torch.tensor(float("nan"), device=ctx.users.opinion.device)
        return m.coverage_t(items, ctx.n_items)

    @metric(f"miscalibration_group{group}")
    def _miscalibration(ctx: StepContext, s: Any) -> Tensor:
        rows = ctx.users.group[ctx.active] == group
        slates, users = ctx.slates[rows], ctx.active[rows]
        topic = ctx.catalog.topic
        shown = torch.where(slates >= 0, topic[slates.clamp(min=0)], -1)
        history = ctx.view.history[users]
        past = torch.where(history >= 0, topic[history.clamp(min=0)], -1)
        n_topics = int(ctx.catalog.live("topic").max()) + 1
        return m.miscalibration_t(shown, past, n_topics)

    _gini.__doc__ = (
        f"Gini of this step's impressions to group-{group} users over the live catalog (Mansoury et al. 2020)."
    )
    _coverage.__doc__ = f"Share of the live catalog shown to group-{group} users this step (aggregate diversity)."
    _miscalibration.__doc__ = (
        f"Mean Steck (2018) miscalibration KL(history topic mix || shown topic mix) of group-{group} users "
        "shown a slate this step, against their last H engaged items (Mansoury et al. 2020)."
    )
    # @metric copied the (then empty) docstrings at registration; the report reads the registry's
    for name, fn in (("exposure_gini", _gini), ("coverage", _coverage), ("miscalibration", _miscalibration)):
        METRICS.get(f"{name}_group{group}").__doc__ = fn.__doc__


# users.group: 2 groups by default (the two opinion camps); groups >= 2 are not reported
for _g in (0, 1):
    _group_metrics(_g)


class Reach(_Settings):
    """Settings of the reach-versus-share metrics."""

    threshold: float = pydantic.Field(0.8, ge=0, le=1, description="an item is extreme when e_j > this")
    window: int = pydantic.Field(10, ge=1, le=1_000_000, description="W, the window in (recorded) steps")


_NEVER = -(2**62)


@METRICS.register("extreme_reach")
class ExtremeReach:
    """Share of users shown at least one extreme item (e_j > threshold) within the last W steps,
    among users shown anything in those steps: the reach that Haroon et al. (PNAS 2023) report
    beside the share of recommendations (``extreme_exposure_share``). Needs every step recorded
    (metrics.every = 1) to see every impression.
    """

    Settings = Reach

    def __init__(self, settings: Reach):
        self.settings = settings
        self.last_extreme: Tensor | None = None
        self.last_shown: Tensor | None = None

    def setup(self, ctx: StepContext) -> None:
        n, device = ctx.users.n, ctx.users.opinion.device
        self.last_extreme = torch.full((n,), _NEVER, dtype=torch.long, device=device)
        self.last_shown = self.last_extreme.clone()

    def compute(self, ctx: StepContext) -> Tensor:
        assert self.last_extreme is not None and self.last_shown is not None
        imp = ctx.impressions
        self.last_shown[imp.user] = ctx.step
        self.last_extreme[imp.user[imp.extremeness > self.settings.threshold]] = ctx.step
        return m.window_reach_t(self.last_extreme, self.last_shown, ctx.step, self.settings.window)

    def state_dict(self) -> dict[str, Any]:
        return {"last_extreme": self.last_extreme, "last_shown": self.last_shown}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_extreme, self.last_shown = state["last_extreme"], state["last_shown"]


# ----------------------------------------------------------------------- antidote data (issue 25)


@runtime_checkable
class ReportsAntidoteEffect(Protocol):
    """An intervention that measures the counterfactual effect of its training rows."""

    def effect_between(self, after: int, until: int) -> float:
        """The effect of the latest retrain at a step in (after, until]; NaN if none."""
        ...


@METRICS.register("antidote_effect")
class AntidoteEffect:
    """The instantaneous, counterfactual effect of antidote data (Rastegarpanah, Gummadi & Crovella,
    WSDM 2019; issue 25): R_pol on the probe of the model retrained with the antidote rows,
    divided by R_pol of the model retrained on the same log without them (the same random
    state), minus 1, for the latest retrain since the previous recorded row. NaN on rows with no
    retrain since the previous one, and in runs without antidote. An opt-in column (``metrics.include``
    must name it).
    """

    Settings = _Settings
    opt_in = True

    def __init__(self, settings: _Settings):
        self.settings = settings
        self.previous = -1  # the step of the previous recorded row

    def compute(self, ctx: StepContext) -> float:
        reporters = [i for i in ctx.interventions if isinstance(i, ReportsAntidoteEffect)]
        value = reporters[0].effect_between(self.previous, ctx.step) if reporters else float("nan")
        self.previous = ctx.step
        return value

    def state_dict(self) -> dict[str, Any]:
        return {"previous": self.previous}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.previous = int(state["previous"])
