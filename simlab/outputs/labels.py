"""Words for metrics: each metric's family, its title and its axis label with the unit, shared by
the figures, the report, ``simlab compare`` and the terminal summaries.

Every registered metric has a title and a unit here (tests/outputs/test_labels.py checks it); a
metric of no listed family goes under "other" and, without an entry, is titled from its name with
the axis "value (see its definition)".
"""

from __future__ import annotations

from collections.abc import Sequence

FAMILIES: dict[str, list[str]] = {
    "polarization": [
        "opinion_variance",
        "polarization_er",
        "bimodality",
        "polarization_p",
        "disagreement",
        "opinion_mean",
    ],
    "extremity and exposure": [
        "extremity",
        "extreme_user_share",
        "exposure_extremeness",
        "consumption_extremeness",
        "extreme_exposure_share",
        "exposure_drift_share",
        "extreme_reach",
        "supply_extremeness",
    ],
    "diversity": [
        "slate_diversity",
        "topic_entropy",
        "coverage",
        "exposure_gini",
        "homogenization",
        "homogenization_cumulative",
        "homogenization_chaney",
    ],
    "engagement and model quality": ["ctr", "engagement", "ndcg", "auc_pooled", "logloss", "rpol", "antidote_effect"],
    "learning": ["auc_within_position", "auc_ceiling", "learned_share", "personalisation", "personalisation_ceiling"],
    "fairness": [
        "unfairness_individual",
        "unfairness_group",
        "exposure_gini_group0",
        "exposure_gini_group1",
        "coverage_group0",
        "coverage_group1",
        "miscalibration_group0",
        "miscalibration_group1",
    ],
    "opinion formation": [
        "intensity",
        "simplification",
        "axis_simplification",
        "echo_chamber",
        "assortativity",
        "rewired_edges",
    ],
    "cohorts": [
        *(
            f"{what}_{feature}_{cohort}"
            for cohort in ("logged_out", "logged_in")
            for what in ("exposure", "consumption")
            for feature in ("extremeness", "quality")
        ),
        "exposure_extremeness_reset",
        "exposure_extremeness_kept",
        "exposure_distance_reset",
        "exposure_distance_kept",
    ],
    "reliability": [
        f"{what}_unreliable{cohort}"
        for cohort in ("", "_logged_out", "_logged_in")
        for what in ("exposure", "consumption")
    ],
}
OTHER = "other"

