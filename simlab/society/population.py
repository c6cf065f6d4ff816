"""Population initialisers: draw the N synthetic users (DESIGN.md §2 "Users").

Every type shares :class:`PopulationSettings` (the per-user parameters mu_i, lambda_i, eps_i,
theta_i, p_i, g_i) and differs only in how the initial opinions x_i in [-1, 1]^K are drawn:

- ``uniform``: U[-1, 1] on each axis;
- ``normal``: N(mean, std) clipped to [-1, 1];
- ``bimodal``: an equal mixture of N(+center, std) and N(-center, std), clipped;
- ``beta``: 2 * Beta(a, b) - 1;
- ``file``: read from a ``.npy`` or ``.csv`` file of shape (N,) or (N, K).

All randomness comes from the ``torch.Generator`` passed to ``sample`` (no global RNG), so the
same generator state on the same device gives the same users. Gamma-based draws (Dirichlet
interests, Beta opinions) use numpy seeded from one integer drawn from that generator, because
torch's gamma sampler takes no generator.
"""

from __future__ import annotations

import abc
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from simlab.loop.state import Users
from simlab.registry import POPULATIONS

__all__ = [
    "BetaPopulation",
    "BimodalPopulation",
    "FilePopulation",
    "NormalPopulation",
    "PopulationBase",
    "PopulationSettings",
    "UniformPopulation",
    "load_opinions",
]


class PopulationSettings(BaseModel):
    """Settings shared by every population type.

    A ``*_spread`` s draws the parameter per user from U[value - s, value + s], clipped to
    its valid range; 0 (the default) gives every user the same value.

    ``groups``: with 2 groups, g_i = 1 if x_i0 >= 0 else 0 (the "side" of the first opinion axis,
    so group fairness metrics compare the two camps); with 1 group everybody is in group 0;
    otherwise g_i is uniform on {0, ..., groups-1}, independent of opinion.
    """

    model_config = ConfigDict(extra="forbid")

    size: int = Field(1000, gt=0, le=100_000_000, description="N, number of users")
    axes: int = Field(1, ge=1, le=64, description="K, number of opinion axes")
    susceptibility: float = Field(0.1, ge=0.0, description="mu_i, weight of engaged content")
    susceptibility_spread: float = Field(0.0, ge=0.0)
    anchoring: float = Field(0.0, ge=0.0, le=1.0, description="lambda_i, pull back to the innate opinion")
    confidence: float = Field(0.4, gt=0.0, description="eps_i, bounded-confidence radius")
    interest_concentration: float = Field(0.5, gt=0.0, description="Dirichlet alpha of topic interests")
    activity: float = Field(0.5, ge=0.0, le=1.0, description="p_i, probability of being active in a step")
    activity_spread: float = Field(0.0, ge=0.0)
    groups: int = Field(2, ge=1, le=1_000_000, description="number of groups g_i (see class docstring)")


class PopulationBase(abc.ABC):
    """Shared ``sample``; subclasses implement ``_opinions`` (N, K) in [-1, 1]."""

    Settings = PopulationSettings

    def __init__(self, settings: PopulationSettings | None = None):
        self.settings = settings if settings is not None else self.Settings()

    @abc.abstractmethod
    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        """The initial opinions x (N, K)."""

    def sample(self, topics: int, generator: torch.Generator, device: torch.device | str) -> Users:
        """Draw N users with K opinion axes and interests over ``topics`` (T) topics.

        Returns :class:`simlab.loop.state.Users` with float32 fields on ``device``:
        opinion/innate (N, K), susceptibility/anchoring/confidence/activity (N,),
        interests (N, T), group (N,) long.
        """
        if topics < 1:
            raise ValueError(f"topics must be >= 1, got {topics}")
        device = torch.device(device)
        s = self.settings
        opinion = self._opinions(generator, device).to(torch.float32).clamp_(-1.0, 1.0)
        n = opinion.shape[0]

        def spread(value: float, width: float, low: float, high: float) -> Tensor:
            base = torch.full((n,), value, dtype=torch.float32, device=device)
            if width > 0:
                base = base + width * (2 * _uniform((n,), generator, device) - 1)
            return base.clamp_(low, high)

        susceptibility = spread(s.susceptibility, s.susceptibility_spread, 0.0, float("inf"))
        activity = spread(s.activity, s.activity_spread, 0.0, 1.0)
        anchoring = torch.full((n,), s.anchoring, dtype=torch.float32, device=device)
        confidence = torch.full((n,), s.confidence, dtype=torch.float32, device=device)
        interests = _dirichlet(n, topics, s.interest_concentration, generator, device)
        if s.groups == 1:
            group = torch.zeros(n, dtype=torch.long, device=device)
        elif s.groups == 2:
            group = (opinion[:, 0] >= 0).long()
        else:
            group = torch.randint(s.groups, (n,), generator=generator, device=device)
        return Users(
            opinion=opinion,
            innate=opinion.clone(),
            susceptibility=susceptibility,
            anchoring=anchoring,
            confidence=confidence,
            interests=interests,
            activity=activity,
            group=group,
        )


def _gen_device(generator: torch.Generator) -> torch.device:
    return generator.device


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """U[0, 1) drawn on the generator's device, then moved to ``device``."""
    return torch.rand(shape, generator=generator, device=_gen_device(generator)).to(device)


