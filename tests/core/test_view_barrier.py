"""The information barrier is a type: nothing the platform side holds reaches the true state.

Walks every attribute reachable from the platform's view, the recommender and each
non-privileged intervention of a running simulation, and checks that no tensor among them
shares storage with a true opinion, stance, appetite, interest, taste or quality, and that no
:class:`Users` or :class:`Catalog` object is reachable at all."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import simlab
from simlab.core.state import Catalog, ObservedItems, Users
from simlab.core.view import PlatformView
from simlab.loop.simulation import Simulation


def _reachable(root: object, limit: int = 200_000) -> list[object]:
    """Every object reachable from ``root`` through attributes, dataclass fields, containers
    and modules' parameters (not through functions, classes or modules)."""
    seen: set[int] = set()
    out: list[object] = []
    stack = [root]
    while stack and len(out) < limit:
        obj = stack.pop()
        if (
            id(obj) in seen
            or isinstance(obj, (type, type(dataclasses), str, bytes, int, float, bool))
            or (callable(obj) and not hasattr(obj, "__dict__"))
        ):
            continue
        seen.add(id(obj))
        out.append(obj)
        if isinstance(obj, torch.Tensor):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        if (hasattr(obj, "__dict__") and not callable(obj)) or isinstance(obj, torch.nn.Module):
            stack.extend(vars(obj).values())
        if hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, name) for name in obj.__slots__ if hasattr(obj, name))
    return out


def _truth_storages(sim: Simulation) -> dict[int, str]:
    users, catalog = sim.users, sim.catalog
    named = {
        "opinion": users.opinion,
        "innate": users.innate,
        "interests": users.interests,
        "susceptibility": users.susceptibility,
        "confidence": users.confidence,
        "taste": users.taste,
        "stance": catalog.stance,
        "quality": catalog.quality,
        "attributes": catalog.attributes,
    }
    return {t.untyped_storage().data_ptr(): name for name, t in named.items() if t is not None and t.numel()}


@pytest.mark.parametrize("recommender", ["random", "popularity", "als", "dlrm"])
def test_nothing_on_the_platform_side_reaches_the_truth(tiny, recommender):
    tiny["recommender"] = {"type": recommender, "slate_size": 5, "candidates": {"size": 20}}
    tiny["interventions"] = [{"type": "mmr", "lam": 0.7}, {"type": "random_injection", "share": 0.2}]
    sim = Simulation(simlab.load_scenario(tiny), 0)
    for _ in range(3):
        sim.step()
    truth = _truth_storages(sim)
    assert sim.view.oracle_probability is None  # only a privileged recommender gets it
    for root in (sim.view, sim.recommender, *sim.interventions):
        for obj in _reachable(root):
            assert not isinstance(obj, (Users, Catalog)), f"{type(root).__name__} reaches {type(obj).__name__}"
            if isinstance(obj, torch.Tensor) and obj.numel() and obj.layout == torch.strided:
                leaked = truth.get(obj.untyped_storage().data_ptr())
                assert leaked is None, f"{type(root).__name__} reaches the true {leaked}"


def test_the_views_fields_are_observed_columns_only():
    names = {f.name for f in dataclasses.fields(PlatformView)}
    assert not names & {"catalog", "users", "stance", "opinion", "taste", "interests", "quality"}
    assert {f.name for f in dataclasses.fields(ObservedItems)} == {
        "topic",
        "creator",
        "created",
        "impressions",
        "engagements",
        "size",
    }


def test_only_a_privileged_recommender_gets_the_truth(tiny):
    tiny["recommender"] = {"type": "oracle", "slate_size": 5, "candidates": {"size": 20}}
    sim = Simulation(simlab.load_scenario(tiny), 0)
    assert sim.recommender.privileged and sim.view.oracle_probability is not None
    sim.step()
