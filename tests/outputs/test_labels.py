"""Every registered metric has words (issue 29): a family, a title and an axis label with its
unit, and a declared range where it has one (learned_share, a ratio, is left unbounded)."""

from __future__ import annotations

import math

from simlab.metrics.columns import BOUNDS
from simlab.outputs.labels import FAMILIES, LABELS, OTHER, family_of, grouped, title_of, unit_of
from simlab.outputs.page_figures import MAX_PANELS
from simlab.registry import METRICS
from simlab.results.intervals import interval, metric_bounds


def registered() -> list[str]:
    return METRICS.names()


def test_every_registered_metric_has_a_family_a_title_and_a_unit():
    for name in registered():
        assert name in LABELS, f"{name}: no title and unit in simlab/outputs/labels.py"
        assert family_of(name) != OTHER, f"{name}: in no family"
        assert title_of(name) and unit_of(name) and unit_of(name) != "value (see its definition)", name


def test_a_family_fits_a_page():
    for family, names in FAMILIES.items():
        assert len(names) <= MAX_PANELS, family
    assert list(grouped(["learned_share", "ctr", "a_plugin_metric"])) == [
        "engagement and model quality",
        "learning",
        OTHER,
    ]
    assert (
        title_of("a_plugin_metric") == "A plugin metric" and unit_of("a_plugin_metric") == "value (see its definition)"
    )


def test_every_registered_metric_but_learned_share_declares_its_range():
    names = registered()
    assert [n for n in names if n not in BOUNDS] == ["learned_share"]
    for name in ("auc_within_position", "auc_ceiling", "ndcg", "personalisation", "personalisation_ceiling"):
        assert BOUNDS[name] == (0.0, 1.0), name
    # a learned share past 1 (an AUC above the ceiling's on few impressions) is kept, not cut
    found = interval([0.9, 1.1, 1.3], metric_bounds("learned_share"))
    assert metric_bounds("learned_share") == (-math.inf, math.inf)
    assert found.high > 1.3 and found.low < 0.9 and not found.clipped
