"""Named random streams derived from one replicate seed.

Every random draw in a replicate comes from a child stream named after what uses it
("population", "network", "response", ...).  A child is seeded with
``numpy.random.SeedSequence(seed, spawn_key=(replicate, crc32(name)))``, so adding a new
stream never shifts the numbers of the others, and variants that share a replicate index
share their seeds (paired comparisons).
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from torch import Tensor


class Streams:
    """Factory of named, independent generators for one replicate."""

    def __init__(self, seed: int, replicate: int, device: torch.device | str = "cpu"):
        self.seed = int(seed)
        self.replicate = int(replicate)
        self.device = torch.device(device)
        self._torch: dict[str, torch.Generator] = {}

    def sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(self.replicate, zlib.crc32(name.encode())))

    def integer_seed(self, name: str) -> int:
        """A 63-bit integer seed for libraries that take one (networkx)."""
        return int(self.sequence(name).generate_state(1, np.uint64)[0]) & (2**63 - 1)

    def numpy(self, name: str) -> np.random.Generator:
        return np.random.default_rng(self.sequence(name))

    def torch(self, name: str) -> torch.Generator:
        """A torch.Generator on the run's device; the same object on repeated calls."""
        if name not in self._torch:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(self.integer_seed(name))
            self._torch[name] = generator
        return self._torch[name]

    # (``Tensor``, not ``torch.Tensor``: in this class body ``torch`` is the method above)
    def state_dict(self) -> dict[str, Tensor]:
        return {name: g.get_state() for name, g in self._torch.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for name, value in state.items():
            self.torch(name).set_state(value)
