"""Figures from a run folder (reads metrics.csv, scenario.yaml and snapshots/; never the live
simulation). :func:`plot_run` draws every figure of a run into ``RUN_DIR/figures``.

The figures themselves are drawn by :mod:`simlab.outputs.metric_figures` (metric curves, paired
differences, forest plots), :mod:`simlab.outputs.opinion_figures` (snapshots) and
:mod:`simlab.outputs.sweep_figures` (sweeps, phase diagrams), on the print-size pages of
:mod:`simlab.outputs.page_figures`, from a run read by :func:`simlab.results.run.load_run`. Each
``draw_*`` function returns its figures unsaved (name -> Figure), which the tests read; each
``plot_*`` twin here takes the run folder and the folder to write into and returns the paths it
wrote. The names of those modules are re-exported here, so that
``from simlab.outputs.plotting import plot_metric_curves`` keeps working.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from simlab.outputs.labels import FAMILIES, OTHER, family_of, grouped, title_of, unit_of
from simlab.outputs.metric_figures import (
    HEADLINE,
    draw_forest,
    draw_forest_panels,
    draw_metric_curves,
    draw_metric_families,
    draw_paired_differences,
    forest_table,
    plot_metric_curves,
)
from simlab.outputs.opinion_figures import (
    draw_exposure_vs_opinion,
    draw_initial_vs_final,
    draw_opinion_distributions,
    draw_opinion_heatmaps,
)
from simlab.outputs.page_figures import (
    COLUMNS,
    DPI,
    FONT,
    MAX_PANELS,
    PAGE_WIDTH,
    Page,
    colour,
    fit_label,
    fit_title,
    notes,
    page,
    pages,
    save,
    style,
    text_width,
    tidy_axis,
)
from simlab.outputs.sweep_figures import draw_sweep, swept_key_label
from simlab.results.run import Point, Run, load_run
from simlab.running.files import ensure_folder

__all__ = [
    "COLUMNS",
    "DPI",
    "DRAWINGS",
    "FAMILIES",
    "FIGURES",
    "FONT",
    "HEADLINE",
    "MAX_PANELS",
    "OTHER",
    "PAGE_WIDTH",
    "Page",
    "Point",
    "Run",
    "colour",
    "draw_exposure_vs_opinion",
    "draw_forest",
    "draw_forest_panels",
    "draw_initial_vs_final",
    "draw_metric_curves",
    "draw_metric_families",
    "draw_opinion_distributions",
    "draw_opinion_heatmaps",
    "draw_paired_differences",
    "draw_sweep",
    "family_of",
    "fit_label",
    "fit_title",
    "forest_table",
    "grouped",
    "load_run",
    "notes",
    "page",
    "pages",
    "plot_exposure_vs_opinion",
    "plot_forest",
    "plot_initial_vs_final",
    "plot_metric_curves",
    "plot_metric_families",
    "plot_opinion_distributions",
    "plot_opinion_heatmaps",
    "plot_paired_differences",
    "plot_run",
    "plot_sweep",
    "save",
    "style",
    "swept_key_label",
    "text_width",
    "tidy_axis",
    "title_of",
    "ylabel_of",
]

ylabel_of = unit_of  # the name earlier releases exported


def _plotter(draw: Callable[..., dict[str, Figure]]) -> Callable[[str | Path | Run, Path], list[Path]]:
    def plot(run_dir: str | Path | Run, out: Path) -> list[Path]:
        return save(draw(run_dir), Path(out))

    plot.__name__ = draw.__name__.replace("draw_", "plot_")
    plot.__doc__ = f"Write the figures of :func:`{draw.__name__}` into ``out``; returns their paths."
    return plot


plot_metric_families = _plotter(draw_metric_families)
plot_paired_differences = _plotter(draw_paired_differences)
plot_forest = _plotter(draw_forest)
plot_opinion_distributions = _plotter(draw_opinion_distributions)
plot_opinion_heatmaps = _plotter(draw_opinion_heatmaps)
plot_initial_vs_final = _plotter(draw_initial_vs_final)
plot_exposure_vs_opinion = _plotter(draw_exposure_vs_opinion)
plot_sweep = _plotter(draw_sweep)

# the figures of a run, in the order the report shows them; those of the first four are drawn
# per family
DRAWINGS = [
    draw_metric_families,
    draw_forest,
    draw_sweep,
    draw_paired_differences,
    draw_opinion_distributions,
    draw_opinion_heatmaps,
    draw_initial_vs_final,
    draw_exposure_vs_opinion,
]
BY_FAMILY = DRAWINGS[:3]
FIGURES = [_plotter(draw) for draw in DRAWINGS]
# file-name prefixes of the figures plot_run draws
DRAWN = ("metrics_", "paired_", "forest", "opinion_", "exposure_vs_opinion", "sweep_", "phase_")

_JOBS: list[tuple[Callable[..., dict[str, Figure]], str | None]] = []  # read by forked workers
_RUN: Run | None = None
_OUT: Path | None = None


def _draw_job(index: int) -> list[Path]:
    draw, family = _JOBS[index]
    assert _RUN is not None and _OUT is not None
    figures = draw(_RUN, family) if family is not None else draw(_RUN)
    return save(figures, _OUT)


def plot_run(run_dir: str | Path, workers: int | None = None) -> list[Path]:
    """Write figures/*.png for a run folder (every drawing of :data:`DRAWINGS`), replacing the
    figures of an earlier drawing; returns their paths in the order the report shows them.

    The figures are independent, so with ``workers`` > 1 (default: as many as a run's tasks get,
    ``$SIMLAB_WORKERS`` or the usable cores) they are drawn by that many forked processes that
    share the run already read (Linux; elsewhere, and with ``workers=1``, one after another):
    matplotlib's cost is per panel, not per number.
    """
    global _RUN, _OUT
    from simlab.running.resources import default_workers

    run_dir = Path(run_dir)
    out = ensure_folder(run_dir, "figures")  # a link there is refused, not written through
    for old in out.glob("*.png"):  # a redrawing may page a family differently (other files are kept)
        if old.name.startswith(DRAWN):
            old.unlink()
    run = load_run(run_dir)
    families = list(grouped(run.names))
    jobs: list[tuple[Callable[..., dict[str, Figure]], str | None]] = [
        (draw, family) for draw in BY_FAMILY for family in families
    ]
    jobs += [(draw, None) for draw in DRAWINGS if draw not in BY_FAMILY]
    workers = min(len(jobs), default_workers() if workers is None else max(1, workers))
    _JOBS[:], _RUN, _OUT = jobs, run, out
    try:
        if workers > 1 and sys.platform == "linux":
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(workers) as pool:
                drawn = pool.map(_draw_job, range(len(jobs)), chunksize=1)
        else:
            drawn = [_draw_job(i) for i in range(len(jobs))]
    finally:
        _JOBS.clear()
        _RUN = _OUT = None
    return [path for paths in drawn for path in paths]
