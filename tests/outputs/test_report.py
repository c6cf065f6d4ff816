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
    for family in ("Polarization", "Extremity and exposure", "Diversity", "Engagement and model quality"):
        assert f"<h3>{family}</h3>" in page
    summary = pd.read_csv(feeds_run / "summary.csv")
    differs = summary[summary["variant"] != "pop"]
    width = differs["diff_ci_high"] > differs["diff_ci_low"]  # zero-width intervals never count
    significant = (width & ((differs["diff_ci_low"] > 0) | (differs["diff_ci_high"] < 0))).sum()
    assert significant == differs["diff_excludes_zero"].sum()
    assert page.count('<td class="sig">') == significant
    assert "0.0000" not in page


def test_definitions_come_from_the_metric_docstrings(feeds_run):
    from simlab.registry import METRICS

    first = " ".join((METRICS.get("ctr").__doc__ or "").split("\n\n")[0].split())
    assert first and first != "(no definition docstring)"
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


def test_the_report_says_n_a_few_replicates_and_cut_intervals(tmp_path):
    """On a hand-made run (tests/outputs/handmade.py): the random feed's R_pol reads n/a, not 0;
    the cohort it does not have is left out; the random feed's shares near 0 have intervals cut at
    0 (marked †); 2 replicates are called few; a difference that is the same in every pair is not
    highlighted."""
    from simlab.results.tables import final_rows
    from simlab.running.files import read_metrics
    from simlab.running.summary import summarize
    from tests.outputs.handmade import write_run

    def values(variant, replicate, step, name):
        if name == "coverage" and variant == "oracle":  # random's coverage + 0.000746 in every pair
            return value("random", replicate, step, name) + 0.000746
        return value(variant, replicate, step, name)

    from tests.outputs.handmade import value

    run = write_run(tmp_path / "run", values=values)
    summarize(final_rows(read_metrics(run / "metrics.csv"))).to_csv(run / "summary.csv", index=False)
    page = write_report(run).read_text()
    row = re.search(r"<code>rpol</code></th>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[0] == "n/a" and not cells[1].startswith("n/a")  # random: n/a; popularity: a number
    assert "logged_in" not in page.split("<h2>Figures</h2>")[0]  # no cohort: no row
    assert "n = 2: few replicates" in page
    share = re.search(r"<code>extreme_user_share</code></th>(.*?)</tr>", page, re.S).group(1)
    assert re.search(r"\[0, [0-9.e-]+\]†", re.findall(r"<td[^>]*>(.*?)</td>", share, re.S)[0])
    coverage = re.search(r"<code>coverage</code></th>(.*?)</tr>", page, re.S).group(1)
    oracle = re.findall(r"<td([^>]*)>(.*?)</td>", coverage, re.S)[2]
    assert "Δ +7.46e-04 [+7.46e-04, +7.46e-04]" in oracle[1] and 'class="sig"' not in oracle[0]