def _normal(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    return torch.randn(shape, generator=generator, device=_gen_device(generator)).to(device)


def _numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded by one draw from ``generator`` (for gamma-based samplers)."""
    seed = int(torch.randint(2**62, (1,), generator=generator, device=_gen_device(generator)))
    return np.random.default_rng(seed)


def _dirichlet(n: int, topics: int, alpha: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """(N, T) rows from a symmetric Dirichlet(alpha)."""
    if topics == 1:
        return torch.ones(n, 1, dtype=torch.float32, device=device)
    rng = _numpy_rng(generator)
    theta = rng.dirichlet(np.full(topics, alpha), size=n)
    # For small alpha all gamma draws of a row may underflow to 0 (numpy then returns NaN);
    # such a user is interested in one topic only, the limit of Dirichlet as alpha -> 0.
    bad = ~np.isfinite(theta).all(axis=1)
    if bad.any():
        theta[bad] = 0.0
        theta[bad, rng.integers(topics, size=int(bad.sum()))] = 1.0
    return torch.as_tensor(theta, dtype=torch.float32).to(device)


@POPULATIONS.register("uniform")
class UniformPopulation(PopulationBase):
    """x_ik ~ U[-1, 1] independently."""

    class Settings(PopulationSettings):
        pass

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        return 2 * _uniform((s.size, s.axes), generator, device) - 1


@POPULATIONS.register("normal")
class NormalPopulation(PopulationBase):
    """x_ik ~ N(mean, std^2), clipped to [-1, 1] (mass beyond the bounds piles up at +-1)."""

    class Settings(PopulationSettings):
        mean: float = Field(0.0, ge=-1.0, le=1.0)
        std: float = Field(0.3, ge=0.0)

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        return (s.mean + s.std * _normal((s.size, s.axes), generator, device)).clamp(-1, 1)


@POPULATIONS.register("bimodal")
class BimodalPopulation(PopulationBase):
    """Each user picks a camp sign c_i = +-1 with probability 1/2 (shared by all K axes);
    x_ik ~ N(c_i * center, std^2), clipped to [-1, 1]."""

    class Settings(PopulationSettings):
        center: float = Field(0.5, ge=0.0, le=1.0)
        std: float = Field(0.15, ge=0.0)

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        sign = torch.where(_uniform((s.size, 1), generator, device) < 0.5, -1.0, 1.0)
        return (sign * s.center + s.std * _normal((s.size, s.axes), generator, device)).clamp(-1, 1)


@POPULATIONS.register("beta")
class BetaPopulation(PopulationBase):
    """x_ik = 2 * Beta(a, b) - 1 (a = b < 1: polarised U shape; a = b > 1: centred bump)."""

    class Settings(PopulationSettings):
        a: float = Field(2.0, gt=0.0)
        b: float = Field(2.0, gt=0.0)

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        draws = _numpy_rng(generator).beta(s.a, s.b, size=(s.size, s.axes))
        return torch.as_tensor(2 * draws - 1, dtype=torch.float32).to(device)


def load_opinions(path: str | Path) -> np.ndarray:
    """Read opinions from ``.npy`` or ``.csv`` (comma or whitespace separated, optional header).

    Returns float64 (N, K); a 1-d file is one axis. Raises ValueError for a missing file, an
    unreadable file, the wrong number of dimensions, non-finite values or values outside [-1, 1].
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"population file {path} does not exist")
    try:
        data = np.load(path, allow_pickle=False) if path.suffix == ".npy" else _read_table(path)
    except ValueError as error:
        raise ValueError(f"population file {path}: {error}") from None
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"population file {path}: expected shape (N,) or (N, K), got {data.shape}")
    if not np.isfinite(data).all():
        raise ValueError(f"population file {path}: contains NaN or infinite values")
    if (np.abs(data) > 1).any():
        row = int(np.argmax((np.abs(data) > 1).any(axis=1)))
        raise ValueError(f"population file {path}: opinions must lie in [-1, 1] (row {row} does not)")
    return data


def _read_table(path: Path) -> np.ndarray:
    with path.open() as handle:
        lines = [line.strip() for line in handle]
    rows = [line for line in lines if line and not line.startswith("#")]
    if not rows:
        raise ValueError("no data rows")
    delimiter = "," if "," in rows[0] else None
    try:
        [float(v) for v in rows[0].split(delimiter)]
    except ValueError:
        rows = rows[1:]  # a header line
    return np.loadtxt(rows, delimiter=delimiter, ndmin=1)


@POPULATIONS.register("file")
class FilePopulation(PopulationBase):
    """Initial opinions read from ``path`` (``.npy`` or ``.csv``, shape (N,) or (N, K)).

    N and K come from the file; if ``size`` or ``axes`` are given they must match it (ValueError
    otherwise). A relative path is relative to the working directory. Values must be in [-1, 1].
    """

    class Settings(PopulationSettings):
        path: str
        size: int | None = Field(None, gt=0, le=100_000_000)  # type: ignore[assignment]
        axes: int | None = Field(None, ge=1, le=64)  # type: ignore[assignment]

        @model_validator(mode="after")
        def _path_given(self) -> FilePopulation.Settings:
            if not self.path:
                raise ValueError("path must not be empty")
            if not Path(self.path).is_file():
                raise ValueError(f"an existing .npy or .csv file for path, found no file at {self.path!r}")
            return self

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        data = load_opinions(s.path)
        if s.size is not None and data.shape[0] != s.size:
            raise ValueError(f"population file {s.path} has {data.shape[0]} rows but size is {s.size}")
        if s.axes is not None and data.shape[1] != s.axes:
            raise ValueError(f"population file {s.path} has {data.shape[1]} opinion axes but axes is {s.axes}")
        return torch.as_tensor(data, dtype=torch.float32).to(device)
