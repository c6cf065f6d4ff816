"""Check a registered component the way Gymnasium's ``env_checker`` checks an environment.

:func:`check_component` builds one registered type from its defaults, places it in a tiny
scenario on the CPU (the shape of the test suite's ``tiny`` fixture), runs a few steps and
raises ``AssertionError`` naming the component and what is wrong when:

- its ``Settings`` do not build with no arguments (or forbid no unknown keys), or the component
  lacks a member its Protocol declares (:mod:`simlab.core.protocols`);
- two runs with the same seed give different metric rows or a different final state;
- a checkpoint round trip (``Simulation.state_dict`` -> ``torch.save`` ->
  ``torch.load(weights_only=True)`` -> a fresh ``Simulation.load_state_dict``) does not continue
  exactly like the uninterrupted run;
- its outputs have the wrong shape, dtype or range (recommender scores (A, C) float, policy
  picks (A, k) long distinct in range, slates (A, k) distinct items or -1, opinions (N, K)
  finite in [-1, 1], a metric a finite-or-NaN scalar, ...);
- an intervention that is not declared ``privileged`` is handed the true state.

A type that cannot run from its defaults (it needs a file, or a population of a given size)
gets a minimal valid scenario from :data:`EXAMPLES`. ``check_all()`` checks every registered
name of every kind; ``tests/test_registered_components.py`` runs it, so a new type is tested by
being registered.

>>> from simlab.testing import check_component
>>> check_component("dynamics", "degroot")
"""

from __future__ import annotations

import copy
import io
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any
from unittest import mock

import pydantic
import torch
from torch import Tensor

from simlab.core import protocols
from simlab.core.rows import Rows
from simlab.registry import ALL, load_components

__all__ = ["EXAMPLES", "KINDS", "TINY", "check_all", "check_component", "check_plugins"]

KINDS = ("population", "network", "catalog", "behavior", "dynamics", "recommender", "policy", "intervention", "metric")

# the test suite's tiny scenario (tests/conftest.py), one replicate
TINY: dict[str, Any] = {
    "name": "check",
    "seed": 3,
    "replicates": 1,
    "steps": 4,
    "device": "cpu",
    "population": {"type": "uniform", "size": 60, "activity": 0.8},
    "network": {"type": "erdos_renyi", "mean_degree": 4},
    "catalog": {"type": "default", "size": 80, "topics": 4, "creators": 10, "new_per_step": 5},
    # a log smaller than the run's impressions (about 240 a step): the ring buffer wraps
    "recommender": {"type": "popularity", "slate_size": 5, "candidates": {"size": 20}, "log_capacity": 600},
    "output": {"snapshot_every": 0, "figures": False, "report": False, "parquet": False},
}
STEPS, SAVE_AT = 4, 2  # run STEPS steps; the checkpoint round trip saves after SAVE_AT

# interventions are checked over a recommender that trains, has item embeddings and takes
# synthetic users (what antidote data and similarity re-rankers need)
INTERVENTION_RECOMMENDER: dict[str, Any] = {"type": "als", "rank": 4, "n_iters": 2}


