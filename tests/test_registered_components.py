"""simlab.testing's checker over every registered name of every kind: a new type is tested by
being registered (built from its defaults, a few steps on cpu, same seed same numbers,
checkpoint round trip, output shapes and dtypes)."""

from __future__ import annotations

import pydantic
import pytest
import torch

from simlab.interventions import Intervention
from simlab.registry import ALL, load_components
from simlab.testing import KINDS, check_component

load_components()
REGISTERED = [(kind, name) for kind in KINDS for name in ALL[kind].names()]


def test_every_kind_has_a_registered_type():
    assert {kind for kind, _ in REGISTERED} == set(KINDS)


@pytest.mark.parametrize(("kind", "name"), REGISTERED, ids=[f"{k}.{n}" for k, n in REGISTERED])
def test_registered_component(kind, name):
    check_component(kind, name)


# ---------------------------------------------------------------- the checker catches faults
# Each broken type below is registered under a private name, checked, and removed again.


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class _Registered:
    """Register ``cls`` as ``kind`` type ``name`` for the duration of a with block."""

    def __init__(self, kind: str, name: str, cls: type):
        self.registry, self.name, self.cls = ALL[kind], name, cls

    def __enter__(self):
        self.registry.register(self.name)(self.cls)

    def __exit__(self, *exc):
        self.registry.unregister(self.name)


def _fails(kind: str, cls: type, match: str) -> None:
    name = f"_broken_{cls.__name__.lower()}"
    with _Registered(kind, name, cls), pytest.raises(AssertionError, match=match):
        check_component(kind, name)


def test_checker_rejects_unknown_types():
    with pytest.raises(AssertionError, match="not registered"):
        check_component("policy", "no_such_policy")
    with pytest.raises(AssertionError, match="unknown component kind"):
        check_component("feeds", "top_k")


def test_checker_catches_repeated_slate_items():
    class Repeats(Intervention):
        def build_slates(self, users, candidates, scores, k):
            best = torch.argmax(scores, dim=1, keepdim=True)
            return best.expand(-1, k).contiguous()  # the same column k times

    _fails("intervention", Repeats, "repeats an item")


def test_checker_catches_state_that_is_not_checkpointed():
    class Forgetful(Intervention):
        """Re-ranks by a counter it never saves: a resumed run ranks differently."""

        def setup(self, context):
            self.calls = 0

        def adjust_scores(self, users, candidates, scores):
            self.calls += 1
            noise = torch.sin(candidates.float() * self.calls)  # depends on how many steps ran
            return self.inner.adjust_scores(users, candidates, scores) + 10 * noise

    _fails("intervention", Forgetful, "after a checkpoint")


def test_checker_catches_global_randomness():
    class Global(Intervention):
        def adjust_scores(self, users, candidates, scores):
            return scores + torch.rand(scores.shape)  # the global RNG, not context.generator

    _fails("intervention", Global, "same seed")


def test_checker_catches_an_unforbidden_settings_model_and_bad_dtypes():
    class Loose(Intervention):
        class Settings(pydantic.BaseModel):
            weight: float = 0.5

    _fails("intervention", Loose, "forbid unknown keys")

    class Int32Picks:
        Settings = _Strict

        def __init__(self, settings):
            pass

        def select(self, scores, k, generator):
            return torch.topk(scores, k, dim=1).indices.int()  # the loop copes; the contract says long

    _fails("policy", Int32Picks, "must be long")

    class Lowest(Int32Picks):
        def select(self, scores, k, generator):
            return torch.topk(-scores, k, dim=1).indices  # -inf (masked) candidates first

    _fails("policy", Lowest, "prefer finite scores")


def test_checker_catches_opinions_outside_the_interval_and_in_place_edits():
    from simlab.society.dynamics.base import DynamicsBase

    class Overshoot(DynamicsBase):
        def update(self, users, engaged_user, engaged_item, catalog, graph, generator):
            return users.opinion * 1.5

    _fails("dynamics", Overshoot, r"lie in \[-1, 1\]")

    class InPlace(DynamicsBase):
        def update(self, users, engaged_user, engaged_item, catalog, graph, generator):
            return users.opinion.mul_(0.9)

    _fails("dynamics", InPlace, "not edit users.opinion")


def test_checker_checks_who_gets_the_true_state():
    class Privileged(Intervention):
        privileged = True

        def setup(self, context):
            assert context.truth is not None and context.truth.users.opinion.shape[0] > 0

    with _Registered("intervention", "_privileged", Privileged):
        check_component("intervention", "_privileged")

    class Sneaky(Intervention):
        """Declares nothing (the manifest would say unprivileged) but claims it per instance."""

        def __init__(self, settings):
            super().__init__(settings)
            self.privileged = True

    _fails("intervention", Sneaky, "not declared privileged must get context.truth None")
