"""report.html: title, family tables, highlighting, number format, definitions, figures."""

from __future__ import annotations

import math
import re

import pandas as pd

from simlab.outputs.report import definitions, fmt, write_report


def test_numbers_have_three_significant_digits():
    assert [fmt(x) for x in (5e-5, 0.5, 123.456, -0.1104, 2e6, 0.0, float("nan"))] == [
        "5.00e-05",
        "0.500",
        "123",
        "-0.110",
        "2.00e+06",
        "0",
        "n/a",
    ]


def test_the_report_is_titled_and_highlights_what_excludes_zero(feeds_run):
    page = write_report(feeds_run).read_text()
    assert "<title>tiny: simlab report</title>" in page and "<h1>tiny</h1>" in page
    assert "does an oracle push exposure outward?" in page
    for family in ("Polarization", "Extremity and exposure", "Diversity", "Engagement and model quality", "Other"):
        assert f"<h3>{family}</h3>" in page
    summary = pd.read_csv(feeds_run / "summary.csv")
    differs = summary[summary["variant"] != "pop"]
    significant = ((differs["diff_ci_low"] > 0) | (differs["diff_ci_high"] < 0)).sum()
    assert page.count('<td class="sig">') == significant
    assert "0.0000" not in page


def test_definitions_come_from_the_metric_docstrings(feeds_run):
    from simlab.metrics.columns import _ctr

    first = " ".join((_ctr.__doc__ or "").split("\n\n")[0].split())
    assert definitions(["ctr"]) == {"ctr": first}
    assert first in write_report(feeds_run).read_text()


def test_every_figure_is_embedded_once(feeds_run):
    page = write_report(feeds_run).read_text()
    figures = sorted((feeds_run / "figures").glob("*.png"))
    assert page.count("<img ") == len(figures) > 10
    assert re.search(r"Figure 1: metrics polarization", page)
    manifest_seconds = [t["seconds"] for t in pd.read_json(feeds_run / "manifest.json", typ="series")["tasks"]]
    assert all(math.isfinite(s) for s in manifest_seconds) and "per task" in page


def test_every_registered_metric_has_a_definition():
    from simlab.registry import METRICS

    missing = [name for name, text in definitions(METRICS.names()).items() if text == "(no definition docstring)"]
    assert missing == []
