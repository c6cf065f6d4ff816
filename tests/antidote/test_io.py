"""Ratings readers: each MovieLens format and the generic CSV, written here; bad files name the line."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.antidote.io import read_ratings
from simlab.core.errors import ScenarioError

FILES = {
    "u.data": ("ml-100k", "1\t10\t4\t881250949\n2\t10\t2\t881250950\n1\t20\t5\t881250951\n"),
    "ratings.dat": ("ml-1m", "1::10::4::978300760\n2::10::2::978302109\n1::20::5::978301968\n"),
    "ratings.csv": ("ml-latest", "userId,movieId,rating,timestamp\n1,10,4.0,964982703\n2,10,2.0,1\n1,20,5.0,2\n"),
    "generic.csv": ("generic", "user,item,rating\n1,10,4\n2,10,2\n1,20,5\n"),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_reads_every_format(tmp_path, name):
    fmt, text = FILES[name]
    path = tmp_path / name
    path.write_text(text)
    data = read_ratings(path)
    assert data.format == fmt
    assert list(data.users) == ["1", "2"] and list(data.items) == ["10", "20"]
    np.testing.assert_array_equal(data.ratings, [[4.0, 5.0], [2.0, np.nan]])


def test_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,10,4\n2,10,high\n")
    with pytest.raises(ScenarioError, match=r"bad.csv:3: .*numeric rating"):
        read_ratings(path)
    (tmp_path / "x.txt").write_text("hello world\n")
    with pytest.raises(ScenarioError, match=r"x.txt:1"):
        read_ratings(tmp_path / "x.txt")


def test_cli_bad_file_exits_2(tmp_path, capsys):
    from simlab.cli import main

    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,10\n")
    assert main(["antidote", str(path), "--out", str(tmp_path / "o"), "--no-curve"]) == 2
    assert "bad.csv:2" in capsys.readouterr().err
