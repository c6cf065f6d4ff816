"""Edge-list files: the ``edge_list`` network type and its reader.

An edge list is a text file of ``u v [weight]`` rows (comma or whitespace separated, ids 0..N-1),
read with the checks of :mod:`simlab.society.datafiles`: a malformed row raises
:class:`~simlab.society.datafiles.DataFileError` naming the file and line, never quoting it.
"""

from __future__ import annotations

import array
import functools
import math
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from simlab.core.state import Edges, Users
from simlab.society.datafiles import (
    DataFileError,
    check_regular_file,
    data_lines,
    data_path,
    file_key,
    is_header,
    parse_integer,
    parse_number,
    split_fields,
    token_kind,
)
from simlab.society.network.generators import NetworkBase, NetworkSettings


class EdgeList(NetworkBase):
    """Edges read from a text file: see :func:`read_edge_list`."""

    data_files = ("path",)  # settings that name data files (pinned and hashed by a run)

    class Settings(NetworkSettings):
        path: str = Field(description="edge-list file: CSV or whitespace-separated `u v [weight]` rows, ids 0..N-1")
        directed: bool = Field(
            False, description="directed: `u v` means u listens to v (else each edge links both ways)"
        )

        @model_validator(mode="after")
        def _file_exists(self) -> EdgeList.Settings:
            if not data_path(self.path).is_file():
                raise ValueError(f"an existing edge-list file for path, found no file at {self.path!r}")
            return self

    settings: Settings

    @staticmethod
    def check_files(scenario: dict) -> None:
        """Load-time check of the whole file against the population size; raises DataFileError."""
        from simlab.society.population import population_size

        network = scenario["network"]
        edge_list_size(network["path"], population_size(scenario["population"]), network["directed"])

    def build(self, users: Users, seed: int) -> Edges:
        return read_edge_list(self.settings.path, users.n, directed=self.settings.directed)


def read_edge_list(path: str | Path, n: int, directed: bool = False) -> Edges:
    """Read ``u v [weight]`` rows (comma or whitespace separated) from a text file.

    Lines starting with ``#`` and blank lines are skipped, a UTF-8 byte-order mark is dropped,
    and a first line of column names (``u v`` or ``u,v,weight``) is a header. Node ids are integers in [0, n); weights are finite and >= 0 (default 1).
    Directed: "u v" means u listens to v. Undirected: (u, v) and (v, u) are the same edge and a
    repeated edge keeps the weight of its last line (as networkx's read_edgelist does).
    Raises :class:`DataFileError` (a ValueError) naming the file and line for any malformed
    row; the message says what kind of token was wrong, never the line's content.
    """
    path = data_path(path)
    src, dst, weight = array.array("q"), array.array("q"), array.array("d")
    width, comma, first = 0, False, True
    for number, text in data_lines(path, "edge list"):
        if first:
            comma = "," in text
        fields = split_fields(text, comma)
        if first and is_header(fields):
            first = False
            continue
        first = False
        if len(fields) not in (2, 3) or (width and len(fields) != width):
            raise DataFileError(
                path, f"expected 'u v' or 'u v weight' on every line, found {len(fields)} fields", number
            )
        width = len(fields)
        for column in (0, 1):
            node = _node(fields[column])
            if isinstance(node, str):
                raise DataFileError(path, f"cannot parse column {column + 1} as a node id: found {node}", number)
            if not 0 <= node < n:
                kind = "an id too large for int64" if node >= 2**63 else "an id outside it"
                raise DataFileError(
                    path,
                    f"node ids must be in [0, {n}) (the population size), found {kind} in column {column + 1}",
                    number,
                )
            (src if column == 0 else dst).append(node)
        if width == 3:
            parsed = parse_number(fields[2])
            value = math.nan if parsed is None else parsed
            if not (math.isfinite(value) and value >= 0):
                found = "a negative number" if value < 0 else token_kind(fields[2])
                raise DataFileError(path, f"weight must be finite and >= 0, found {found} in column 3", number)
            weight.append(value)
    src_ids = np.frombuffer(src, dtype=np.int64) if src else np.zeros(0, np.int64)
    dst_ids = np.frombuffer(dst, dtype=np.int64) if dst else np.zeros(0, np.int64)
    weights = (np.frombuffer(weight, dtype=np.float64) if weight else np.zeros(0)) if width == 3 else None
    if not directed and src_ids.size:  # canonical (min, max); keep the last line of each repeated edge
        u, v = np.minimum(src_ids, dst_ids), np.maximum(src_ids, dst_ids)
        _, last = np.unique((u * n + v)[::-1], return_index=True)
        keep = np.sort(len(u) - 1 - last)
        src_ids, dst_ids = u[keep], v[keep]
        weights = None if weights is None else weights[keep]
    return Edges(src_ids, dst_ids, n, weights, directed)


def _node(text: str) -> int | str:
    """A node id (an integer, written as such or as an integral float), else what was found."""
    integer = parse_integer(text)
    if integer is not None:
        return integer
    value = parse_number(text)
    if value is None:
        return token_kind(text)
    if not math.isfinite(value):
        return token_kind(text)
    if not value.is_integer():
        return "a fractional number"
    return int(value)


@functools.lru_cache(maxsize=32)
def _checked_edge_count(key: tuple[str, int, int, int, int], n: int, directed: bool) -> int:
    return read_edge_list(key[0], n, directed).n_edges


def edge_list_size(path: str | Path, n: int, directed: bool = False) -> int:
    """The number of edges of a valid edge-list file (read and checked once per file version)."""
    path = data_path(path)
    check_regular_file(path, "edge list")
    return _checked_edge_count(file_key(path), n, directed)
