"""Figures by their data and layout, not their pixels (issue 29): page width, at most 12 panels a
page, every axis in words with its unit, 7 pt text or more, no two texts overlapping, the
few-replicates note; bands cut at a metric's range; metrics that do not apply not drawn."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

import simlab
from simlab.outputs import metric_figures, plotting
from simlab.outputs.compare import paired_differences
from simlab.outputs.compare_figures import plot_tradeoff
from simlab.outputs.labels import title_of
from simlab.outputs.metric_figures import draw_metric_curves, draw_metric_families, forest_table
from simlab.outputs.page_figures import MAX_PANELS, PAGE_WIDTH
from simlab.outputs.sweep_figures import draw_sweep
from simlab.results.applicable import mask, not_applicable
from simlab.results.run import load_run
from simlab.running.files import read_metrics
from tests.outputs.conftest import sweep_document
from tests.outputs.handmade import write_run


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("handmade") / "run")


def title(ax):
    """A panel's title as written (a title wider than its panel is wrapped onto two lines)."""
    return ax.get_title().replace("\n", " ")


def panels(figure):
    """The data panels of a figure (colorbars are not panels)."""
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def texts(figure):
    """Every visible, non-empty text of a drawn figure with its box in pixels."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = list(figure.texts) + [t for legend in figure.legends for t in legend.get_texts()]
    for ax in figure.axes:
        found += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):  # the tick labels drawn: those of ticks inside the axis
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            found += [t.label1 for t in axis.get_major_ticks() if low - span <= t.get_loc() <= high + span]
    return [(t, t.get_window_extent(renderer)) for t in found if t.get_visible() and t.get_text().strip()]


def check_layout(name, figure):
    assert figure.get_figwidth() == pytest.approx(PAGE_WIDTH), name
    assert 1 <= len(panels(figure)) <= MAX_PANELS, name
    boxes = texts(figure)
    page = figure.bbox
    for text, box in boxes:
        assert text.get_fontsize() >= 6.9, (name, text.get_text(), text.get_fontsize())
        inside = page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1
        assert inside, (name, text.get_text(), "leaves the page")
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        shrunk_a, shrunk_b = box_a.shrunk(0.97, 0.9), box_b.shrunk(0.97, 0.9)
        assert not shrunk_a.overlaps(shrunk_b), (name, a.get_text(), b.get_text())
    left = min(ax.get_position().x0 for ax in panels(figure))
    for ax in panels(figure):
        for label in (ax.xaxis.label.get_text(), ax.yaxis.label.get_text()):
            assert "value" not in label.split(" (")[0], (name, label)
        assert ax.xaxis.label.get_text(), (name, ax.get_title())
        # forest rows are named by their variants; a phase diagram's rows share one y axis, named
        # in the first column (the colorbars' labels take the room left of the other columns)
        first_column = ax.get_position().x0 == pytest.approx(left)
        if not name.startswith(("forest", "compare_forest")) and (first_column or not name.startswith("phase_")):
            assert ax.yaxis.label.get_text(), (name, ax.get_title())


def test_every_figure_of_a_run_fits_a_page_and_no_text_collides(feeds_run):
    run = load_run(feeds_run)
    drawn = {}
    for draw in plotting.DRAWINGS:
        drawn |= draw(run)
    assert {"paired.png", "forest_polarization.png", "opinion_heatmap.png", "metrics_diversity.png"} <= set(drawn)
    for name, figure in drawn.items():
        check_layout(name, figure)
        notes = [t.get_text() for t in figure.texts]
        assert any("n = 3: few replicates" in n for n in notes), name  # every figure says it


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
    figures = draw_metric_curves(wide, [*names, *(f"m{i}" for i in range(20))], filename="m.png")
    assert list(figures) == ["m.png", "m_2.png", "m_3.png"]
    assert [len(panels(f)) for f in figures.values()] == [12, 12, len(names) + 20 - 24]


def test_bands_of_shares_stay_in_0_1_and_the_figure_says_they_were_cut(handmade):
    metrics = read_metrics(handmade / "metrics.csv")
    (figure,) = draw_metric_curves(metrics, ["extreme_user_share", "opinion_variance"]).values()
    share = next(ax for ax in figure.axes if title(ax) == title_of("extreme_user_share"))
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
    run = load_run(handmade)
    # no cohort: neither the logged-out column (empty) nor the logged-in one (everyone) is drawn
    assert "exposure_extremeness_logged_in" not in run.names and "exposure_extremeness_logged_out" not in run.names
    figures = draw_metric_families(run)
    titles = {title(ax) for f in figures.values() for ax in f.axes}
    assert title_of("exposure_extremeness_logged_in") not in titles and title_of("rpol") in titles
    # the random feed predicts one number for everyone: R_pol is not drawn for it (0 would be a lie)
    rpol = next(ax for f in figures.values() for ax in f.axes if title(ax) == title_of("rpol"))
    drawn = [line for line in rpol.lines if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()]
    assert len(drawn) == 2
    forest = forest_table(run).set_index(["point", "metric"])
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


def test_sweep_figures_and_phase_diagrams_fit_a_page(sweep_run):
    figures = draw_sweep(sweep_run)
    assert any(n.startswith("phase_") for n in figures) and any(n.startswith("sweep_") for n in figures)
    for name, figure in figures.items():
        check_layout(name, figure)
    sweep = next(f for n, f in figures.items() if n.startswith("sweep_0_"))
    assert panels(sweep)[0].get_xlabel().replace("\n", " ") == "weight of appetite times extremeness (behavior.b_ext)"


def test_a_wide_phase_diagram_of_many_metrics_keeps_its_labels_apart(tmp_path, monkeypatch):
    """The flagship's b_ext x b_align grid (10 x 2 cells) with a family of several metrics: three
    panels a row with colorbars, long axis names, cells and ticks too narrow for their values."""
    doc = sweep_document()
    doc["sweep"] = {"behavior.b_ext": [0.5 * i for i in range(10)], "behavior.b_align": [1.0, 2.5]}
    doc.update(replicates=1, steps=2, variants={})
    doc["metrics"] = {"include": ["extremity", "extreme_user_share", "exposure_extremeness", "extreme_exposure_share"]}
    assert simlab.run(doc, out=tmp_path / "run", quiet=True).status == "complete"
    figures = draw_sweep(tmp_path / "run")
    phase = [f for n, f in figures.items() if n.startswith("phase_")]
    assert phase and max(len(panels(f)) for f in phase) >= 4
    for name, figure in figures.items():
        check_layout(name, figure)
    # 20 sweep points: curves per step, one legend entry each, are drawn; beyond MAX_CURVES not
    assert draw_metric_families(tmp_path / "run")
    monkeypatch.setattr(metric_figures, "MAX_CURVES", 19)
    assert draw_metric_families(tmp_path / "run") == {}


def test_a_comparison_of_many_variants_keeps_its_ticks_apart(monkeypatch, tmp_path):
    """Seven mitigations x twelve metrics, some differences of order 1e-4 (as R_pol's in the
    antidote runs): one page, short ticks with the power of ten in the axis label."""
    from simlab.outputs.compare_figures import plot_dose_response, plot_forest

    rng = np.random.default_rng(0)
    variants = ["base", "mmr", "extremeness_penalty", "calibrated", "random_injection", "bridging", "diversity_cap",
                "chronological_mix"]  # fmt: skip
    names = ["opinion_variance", "polarization_er", "bimodality", "extremity", "extreme_user_share",
             "exposure_extremeness", "extreme_exposure_share", "slate_diversity", "topic_entropy", "coverage", "ctr",
             "rpol"]  # fmt: skip
    rows = [
        {"variant": v, "replicate": r, "step": 0, **{n: 0.3 + 0.01 * i + rng.normal(0, 0.02) for n in names},
         "rpol": 1e-3 + 2e-5 * i + rng.normal(0, 2e-5)}
        for i, v in enumerate(variants)
        for r in range(10)
    ]  # fmt: skip
    import pandas as pd

    table = paired_differences(pd.DataFrame(rows), names=names)
    saved = {}
    monkeypatch.setattr("simlab.outputs.compare_figures.save", lambda figures, out: saved.update(figures) or [out])
    plot_forest(table, tmp_path)
    (figure,) = saved.values()
    check_layout("compare_forest.png", figure)
    rpol = next(ax for ax in figure.axes if title(ax) == title_of("rpol"))
    assert "×10⁻" in rpol.get_xlabel()
    assert max(len(t.get_text()) for t in rpol.get_xticklabels()) <= 5
    dose = [
        {"variant": f"interventions.0.weight={w}", "replicate": r, "step": 0, "ctr": 0.2 - 0.01 * w + 0.001 * r}
        for w in (0.0, 0.5, 1.0)
        for r in range(3)
    ]
    saved.clear()
    scenario = {"interventions": [{"type": "extremeness_penalty"}]}
    plot_dose_response(pd.DataFrame(dose), tmp_path, names=["ctr"], scenario=scenario)
    (figure,) = saved.values()
    check_layout("compare_dose.png", figure)
    assert panels(figure)[0].get_xlabel().replace("\n", " ") == "penalty strength (interventions.0.weight)"
