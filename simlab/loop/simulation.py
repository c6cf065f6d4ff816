"""The closed loop (docs/design.md §2, "One step"), written once.

A :class:`Simulation` is one replicate of a scenario. Its state is tensors on the run's device;
every random draw comes from a named child stream of the replicate's seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from simlab.config import Scenario
from simlab.core.errors import SimulationError
from simlab.core.protocols import Feed, Intervention
from simlab.core.rng import Streams
from simlab.core.state import Engagements, ImpressionLog
from simlab.core.view import N_DENSE, PlatformView
from simlab.interventions.base import InterventionContext, Truth
from simlab.metrics.columns import Probe, probe_set
from simlab.metrics.recorder import Recorder, StepContext
from simlab.platform import candidates as candidate_generation
from simlab.platform.people import PeopleSettings
from simlab.platform.slates import PolicyFeed, columns_to_items
from simlab.registry import (
    BEHAVIORS,
    CATALOGS,
    DYNAMICS,
    INTERVENTIONS,
    NETWORKS,
    PEOPLE,
    POLICIES,
    POPULATIONS,
    RECOMMENDERS,
)
from simlab.society.network import build_graph
from simlab.society.rewiring import replace_edges, rewire_step, rewires


class Simulation:
    """One replicate of a scenario.

    >>> from simlab.config import load_scenario
    >>> sim = Simulation(load_scenario("scenarios/quickstart.yaml"), replicate=0)
    >>> rows = [sim.step() for _ in range(10)]  # one dict of metric values per step
    >>> len(rows), "ctr" in rows[0]
    (10, True)
    """

    def __init__(self, scenario: Scenario, replicate: int = 0, device: str | torch.device | None = None):
        self.scenario = scenario
        self.replicate = replicate
        self.device = torch.device(device or scenario.resolved_device())
        self.streams = Streams(scenario.seed, replicate, self.device)
        self.t = 0
        self.context: StepContext | None = None

        self.loop = scenario.loop
        self.candidate_settings = scenario.loop.candidates
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[scenario.precision]
        self.population = POPULATIONS.build(scenario.population)
        self.catalog_model = CATALOGS.build(scenario.catalog)
        self.behavior = BEHAVIORS.build(scenario.behavior)
        self.dynamics = DYNAMICS.build(scenario.dynamics)
        self.recommender = RECOMMENDERS.build(scenario.recommender)
        self.interventions: list[Intervention] = [INTERVENTIONS.build(spec) for spec in scenario.interventions]
        self.recorder = Recorder.from_settings(scenario.metrics)
        self.people = PEOPLE.build(scenario.people)
        people_settings = scenario.people.settings
        if not isinstance(people_settings, PeopleSettings):  # the users' side reads these
            raise TypeError(f"people type {scenario.people.type!r}: its Settings must subclass PeopleSettings")
        self.people_settings = people_settings
        self.rewired_edges = 0  # links added plus removed so far (the rewired_edges column)

        g = self.streams.torch
        self.users = self.population.sample(
            self.catalog_model.topics, g("population"), self.device, taste_dims=self.catalog_model.taste_dims
        )
        n, axes = self.users.opinion.shape
        # the graph is built in the run's precision: a float32 adjacency cast up afterwards would
        # keep weights 1/d_i rounded to float32 (DeGroot's consensus then moves by ~1e-7)
        network = NETWORKS.build(scenario.network)
        self.graph = build_graph(network, self.users, self.streams.integer_seed("network"), self.device, self.dtype)
        self.catalog = self.catalog_model.initial(axes, g("catalog"), self.device)
        if self.dtype != torch.float32:  # every real-valued state array in the run's precision
            self.users.to_dtype(self.dtype)
            self.catalog.to_dtype(self.dtype)
        history = self.loop.history_length
        # the platform's per-account records; logged-out users share one extra anonymous id
        logged_out = self.users.logged_out
        self.logged_out = logged_out if logged_out is not None and bool(logged_out.any()) else None
        accounts = n + (self.logged_out is not None)
        self.history = torch.full((accounts, history), -1, dtype=torch.long, device=self.device)
        self.user_impressions = torch.zeros(accounts, dtype=torch.long, device=self.device)
        self.user_engagements = torch.zeros(accounts, dtype=torch.long, device=self.device)
        self.forgotten_at = torch.full((accounts,), -1, dtype=torch.long, device=self.device)
        # running sum and count of the extremeness of items shown to each user
        self.exposure_sum = torch.zeros(n, dtype=self.dtype, device=self.device)
        self.exposure_count = torch.zeros(n, dtype=self.dtype, device=self.device)
        self.log = ImpressionLog(self.loop.log_capacity, N_DENSE, history, self.device)
        self.true_probability = self._oracle()  # a measurement: metrics read it, the platform does not
        self.view = PlatformView(
            n_users=accounts,
            items=self.catalog.observed(),
            user_impressions=self.user_impressions,
            user_engagements=self.user_engagements,
            history=self.history,
            graph=self.graph,
            device=self.device,
            # the truth reaches only a recommender that declares it reads it (the oracle)
            oracle_probability=self.true_probability if self.recommender.privileged else None,
            logged_out=self.logged_out,
            forgotten_at=self.forgotten_at,
        )
        self.recommender.setup(self.view, g("recommender"))
        self.feed = self._stack_feed()

    # ------------------------------------------------------------------ the loop

    def _oracle(self):
        """True p_ij at the top slate position, for the oracle only. A closure over the parts,
        not a bound method: the view must not hold the Simulation (a reference cycle would keep
        a finished task's memory until the next garbage collection).
        """
        behavior, users, catalog = self.behavior, self.users, self.catalog

        def true_probability(user: Tensor, item: Tensor) -> Tensor:
            return behavior.probability(users, user, catalog, item)  # at the top position

        return true_probability

    def _stack_feed(self) -> Feed:
        """The platform's policy feed wrapped by each intervention in list order; the loop calls
        the outermost. Each intervention gets its own random stream.
        """
        policy = POLICIES.build(self.loop.policy)
        feed: Feed = PolicyFeed(policy, self.streams.torch("policy"))
        for index, (spec, intervention) in enumerate(zip(self.scenario.interventions, self.interventions)):
            context = InterventionContext(
                view=self.view,
                recommender=self.recommender,
                slate_size=self.loop.slate_size,
                generator=self.streams.torch(f"intervention.{index}.{spec.type}"),
                device=self.device,
                truth=Truth(self.users, self.catalog) if intervention.privileged else None,
                probe=self._probe(),
            )
            intervention.wrap(feed, context)
            feed = intervention
        return feed

    def _probe(self) -> tuple[Tensor, Tensor]:
        """The replicate's probe set with the ``rpol`` metric's size (the same one it measures on)."""
        size = Probe(**self.scenario.metrics.params.get("rpol", {}))
        return probe_set(self.streams, self.users.n, self.catalog.size, size, self.device)

    def step(self) -> dict[str, float] | None:
        """Advance one step; returns this step's metrics (None on steps not recorded)."""
        t, g, users, catalog = self.t, self.streams.torch, self.users, self.catalog
        self.view.step = t

        # 1. who is active
        active = torch.nonzero(torch.rand(users.n, generator=g("activity"), device=self.device) < users.activity)
        active = active.squeeze(1)

        # 2-3. candidates, scores, slate, all under the ids the platform knows (logged-out users:
        # the anonymous id)
        seen = self.view.platform_users(active)
        candidates = candidate_generation.generate(
            self.view, seen, self.candidate_settings, g("candidates"), self.recommender
        )
        raw_scores = self.recommender.score(seen, candidates).float()
        scores = self.feed.adjust_scores(seen, candidates, raw_scores)
        columns = self.feed.build_slates(seen, candidates, scores, self.loop.slate_size)
        slates = columns_to_items(candidates, columns)

        # 4. response
        shown = slates >= 0
        positions = torch.arange(slates.shape[1], device=self.device).expand_as(slates)
        user, item, position = active[:, None].expand_as(slates), slates, positions
        if bool(shown.all()):  # full slates (the usual case): flatten instead of masking
            user, item, position = user.reshape(-1), item.reshape(-1), position.reshape(-1)
        else:
            user, item, position = user[shown], item[shown], position[shown]
        probability = self.behavior.probability(users, user, catalog, item, position)
        label = (torch.rand(probability.shape, generator=g("response"), device=self.device) < probability).float()
        impressions = Engagements(user, item, position, label, probability, catalog.stance[item].abs().amax(dim=1))
        # progressive validation: the model predicts before it trains on these impressions; a
        # model whose scores are logits already did so while ranking
        seen_user = self.view.platform_users(user)
        shown_scores = torch.gather(raw_scores, 1, columns.clamp(min=0))[shown]
        if self.recommender.scores_are_logits:
            predictions = torch.sigmoid(shown_scores)
        else:
            predictions = self.recommender.predict(seen_user, item)
        dense, bag = self.view.dense(seen_user, item), self.history[seen_user]
        self._count(impressions)

        # 5. opinions and interests
        engaged_user, engaged_item = impressions.engaged()
        # the shown impressions, to a dynamics model that declares it reads them (exposure effects)
        exposed = (
            {"exposed_user": user, "exposed_item": item} if getattr(self.dynamics, "reads_exposure", False) else {}
        )
        opinion = self.dynamics.update(users, engaged_user, engaged_item, catalog, self.graph, g("dynamics"), **exposed)
        if not torch.isfinite(opinion).all():
            raise SimulationError(f"step {t}: dynamics {self.scenario.dynamics.type!r} produced non-finite opinions")
        users.opinion = opinion
        self.behavior.drift_interests(users, engaged_user, engaged_item, catalog)
        self._remember(*self._linked(engaged_user, engaged_item))
        # 5b. the graph rewires: the platform suggests links, users follow and unfollow (skipped,
        # drawing nothing, when the people block cannot change the graph: the default)
        people = self.people_settings
        if rewires(self.people, people) and (t + 1) % people.every == 0:
            self.rewired_edges += rewire_step(
                self.graph, users, self.view, self.people, people, g("people"), g("people.users")
            )

        # 6-7. log (what the platform saw), let interventions observe, retrain (with any
        # intervention rows)
        logged = {
            "user": seen_user,
            "item": item,
            "position": position,
            "label": label,
            "dense": dense.float(),
            "history": bag,
            "step": torch.full_like(user, t),
        }
        self.log.append(**logged)
        self.feed.observe(logged)
        if (t + 1) % self.loop.retrain_every == 0:
            diagnostics = self.recommender.train(self.log, t, extra=self.feed.training_rows(self.log, t))
            loss = diagnostics.get("loss") if diagnostics else None
            if loss is not None and not math.isfinite(loss):
                raise SimulationError(
                    f"step {t}: recommender {self.scenario.recommender.type!r} training loss is {loss}"
                )

        # 8. metrics
        row = None
        if t % self.scenario.metrics.every == 0 or t == self.scenario.steps - 1:
            ctx = StepContext(
                t,
                users,
                catalog,
                self.graph,
                self.view,
                self.recommender,
                impressions,
                predictions,
                active,
                slates,
                self.streams,
                catalog.size,
                shown_scores=shown_scores,
                candidates=candidates,
                true_probability=self.true_probability,
                interventions=tuple(self.interventions),
                rewired_edges=self.rewired_edges,
            )
            if t == 0:
                self.recorder.setup(ctx)
            row = self.recorder.record(ctx)
            self.context = ctx  # the last recorded step, for inspection

        # new items arrive for the next step
        catalog.append(**self.catalog_model.new_items(catalog, engaged_item, t + 1, g("catalog")))
        self.view.items = catalog.observed()  # growing may have reallocated the columns
        self.t += 1
        return row

    def _count(self, impressions: Engagements) -> None:
        """Update the platform's observable counters and the exposure tallies."""
        user, item, label = impressions.user, impressions.item, impressions.label.long()
        self.catalog.impressions.index_add_(0, item, torch.ones_like(item))
        self.catalog.engagements.index_add_(0, item, label)
        account, account_label = self._linked(user, label)
        self.user_impressions.index_add_(0, account, torch.ones_like(account))
        self.user_engagements.index_add_(0, account, account_label)
        self.exposure_sum.index_add_(0, user, impressions.extremeness)
        self.exposure_count.index_add_(0, user, torch.ones_like(impressions.extremeness))

    def _linked(self, user: Tensor, *columns: Tensor) -> tuple[Tensor, ...]:
        """The rows (user (E,) and its aligned ``columns``) the platform can link to an account:
        logged-out users' rows are dropped, so their history and counters stay empty.
        """
        if self.logged_out is None:
            return (user, *columns)
        keep = ~self.logged_out[user]
        return (user[keep], *(c[keep] for c in columns))

    def _remember(self, user: Tensor, item: Tensor) -> None:
        """Push this step's engagements (E,) onto each user's last-H history (newest last)."""
        if user.numel() == 0:
            return
        h = self.history.shape[1]
        order = torch.argsort(user, stable=True)
        user, item = user[order], item[order]
        counts = torch.bincount(user, minlength=self.users.n)
        start = torch.cumsum(counts, 0) - counts
        rank = torch.arange(user.numel(), device=self.device) - start[user]
        keep = rank >= counts[user] - h  # only the newest h engagements of a user matter
        user, item, rank = user[keep], item[keep], (rank - (counts[user] - h).clamp(min=0))[keep]
        touched = torch.unique(user)
        n_new = counts.clamp(max=h)
        combined = torch.cat([self.history[touched], torch.full_like(self.history[touched], -1)], dim=1)
        row = torch.searchsorted(touched, user)
        combined[row, h + rank] = item
        window = n_new[touched][:, None] + torch.arange(h, device=self.device)
        self.history[touched] = torch.gather(combined, 1, window)

    # ------------------------------------------------------------------ outputs

    def snapshot(self) -> dict[str, np.ndarray]:
        """Opinions and exposure now, as numpy arrays (for snapshots/*.npz)."""
        exposure = self.exposure_sum / self.exposure_count.clamp(min=1)
        exposure = torch.where(self.exposure_count > 0, exposure, float("nan"))
        return {
            "step": np.array(self.t),
            "opinion": self.users.opinion.cpu().numpy(),
            "innate": self.users.innate.cpu().numpy(),
            "exposure_extremeness": exposure.cpu().numpy(),
            "item_stance": self.catalog.live("stance").cpu().numpy(),
            "item_impressions": self.catalog.live("impressions").cpu().numpy(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: state, log, models, every RNG stream.

        Tensors, numbers, strings and nested dicts/lists only, so that a checkpoint of it loads
        with ``torch.load(weights_only=True)``.
        """
        return {
            "t": self.t,
            "users": self.users.state_dict(),
            "catalog": self.catalog.state_dict(),
            "catalog_model": self.catalog_model.state_dict(),
            "history": self.history,
            "user_impressions": self.user_impressions,
            "user_engagements": self.user_engagements,
            "exposure_sum": self.exposure_sum,
            "exposure_count": self.exposure_count,
            "forgotten_at": self.forgotten_at,
            "log": self.log.state_dict(),
            "recommender": self.recommender.state_dict(),
            "recorder": self.recorder.state_dict(),
            "streams": self.streams.state_dict(),
            "interventions": [i.state_dict() for i in self.interventions],
            # a rewired graph is state too (absent when the graph cannot change)
            **(
                {"graph": {"src": self.graph.src, "dst": self.graph.dst, "weight": self.graph.weight}}
                if rewires(self.people, self.people_settings)
                else {}
            ),
            "rewired_edges": self.rewired_edges,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` into a Simulation freshly built from the same scenario and
        replicate; stepping on gives the same numbers as the run that was saved.
        """
        self.t = int(state["t"])
        self.users.load_state_dict(state["users"])
        self.catalog.load_state_dict(state["catalog"])
        self.view.items = self.catalog.observed()
        self.catalog_model.load_state_dict(_to_device(state["catalog_model"], self.device))
        for name in ("history", "user_impressions", "user_engagements", "exposure_sum", "exposure_count"):
            getattr(self, name).copy_(state[name])
        if "forgotten_at" in state:  # (absent from checkpoints written before history_reset)
            self.forgotten_at.copy_(state["forgotten_at"])
        self.log.load_state_dict(state["log"])
        self.recommender.load_state_dict(state["recommender"])
        self.recorder.load_state_dict(_to_device(state["recorder"], self.device))
        self.streams.load_state_dict(state["streams"])  # generator states stay CPU byte tensors
        for intervention, saved in zip(self.interventions, state["interventions"]):
            intervention.load_state_dict(_to_device(saved, self.device))
        if "graph" in state:
            edges = _to_device(state["graph"], self.device)
            replace_edges(self.graph, edges["src"], edges["dst"], edges["weight"])
        self.rewired_edges = int(state.get("rewired_edges", 0))


def _to_device(value: Any, device: torch.device) -> Any:
    """Tensors in nested dicts/lists moved to ``device`` (a checkpoint is loaded on the CPU)."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_device(v, device) for v in value)
    return value
