"""The metric columns of metrics.csv (docs/design.md §3), each computed from a StepContext through
the pure functions of :mod:`simlab.metrics.measures` on the run's device.

Stateless metrics are functions registered with :func:`metric`; metrics that fix something once
per replicate (a probe set, step-0 exposure, user pairs) are small classes.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pydantic
import torch
from torch import Tensor

from simlab.core.rng import Streams
from simlab.metrics import learning
from simlab.metrics import measures as m
from simlab.metrics.arrays import nan
from simlab.metrics.recorder import StepContext, metric
from simlab.platform.candidates import first_occurrence
from simlab.registry import METRICS


class _Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class Threshold(_Settings):
    """Settings of the extreme-share metrics."""

    threshold: float = pydantic.Field(0.8, ge=0, le=1, description="counts as extreme above this |x| or e_j")


class EstebanRay(_Settings):
    """Settings of the Esteban-Ray polarization index (Esteban & Ray 1994)."""

    alpha: float = pydantic.Field(1.0, ge=0, le=1.6, description="polarization sensitivity (Esteban & Ray: <= 1.6)")
    bins: int = pydantic.Field(20, ge=2, le=10_000, description="equal-width opinion bins on [-1, 1]")


class Diversity(_Settings):
    """Settings of the slate-diversity metrics."""

    feature: Literal["stance", "topic"] = pydantic.Field(
        "stance", description="item features compared: stances, or one-hot topics"
    )


class Drift(_Settings):
    """Settings of the exposure-drift metric."""

    delta: float = pydantic.Field(0.1, ge=0, le=2, description="counts a user whose exposure rose by more than this")


class Probe(_Settings):
    """Settings of the metrics computed on a fixed probe set of users and items."""

    probe_users: int = pydantic.Field(200, ge=2, le=100_000, description="users in the probe set (fixed per replicate)")
    probe_items: int = pydantic.Field(100, ge=2, le=100_000, description="items in the probe set (fixed per replicate)")


# ----------------------------------------------------------------------- opinions


@metric("opinion_mean")
def _opinion_mean(ctx: StepContext, s: Any) -> Tensor:
    """Mean opinion over users and axes."""
    return m.opinion_mean_t(ctx.users.opinion)


@metric("opinion_variance")
def _opinion_variance(ctx: StepContext, s: Any) -> Tensor:
    """Population variance of opinions (summed over axes)."""
    return m.opinion_variance_t(ctx.users.opinion)


@metric("polarization_er", EstebanRay)
def _polarization_er(ctx: StepContext, s: EstebanRay) -> Tensor:
    """Esteban–Ray polarization of the binned opinion distribution."""
    return m.esteban_ray_t(ctx.users.opinion, alpha=s.alpha, bins=s.bins)


@metric("bimodality")
def _bimodality(ctx: StepContext, s: Any) -> Tensor:
    """Bimodality coefficient (Pfister et al. 2013); > 5/9 suggests bimodality."""
    return m.bimodality_coefficient_t(ctx.users.opinion)


def _musco(ctx: StepContext) -> m.PolarizationDisagreement:
    g = ctx.graph
    return ctx.cached("musco", lambda: m.polarization_disagreement_edges_t(g.src, g.dst, g.weight, ctx.users.opinion))


@metric("polarization_p")
def _polarization_p(ctx: StepContext, s: Any) -> Tensor | float:
    """Musco, Musco & Tsourakakis (2018) polarization sum_i (x_i - mean)^2."""
    return _musco(ctx).polarization


@metric("disagreement")
def _disagreement(ctx: StepContext, s: Any) -> Tensor | float:
    """Musco et al. (2018) disagreement sum over edges w_ij (x_i - x_j)^2."""
    return _musco(ctx).disagreement


@metric("extremity")
def _extremity(ctx: StepContext, s: Any) -> Tensor:
    """Mean |x_i| (largest absolute coordinate)."""
    return m.extremity_t(ctx.users.opinion)


@metric("extreme_user_share", Threshold)
def _extreme_user_share(ctx: StepContext, s: Threshold) -> Tensor:
    """Share of users with |x_i| > threshold."""
    return m.extreme_share_t(ctx.users.extremity, s.threshold)


# ----------------------------------------------------------------------- exposure and consumption


@metric("exposure_extremeness")
def _exposure_extremeness(ctx: StepContext, s: Any) -> Tensor:
    """Mean extremeness e_j of the items shown this step."""
    return m.exposure_extremeness_t(ctx.impressions.extremeness)


@metric("consumption_extremeness")
def _consumption_extremeness(ctx: StepContext, s: Any) -> Tensor:
    """Mean extremeness e_j of the items engaged with this step."""
    return m.consumption_extremeness_t(ctx.impressions.extremeness[ctx.impressions.label > 0])


@metric("extreme_exposure_share", Threshold)
def _extreme_exposure_share(ctx: StepContext, s: Threshold) -> Tensor:
    """Share of this step's impressions whose item has e_j > threshold."""
    return m.extreme_exposure_share_t(ctx.impressions.extremeness, s.threshold)


