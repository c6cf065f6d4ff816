"""Figures from a run folder: which are written, their size, grouping, order and sweeps."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from simlab.outputs.labels import FAMILIES, OTHER, grouped
from simlab.outputs.plotting import plot_opinion_heatmaps, plot_run, plot_sweep
from simlab.results.run import load_run

FEED_FIGURES = [
    "metrics_polarization.png",
    "metrics_extremity_exposure.png",
    "metrics_diversity.png",
    "metrics_engagement_model_quality.png",
    "paired.png",
    "forest_polarization.png",
    "forest_extremity_exposure.png",
    "opinion_final.png",
    "opinion_heatmap.png",
    "opinion_initial_final.png",
    "exposure_vs_opinion.png",
]


def test_every_figure_is_written_at_page_width(feeds_run):
    names = {p.name for p in (feeds_run / "figures").glob("*.png")}
    assert set(FEED_FIGURES) <= names
    assert not any(n.startswith(("sweep_", "phase_")) for n in names)  # no sweep in this run
    assert "opinion_over_time.png" not in names  # the heatmap shows every snapshot
    for name in FEED_FIGURES:
        width, height = Image.open(feeds_run / "figures" / name).size
        # 7.2 in (a journal page's width) at 150 dpi; at least a heading and one row of panels high
        assert width == 1080 and height >= 250, name


def test_families_keep_their_order_and_unknown_metrics_go_to_other():
    out = grouped(["ctr", "zeta_new", "extremity", "opinion_variance", "alpha_new"])
    assert list(out) == ["polarization", "extremity and exposure", "engagement and model quality", OTHER]
    assert out[OTHER] == ["zeta_new", "alpha_new"]
    listed = [n for names in FAMILIES.values() for n in names]
    assert len(listed) == len(set(listed))  # no metric in two families
    assert all(len(names) <= 12 for names in FAMILIES.values())  # one page each


def test_points_follow_the_scenario_not_the_file_order(feeds_run, tmp_path):
    # rows written oracle-first (as a run whose oracle tasks finished first could be merged)
    copy = tmp_path / "run"
    shutil.copytree(feeds_run, copy)
    metrics = pd.read_csv(copy / "metrics.csv")
    metrics.iloc[::-1].to_csv(copy / "metrics.csv", index=False)
    run = load_run(copy)
    assert [p.variant for p in run.points] == ["pop", "rand", "oracle"]
    assert [(p.variant, b.variant) for p, b in run.compared()] == [("rand", "pop"), ("oracle", "pop")]
    snapshot_points = sorted(set(run.snapshots["point"]))
    assert snapshot_points == [0, 1, 2] and set(run.snapshots["step"]) == {0, 2, 4, 6}


def test_the_heatmap_colorbar_and_every_snapshot(feeds_run, tmp_path, monkeypatch):
    seen = {}
    original = Figure.colorbar

    def spy(self, mappable, **kwargs):
        seen["columns"] = mappable.get_array().shape
        return original(self, mappable, **kwargs)

    monkeypatch.setattr(Figure, "colorbar", spy)
    plot_opinion_heatmaps(feeds_run, tmp_path)
    assert seen["columns"][1] == 4 or np.prod(seen["columns"]) == 40 * 4  # 40 bins x the 4 snapshots


def test_a_two_key_sweep_draws_lines_per_key_and_a_phase_diagram(sweep_run, tmp_path):
    names = sorted(p.name for p in plot_sweep(sweep_run, tmp_path))
    families = ["diversity", "engagement_model_quality", "extremity_exposure", "polarization"]
    assert names == sorted(
        [f"phase_{v}_{f}.png" for v in ("pop", "rand") for f in families]
        + [
            f"sweep_{i}_{k}_{f}.png"
            for i, k in enumerate(["behavior.b_ext", "population.susceptibility"])
            for f in families
        ]
    )
    assert Image.open(tmp_path / "phase_pop_polarization.png").size[0] == 1080


def test_plot_run_returns_what_it_wrote(feeds_run):
    paths = plot_run(feeds_run)
    assert [p.name for p in paths][:2] == ["metrics_polarization.png", "metrics_extremity_exposure.png"]
    assert len(paths) == len({p.name for p in paths}) == len(list((feeds_run / "figures").glob("*.png")))
    assert all(p.exists() for p in paths)


def test_figures_drawn_in_parallel_are_those_drawn_one_by_one(feeds_run, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        shutil.copytree(feeds_run, folder)
        shutil.rmtree(folder / "figures")
    serial = plot_run(one, workers=1)
    parallel = plot_run(two, workers=2)  # forked processes, one family each at a time
    assert [p.name for p in serial] == [p.name for p in parallel]
    for a, b in zip(serial, parallel):
        assert a.read_bytes() == b.read_bytes(), a.name
