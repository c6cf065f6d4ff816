"""Population initialisers: draw the N synthetic users (docs/design.md §2 "Users").

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
import array
import functools
import math
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from simlab.core.state import Users
from simlab.society.datafiles import (
    DataFileError,
    check_regular_file,
    data_lines,
    data_path,
    file_key,
    is_header,
    open_data_file,
    parse_number,
    split_fields,
    token_kind,
)

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

    ``logged_out``: round(share * N) users, drawn uniformly, browse without an account
    (Spinelli & Crovella 2020): the platform sees them under one shared anonymous id, with an
    empty history and zero counters (:meth:`simlab.core.view.PlatformView.platform_users`).

    ``reliability_value_spread`` s > 0: users differ in how much they value an item's
    reliability r_j (a catalog with ``reliability: true``), w_i = max(0, 1 + s * N(0, 1)), so
    some users care about it far more than the average and some not at all, and a personal
    history reveals which (the behaviour's ``b_rel`` term). 0 (the default): w_i = 1 for all,
    and nothing is drawn.
    """

    model_config = ConfigDict(extra="forbid")

    size: int = Field(1000, gt=0, le=100_000_000, description="N, number of users")
    axes: int = Field(1, ge=1, le=64, description="K, number of opinion axes")
    susceptibility: float = Field(0.1, ge=0.0, description="mu_i, weight of engaged content")
    susceptibility_spread: float = Field(
        0.0, ge=0.0, description="half-width s: mu_i ~ U[mu - s, mu + s], clipped at 0 (0 = same for all)"
    )
    anchoring: float = Field(0.0, ge=0.0, le=1.0, description="lambda_i, pull back to the innate opinion")
    confidence: float = Field(0.4, gt=0.0, description="eps_i, bounded-confidence radius")
    interest_concentration: float = Field(0.5, gt=0.0, description="Dirichlet alpha of topic interests")
    activity: float = Field(0.5, ge=0.0, le=1.0, description="p_i, probability of being active in a step")
    activity_spread: float = Field(
        0.0, ge=0.0, description="half-width s: p_i ~ U[p - s, p + s], clipped to [0, 1] (0 = same for all)"
    )
    groups: int = Field(2, ge=1, le=1_000_000, description="number of groups g_i (see class docstring)")
    logged_out: float = Field(
        0.0, ge=0.0, le=1.0, description="share of users the platform cannot identify (see class docstring)"
    )
    reliability_value_spread: float = Field(
        0.0, ge=0.0, description="s: users value reliability w_i = max(0, 1 + s*N(0, 1)) (0 = w_i = 1 for all)"
    )