# metric -> (title, axis label with unit); opinions live in [-1, 1], item extremeness e_j,
# quality q_j and reliability r_j in [0, 1]
LABELS: dict[str, tuple[str, str]] = {
    "antidote_effect": ("Antidote's effect on R_pol at the retrain", "R_pol with / without antidote - 1"),
    "intensity": ("Opinion intensity", "mean |x| (0 to 1)"),
    "simplification": ("Simplification (entropy lost)", "1 - H_t / H_0"),
    "axis_simplification": ("Axis simplification", "1 - PR_t / PR_0 (participation ratio)"),
    "echo_chamber": ("Echo chamber (neighbourhood correlation)", "Pearson r (-1 to 1)"),
    "assortativity": ("Opinion assortativity of the graph", "Pearson r over edges (-1 to 1)"),
    "rewired_edges": ("Rewired links (cumulative)", "links added + removed"),
    "opinion_mean": ("Mean opinion", "opinion (-1 to 1)"),
    "opinion_variance": ("Opinion variance", "variance (opinion units²)"),
    "polarization_er": ("Esteban-Ray polarization", "ER index (≥ 0)"),
    "bimodality": ("Bimodality coefficient", "BC (> 0.555: bimodal)"),
    "polarization_p": ("Polarization (Musco et al.)", "Σ (x_i - mean)² (opinion²)"),
    "disagreement": ("Disagreement on the graph", "Σ w_ij (x_i - x_j)² (opinion²)"),
    "extremity": ("Opinion extremity", "mean |x| (0 to 1)"),
    "extreme_user_share": ("Extreme users", "share of users (0 to 1)"),
    "exposure_extremeness": ("Exposure extremeness", "mean e_j shown (0 to 1)"),
    "consumption_extremeness": ("Consumption extremeness", "mean e_j engaged (0 to 1)"),
    "extreme_exposure_share": ("Extreme exposure", "share of impressions (0 to 1)"),
    "exposure_drift_share": ("Exposure drift since step 0", "share of users (0 to 1)"),
    "extreme_reach": ("Reach of extreme items", "share of users reached (0 to 1)"),
    "supply_extremeness": ("Extremeness of new items", "mean e_j created (0 to 1)"),
    "exposure_unreliable": ("Unreliable exposure", "share of impressions with r_j < threshold (0 to 1)"),
    "consumption_unreliable": ("Unreliable consumption", "share of engagements with r_j < threshold (0 to 1)"),
    "slate_diversity": ("Slate diversity", "mean pairwise stance distance"),
    "topic_entropy": ("Topic entropy of consumption", "entropy (nats)"),
    "coverage": ("Catalog coverage", "share of items shown (0 to 1)"),
    "exposure_gini": ("Exposure inequality", "Gini of impressions (0 to 1)"),
    "homogenization": ("Homogenization (last H)", "Jaccard overlap (0 to 1)"),
    "homogenization_cumulative": ("Homogenization (cumulative)", "Jaccard overlap (0 to 1)"),
    "homogenization_chaney": ("Homogenization (nearest consumer)", "Jaccard overlap (0 to 1)"),
    "ctr": ("Click-through rate", "engagements per impression"),
    "engagement": ("Engagement", "engagements per user per step"),
    "ndcg": ("Ranking quality (NDCG@k)", "NDCG under true p (0 to 1)"),
    "auc_pooled": ("AUC pooled over positions", "AUC (0.5 = chance)"),
    "auc_within_position": ("AUC within positions", "AUC (0.5 = chance)"),
    "auc_ceiling": ("AUC of the true probabilities", "AUC (Bayes ceiling)"),
    "learned_share": ("Learned share of the ceiling", "0 = chance, 1 = Bayes ceiling"),
    "personalisation": ("Personalisation of predictions", "user-by-item share (0 to 1)"),
    "personalisation_ceiling": ("Personalisation of true p", "user-by-item share (0 to 1)"),
    "logloss": ("Log loss", "nats per impression"),
    "rpol": ("Polarization of predictions (R_pol)", "variance of predictions"),
    "unfairness_individual": ("Individual unfairness", "variance of per-user error"),
    "unfairness_group": ("Group unfairness", "variance of group mean error"),
}
_COHORTS = {
    "logged_out": "logged-out users",
    "logged_in": "logged-in users",
    "reset": "users whose history was reset",
    "kept": "users whose history was kept",
}
for _cohort, _who in _COHORTS.items():
    for _what, _verb in (("exposure", "shown to"), ("consumption", "engaged by")):
        LABELS[f"{_what}_extremeness_{_cohort}"] = (
            f"Extremeness {_verb} {_who}",
            f"mean e_j {'shown' if _what == 'exposure' else 'engaged'} (0 to 1)",
        )
        LABELS[f"{_what}_quality_{_cohort}"] = (
            f"Quality {_verb} {_who}",
            f"mean q_j {'shown' if _what == 'exposure' else 'engaged'} (0 to 1)",
        )
    LABELS[f"exposure_distance_{_cohort}"] = (f"Distance of items shown to {_who}", "mean |x_i - y_j| (0 to 2)")
    if _cohort.startswith("logged"):
        for _what, _verb in (("exposure", "shown to"), ("consumption", "engaged by")):
            LABELS[f"{_what}_unreliable_{_cohort}"] = (
                f"Unreliable items {_verb} {_who}",
                f"share of {'impressions' if _what == 'exposure' else 'engagements'} with r_j < threshold (0 to 1)",
            )
for _g in (0, 1):
    LABELS[f"exposure_gini_group{_g}"] = (f"Exposure inequality, group {_g}", "Gini of impressions (0 to 1)")
    LABELS[f"coverage_group{_g}"] = (f"Catalog coverage, group {_g}", "share of items shown (0 to 1)")
    LABELS[f"miscalibration_group{_g}"] = (f"Miscalibration, group {_g}", "KL divergence (nats)")

# what a reader would otherwise ask about a number (shown under the report's tables)
NOTES: dict[str, str] = {
    "logloss": "The oracle predicts each item's top-position probability for every slot, so it over-predicts "
    "lower slots: its log loss is high although its ranking is the best possible.",
    "rpol": "n/a for feeds that predict one number for everyone (random, chronological): they have no "
    "per-user predictions.",
    "personalisation": "n/a for feeds that predict one number for everyone (random, chronological): there is "
    "no variance to split.",
    "auc_pooled": "Pooled over slate positions, which alone predict engagement, so any ranked feed scores above "
    "0.5: read auc_within_position. n/a for feeds that predict one number for everyone (random, chronological).",
}


def family_of(name: str) -> str:
    """The family (figure group) metric ``name`` belongs to; unknown names go to the last, "other"."""
    return next((family for family, names in FAMILIES.items() if name in names), OTHER)


def grouped(names: Sequence[str]) -> dict[str, list[str]]:
    """``names`` by family, families and their metrics in the order of :data:`FAMILIES`, metrics
    of no listed family last under "other" (in their given order); empty families dropped.
    """
    out = {family: [n for n in listed if n in names] for family, listed in FAMILIES.items()}
    out[OTHER] = [n for n in names if family_of(n) == OTHER]
    return {family: members for family, members in out.items() if members}


def title_of(name: str) -> str:
    """The metric in words (a figure panel's title)."""
    return LABELS.get(name, (name.replace("_", " ").capitalize(), ""))[0]


def unit_of(name: str) -> str:
    """The metric's axis label with its unit."""
    return LABELS.get(name, ("", "value (see its definition)"))[1]


def slug(family: str) -> str:
    """A family as it appears in file names: ``engagement_model_quality``."""
    return family.replace(" and ", "_").replace(" ", "_")
