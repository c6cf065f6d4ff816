"""Closed-loop opinion formation metrics (issue 26): intensity, simplification, divergence, and the
echo-chamber measures of the people-recommender literature.

Spinelli & Crovella, "Closed-Loop Opinion Formation" (WebSci 2017) names intensity,
simplification and divergence; its formulas are not available here, so the definitions below
are **simlab's operationalisations** (docs/opinion_formation.md). ``echo_chamber`` follows Cinus
et al. (ICWSM 2022); ``assortativity`` is Newman's (2003) numeric assortativity.

The columns are opt-in (``metrics.include`` must name them; ``all`` leaves them out). Divergence
needs the paired no-recommender run, which a column cannot see: it is computed after the run
from the snapshots (:func:`divergence_from_snapshots`, ``python -m
simlab.metrics.opinion_formation RUN_DIR --baseline VARIANT``).
"""

from __future__ import annotations

import abc
import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import torch
from torch import Tensor

from simlab.metrics.recorder import StepContext, metric
from simlab.registry import METRICS, EmptySettings

# ----------------------------------------------------------------------- pure measures


def intensity_t(x: Tensor) -> Tensor:
    """Intensity: mean |x_ik| over users i and axes k (0 when everyone is neutral).

    Args:
        x: opinions, (N,) or (N, K).

    Returns:
        A scalar tensor (float64).
    """
    return x.double().abs().mean()


def histogram_entropy_t(x: Tensor, bins: int = 20) -> Tensor:
    """Shannon entropy (nats) of the opinion histogram on [-1, 1], averaged over axes.

    Args:
        x: opinions, (N,) or (N, K); values outside [-1, 1] fall in the end bins.
        bins: equal-width bins per axis.

    Returns:
        A scalar tensor: mean over axes of -sum_b p_b log p_b (0 for a point mass, log(bins) at most).
    """
    x = x.double().reshape(x.shape[0], -1)
    index = ((x.clamp(-1, 1) + 1) / 2 * bins).long().clamp(max=bins - 1)  # (N, K)
    entropies = []
    for k in range(x.shape[1]):
        p = torch.bincount(index[:, k], minlength=bins).double() / x.shape[0]
        p = p[p > 0]
        entropies.append(-(p * p.log()).sum())
    return torch.stack(entropies).mean()


def participation_ratio_t(x: Tensor) -> Tensor:
    """Participation ratio of the opinion covariance: (sum_k l_k)^2 / sum_k l_k^2 over its
    eigenvalues l_k, the effective number of axes opinions vary along (1 to K).

    Args:
        x: opinions, (N,) or (N, K).

    Returns:
        A scalar tensor; 1 for K = 1, NaN when opinions do not vary at all.
    """
    x = x.double().reshape(x.shape[0], -1)
    centred = x - x.mean(dim=0)
    eigenvalues = torch.linalg.eigvalsh(centred.t() @ centred / x.shape[0]).clamp(min=0)
    total = eigenvalues.sum()
    if total <= 0:
        return torch.tensor(float("nan"), dtype=torch.float64, device=x.device)
    return total**2 / (eigenvalues**2).sum()


def _pearson(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of two (M,) vectors; NaN when either is constant or M < 2."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    scale = (a.square().sum() * b.square().sum()).sqrt()
    if a.numel() < 2 or scale <= 0:
        return torch.tensor(float("nan"), dtype=torch.float64, device=a.device)
    return (a * b).sum() / scale


def echo_chamber_t(x: Tensor, src: Tensor, dst: Tensor, weight: Tensor | None = None) -> Tensor:
    """Neighbourhood opinion correlation (Cinus et al., ICWSM 2022): the Pearson correlation, over
    users with at least one neighbour, between a user's opinion x_i and the (weighted) mean
    opinion of the users it follows; averaged over axes.

    Args:
        x: opinions, (N,) or (N, K).
        src: (E,) edge tails (the follower).
        dst: (E,) edge heads (the followed).
        weight: (E,) edge weights (None: all 1).

    Returns:
        A scalar tensor in [-1, 1]; NaN with fewer than two such users or no variation.
    """
    x = x.double().reshape(x.shape[0], -1)
    w = torch.ones(src.shape, dtype=torch.float64, device=x.device) if weight is None else weight.double()
    degree = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device).index_add_(0, src, w)
    total = torch.zeros_like(x).index_add_(0, src, x[dst] * w[:, None])
    has = degree > 0
    mean = total[has] / degree[has, None]
    return torch.stack([_pearson(x[has, k], mean[:, k]) for k in range(x.shape[1])]).mean()