def _opinion_file(folder: Path) -> str:
    """A (60, 2) opinion table for the ``file`` population."""
    path = folder / "opinions.csv"
    rows = [f"{math.sin(i):.4f},{math.cos(3 * i) * 0.9:.4f}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _edge_file(folder: Path) -> str:
    """A ring with chords on 60 nodes for the ``edge_list`` network."""
    path = folder / "edges.txt"
    path.write_text("".join(f"{i} {(i + 1) % 60} 1.0\n{i} {(i + 7) % 60} 2.0\n" for i in range(60)))
    return str(path)


# Types that cannot run from their defaults in the tiny scenario: overrides of it (dotted keys
# or blocks, as in a variant), given a scratch folder for the files they read.
EXAMPLES: dict[tuple[str, str], Callable[[Path], dict[str, Any]]] = {
    ("population", "file"): lambda folder: {"population": {"type": "file", "path": _opinion_file(folder)}},
    ("network", "edge_list"): lambda folder: {"network": {"type": "edge_list", "path": _edge_file(folder)}},
    ("network", "karate_club"): lambda folder: {"network": {"type": "karate_club"}, "population.size": 34},
}

PROTOCOLS: dict[str, type] = {
    "population": protocols.Population,
    "network": protocols.Network,
    "catalog": protocols.CatalogModel,
    "behavior": protocols.Behavior,
    "dynamics": protocols.Dynamics,
    "recommender": protocols.Recommender,
    "policy": protocols.Policy,
    "intervention": protocols.Intervention,
    "metric": protocols.Metric,
}


class _Failure(AssertionError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _Failure(message)


# ---------------------------------------------------------------------------- the checker


def check_all() -> list[tuple[str, str]]:
    """Check every registered name of every kind; returns the (kind, name) pairs checked."""
    load_components()
    checked = []
    for kind in KINDS:
        for name in ALL[kind].names():
            check_component(kind, name)
            checked.append((kind, name))
    return checked


def check_component(kind: str, name: str) -> None:
    """Check one registered component (see the module docstring); raises AssertionError."""
    load_components()
    _require(kind in KINDS, f"unknown component kind {kind!r}; expected one of {list(KINDS)}")
    _require(name in ALL[kind], f"{kind} type {name!r} is not registered; known: {ALL[kind].names()}")
    stage = "setup"
    try:
        with tempfile.TemporaryDirectory(prefix="simlab-check-") as scratch:
            doc = scenario_for(kind, name, Path(scratch))
            stage = "building from defaults"
            _check_defaults(kind, name, doc)
            stage = "running"
            reference, rows = _run(doc, STEPS, kind, name)
            stage = "same seed"
            again, again_rows = _run(doc, SAVE_AT, kind, name)
            saved = _save_and_load(again.state_dict())
            again_rows += [again.step() for _ in range(STEPS - SAVE_AT)]
            _same_rows(rows, again_rows, "two runs with the same seed")
            _same(reference.state_dict(), again.state_dict(), "state after two runs with the same seed")
            stage = "checkpoint round trip"
            resumed, _ = _run(doc, 0, kind, name)
            resumed.load_state_dict(saved)
            resumed_rows = [resumed.step() for _ in range(STEPS - SAVE_AT)]
            _same_rows(rows[SAVE_AT:], resumed_rows, f"steps after a checkpoint at step {SAVE_AT}")
            _same(reference.state_dict(), resumed.state_dict(), "state after a checkpoint round trip")
            stage = "outputs"
            PROBES[kind](reference, _fresh(kind, doc))
    except _Failure as failure:
        raise AssertionError(f"{kind} {name!r} fails the {stage!r} check: {failure}") from None
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise AssertionError(f"{kind} {name!r} fails the {stage!r} check: {stage} raised {text}") from exc


_PASSED: dict[tuple[str, str], type] = {}  # plugin types checked in this process, and the class checked


def check_plugins(scenario: Any) -> None:
    """:func:`check_component` on every type the scenario's ``plugins`` modules register, once per
    process and class (``simlab validate`` and ``simlab run`` call this before any work). A type
    that fails is refused with one line: a :class:`simlab.core.errors.ScenarioError` at the scenario's
    ``plugins.<i>`` naming the module, the type and the failed check.
    """
    from simlab.config.loading import locate
    from simlab.core.errors import ScenarioError
    from simlab.registry import plugin_components

    for index, module in enumerate(scenario.plugins):
        for kind, name in plugin_components(module):
            cls = ALL[kind].get(name)
            if _PASSED.get((kind, name)) is cls:
                continue
            try:
                check_component(kind, name)
            except AssertionError as failure:
                message = str(failure).splitlines()[0] if str(failure) else f"{kind} {name!r} fails a check"
                key = f"plugins.{index}"
                raise ScenarioError(
                    f"plugin module {module!r}: {message} (simlab.testing.check_component; docs/plugins.md)",
                    file=scenario.source,
                    line=locate(scenario.source, key),
                    key=key,
                ) from None
            _PASSED[kind, name] = cls


def scenario_for(kind: str, name: str, scratch: Path) -> dict[str, Any]:
    """The tiny scenario document with the component in its place (its settings default)."""
    from simlab.config.overrides import apply_overrides

    doc = copy.deepcopy(TINY)
    fields_of = ALL[kind].settings_model(name).model_fields
    if kind in ("population", "catalog"):  # keep the tiny sizes where the type has those keys
        doc[kind] = {"type": name, **{k: v for k, v in doc[kind].items() if k in fields_of}}
    elif kind in ("network", "behavior", "dynamics"):
        doc[kind] = {"type": name}
    elif kind == "recommender":
        doc["recommender"] = {**doc["recommender"], "type": name}
    elif kind == "policy":
        doc["recommender"]["policy"] = {"type": name}
    elif kind == "intervention":
        doc["recommender"] = {**doc["recommender"], **INTERVENTION_RECOMMENDER}
        doc["interventions"] = [{"type": name}]
    else:
        doc["metrics"] = {"include": [name]}
    if (kind, name) in EXAMPLES:
        doc = apply_overrides(doc, EXAMPLES[kind, name](scratch))
    return doc


def _block(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The component's own ``{type, **settings}`` block in the scenario document."""
    if kind == "policy":
        return dict(doc["recommender"]["policy"])
    if kind == "intervention":
        return dict(doc["interventions"][0])
    if kind == "recommender":
        from simlab.config import LOOP_KEYS

        return {k: v for k, v in doc["recommender"].items() if k not in LOOP_KEYS}
    if kind == "metric":
        return {"type": doc["metrics"]["include"][0]}
    return dict(doc[kind])


def _check_defaults(kind: str, name: str, doc: dict[str, Any]) -> None:
    """Settings() build with no arguments (or from the example block), forbid unknown keys, and
    the built component has every member of its kind's Protocol.
    """
    model = ALL[kind].settings_model(name)
    _require(issubclass(model, pydantic.BaseModel), f"Settings must be a pydantic model, found {model!r}")
    _require(
        model.model_config.get("extra") == "forbid",
        "Settings must forbid unknown keys (model_config = ConfigDict(extra='forbid'))",
    )
    required = [f for f, info in model.model_fields.items() if info.is_required()]
    if required:
        _require((kind, name) in EXAMPLES, f"Settings() needs {required}: add an entry to simlab.testing.EXAMPLES")
    else:
        model()
    component = _fresh(kind, doc)
    missing = sorted(m for m in _protocol_members(PROTOCOLS[kind]) if not hasattr(component, m))
    _require(not missing, f"missing {missing}, declared by simlab.core.protocols.{PROTOCOLS[kind].__name__}")


def _protocol_members(protocol: type) -> set[str]:
    """The public methods and attributes a Protocol declares (its Protocol bases included)."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if getattr(base, "_is_protocol", False) and base.__module__ == protocols.__name__:
            names |= {n for n in vars(base) if not n.startswith("_")}
            names |= {n for n in getattr(base, "__annotations__", {}) if not n.startswith("_")}
    return names


def _fresh(kind: str, doc: dict[str, Any]) -> Any:
    return ALL[kind].build(_block(kind, doc))


def _run(doc: dict[str, Any], steps: int, kind: str, name: str) -> tuple[Any, list[dict[str, float] | None]]:
    """A Simulation of the document (checking what an intervention is handed) after ``steps``."""
    from simlab.config import load_scenario
    from simlab.loop.simulation import Simulation

    scenario = load_scenario(doc)
    with _watch_context(kind, name) as contexts:
        sim = Simulation(scenario, replicate=0, device="cpu")
    privileged = bool(getattr(ALL[kind].get(name), "privileged", False))  # as the class declares it
    for context in contexts:
        _require(
            (context.truth is None) != privileged,
            "an intervention not declared privileged must get context.truth None"
            if not privileged
            else "a privileged intervention must get the true state (context.truth)",
        )
    rows = [sim.step() for _ in range(steps)]
    for row in rows:
        _require(row is not None, "a step recorded no metrics (metrics.every is 1)")
        for metric, value in (row or {}).items():
            _require(isinstance(value, float), f"metric {metric} gave {value!r}, expected a float")
            _require(not math.isinf(value), f"metric {metric} is {value} (finite or NaN expected)")
    return sim, rows


@contextmanager
def _watch_context(kind: str, name: str) -> Iterator[list[Any]]:
    """Record the InterventionContext the loop hands an intervention of this type."""
    contexts: list[Any] = []
    if kind != "intervention":
        yield contexts
        return
    cls: Any = ALL[kind].get(name)
    wrap = cls.wrap

    def recording(self: Any, inner: Any, context: Any) -> None:
        contexts.append(context)
        wrap(self, inner, context)

    with mock.patch.object(cls, "wrap", recording):
        yield contexts


def _save_and_load(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    try:
        return torch.load(buffer, weights_only=True)
    except Exception as exc:
        raise _Failure(
            f"its state does not load with torch.load(weights_only=True) (tensors, numbers, strings and "
            f"nested dicts/lists only): {exc}".splitlines()[0]
        ) from None


def _same_rows(a: list[dict[str, float] | None], b: list[dict[str, float] | None], what: str) -> None:
    for step, (x, y) in enumerate(zip(a, b)):
        x, y = x or {}, y or {}
        _require(x.keys() == y.keys(), f"{what}: different metric columns")
        for key in x:
            same = x[key] == y[key] or (math.isnan(x[key]) and math.isnan(y[key]))
            _require(same, f"{what}: metric {key} differs at row {step} ({x[key]!r} vs {y[key]!r})")


def _same(a: Any, b: Any, what: str, path: str = "") -> None:
    """Nested dicts/lists of tensors and numbers are equal (NaN equals NaN)."""
    where = path or "state"
    if isinstance(a, Tensor):
        _require(isinstance(b, Tensor) and a.shape == b.shape and a.dtype == b.dtype, f"{what}: {where} differs")
        equal = a == b
        if a.is_floating_point():
            equal |= a.isnan() & b.isnan()
        _require(bool(equal.all()), f"{what}: {where} differs")
    elif isinstance(a, dict):
        _require(isinstance(b, dict) and a.keys() == b.keys(), f"{what}: the keys of {where} differ")
        for key in a:
            _same(a[key], b[key], what, f"{path}.{key}" if path else str(key))
    elif isinstance(a, list | tuple):
        _require(isinstance(b, list | tuple) and len(a) == len(b), f"{what}: the length of {where} differs")
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, what, f"{where}[{i}]")
    else:
        _require(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), f"{what}: {where} differs")


# ---------------------------------------------------------------------------- output probes
# Each probe gets the reference Simulation (after STEPS steps) and a freshly built component.


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _float(t: Any, what: str, shape: tuple[int, ...] | None = None) -> None:
    _require(isinstance(t, Tensor), f"{what} must be a tensor, found {type(t).__name__}")
    _require(t.is_floating_point(), f"{what} must be floating point, found {t.dtype}")
    if shape is not None:
        _require(tuple(t.shape) == shape, f"{what} must have shape {shape}, found {tuple(t.shape)}")


def _long(t: Any, what: str, shape: tuple[int, ...] | None = None) -> None:
    _require(isinstance(t, Tensor), f"{what} must be a tensor, found {type(t).__name__}")
    _require(t.dtype == torch.long, f"{what} must be long, found {t.dtype}")
    if shape is not None:
        _require(tuple(t.shape) == shape, f"{what} must have shape {shape}, found {tuple(t.shape)}")


def _in_range(t: Tensor, low: float, high: float, what: str) -> None:
    _require(bool(torch.isfinite(t).all()), f"{what} must be finite")
    if t.numel():
        _require(low <= t.min().item() and t.max().item() <= high, f"{what} must lie in [{low}, {high}]")


def _distinct_or_empty(items: Tensor, what: str) -> None:
    """(A, k) ids: -1 or distinct within each row."""
    for row in items.tolist():
        shown = [i for i in row if i != -1]
        _require(len(shown) == len(set(shown)), f"{what} repeats an item in a row: {row}")


def _probe_population(sim: Any, population: Any) -> None:
    topics = sim.catalog_model.topics
    users = population.sample(topics, _generator(), torch.device("cpu"))
    n, axes = users.opinion.shape
    _float(users.opinion, "population.sample opinion (N, K)")
    _in_range(users.opinion, -1, 1, "opinion")
    _float(users.innate, "innate", (n, axes))
    for name in ("susceptibility", "anchoring", "confidence", "activity"):
        _float(getattr(users, name), name, (n,))
        _require(bool(torch.isfinite(getattr(users, name)).all()), f"{name} must be finite")
    _in_range(users.activity, 0, 1, "activity")
    _float(users.interests, "interests", (n, topics))
    _require(bool((users.interests >= 0).all()), "interests must be >= 0")
    _require(torch.allclose(users.interests.sum(1), torch.ones(n, dtype=users.interests.dtype), atol=1e-4),
             "interests rows must sum to 1")  # fmt: skip
    _require(users.group.shape == (n,) and not users.group.is_floating_point(), "group must be (N,) integer ids")
    again = population.sample(topics, _generator(), torch.device("cpu"))
    _same(users.state_dict(), again.state_dict(), "population.sample with the same generator seed")


def _probe_network(sim: Any, network: Any) -> None:
    from simlab.society.network import build_graph

    n = sim.users.n
    graph = build_graph(network, sim.users, 5, "cpu")
    again = build_graph(network, sim.users, 5, "cpu")
    _same({"src": graph.src, "dst": graph.dst}, {"src": again.src, "dst": again.dst}, "network.build, same seed")
    _long(graph.src, "edge sources")
    _long(graph.dst, "edge targets", tuple(graph.src.shape))
    if graph.src.numel():
        for name, ends in (("sources", graph.src), ("targets", graph.dst)):
            _require(bool(((ends >= 0) & (ends < n)).all()), f"edge {name} must be node ids in [0, N)")
    _in_range(graph.weight, 0, math.inf, "edge weights")
    _float(graph.degree, "degree", (n,))
    rows = graph.adjacency.to_dense().sum(1)
    _require(bool(((rows - 1).abs() < 1e-5).logical_or(rows == 0).all()), "adjacency rows must sum to 1 (or 0)")


def _probe_catalog(sim: Any, catalog_model: Any) -> None:
    axes = sim.users.opinion.shape[1]
    catalog = catalog_model.initial(axes, _generator(), torch.device("cpu"))
    _require(catalog.size >= 1, "the initial catalog is empty")
    _float(catalog.stance, "catalog stance (M, K)")
    _require(catalog.stance.shape[1] == axes, f"catalog stance must have {axes} axes")
    _in_range(catalog.live("stance"), -1, 1, "item stance")
    topic = catalog.live("topic")
    _require(bool(((topic >= 0) & (topic < catalog_model.topics)).all()), "item topics must be in [0, topics)")
    engaged = torch.randint(catalog.size, (7,), generator=_generator())
    new = catalog_model.new_items(catalog, engaged, 1, _generator(1))
    columns = {f.name for f in fields(catalog)} - {"size", "impressions", "engagements"}
    _require(isinstance(new, dict) and set(new) <= columns, f"new_items must return catalog columns {sorted(columns)}")
    lengths = {v.shape[0] for v in new.values()}
    _require(len(lengths) <= 1, "new_items columns must have one length")
    if "stance" in new:
        _in_range(new["stance"], -1, 1, "new item stance")
    before = catalog.size
    catalog.append(**new)
    _require(catalog.size == before + (lengths.pop() if lengths else 0), "appending new_items failed")


def _probe_behavior(sim: Any, behavior: Any) -> None:
    g = _generator()
    size = 40
    user = torch.randint(sim.users.n, (size,), generator=g)
    item = torch.randint(sim.catalog.size, (size,), generator=g)
    position = torch.randint(5, (size,), generator=g)
    p = behavior.probability(sim.users, user, sim.catalog, item, position)
    _float(p, "behavior.probability (I,)", (size,))
    _in_range(p, 0, 1, "engagement probability")
    interests = sim.users.interests.clone()
    behavior.drift_interests(sim.users, user[:10], item[:10], sim.catalog)
    after = sim.users.interests
    _require(after.shape == interests.shape, "drift_interests changed the shape of interests")
    _require(bool((after >= 0).all()), "interests must stay >= 0")
    ones = torch.ones(after.shape[0], dtype=after.dtype)
    _require(torch.allclose(after.sum(1), ones, atol=1e-4), "interests rows must stay on the simplex")


def _probe_dynamics(sim: Any, dynamics: Any) -> None:
    users = sim.users
    before = users.opinion.clone()
    g = _generator()
    engaged_user = torch.randint(users.n, (25,), generator=g)
    engaged_item = torch.randint(sim.catalog.size, (25,), generator=g)
    for eu, ei in ((engaged_user, engaged_item), (engaged_user[:0], engaged_item[:0])):
        x = dynamics.update(users, eu, ei, sim.catalog, sim.graph, _generator(1))
        _float(x, "dynamics.update (N, K)", tuple(before.shape))
        _require(
            x.dtype == before.dtype, f"dynamics.update must keep the opinions' dtype {before.dtype}, found {x.dtype}"
        )
        _in_range(x, -1, 1, "next opinions")
        _require(torch.equal(users.opinion, before), "dynamics.update must return new opinions, not edit users.opinion")


def _probe_recommender(sim: Any, _: Any) -> None:
    rec, view = sim.recommender, sim.view
    a, c, n_items = 6, 12, sim.catalog.size
    users = torch.arange(a)
    candidates = torch.randint(n_items, (a, c), generator=_generator())
    scores = rec.score(users, candidates)
    _float(scores, "recommender.score (A, C)", (a, c))
    _require(not bool(scores.isnan().any()), "scores must not be NaN")
    flat_users, flat_items = users.repeat_interleave(c), candidates.reshape(-1)
    p = rec.predict(flat_users, flat_items)
    _float(p, "recommender.predict (B,)", (a * c,))
    _in_range(p, 0, 1, "predicted probability")
    _require(isinstance(rec.scores_are_logits, bool), "scores_are_logits must be a bool")
    _require(
        isinstance(rec.privileged, bool), "privileged must be a bool (True only for a recommender that reads the truth)"
    )
    if rec.scores_are_logits:
        logits_p = torch.sigmoid(scores.double()).reshape(-1).float()
        _require(torch.allclose(logits_p, p.float(), atol=1e-4), "scores_are_logits, but sigmoid(score) != predict")
    embeddings = rec.item_embeddings()
    if embeddings is not None:
        _float(embeddings, "item_embeddings()")
        _require(
            embeddings.dim() == 2 and embeddings.shape[0] >= n_items, "item_embeddings() must be (M, d), M >= items"
        )
    real = view.n_users
    synthetic = rec.add_synthetic_users(3)
    _long(synthetic, "add_synthetic_users(3)", (3,))
    _require(len(set(synthetic.tolist())) == 3 and int(synthetic.min()) >= real, "synthetic ids must be new ids >= N")
    # training accepts extra rows (the log's columns) for the synthetic users
    rows = sim.log.rows()
    take = torch.arange(min(30, len(rows)))
    extra = rows.select(take)
    extra = extra.replace(user=synthetic[take % 3])
    diagnostics = rec.train(sim.log, sim.t, extra=extra)
    _require(isinstance(diagnostics, dict), "train must return a dict of diagnostics")
    _require(all(isinstance(v, int | float) for v in diagnostics.values()), "train diagnostics must be numbers")
    scores = rec.score(users, candidates)
    _require(not bool(scores.isnan().any()), "scores are NaN after training with extra rows")


def _probe_policy(sim: Any, policy: Any) -> None:
    a, c, k = 6, 12, 5
    scores = torch.randn(a, c, generator=_generator())
    scores[0, :3] = float("-inf")  # some masked candidates
    scores[1, 2:] = float("-inf")  # fewer valid candidates than the slate
    picks = policy.select(scores, k, _generator(1))
    _long(picks, "policy.select (A, k)", (a, k))
    _require(bool(((picks >= 0) & (picks < c)).all()), "policy.select must return column indices in [0, C)")
    _distinct_or_empty(picks, "policy.select")
    finite = torch.isfinite(torch.gather(scores, 1, picks))
    n_valid = torch.isfinite(scores).sum(1).clamp(max=k)
    _require(torch.equal(finite.sum(1), n_valid), "policy.select must prefer finite scores to -inf ones")
    first = torch.argsort((~finite).to(torch.uint8), dim=1, stable=True)
    _require(torch.equal(first, torch.arange(k).expand(a, k)), "-inf candidates must come last in a slate")


def _probe_intervention(sim: Any, _: Any) -> None:
    from simlab.platform import candidates as candidate_generation
    from simlab.platform.slates import columns_to_items

    feed, k = sim.feed, sim.loop.slate_size
    users = torch.arange(min(8, sim.users.n))
    candidates = candidate_generation.generate(sim.view, users, sim.candidate_settings, _generator(), sim.recommender)
    a, c = candidates.shape
    scores = feed.adjust_scores(users, candidates, sim.recommender.score(users, candidates).float())
    _float(scores, "adjust_scores (A, C)", (a, c))
    columns = feed.build_slates(users, candidates, scores, k)
    _long(columns, "build_slates (A, k)", (a, k))
    _require(bool(((columns >= -1) & (columns < c)).all()), "build_slates must return column indices in [0, C) or -1")
    _distinct_or_empty(columns_to_items(candidates, columns), "build_slates")
    rows = feed.training_rows(sim.log, sim.t)
    if rows is None:
        return
    _require(isinstance(rows, Rows), f"training_rows must return simlab.core.rows.Rows or None, found {type(rows)}")
    logged = sim.log.rows().columns()
    n = len(rows)
    for name, column in rows.columns().items():
        like = logged[name]
        _require(column.dtype == like.dtype, f"training_rows[{name!r}] must be {like.dtype}, found {column.dtype}")
        shape = (n, *like.shape[1:])
        _require(tuple(column.shape) == shape, f"training_rows[{name!r}] must have shape {shape}")
    if n:
        _require(int(rows.user.min()) >= 0, "training_rows users must be ids >= 0")
        item = rows.item
        _require(bool(((item >= 0) & (item < sim.catalog.size)).all()), "training_rows items must be existing ids")


def _probe_metric(sim: Any, _: Any) -> None:
    metric = sim.recorder.metrics[0]
    value = metric.compute(sim.context)
    if isinstance(value, Tensor):
        _require(value.numel() == 1, f"a metric must return a scalar, found shape {tuple(value.shape)}")
        value = float(value)
    _require(isinstance(value, int | float), f"a metric must return a scalar tensor or a float, found {value!r}")
    _require(not math.isinf(value), f"a metric must be finite or NaN, found {value}")


PROBES: dict[str, Callable[[Any, Any], None]] = {
    "population": _probe_population,
    "network": _probe_network,
    "catalog": _probe_catalog,
    "behavior": _probe_behavior,
    "dynamics": _probe_dynamics,
    "recommender": _probe_recommender,
    "policy": _probe_policy,
    "intervention": _probe_intervention,
    "metric": _probe_metric,
}
