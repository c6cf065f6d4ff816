"""Figures by their data and layout, not their pixels (issue 29): page width, at most 12 panels a
page, every axis in words with its unit, 7 pt text or more, no two texts overlapping, the
few-replicates note; bands cut at a metric's range; metrics that do not apply not drawn."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from simlab.outputs import plotting
from simlab.outputs.applicable import mask, not_applicable
from simlab.outputs.compare import paired_differences
from simlab.outputs.compare_figures import plot_tradeoff
from simlab.outputs.labels import title_of
from simlab.running.files import read_metrics
from tests.outputs.handmade import write_run


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("handmade") / "run")


def panels(figure):
    """The data panels of a figure (colorbars are not panels)."""
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def texts(figure):
    """Every visible, non-empty text of a drawn figure with its box in pixels."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = list(figure.texts) + [t for legend in figure.legends for t in legend.get_texts()]
    for ax in figure.axes:
        found += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]
        found += [child for child in ax.texts]
    return [(t, t.get_window_extent(renderer)) for t in found if t.get_visible() and t.get_text().strip()]


def check_layout(name, figure):
    assert figure.get_figwidth() == pytest.approx(plotting.PAGE_WIDTH), name
    assert 1 <= len(panels(figure)) <= plotting.MAX_PANELS, name
    boxes = texts(figure)
    page = figure.bbox
    for text, box in boxes:
        assert text.get_fontsize() >= 6.9, (name, text.get_text(), text.get_fontsize())
        inside = page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1
        assert inside, (name, text.get_text(), "leaves the page")
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        shrunk_a, shrunk_b = box_a.shrunk(0.97, 0.9), box_b.shrunk(0.97, 0.9)
        assert not shrunk_a.overlaps(shrunk_b), (name, a.get_text(), b.get_text())
    for ax in panels(figure):
        for label in (ax.xaxis.label.get_text(), ax.yaxis.label.get_text()):
            assert "value" not in label.split(" (")[0], (name, label)
        assert ax.xaxis.label.get_text(), (name, ax.get_title())
        if not name.startswith(("forest", "compare_forest")):  # forest rows are named by their variants
            assert ax.yaxis.label.get_text(), (name, ax.get_title())


def test_every_figure_of_a_run_fits_a_page_and_no_text_collides(feeds_run):
    run = plotting.load_run(feeds_run)
    drawn = {}
    for draw in plotting.DRAWINGS:
        drawn |= draw(run)
    assert {"paired.png", "forest_polarization.png", "opinion_heatmap.png", "metrics_diversity.png"} <= set(drawn)
    for name, figure in drawn.items():
        check_layout(name, figure)
    notes = [t.get_text() for t in drawn["forest_polarization.png"].texts]
    assert any("n = 3: few replicates" in n for n in notes)


def test_the_comparison_figures_fit_a_page_and_labels_do_not_collide(handmade, tmp_path, monkeypatch):
    metrics = read_metrics(handmade / "metrics.csv")
    table = paired_differences(metrics, names=["ctr", "extremity", "polarization_er", "coverage"])
    saved = {}
    monkeypatch.setattr("simlab.outputs.compare_figures.save", lambda figures, out: saved.update(figures) or [out])
    plot_tradeoff(table, tmp_path)
    (figure,) = saved.values()
    check_layout("compare_tradeoff.png", figure)
    labels = {t.get_text() for ax in figure.axes for t in ax.texts}
    assert labels == {"popularity", "oracle"}  # every point named next to it


def test_a_long_family_is_split_into_pages_of_12(handmade):
    metrics = read_metrics(handmade / "metrics.csv")
    names = [c for c in metrics.columns if c not in ("variant", "replicate", "step")]
    wide = metrics.assign(**{f"m{i}": metrics["extremity"] for i in range(20)})
    figures = plotting.draw_metric_curves(wide, [*names, *(f"m{i}" for i in range(20))], filename="m.png")
    assert list(figures) == ["m.png", "m_2.png", "m_3.png"]
    assert [len(panels(f)) for f in figures.values()] == [12, 12, len(names) + 20 - 24]


def test_bands_of_shares_stay_in_0_1_and_the_figure_says_they_were_cut(handmade):
    metrics = read_metrics(handmade / "metrics.csv")
    (figure,) = plotting.draw_metric_curves(metrics, ["extreme_user_share", "opinion_variance"]).values()
    share = next(ax for ax in figure.axes if ax.get_title() == title_of("extreme_user_share"))
    bands = [c for c in share.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    for band in bands:
        ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
        assert ys.min() >= 0.0 and ys.max() <= 1.0
    lowest = min(np.concatenate([p.vertices[:, 1] for p in bands[0].get_paths()]))
    assert lowest == 0.0  # the random feed's band was cut at 0
    notes = " ".join(t.get_text() for t in figure.texts)
    assert "n = 2: few replicates" in notes and "cut" in notes


def test_metrics_that_do_not_apply_are_not_drawn(handmade):
    run = plotting.load_run(handmade)
    # no cohort: neither the logged-out column (empty) nor the logged-in one (everyone) is drawn
    assert "exposure_extremeness_logged_in" not in run.names and "exposure_extremeness_logged_out" not in run.names
    figures = plotting.draw_metric_families(run)
    titles = {ax.get_title() for f in figures.values() for ax in f.axes}
    assert title_of("exposure_extremeness_logged_in") not in titles and title_of("rpol") in titles
    # the random feed predicts one number for everyone: R_pol is not drawn for it (0 would be a lie)
    rpol = next(ax for f in figures.values() for ax in f.axes if ax.get_title() == title_of("rpol"))
    drawn = [line for line in rpol.lines if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()]
    assert len(drawn) == 2
    forest = plotting.forest_table(run).set_index(["point", "metric"])
    assert np.isnan(forest.loc[("popularity", "rpol"), "diff"])  # its baseline (random) has none


def test_what_does_not_apply_is_named_per_point(handmade):
    metrics = read_metrics(handmade / "metrics.csv")
    scenario = {"variants": {v: {"recommender": {"type": v}} for v in ("random", "popularity", "oracle")}}
    absent = not_applicable(metrics, scenario)
    assert absent[("random",)] == {
        "exposure_extremeness_logged_in", "exposure_extremeness_logged_out", "rpol", "personalisation",
    }  # fmt: skip
    assert absent[("oracle",)] == {"exposure_extremeness_logged_in", "exposure_extremeness_logged_out"}
    masked = mask(metrics, scenario)
    assert masked.loc[masked["variant"] == "random", "rpol"].isna().all()
    assert masked.loc[masked["variant"] == "oracle", "rpol"].notna().all()
    # with a cohort, both columns apply
    metrics["exposure_extremeness_logged_out"] = 0.5
    assert "exposure_extremeness_logged_in" not in not_applicable(metrics, scenario).get(("oracle",), set())
