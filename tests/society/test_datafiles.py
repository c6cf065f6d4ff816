"""Data files lose nothing silently (issue 27): a UTF-8 byte-order mark is stripped, only a line
of column names is a header, a malformed number is refused with file and line, and a file that
cannot be read is one line (exit 2), never a traceback."""

from __future__ import annotations

import builtins
import copy
import errno
import os

import numpy as np
import pytest
import yaml

from simlab.cli import main
from simlab.society.datafiles import DataFileError, data_path, is_header, parse_number, pinned_paths
from simlab.society.network import read_edge_list
from simlab.society.population import load_opinions

BOM = b"\xef\xbb\xbf"
VALUES = [round(-1 + 2 * i / 199, 6) for i in range(200)]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("header", ["", "opinion\n", '"opinion"\n'])
def test_a_population_file_with_a_byte_order_mark_keeps_every_row(tmp_path, header):
    path = tmp_path / "pop.csv"
    path.write_bytes(BOM + (header + "\n".join(map(str, VALUES)) + "\n").encode())
    np.testing.assert_array_equal(load_opinions(path)[:, 0], VALUES)  # 200 rows, the first included


def test_a_two_column_population_file_with_a_byte_order_mark_and_a_header(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_bytes(BOM + b"x,y\n0.1,0.2\n-0.3,0.4\n")
    np.testing.assert_array_equal(load_opinions(path), [[0.1, 0.2], [-0.3, 0.4]])


@pytest.mark.parametrize(
    ("first", "found"),
    [("0.5x", "a text token"), ("1_0e-1", "a text token"), ("\u0661", "a text token"), ("nan", "NaN")],
)
def test_a_damaged_first_value_is_refused_not_taken_for_a_header(tmp_path, first, found):
    """``0.5x`` or ``1_0e-1`` on the first line once passed as a header (and ``1_0e-1`` anywhere as
    a number: Python's float takes it); both are refused with the file and line now."""
    path = tmp_path / "pop.csv"
    path.write_text(first + "\n0.2\n0.3\n", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_opinions(path)
    assert caught.value.line == 1 and found in caught.value.detail


def test_a_malformed_token_on_a_later_line_names_the_line(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("opinion\n0.1\n0.2\n1_0\n")
    with pytest.raises(DataFileError, match="line 4: expected a number in column 1, found a text token"):
        load_opinions(path)


def test_a_header_sets_the_width_of_the_rows(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("x,y\n0.1\n0.2\n")
    with pytest.raises(DataFileError, match="line 2: expected 2 columns like the first line, found 1"):
        load_opinions(path)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.5", 0.5), ("-1e-3", -0.001), (".5", 0.5), ("5.", 5.0), ("+3", 3.0), ("0.5x", None), ("1_0", None), ("", None)],
)
def test_numbers_are_plain_ascii_decimals(text, value):
    assert parse_number(text) == value


def test_header_detection():
    assert is_header(["opinion"]) and is_header(["u", "v", "weight"]) and is_header(['"x"'])
    assert not is_header(["0.5x"]) and not is_header(["nan"]) and not is_header(["u", "1"]) and not is_header([])


@pytest.mark.parametrize("header", ["", "u v\n", "source,target\n"])
def test_an_edge_list_with_a_byte_order_mark_keeps_its_first_edge(tmp_path, header):
    comma = "," in header
    rows = "".join(f"{i}{',' if comma else ' '}{(i + 1) % 60}\n" for i in range(60))
    path = tmp_path / "edges.txt"
    path.write_bytes(BOM + (header + rows).encode())
    edges = read_edge_list(path, 60, directed=True)
    assert edges.n_edges == 60 and edges.src[0] == 0 and edges.dst[0] == 1


def test_an_edge_list_refuses_a_damaged_first_line_and_underscored_ids(tmp_path):
    path = tmp_path / "edges.txt"
    path.write_text("0x 1\n1 2\n")
    with pytest.raises(DataFileError, match="line 1: cannot parse column 1 as a node id: found a text token"):
        read_edge_list(path, 60)
    path.write_text("0 1\n1_0 2\n")
    with pytest.raises(DataFileError, match="line 2: cannot parse column 1"):
        read_edge_list(path, 60)


def test_an_unreadable_population_file_is_one_line_from_validate(tiny, tmp_path, capsys, monkeypatch):
    """Permission denied while reading: one line naming the file, exit 2. The machine that runs
    this suite may run as root, which reads every file: there the OS refusal is reproduced by an
    open() that raises the PermissionError an ordinary user gets."""
    pop = tmp_path / "pop.csv"
    pop.write_text("\n".join(map(str, VALUES[:60])) + "\n")
    os.chmod(pop, 0)
    if os.geteuid() == 0:
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if str(file) == str(pop):
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
    doc = copy.deepcopy(tiny)
    doc["population"] = {"type": "file", "path": str(pop), "activity": 0.8}
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(doc))
    try:
        assert main(["validate", str(scenario)]) == 2
    finally:
        os.chmod(pop, 0o644)
    assert _one_line(capsys) == f"error: {pop}: population.path: cannot read the population file: Permission denied"


def test_pinned_paths_redirect_a_data_path_inside_the_block_only(tmp_path):
    assert str(data_path("pop.csv")) == "pop.csv"
    with pinned_paths({"pop.csv": str(tmp_path / "pop.csv")}):
        assert data_path("pop.csv") == tmp_path / "pop.csv"
        assert str(data_path("other.csv")) == "other.csv"
    assert str(data_path("pop.csv")) == "pop.csv"