def assortativity_t(x: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """Numeric assortativity of opinion (Newman 2003): the Pearson correlation of x_u and x_v over
    the directed edges u -> v (an undirected graph lists both directions, so this equals
    networkx's ``numeric_assortativity_coefficient``); averaged over axes.

    Args:
        x: opinions, (N,) or (N, K).
        src: (E,) edge tails.
        dst: (E,) edge heads.

    Returns:
        A scalar tensor in [-1, 1]; NaN without edges or variation.
    """
    x = x.double().reshape(x.shape[0], -1)
    return torch.stack([_pearson(x[src, k], x[dst, k]) for k in range(x.shape[1])]).mean()


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein distance between two empirical distributions on the line:
    the integral of |F_a(z) - F_b(z)| dz over their CDFs (any sample sizes).

    Args:
        a: (N,) samples.
        b: (M,) samples.

    Returns:
        The distance (same units as the samples).
    """
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    z = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, z[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, z[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(z)))


def divergence(opinion: np.ndarray, baseline: np.ndarray) -> float:
    """Divergence: 1-Wasserstein distance between a run's opinions and the paired baseline
    run's, axis by axis (the marginals), averaged over axes.

    Args:
        opinion: (N,) or (N, K) opinions of the run.
        baseline: (N',) or (N', K) opinions of the paired run without the recommender.

    Returns:
        The distance; 0 when the distributions agree.
    """
    x, y = np.asarray(opinion).reshape(len(opinion), -1), np.asarray(baseline).reshape(len(baseline), -1)
    return float(np.mean([wasserstein_1d(x[:, k], y[:, k]) for k in range(x.shape[1])]))


def divergence_from_snapshots(run_dir: str | Path, baseline: str) -> list[dict[str, Any]]:
    """Divergence of every snapshot from the paired baseline variant's (same replicate, same
    sweep point, same step), read from ``RUN_DIR/snapshots/*.npz``.

    Args:
        run_dir: a run folder written with ``output.snapshot_every`` > 0.
        baseline: the variant whose runs are the no-recommender reference.

    Returns:
        Rows ``{variant, sweep, replicate, step, divergence}``, sorted; the baseline's own rows
        (divergence 0) included.
    """
    runs: dict[tuple[str, str, int, int], np.ndarray] = {}
    for path in sorted(Path(run_dir, "snapshots").glob("*.npz")):
        with np.load(path) as snapshot:
            key = (str(snapshot["variant"]), str(snapshot["sweep"]), int(snapshot["replicate"]), int(snapshot["step"]))
            runs[key] = snapshot["opinion"]
    rows = []
    for (variant, sweep, replicate, step), opinion in sorted(runs.items()):
        reference = runs.get((baseline, sweep, replicate, step))
        if reference is not None:
            value = divergence(opinion, reference)
            rows.append({"variant": variant, "sweep": sweep, "replicate": replicate, "step": step, "divergence": value})
    return rows


# ----------------------------------------------------------------------- metric columns


class Bins(pydantic.BaseModel):
    """Settings of ``simplification``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    bins: int = pydantic.Field(20, ge=2, le=10_000, description="equal-width opinion bins per axis on [-1, 1]")


@metric("intensity", opt_in=True)
def _intensity(ctx: StepContext, s: Any) -> Tensor:
    """Intensity (simlab's reading of Spinelli & Crovella 2017): mean |x_ik| over users and axes,
    how strongly opinions are held (0: everyone neutral).
    """
    return intensity_t(ctx.users.opinion)


class _FromStart(abc.ABC):
    """Base of columns that compare a quantity with its value at step 0 (set up once)."""

    opt_in = True

    def __init__(self, settings: Any):
        self.settings = settings
        self.start: Tensor | None = None

    @abc.abstractmethod
    def value(self, ctx: StepContext) -> Tensor:
        """The compared quantity now (a scalar tensor)."""

    def setup(self, ctx: StepContext) -> None:
        self.start = self.value(ctx)

    def compute(self, ctx: StepContext) -> Tensor:
        assert self.start is not None
        if not bool(self.start > 0):  # nothing to lose at step 0: undefined
            return torch.tensor(float("nan"), dtype=torch.float64, device=ctx.users.opinion.device)
        return 1 - self.value(ctx) / self.start

    def state_dict(self) -> dict[str, Any]:
        return {"start": self.start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start = state["start"]


@METRICS.register("simplification")
class Simplification(_FromStart):
    """Simplification (simlab's reading of Spinelli & Crovella 2017): 1 - H_t / H_0, the share of
    the step-0 entropy of the opinion histogram (``bins`` per axis on [-1, 1], averaged over
    axes) that has been lost; 0 at the start, 1 when everyone holds one position, negative when
    opinions spread out.
    """

    Settings = Bins

    def value(self, ctx: StepContext) -> Tensor:
        return histogram_entropy_t(ctx.users.opinion, self.settings.bins)


@METRICS.register("axis_simplification")
class AxisSimplification(_FromStart):
    """Axis simplification: 1 - PR_t / PR_0, the loss of the participation ratio of the opinion
    covariance's eigenvalues (the effective number of axes opinions vary along) since step 0;
    0 for one axis, up to 1 - 1/K when K independent axes collapse onto one.
    """

    Settings = EmptySettings

    def value(self, ctx: StepContext) -> Tensor:
        return participation_ratio_t(ctx.users.opinion)


@metric("echo_chamber", opt_in=True)
def _echo_chamber(ctx: StepContext, s: Any) -> Tensor:
    """Neighbourhood opinion correlation (Cinus et al. 2022): Pearson correlation between each
    user's opinion and the mean opinion of the users it follows, on the current graph.
    """
    g = ctx.graph
    return echo_chamber_t(ctx.users.opinion, g.src, g.dst, g.weight)


@metric("assortativity", opt_in=True)
def _assortativity(ctx: StepContext, s: Any) -> Tensor:
    """Numeric assortativity of opinion on the current graph (Newman 2003): Pearson correlation
    of the opinions at the two ends of an edge.
    """
    return assortativity_t(ctx.users.opinion, ctx.graph.src, ctx.graph.dst)


@metric("rewired_edges", opt_in=True)
def _rewired_edges(ctx: StepContext, s: Any) -> Tensor:
    """Links added or removed by the people block so far (cumulative; a reciprocal pair counts once)."""
    return torch.tensor(float(ctx.rewired_edges), dtype=torch.float64)


def main(argv: list[str] | None = None) -> int:
    """Write ``divergence.csv`` into a run folder from its snapshots."""
    parser = argparse.ArgumentParser(description="divergence of each variant from a baseline variant")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--baseline", required=True, help="the no-recommender variant")
    args = parser.parse_args(argv)
    rows = divergence_from_snapshots(args.run_dir, args.baseline)
    with open(args.run_dir / "divergence.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["variant", "sweep", "replicate", "step", "divergence"])
        writer.writeheader()
        writer.writerows(rows)
    print(json.dumps({"rows": len(rows), "file": str(args.run_dir / "divergence.csv")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