def _per_user_exposure(ctx: StepContext) -> Tensor:
    """(N,) mean extremeness of the items shown to each user this step (NaN if none)."""

    def compute() -> Tensor:
        n = ctx.users.n
        total = torch.zeros(n, dtype=torch.float64, device=ctx.users.opinion.device)
        total.index_add_(0, ctx.impressions.user, ctx.impressions.extremeness.double())
        count = torch.bincount(ctx.impressions.user, minlength=n)
        return torch.where(count > 0, total / count.clamp(min=1), float("nan"))

    return ctx.cached("user_exposure", compute)


@METRICS.register("exposure_drift_share")
class ExposureDriftShare:
    """Share of users whose exposure extremeness rose by more than delta since step 0."""

    Settings = Drift

    def __init__(self, settings: Drift):
        self.settings = settings
        self.start: Tensor | None = None

    def setup(self, ctx: StepContext) -> None:
        self.start = _per_user_exposure(ctx).clone()

    def compute(self, ctx: StepContext) -> Tensor:
        assert self.start is not None
        return m.exposure_drift_share_t(_per_user_exposure(ctx), self.start, self.settings.delta)

    def state_dict(self) -> dict[str, Any]:
        return {"start": self.start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start = state["start"]


@metric("slate_diversity", Diversity)
def _slate_diversity(ctx: StepContext, s: Diversity) -> Tensor:
    """Intra-list diversity: mean pairwise distance of the items in a slate (full slates)."""
    full = (ctx.slates >= 0).all(dim=1)
    slates = ctx.slates[full]
    if s.feature == "stance":
        features = ctx.catalog.stance[slates]
    else:
        features = torch.nn.functional.one_hot(ctx.catalog.topic[slates], int(ctx.catalog.live("topic").max()) + 1)
    return m.intra_list_diversity_t(features.float())


class UserSample(_Settings):
    """Settings of the metrics estimated on a fixed sample of users."""

    sample_users: int = pydantic.Field(
        20_000, ge=0, le=100_000_000, description="estimate on this many users fixed per replicate (0 = all)"
    )


class _SampledHistoryMetric:
    """Base of metrics over users' last-H engaged items. With N > sample_users they are estimated
    on a random sample of users drawn once per replicate (reading all N x H history entries
    every step would cost more than the step itself at 1e6 users).
    """

    Settings = UserSample

    def __init__(self, settings: UserSample):
        self.settings = settings
        self.users: Tensor | None = None  # None: all users

    def setup(self, ctx: StepContext) -> None:
        n, size = ctx.users.n, self.settings.sample_users
        if 0 < size < n:
            rng = ctx.streams.numpy("metric_sample")
            self.users = torch.as_tensor(np.sort(rng.choice(n, size, replace=False)), device=ctx.users.opinion.device)

    def rows(self, ctx: StepContext, users: Tensor | None) -> Tensor:
        """(S, H) last-H engaged items of ``users`` (all users if None), -1 for empty slots."""
        return ctx.view.history if users is None else ctx.view.history[users]

    def state_dict(self) -> dict[str, Any]:
        return {"users": self.users}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.users = state["users"]


@METRICS.register("topic_entropy")
class TopicEntropy(_SampledHistoryMetric):
    """Mean over users of the Shannon entropy (nats) of the topics among their last H engaged
    items (users with none left out): low values mean topical filter bubbles.
    """

    def compute(self, ctx: StepContext) -> Tensor:
        items = self.rows(ctx, self.users)
        topics = torch.where(items >= 0, ctx.catalog.topic[items.clamp(min=0)], -1)
        return m.row_topic_entropy_t(topics, int(ctx.catalog.live("topic").max()) + 1)


@metric("coverage")
def _coverage(ctx: StepContext, s: Any) -> Tensor:
    """Share of the live catalog shown at least once this step."""
    return m.coverage_t(ctx.impressions.item, ctx.n_items)


@metric("exposure_gini")
def _exposure_gini(ctx: StepContext, s: Any) -> Tensor:
    """Gini coefficient of this step's impressions over the live catalog."""
    return m.gini_t(torch.bincount(ctx.impressions.item, minlength=ctx.n_items))


@METRICS.register("homogenization")
class Homogenization(_SampledHistoryMetric):
    """Recent-history homogenization (the last-H form): mean Jaccard overlap of each user's last H
    engaged items (the platform's history bag) with those of the user nearest in innate opinion
    (pairs fixed at step 0), after Chaney et al. (2018). It forgets: once a user has engaged more
    than H times it departs from the cumulative form ``homogenization_cumulative`` (all items
    consumed so far, as T-RECS's InteractionSimilarity); the name is kept for compatibility.
    """

    def setup(self, ctx: StepContext) -> None:
        super().setup(ctx)
        # a lone user has no partner: the metric is then undefined (NaN)
        self.pairs = m.nearest_opinion_pairs(ctx.users.innate) if ctx.users.n >= 2 else None

    def compute(self, ctx: StepContext) -> Tensor:
        if self.pairs is None:
            return torch.tensor(float("nan"), device=ctx.users.opinion.device)
        users = torch.arange(ctx.users.n, device=self.pairs.device) if self.users is None else self.users
        return m.row_jaccard_t(self.rows(ctx, users), self.rows(ctx, self.pairs[users]))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pairs": self.pairs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.pairs = state["pairs"]


# ----------------------------------------------------------------------- engagement and accuracy


@metric("ctr")
def _ctr(ctx: StepContext, s: Any) -> Tensor:
    """Engagements per impression this step."""
    return m.ctr_t(ctx.impressions.label)


@metric("engagement")
def _engagement(ctx: StepContext, s: Any) -> Tensor:
    """Engagements per user this step (all N users, active or not)."""
    return m.engagement_t(ctx.impressions.label, ctx.users.n)


@metric("auc_pooled")
def _auc_pooled(ctx: StepContext, s: Any) -> Tensor:
    """Progressive-validation AUC of the model's predictions on this step's impressions (made
    before it trained on them), pooled over slate positions: a ranked feed's scores follow the
    position, which alone predicts engagement, so compare auc_within_position.
    """
    assert ctx.predictions is not None  # the loop always records them
    return m.auc_t(ctx.impressions.label, ctx.predictions)


def _shown_scores(ctx: StepContext) -> Tensor:
    scores = ctx.shown_scores if ctx.shown_scores is not None else ctx.predictions
    assert scores is not None  # the loop always records both
    return scores


def _auc_ceiling_value(ctx: StepContext) -> Tensor:
    imp = ctx.impressions
    return ctx.cached("auc_ceiling", lambda: learning.auc_within_t(imp.label, imp.probability, imp.position))


def _auc_within_value(ctx: StepContext) -> Tensor:
    imp = ctx.impressions
    return ctx.cached("auc_within", lambda: learning.auc_within_t(imp.label, _shown_scores(ctx), imp.position))


@metric("auc_within_position")
def _auc_within_position(ctx: StepContext, s: Any) -> Tensor:
    """Progressive-validation AUC of the feed's own ranking scores for what it showed, computed
    within each slate position and averaged (position alone scores 1/2).
    """
    return _auc_within_value(ctx)


@metric("auc_ceiling")
def _auc_ceiling(ctx: StepContext, s: Any) -> Tensor:
    """auc_within_position of the true engagement probabilities of the same impressions: the
    Bayes ceiling of what a learner could reach (a measurement; the platform never sees it).
    """
    return _auc_ceiling_value(ctx)


@metric("learned_share")
def _learned_share(ctx: StepContext, s: Any) -> Tensor:
    """(auc_within_position - 1/2) / (auc_ceiling - 1/2): 0 learned nothing, 1 ranks like the truth."""
    return learning.learned_share_t(_auc_within_value(ctx), _auc_ceiling_value(ctx))


@metric("ndcg")
def _ndcg(ctx: StepContext, s: Any) -> Tensor:
    """NDCG@k of the shown slates under the true engagement probabilities (top position), relative
    to the best k of the same candidates (the oracle's slate): 1 for the oracle.
    """
    oracle, candidates = ctx.true_probability, ctx.candidates
    if oracle is None or candidates is None or ctx.active.numel() == 0:
        return nan(ctx.users.opinion.device)
    a, c = candidates.shape
    users = ctx.active[:, None]
    gains = oracle(users.expand(a, c).reshape(-1), candidates.reshape(-1)).reshape(a, c)
    gains = torch.where(first_occurrence(candidates), gains, torch.zeros_like(gains))
    slates = ctx.slates
    shown = oracle(users.expand_as(slates).reshape(-1), slates.clamp(min=0).reshape(-1)).reshape(slates.shape)
    return learning.ndcg_t(torch.where(slates >= 0, shown, torch.zeros_like(shown)), gains)


@metric("logloss")
def _logloss(ctx: StepContext, s: Any) -> Tensor:
    """Progressive-validation log loss of the predictions (see auc_pooled)."""
    assert ctx.predictions is not None
    return m.logloss_t(ctx.impressions.label, ctx.predictions)


# ----------------------------------------------------------------------- the probe set


def probe_set(
    streams: Streams, n_users: int, n_items: int, settings: Probe, device: torch.device
) -> tuple[Tensor, Tensor]:
    """The replicate's probe set, drawn from the ``probe`` stream (a fresh generator each call,
    so every caller gets the same set: the probe metrics and the antidote intervention).

    Args:
        streams: the replicate's random streams.
        n_users: N real users.
        n_items: the initial catalog's size.
        settings: the probe's size.
        device: where the ids go.

    Returns:
        (Q,) probe user ids and (P,) probe item ids, long.
    """
    rng = streams.numpy("probe")
    q, p = min(settings.probe_users, n_users), min(settings.probe_items, n_items)
    users = torch.as_tensor(rng.choice(n_users, q, replace=False), device=device)
    return users, torch.as_tensor(rng.choice(n_items, p, replace=False), device=device)


class _ProbeMetric:
    """Base of metrics measured on a fixed probe set: probe_users x probe_items sampled once
    per replicate (items from the initial catalog), scored by the recommender's own predict().
    """

    Settings = Probe

    def __init__(self, settings: Probe):
        self.settings = settings
        self.users: Tensor | None = None
        self.items: Tensor | None = None

    def setup(self, ctx: StepContext) -> None:
        # a fresh generator from the named stream: every probe metric of a replicate draws the
        # same probe set, so the prediction is computed once per step and shared
        device = ctx.users.opinion.device
        self.users, self.items = probe_set(ctx.streams, ctx.users.n, ctx.catalog.size, self.settings, device)

    def predictions(self, ctx: StepContext) -> tuple[Tensor, Tensor]:
        """(U, I) predicted and true engagement probabilities (top slate position)."""
        probe_users, probe_items, oracle = self.users, self.items, ctx.true_probability
        assert probe_users is not None and probe_items is not None and oracle is not None
        key = f"probe:{probe_users.numel()}:{probe_items.numel()}"

        def compute() -> tuple[Tensor, Tensor]:
            u, i = probe_users.numel(), probe_items.numel()
            users, items = probe_users.repeat_interleave(i), probe_items.repeat(u)
            # the model is asked under the ids the platform knows (logged-out users: anonymous)
            seen = ctx.view.platform_users(probe_users)
            if ctx.recommender.scores_are_logits:  # the probe is a grid: score it
                predicted = torch.sigmoid(ctx.recommender.score(seen, probe_items.expand(u, i)))
            else:
                predicted = ctx.recommender.predict(seen.repeat_interleave(i), items).reshape(u, i)
            true = oracle(users, items).reshape(u, i)
            return predicted.double(), true.double()

        return ctx.cached(key, compute)

    def loss_per_user(self, ctx: StepContext) -> Tensor:
        predicted, true = self.predictions(ctx)
        return ((predicted - true) ** 2).mean(dim=1)

    def state_dict(self) -> dict[str, Any]:
        return {"users": self.users, "items": self.items}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.users, self.items = state["users"], state["items"]


@METRICS.register("rpol")
class Rpol(_ProbeMetric):
    """R_pol (Rastegarpanah et al. 2019): mean over probe items of the variance over probe users
    of the recommender's raw predictions (``predict_raw``: ALS's unclipped ratings, as the paper
    defines it; the engagement probability of models that predict one).
    """

    def compute(self, ctx: StepContext) -> Tensor:
        if ctx.recommender.scores_are_logits:  # the scores' sigmoid is the (unclipped) prediction
            return m.rpol_t(self.predictions(ctx)[0])
        assert self.users is not None and self.items is not None
        u, i = self.users.numel(), self.items.numel()
        raw = ctx.recommender.predict_raw(self.users.repeat_interleave(i), self.items.repeat(u))
        return m.rpol_t(raw.reshape(u, i).double())


@METRICS.register("personalisation")
class Personalisation(_ProbeMetric):
    """Share of the variance of the recommender's predicted engagement on the probe set
    (probe users x probe items) that is user-by-item rather than a user or an item main effect
    (:func:`simlab.metrics.learning.interaction_share`): 0 for a popularity feed, NaN for one
    that predicts a constant. Compare personalisation_ceiling.
    """

    def compute(self, ctx: StepContext) -> Tensor:
        return learning.interaction_share_t(self.predictions(ctx)[0])


@METRICS.register("personalisation_ceiling")
class PersonalisationCeiling(_ProbeMetric):
    """personalisation of the true engagement probabilities on the same probe set: how much of
    engagement depends on who meets what (a measurement; the platform never sees it).
    """

    def compute(self, ctx: StepContext) -> Tensor:
        return learning.interaction_share_t(self.predictions(ctx)[1])


@METRICS.register("unfairness_individual")
class UnfairnessIndividual(_ProbeMetric):
    """Variance over probe users of the per-user squared error of predicted vs true engagement
    probability (Rastegarpanah et al. 2019, individual unfairness).
    """

    def compute(self, ctx: StepContext) -> Tensor:
        return m.unfairness_individual_t(self.loss_per_user(ctx))


@METRICS.register("unfairness_group")
class UnfairnessGroup(_ProbeMetric):
    """Variance over user groups g_i of the mean per-user loss on the probe set
    (Rastegarpanah et al. 2019, group unfairness).
    """

    def compute(self, ctx: StepContext) -> Tensor:
        assert self.users is not None
        return m.unfairness_group_t(self.loss_per_user(ctx), ctx.users.group[self.users])


# ----------------------------------------------------------------------- declared ranges (issue 29)

_SHARE, _NONNEGATIVE = (0.0, 1.0), (0.0, float("inf"))

# The range each metric's values lie in: shares, probabilities, means of e_j or q_j and AUCs in
# [0, 1]; variances, sums of squares, entropies, divergences and rates >= 0. The intervals of
# simlab.running.summary are cut at these bounds (and say so). A metric not listed is unbounded;
# a plugin may add its own entry. learned_share, (AUC - 1/2) / (ceiling - 1/2), is a ratio, not a
# share: below 0 when a feed ranks worse than chance, above 1 when its AUC beats the ceiling's on
# the step's few impressions, so it is left unbounded.
BOUNDS: dict[str, tuple[float, float]] = {
    "opinion_mean": (-1.0, 1.0),
    "echo_chamber": (-1.0, 1.0),
    "assortativity": (-1.0, 1.0),
    "intensity": _SHARE,
    "rewired_edges": _NONNEGATIVE,
    # 1 - (a ratio of entropies or participation ratios): at most 1, below 0 when diversity grows
    "simplification": (-float("inf"), 1.0),
    "axis_simplification": (-float("inf"), 1.0),
    "antidote_effect": (-1.0, float("inf")),  # a ratio of two variances, minus 1
    "extremity": _SHARE,
    "exposure_distance_kept": (0.0, 2.0),
    "exposure_distance_reset": (0.0, 2.0),
    **dict.fromkeys(
        [
            "extreme_user_share", "exposure_extremeness", "consumption_extremeness", "extreme_exposure_share",
            "exposure_drift_share", "coverage", "exposure_gini", "homogenization", "homogenization_cumulative",
            "homogenization_chaney", "ctr", "auc_pooled", "auc_within_position", "auc_ceiling", "ndcg",
            "personalisation", "personalisation_ceiling", "supply_extremeness", "extreme_reach",
            "exposure_extremeness_kept", "exposure_extremeness_reset",
            *(f"{w}_{f}_{c}" for w in ("exposure", "consumption") for f in ("quality", "extremeness")
              for c in ("logged_out", "logged_in")),
            *(f"{w}_unreliable{c}" for w in ("exposure", "consumption") for c in ("", "_logged_out", "_logged_in")),
            *(f"{name}_group{g}" for name in ("exposure_gini", "coverage") for g in (0, 1)),
        ],
        _SHARE,
    ),
    **dict.fromkeys(
        [
            "opinion_variance", "polarization_er", "bimodality", "polarization_p", "disagreement",
            "slate_diversity", "topic_entropy", "engagement", "logloss", "rpol", "unfairness_individual",
            "unfairness_group", "miscalibration_group0", "miscalibration_group1",
        ],
        _NONNEGATIVE,
    ),
}  # fmt: skip

# Metrics of a model's per-user predictions: a feed that predicts one number for everyone (the
# random and chronological feeds predict the platform CTR) has none, and they are shown as n/a.
NEEDS_PREDICTIONS = frozenset({"rpol", "personalisation", "auc_pooled"})
