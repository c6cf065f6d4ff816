"""One small Protocol per pluggable part (docs/design.md §4.1).

Components receive state and randomness explicitly; none holds global state. Shapes:
N users, M items, K opinion axes, T topics, A active users this step, C candidates, k slate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import networkx as nx
import torch
from torch import Tensor

from simlab.core.rows import Rows
from simlab.core.state import Catalog, Edges, Engagements, Graph, ImpressionLog, Users
from simlab.core.view import N_DENSE, N_ITEM_DENSE, N_USER_DENSE, PlatformView


class Population(Protocol):
    """Draws the society's users: opinions, traits, interests and tastes (the ``population`` kind)."""

    def sample(self, topics: int, generator: torch.Generator, device: torch.device, taste_dims: int = 0) -> Users:
        """Draw the N users (N and K come from the component's settings ``size`` and ``axes``;
        T ``topics`` and D ``taste_dims`` from the catalog).
        """
        ...


class Network(Protocol):
    """Builds the social graph over the users (the ``network`` kind)."""

    def build(self, users: Users, seed: int) -> nx.Graph | Edges:
        """A networkx graph or an edge array (simlab.core.state.Edges, for graphs too big for
        networkx) on nodes 0..N-1; may use opinions for homophily.
        """
        ...


class CatalogModel(Protocol):
    """Creates the initial items and each step's new ones (the ``catalog`` kind)."""

    @property
    def topics(self) -> int:
        """T, the number of topics (the population draws interests over them)."""
        ...

    @property
    def taste_dims(self) -> int:
        """D, the latent attribute dimensions of items (the population draws tastes over them)."""
        ...

    def initial(self, axes: int, generator: torch.Generator, device: torch.device) -> Catalog:
        """The initial items (size and topics T come from the component's settings)."""
        ...

    def new_items(
        self, catalog: Catalog, engaged_item: Tensor, step: int, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """Columns of the items that arrive this step (stance, topic, creator, quality, created);
        ``engaged_item`` (E,) lets creators react to what earned engagement.
        """
        ...

    def state_dict(self) -> dict[str, Any]:
        """The model's own state (e.g. creator stances), for checkpoints."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Behavior(Protocol):
    """The users' response: true engagement probabilities and interest drift (the ``behavior`` kind)."""

    def probability(
        self, users: Users, user: Tensor, catalog: Catalog, item: Tensor, position: Tensor | None = None
    ) -> Tensor:
        """True engagement probability p_ij for (I,) impressions at slate positions ``position``
        (None: at the top position, as the oracle and the NDCG column ask).
        """
        ...

    def drift_interests(self, users: Users, engaged_user: Tensor, engaged_item: Tensor, catalog: Catalog) -> None: ...


class Dynamics(Protocol):
    """The opinion update after each step's engagements (the ``dynamics`` kind)."""

    def update(
        self,
        users: Users,
        engaged_user: Tensor,
        engaged_item: Tensor,
        catalog: Catalog,
        graph: Graph,
        generator: torch.Generator,
    ) -> Tensor:
        """Return the next opinions (N, K) given this step's engagements (E,) and the graph."""
        ...


class CandidateSource(Protocol):
    """One source of a feed's candidates (recent, popular, random, social, history)."""

    def sample(self, view: PlatformView, users: Tensor, n: int, generator: torch.Generator, recommender: Any) -> Tensor:
        """(A,) active users -> (A, n) item ids drawn by this source."""
        ...


class Policy(Protocol):
    """A ranking policy (registry ``policy``)."""

    def select(self, scores: Tensor, k: int, generator: torch.Generator) -> Tensor:
        """(A, C) scores -> (A, k) column indices, slate position 0 first; -inf scores last."""
        ...


class Recommender(Protocol):
    """A ranking model. What the loop needs from it is declared here, not probed:

    - ``privileged``: the recommender reads the true engagement probability (the ``oracle``
      baseline); only then does the loop set ``view.oracle_probability``, and the run's manifest
      says so;
    - ``scores_are_logits``: ``score`` returns engagement logits, so the loop takes its
      progressive-validation predictions from the scores (saving a forward pass);
    - ``item_embeddings()``: (M, d) item vectors, or None for a model without them (used by the
      history candidate source and by similarity-based re-rankers);
    - ``add_synthetic_users(n, generator)``: reserve n user ids past the real ones for rows that
      interventions add to training (antidote data), any rows for them drawn from ``generator``
      (the caller's stream; default the recommender's own); returns their (n,) ids.
    """

    scores_are_logits: bool
    privileged: bool

    def setup(self, view: PlatformView, generator: torch.Generator) -> None: ...

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        """(A,), (A, C) -> (A, C) ranking scores (higher first)."""
        ...

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) predicted engagement probability."""
        ...

    def predict_raw(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) the model's own prediction before any clipping into a probability
        (ALS: the raw rating u.v, on which R_pol is defined); ``predict`` for the others.
        """
        ...

    def train(self, log: ImpressionLog, step: int, extra: Rows | None = None) -> dict[str, float]:
        """Retrain on the log (plus ``extra`` synthetic rows, e.g. antidote data); returns
        diagnostics such as the loss.
        """
        ...

    def item_embeddings(self) -> Tensor | None: ...

    def add_synthetic_users(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class AntidoteTarget(Protocol):
    """The capability antidote data needs from a recommender (Rastegarpanah, Gummadi & Crovella,
    WSDM 2019; issue 25): to judge candidate synthetic rows on the retrain the loop actually runs,
    and to differentiate that retrain with respect to their labels. Implemented beside the ALS
    and the DLRM; the antidote intervention checks for it, never for a concrete class.

    Shapes: R rows; predictions are the model's raw ones (ALS: the unclipped rating; the DLRM:
    the engagement probability), at the top slate position. Methods only, so that a class can
    be checked before it is built (``issubclass``: the scenario's load-time check).
    """

    def add_synthetic_users(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Reserve n synthetic user ids (their rows drawn from ``generator``); returns (n,) ids."""
        ...

    def training_window(self, log: ImpressionLog, step: int) -> Rows:
        """The logged rows a retrain at ``step`` trains on (before extra rows)."""
        ...

    def predict_rows(self, rows: Rows) -> Tensor:
        """(R,) the current model's raw predictions of ``rows`` (from their logged features)."""
        ...

    def trial_retrain(
        self, log: ImpressionLog, step: int, extra: Rows | None, horizon: int = 1
    ) -> AbstractContextManager[None]:
        """A context in which the recommender is as after ``horizon`` retrains
        ``train(log, step, extra)``, the first exactly the loop's (same random state); restored
        on exit.
        """
        ...

    def unrolled(
        self, log: ImpressionLog, step: int, extra: Rows, horizon: int = 1, max_steps: int | None = None
    ) -> Callable[[Rows], Tensor]:
        """A predictor rows -> (R,) raw predictions after a differentiable stand-in for that
        retrain (the real optimiser unrolled, truncated to ``max_steps`` steps where it is
        costly), differentiable with respect to ``extra.label``.
        """
        ...


class Feed(Protocol):
    """The platform's ranking stage as the loop calls it (docs/design.md §4.3). The innermost feed is
    :class:`simlab.platform.slates.PolicyFeed`; interventions wrap it (A users, C candidates).
    """

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        """(A,), (A, C), (A, C) -> adjusted (A, C) scores."""
        ...

    def build_slates(self, users: Tensor, candidates: Tensor, scores: Tensor, k: int) -> Tensor:
        """(A,), (A, C), (A, C), k -> (A, k) column indices into ``candidates`` (-1 = empty)."""
        ...

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        """Rows to append to this retrain's training data, or None."""
        ...

    def observe(self, rows: dict[str, Tensor]) -> None:
        """This step's logged impressions (the log's columns)."""
        ...


class Intervention(Feed, Protocol):
    """A mitigation: a :class:`Feed` wrapped around another (see simlab.interventions.base).
    ``privileged`` declares that it reads the true state (recorded in the manifest).
    """

    privileged: bool

    def wrap(self, inner: Feed, context: Any) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class PeopleRecommender(Protocol):
    """The platform's link ("who to follow") recommender: it sees the graph, the platform's
    records and ids, never opinions. The users' answer (accepting, unfollowing) is not its part.
    """

    def recommend(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) user ids -> (S,) the user id recommended to each to follow, -1 where none."""
        ...


class Metric(Protocol):
    """A metric column computed from a step's context (the ``metric`` kind)."""

    def compute(self, ctx: Any) -> Tensor | float:
        """A scalar from the step context (see simlab.metrics.recorder.StepContext)."""
        ...


__all__ = [
    "N_DENSE",
    "N_ITEM_DENSE",
    "N_USER_DENSE",
    "AntidoteTarget",
    "Behavior",
    "CandidateSource",
    "Catalog",
    "CatalogModel",
    "Dynamics",
    "Engagements",
    "Feed",
    "Graph",
    "ImpressionLog",
    "Intervention",
    "Metric",
    "Network",
    "PeopleRecommender",
    "PlatformView",
    "Policy",
    "Population",
    "Recommender",
    "Rows",
    "Users",
]


# ---------------------------------------------------------------- load-time checks


@runtime_checkable
class ChecksScenario(Protocol):
    """A component with a cross-component check at load time (e.g. karate_club needs 34 users).

    A component class declares the check by implementing this Protocol (a ``staticmethod``);
    the loader calls it once per validated scenario, through the class.
    """

    @staticmethod
    def check_scenario(scenario: Mapping[str, Any]) -> str | tuple[str, str] | None:
        """Check the settings of other components against this one's.

        Args:
            scenario: the validated scenario as its YAML document (every block with its defaults
                filled in; this leaf layer does not know the ``Scenario`` model).

        Returns:
            None when the scenario is fine; else a message about the component's ``type``, or
            ``(setting, message)`` about one of its settings.
        """
        ...


@runtime_checkable
class ChecksFiles(Protocol):
    """A component that reads data files (population opinions, edge lists) and checks them at
    load time, not when a task starts.
    """

    @staticmethod
    def check_files(scenario: Mapping[str, Any]) -> None:
        """Read and check the component's data files against the scenario.

        Args:
            scenario: the validated scenario as its YAML document (see :class:`ChecksScenario`).

        Raises:
            simlab.society.datafiles.DataFileError: a file that does not fit (its path, line).
        """
        ...
