"""Overrides address list items (interventions.0.weight) in --set, variants and sweeps."""

from __future__ import annotations

import pytest

from simlab.config import apply_overrides
from simlab.core.errors import ScenarioError

DOC = {
    "interventions": [{"type": "a", "weight": 1.0}],
    "recommender": {"type": "dlrm", "slate_size": 3, "lr": 0.1, "policy": {"type": "epsilon_greedy", "epsilon": 0.3}},
}


def test_a_list_item_setting():
    out = apply_overrides(DOC, {"interventions.0.weight": 0.5})
    assert out["interventions"] == [{"type": "a", "weight": 0.5}]
    assert DOC["interventions"][0]["weight"] == 1.0  # the original is untouched


def test_one_past_the_end_appends_a_block():
    out = apply_overrides(DOC, {"interventions.1.type": "b", "interventions.1.weight": 2})
    assert out["interventions"][1] == {"type": "b", "weight": 2}


def test_an_index_past_the_end_is_an_error():
    with pytest.raises(ScenarioError, match="past the end"):
        apply_overrides(DOC, {"interventions.3.weight": 1})


def test_changing_a_block_type_drops_its_settings():
    assert apply_overrides(DOC, {"interventions.0.type": "c"})["interventions"] == [{"type": "c"}]
    assert apply_overrides(DOC, {"recommender.policy.type": "softmax"})["recommender"]["policy"] == {"type": "softmax"}
    kept = apply_overrides(DOC, {"recommender.type": "als"})["recommender"]
    assert kept["slate_size"] == 3 and "lr" not in kept


def test_a_nested_override_reaches_list_items():
    out = apply_overrides(DOC, {"interventions": {0: {"weight": 0.25}}})
    assert out["interventions"][0]["weight"] == 0.25


def test_a_sweep_keeps_its_dotted_axis_names():
    # --set "sweep={behavior.b_ext: [0, 1]}" replaces the grid; --set sweep.behavior.b_ext=[..] sets one axis
    whole = apply_overrides({"sweep": {"seed": [1, 2]}}, {"sweep": {"behavior.b_ext": [0, 1], "population.size": [5]}})
    assert whole["sweep"] == {"behavior.b_ext": [0, 1], "population.size": [5]}
    one = apply_overrides({"sweep": {"seed": [1, 2]}}, {"sweep.behavior.b_ext": [0, 1]})
    assert one["sweep"] == {"seed": [1, 2], "behavior.b_ext": [0, 1]}
    assert apply_overrides({}, {"sweep.behavior.b_ext": [0]})["sweep"] == {"behavior.b_ext": [0]}