class PopulationBase(abc.ABC):
    """Shared ``sample``; subclasses implement ``_opinions`` (N, K) in [-1, 1]."""

    Settings = PopulationSettings

    def __init__(self, settings: PopulationSettings | None = None):
        self.settings = settings if settings is not None else self.Settings()

    @abc.abstractmethod
    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        """The initial opinions x (N, K)."""

    def sample(self, topics: int, generator: torch.Generator, device: torch.device | str, taste_dims: int = 0) -> Users:
        """Draw N users with K opinion axes, interests over ``topics`` (T) topics and latent tastes
        over ``taste_dims`` (D) dimensions (the catalog's; 0: no tastes).

        Returns :class:`simlab.core.state.Users` with float32 fields on ``device``:
        opinion/innate (N, K), susceptibility/anchoring/confidence/activity (N,),
        interests (N, T), group (N,) long, logged_out (N,) bool, taste (N, D) ~ N(0, I_D) or None,
        reliability_value (N,) w_i or None (see :class:`PopulationSettings`).
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
        logged_out = torch.zeros(n, dtype=torch.bool, device=device)
        if s.logged_out > 0:  # drawn last, and only when asked: other draws stay as they were
            order = torch.randperm(n, generator=generator, device=_gen_device(generator)).to(device)
            logged_out[order[: round(s.logged_out * n)]] = True
        # drawn last too: a world without tastes (D = 0) draws exactly what it drew before
        taste = _normal((n, taste_dims), generator, device) if taste_dims > 0 else None
        reliability_value = None
        if s.reliability_value_spread > 0:  # drawn last, and only when asked
            value_spread = s.reliability_value_spread
            reliability_value = (1 + value_spread * _normal((n,), generator, device)).clamp_(min=0.0)
        return Users(
            opinion=opinion,
            innate=opinion.clone(),
            susceptibility=susceptibility,
            anchoring=anchoring,
            confidence=confidence,
            interests=interests,
            activity=activity,
            group=group,
            logged_out=logged_out,
            taste=taste,
            reliability_value=reliability_value,
        )

    @staticmethod
    def check_scenario(scenario: dict) -> str | None:
        """The oracle ranks by each user's true engagement probability, which a platform that
        cannot tell logged-out users apart does not have: the two do not combine.
        """
        if scenario["population"].get("logged_out", 0) > 0 and scenario["recommender"]["type"] == "oracle":
            return "expected logged_out: 0 with the oracle recommender (it needs to know who each user is)"
        return None


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


class UniformPopulation(PopulationBase):
    """x_ik ~ U[-1, 1] independently."""

    class Settings(PopulationSettings):
        pass

    settings: Settings

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        return 2 * _uniform((s.size, s.axes), generator, device) - 1


class NormalPopulation(PopulationBase):
    """x_ik ~ N(mean, std^2), clipped to [-1, 1] (mass beyond the bounds piles up at +-1)."""

    class Settings(PopulationSettings):
        mean: float = Field(0.0, ge=-1.0, le=1.0, description="mean of the normal opinion draw")
        std: float = Field(0.3, ge=0.0, description="standard deviation of the opinion draw (before clipping)")

    settings: Settings

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        return (s.mean + s.std * _normal((s.size, s.axes), generator, device)).clamp(-1, 1)


class BimodalPopulation(PopulationBase):
    """Each user picks a camp sign c_i = +-1 with probability 1/2 (shared by all K axes);
    x_ik ~ N(c_i * center, std^2), clipped to [-1, 1].
    """

    class Settings(PopulationSettings):
        center: float = Field(0.5, ge=0.0, le=1.0, description="the two camps' opinions are centred at +-center")
        std: float = Field(0.15, ge=0.0, description="standard deviation within a camp (before clipping)")

    settings: Settings

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        sign = torch.where(_uniform((s.size, 1), generator, device) < 0.5, -1.0, 1.0)
        return (sign * s.center + s.std * _normal((s.size, s.axes), generator, device)).clamp(-1, 1)


class BetaPopulation(PopulationBase):
    """x_ik = 2 * Beta(a, b) - 1 (a = b < 1: polarised U shape; a = b > 1: centred bump)."""

    class Settings(PopulationSettings):
        a: float = Field(2.0, gt=0.0, description="Beta shape a (a = b < 1: polarised U shape)")
        b: float = Field(2.0, gt=0.0, description="Beta shape b (a = b > 1: centred bump)")

    settings: Settings

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        draws = _numpy_rng(generator).beta(s.a, s.b, size=(s.size, s.axes))
        return torch.as_tensor(2 * draws - 1, dtype=torch.float32).to(device)


def load_opinions(path: str | Path) -> np.ndarray:
    """Read opinions from ``.npy`` or ``.csv`` (comma or whitespace separated, optional header).

    Returns float64 (N, K); a 1-d file is one axis. Raises :class:`DataFileError` (a
    ValueError) naming the file and, for text, the line: a missing, special or oversized file,
    undecodable bytes, a text token, ragged rows, the wrong number of axes, no rows, non-finite
    values or values outside [-1, 1]; for ``.npy``: a truncated or malformed file, a pickled
    (object), complex or non-numeric array (``allow_pickle=False``: nothing is unpickled).
    Inside :func:`~simlab.society.datafiles.pinned_paths` the file read is the pinned one.
    """
    path = data_path(path)
    check_regular_file(path, "population file")
    data = _read_npy(path) if path.suffix == ".npy" else _read_table(path)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise DataFileError(path, f"expected shape (N,) or (N, K) with N, K >= 1, found shape {data.shape}")
    if not np.isfinite(data).all():
        row = int(np.argmax(~np.isfinite(data).all(axis=1)))
        raise DataFileError(path, f"expected finite opinions, found NaN or an infinity in row {row}")
    if (np.abs(data) > 1).any():
        row = int(np.argmax((np.abs(data) > 1).any(axis=1)))
        raise DataFileError(path, f"opinions must lie in [-1, 1] (row {row} does not)")
    return data


def _read_npy(path: Path) -> np.ndarray:
    """A numeric .npy array, its header checked before any data is read (a header may promise
    more data than the file holds, or an object array that would need unpickling).
    """
    with open_data_file(path, "population file") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError("unsupported version")
        except Exception:  # numpy parses the header with tokenize/ast: many error types
            raise DataFileError(path, "expected a .npy array file, found a malformed or truncated header") from None
        offset = handle.tell()
    if dtype.hasobject:
        raise DataFileError(path, "expected a numeric array, found an object array (pickled data is never loaded)")
    if dtype.kind == "c":
        raise DataFileError(path, "expected real opinions, found a complex array")
    if dtype.kind not in "fiu":
        raise DataFileError(path, f"expected a numeric array, found dtype {dtype.str}")
    if len(shape) not in (1, 2):
        raise DataFileError(path, f"expected shape (N,) or (N, K), found {len(shape)} axes")
    needed = math.prod(shape) * dtype.itemsize
    if path.stat().st_size - offset < needed:
        raise DataFileError(path, f"truncated: the header promises {needed} bytes of data, the file has fewer")
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (ValueError, OSError, EOFError):
        raise DataFileError(path, "expected a .npy array file, found unreadable data") from None


def _read_table(path: Path) -> np.ndarray:
    """Rows of numbers; a first line of column names is a header (it sets the width). Values go
    into one flat float64 buffer (8 bytes each), never a Python object per value.
    """
    values = array.array("d")
    width, comma, first = 0, False, True
    for number, text in data_lines(path, "population file"):
        if first:
            comma = "," in text
        fields = split_fields(text, comma)
        if first and is_header(fields):
            first, width = False, len(fields)
            continue
        first = False
        parsed = [parse_number(f) for f in fields]
        bad = next((j for j, value in enumerate(parsed) if value is None), None)
        if bad is not None:
            raise DataFileError(path, f"expected a number in column {bad + 1}, found {token_kind(fields[bad])}", number)
        if width and len(fields) != width:
            raise DataFileError(
                path, f"expected {width} columns like the first line, found {len(fields)} (ragged rows)", number
            )
        width = len(fields)
        row = [float(value) for value in parsed if value is not None]
        for j, value in enumerate(row):  # named by line here; load_opinions checks .npy rows
            if not math.isfinite(value):
                raise DataFileError(
                    path, f"expected a finite number in column {j + 1}, found {token_kind(fields[j])}", number
                )
            if abs(value) > 1:
                raise DataFileError(
                    path, f"opinions must lie in [-1, 1], found a value outside in column {j + 1}", number
                )
        values.extend(row)
    if not values:
        raise DataFileError(path, "expected rows of opinions, found no data rows")
    data = np.frombuffer(values, dtype=np.float64).reshape(-1, width)
    return data[:, 0] if width == 1 else data


@functools.lru_cache(maxsize=32)
def _checked_shape(key: tuple[str, int, int, int, int]) -> tuple[int, int]:
    rows, axes = load_opinions(key[0]).shape
    return rows, axes


def opinion_file_shape(path: str | Path) -> tuple[int, int]:
    """(N, K) of a valid population file, read and checked once per file version."""
    path = data_path(path)
    check_regular_file(path, "population file")
    return _checked_shape(file_key(path))


def population_size(population: dict) -> int:
    """N of a validated population block: its ``size``, or the rows of its file."""
    if population.get("size") is not None:
        return int(population["size"])
    return opinion_file_shape(population["path"])[0]


class FilePopulation(PopulationBase):
    """Initial opinions read from ``path`` (``.npy`` or ``.csv``, shape (N,) or (N, K)).

    N and K come from the file; if ``size`` or ``axes`` are given they must match it (ValueError
    otherwise). A relative path is relative to the working directory (a run pins it: a resumed
    run reads the file its start read, see :mod:`simlab.running.inputs`). Values must be in [-1, 1].
    """

    data_files = ("path",)  # settings that name data files (pinned and hashed by a run)

    class Settings(PopulationSettings):
        path: str = Field(description=".npy or .csv file of initial opinions, shape (N,) or (N, K), values in [-1, 1]")
        size: int | None = Field(  # type: ignore[assignment]
            None, gt=0, le=100_000_000, description="N; taken from the file when null, else must match it"
        )
        axes: int | None = Field(  # type: ignore[assignment]
            None, ge=1, le=64, description="K; taken from the file when null, else must match it"
        )

        @model_validator(mode="after")
        def _path_given(self) -> FilePopulation.Settings:
            if not self.path:
                raise ValueError("path must not be empty")
            if not data_path(self.path).is_file():
                raise ValueError(f"an existing .npy or .csv file for path, found no file at {self.path!r}")
            return self

    settings: Settings

    @staticmethod
    def check_files(scenario: dict) -> None:
        """Load-time check of the file (content, and size/axes against it); raises DataFileError."""
        population = scenario["population"]
        rows, axes = opinion_file_shape(population["path"])
        _check_shape(population, rows, axes)

    def _opinions(self, generator: torch.Generator, device: torch.device) -> Tensor:
        s = self.settings
        data = load_opinions(s.path)
        _check_shape({"path": s.path, "size": s.size, "axes": s.axes}, *data.shape)
        return torch.as_tensor(data, dtype=torch.float32).to(device)


def _check_shape(population: dict, rows: int, axes: int) -> None:
    path, size, want_axes = population["path"], population.get("size"), population.get("axes")
    if size is not None and rows != size:
        raise DataFileError(path, f"population file has {rows} rows but size is {size}")
    if want_axes is not None and axes != want_axes:
        raise DataFileError(path, f"population file has {axes} opinion axes but axes is {want_axes}")
