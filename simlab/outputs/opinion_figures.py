"""Figures of the opinions a run's snapshots hold (snapshots/*.npz): the final distribution per
point, initial against final opinion per user, exposure extremeness against opinion, and the
distribution over time as a heatmap. Opinions are axis 0; replicates are pooled or one is shown,
as each title says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simlab.outputs.page_figures import (
    FONT,
    MARGIN,
    MAX_PANELS,
    PAGE_WIDTH,
    band,
    notes,
    page,
    point_colour,
    style,
    tidy_axis,
)
from simlab.results.intervals import interval
from simlab.results.run import Run, load_run, opinions, point_snapshots


def _pooled_note(replicates: int) -> str:
    return f"all {replicates} replicates pooled" if replicates > 1 else "replicate 0"


def draw_opinion_distributions(run_dir: str | Path | Run, bins: int = 40, over_time: bool = False) -> dict[str, Figure]:
    """opinion_final.png: the final opinion distribution (axis 0) of every point overlaid, as a
    density histogram; with ``over_time``, opinion_over_time.png: the same at every snapshot, one
    small multiple per step (at most 12: evenly spaced snapshots, the first and last included;
    :func:`plot_run` leaves it out, as opinion_heatmap.png shows every snapshot). Replicates are
    pooled (said in the title).
    """
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    edges = np.linspace(-1, 1, bins + 1)
    steps = sorted(run.snapshots["step"].unique())
    replicates = run.snapshots["replicate"].nunique()
    legend = [(p.label, point_colour(run, p)) for p in run.points]

    def draw(ax: Axes, step: int) -> None:
        for i, point in enumerate(run.points):
            values = opinions(list(point_snapshots(run, i, step)["path"]))
            if values.size:
                density, _ = np.histogram(values, bins=edges, density=True)
                ax.stairs(density, edges, color=point_colour(run, point), lw=1.2)

    title = f"Final opinion distribution per variant ({_pooled_note(replicates)})"
    sheet = page(1, title, notes(replicates), legend, 1, 2.4)
    draw(sheet.axes[0], steps[-1])
    style(sheet.axes[0], f"step {steps[-1]}", "density (users per unit opinion)", "opinion (axis 0, -1 to 1)")
    out = {"opinion_final.png": sheet.figure}
    if not over_time:
        return out
    shown = [steps[round(i)] for i in np.linspace(0, len(steps) - 1, min(len(steps), MAX_PANELS))]
    shown = list(dict.fromkeys(shown))
    title = f"Opinion distribution at {len(shown)} of {len(steps)} snapshots ({_pooled_note(replicates)})"
    sheet = page(len(shown), title, notes(replicates), legend, panel_h=1.2)
    for ax, step in zip(sheet.axes, shown):
        draw(ax, step)
        style(ax, f"step {step}", "density", "opinion (axis 0)")
    out["opinion_over_time.png"] = sheet.figure
    return out


def draw_initial_vs_final(run_dir: str | Path | Run, replicate: int = 0) -> dict[str, Figure]:
    """opinion_initial_final.png: each user's initial (first snapshot) against final opinion
    (axis 0), one panel per point (at most 12), for one replicate (said in the title); points
    above the diagonal moved up, the dashed lines mark the centre.
    """
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    panels = []
    for i, point in enumerate(run.points[:MAX_PANELS]):
        snaps = point_snapshots(run, i, replicate=replicate).sort_values("step")
        if len(snaps) >= 2:
            panels.append((point, snaps.iloc[0], snaps.iloc[-1]))
    if not panels:
        return {}
    replicates = int(run.snapshots["replicate"].nunique())
    title = f"Initial vs final opinion per user (replicate {replicate})"
    sheet = page(len(panels), title, notes(replicates), panel_h=1.7)
    for ax, (point, first, last) in zip(sheet.axes, panels):
        x, y = opinions([first["path"]]), opinions([last["path"]])
        ax.scatter(x, y, s=2, alpha=0.35, color=point_colour(run, point), lw=0, rasterized=True)
        ax.plot([-1, 1], [-1, 1], color="black", lw=0.6)
        ax.axhline(0, color="grey", lw=0.5, ls="--")
        ax.axvline(0, color="grey", lw=0.5, ls="--")
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05))
        style(ax, point.label, f"opinion at step {last['step']}", f"opinion at step {first['step']}")
    return {"opinion_initial_final.png": sheet.figure}


def draw_exposure_vs_opinion(run_dir: str | Path | Run, bins: int = 20) -> dict[str, Figure]:
    """exposure_vs_opinion.png: each user's mean exposure extremeness over the run (the final
    snapshot's running mean of e_j shown to the user) against their final opinion, one panel per
    point (at most 12): replicate 0 as dots, the binned mean over all replicates with its 95%
    t-interval across replicates (cut at [0, 1]) as the line and band.
    """
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    step = int(run.snapshots["step"].max())
    edges = np.linspace(-1, 1, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    panels = [(i, p) for i, p in enumerate(run.points) if len(point_snapshots(run, i, step))][:MAX_PANELS]
    if not panels:
        return {}
    replicates = int(run.snapshots["replicate"].nunique())
    title = (
        f"Exposure extremeness against opinion at step {step} (dots: replicate "
        f"{int(run.snapshots['replicate'].min())}; line: binned mean, 95% t-interval over {replicates} replicates)"
    )
    sheet = page(len(panels), title, notes(replicates), panel_h=1.7)
    for ax, (i, point) in zip(sheet.axes, panels):
        snaps = point_snapshots(run, i, step).sort_values("replicate")
        per_replicate = []
        for _, snap in snaps.iterrows():
            x, e = opinions([snap["path"]]), opinions([snap["path"]], "exposure_extremeness")
            if snap["replicate"] == snaps["replicate"].iloc[0]:
                ax.scatter(x, e, s=2, alpha=0.3, color=point_colour(run, point), lw=0, rasterized=True)
            which = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
            total = np.bincount(which, weights=np.nan_to_num(e), minlength=bins)
            count = np.bincount(which, weights=np.isfinite(e), minlength=bins)
            per_replicate.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
        table = np.array(per_replicate)
        found = [interval(table[:, b], (0.0, 1.0)) for b in range(bins)]
        stats = pd.DataFrame([(f.mean, f.low, f.high) for f in found], index=centres, columns=["mean", "low", "high"])
        band(ax, stats, "black")
        ax.set(xlim=(-1.05, 1.05), ylim=(0, 1))
        style(ax, point.label, "mean e_j shown (0 to 1)", f"opinion at step {step}")
    return {"exposure_vs_opinion.png": sheet.figure}


def draw_opinion_heatmaps(run_dir: str | Path | Run, bins: int = 40) -> dict[str, Figure]:
    """opinion_heatmap.png: the opinion distribution (axis 0, share of users per bin) at every
    snapshot, one panel per point in scenario order (at most 12), each snapshot a column centred
    on its step, one colour scale and colorbar for all panels; replicates pooled (said in the
    title).
    """
    run = load_run(run_dir)
    if not len(run.snapshots):
        return {}
    edges = np.linspace(-1, 1, bins + 1)
    steps = np.array(sorted(run.snapshots["step"].unique()))
    # column edges halfway between snapshots, so each snapshot covers its own step
    mids = (steps[:-1] + steps[1:]) / 2 if len(steps) > 1 else np.empty(0)
    first = steps[0] - (mids[0] - steps[0] if len(mids) else 0.5)
    last = steps[-1] + (steps[-1] - mids[-1] if len(mids) else 0.5)
    x_edges = np.concatenate([[first], mids, [last]])
    images = []
    for i, point in enumerate(run.points[:MAX_PANELS]):
        columns = []
        for step in steps:
            values = opinions(list(point_snapshots(run, i, int(step))["path"]))
            counts, _ = np.histogram(values, bins=edges)
            columns.append(counts / max(counts.sum(), 1) if values.size else np.full(bins, np.nan))
        images.append((point, np.stack(columns, axis=1)))
    vmax = max((float(np.nanmax(image)) for _, image in images if np.isfinite(image).any()), default=1.0)
    replicates = run.snapshots["replicate"].nunique()
    title = f"Opinion distribution over time ({_pooled_note(replicates)}; every one of {len(steps)} snapshots)"
    sheet = page(len(images), title, notes(int(replicates)), panel_h=1.5, reserve=0.75)  # room for the colorbar
    figure = sheet.figure
    mesh = None
    for ax, (point, image) in zip(sheet.axes, images):
        mesh = ax.pcolormesh(x_edges, edges, image, cmap="magma", vmin=0, vmax=vmax, shading="flat")
        style(ax, point.label, "opinion (axis 0)")
        ax.grid(False)
    if mesh is not None:
        top, bottom = sheet.axes[0].get_position().y1, sheet.axes[-1].get_position().y0
        x0 = (PAGE_WIDTH - MARGIN - 0.72) / PAGE_WIDTH
        bar = figure.colorbar(
            mesh, cax=figure.add_axes((x0, bottom, 0.1 / PAGE_WIDTH, top - bottom), label="<colorbar>")
        )
        bar.ax.tick_params(labelsize=FONT["tick"], length=2)
        tidy_axis(bar.ax, "y", "share of users per bin")
    return {"opinion_heatmap.png": figure}
