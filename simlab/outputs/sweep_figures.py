"""Figures of a sweep: each metric's final value against each swept key (one line per variant and
value of the other keys), and with two swept keys a phase diagram per variant (the final mean on
the 2-D grid). Intervals are the project's one interval (:func:`simlab.results.intervals.interval`).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import matplotlib.patheffects
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simlab.outputs.labels import slug, title_of, unit_of
from simlab.outputs.metric_figures import metric_families
from simlab.outputs.page_figures import COLUMNS, FONT, colour, fit_label, notes, page, paged_name, pages, style
from simlab.results.intervals import interval, metric_bounds
from simlab.results.run import Run, load_run
from simlab.results.tables import final_rows, point_label, select_point


def _axis_values(values: list[Any]) -> tuple[np.ndarray, list[str] | None]:
    """Positions on the x axis: the values if numeric, else 0..n-1 with the values as tick labels."""
    try:
        return np.array([float(v) for v in values]), None
    except (TypeError, ValueError):
        return np.arange(len(values), dtype=float), [str(v) for v in values]


def swept_key_label(key: str, scenario: dict[str, Any] | None = None, limit: int = 40) -> str:
    """A swept key in words: its setting's description from the settings reference (its first
    clause when longer than ``limit`` characters), then the key itself (``penalty strength
    (interventions.0.weight)``); the key alone when unknown.
    """
    from simlab.settings_reference import describe_key

    words = describe_key(key, scenario or {})
    if len(words) > limit:  # the first clause: "penalty strength: scores lose ..." -> "penalty strength"
        clauses = [c for c in re.split(r": |, |; | \(", words) if len(c.split()) >= 2]
        words = clauses[0] if clauses and len(clauses[0]) <= limit else ""
    return f"{words} ({key})" if words else key


def draw_sweep(run_dir: str | Path | Run, family: str | None = None) -> dict[str, Figure]:
    """sweep_<i>_<key>_<family>.png for each swept key: each metric's final value (mean and 95%
    t-interval over replicates) against the swept value, one line per variant and value of the
    other swept keys; phase_<variant>_<family>.png when two keys are swept: the final mean of
    each metric on the 2-D grid (a phase diagram).
    """
    run = load_run(run_dir)
    keys = list(run.sweep)
    if not keys or not len(run.metrics):
        return {}
    last = final_rows(run.metrics)
    families = metric_families(run, family)
    variants = list(dict.fromkeys(p.variant for p in run.points))
    replicates = run.replicates
    out: dict[str, Figure] = {}
    for k, key in enumerate(keys):
        x, ticks = _axis_values(run.sweep[key])
        others = [[(o, v) for v in run.sweep[o]] for o in keys if o != key]
        lines = [(variant, dict(rest)) for variant in variants for rest in itertools.product(*others)]
        legend = [(point_label(v, rest), colour(j)) for j, (v, rest) in enumerate(lines)]
        for family, members in families.items():
            chunks = pages(members)
            for index, chunk in enumerate(chunks):
                title = f"{family.capitalize()}: final value against {key} (mean and 95% t-interval over {replicates} replicates)"
                sheet = page(len(chunk), title, notes(replicates), legend)
                for ax, name in zip(sheet.axes, chunk):
                    for j, (variant, rest) in enumerate(lines):
                        stats = []
                        for value in run.sweep[key]:
                            sweep = {o: rest.get(o, value) for o in keys}
                            frame = select_point(last, (variant, *sweep.values()))
                            found = interval(frame[name].to_numpy(dtype=float), metric_bounds(name))
                            stats.append((found.mean, found.low, found.high))
                        mean, low, high = np.array(stats, dtype=float).T
                        ax.errorbar(
                            x, mean, yerr=[mean - low, high - mean], fmt="o-", color=colour(j), capsize=2, lw=1, ms=3
                        )
                    style(ax, title_of(name), unit_of(name), swept_key_label(key, run.scenario))
                    if ticks is not None:
                        ax.set_xticks(x, ticks)
                name_stem = f"sweep_{k}_{_safe(key)}_{slug(family)}"
                out[paged_name(name_stem, index, len(chunks))] = sheet.figure
    if len(keys) == 2:
        out |= _phase_diagrams(run, last, families, variants, keys, replicates)
    return out


# a phase diagram's cells carry their value when at most this many a row fit; at most this many
# tick labels an axis (a narrow panel cannot hold more)
ANNOTATED_COLUMNS = 5
X_TICK_LABELS, Y_TICK_LABELS = 5, 10


def _phase_diagrams(
    run: Run, last: pd.DataFrame, families: dict[str, list[str]], variants: list[str], keys: list[str], replicates: int
) -> dict[str, Figure]:
    (kx, ky), out = keys, {}
    xs, ys = run.sweep[kx], run.sweep[ky]
    for variant in variants:
        for family, members in families.items():
            chunks = pages(members)
            for index, chunk in enumerate(chunks):
                title = (
                    f"Phase diagram of {variant}, {family}: final mean over {replicates} replicates "
                    f"on the {kx} x {ky} grid"
                )
                sheet = page(len(chunk), title, notes(replicates), panel_h=1.6, right=0.45)
                columns = min(COLUMNS, len(chunk))
                for panel, (ax, name) in enumerate(zip(sheet.axes, chunk)):
                    image = np.full((len(ys), len(xs)), np.nan)
                    for a, vx in enumerate(xs):
                        for b, vy in enumerate(ys):
                            values = select_point(last, (variant, vx, vy))[name].to_numpy(dtype=float)
                            image[b, a] = interval(values).mean
                    mesh = ax.imshow(image, origin="lower", aspect="auto", cmap="viridis")
                    for b in range(len(ys) if len(xs) <= ANNOTATED_COLUMNS else 0):
                        for a in range(len(xs)):
                            if np.isfinite(image[b, a]):
                                ax.text(
                                    a,
                                    b,
                                    _short(image[b, a]),
                                    ha="center",
                                    va="center",
                                    fontsize=7,
                                    color="white",
                                    path_effects=[matplotlib.patheffects.withStroke(linewidth=1.2, foreground="black")],
                                )
                    ax.set_title(title_of(name), fontsize=FONT["title"], pad=3)
                    ax.set_xticks(range(len(xs)), _every(xs, X_TICK_LABELS), fontsize=FONT["tick"])
                    ax.set_yticks(range(len(ys)), _every(ys, Y_TICK_LABELS), fontsize=FONT["tick"])
                    ax.set_xlabel(
                        fit_label(ax, "x", swept_key_label(kx, run.scenario)), fontsize=FONT["label"], labelpad=2
                    )
                    if panel % columns == 0:  # (the colorbar's label of the panel on the left takes the room)
                        ax.set_ylabel(
                            fit_label(ax, "y", swept_key_label(ky, run.scenario)), fontsize=FONT["label"], labelpad=2
                        )
                    bar = ax.figure.colorbar(mesh, ax=ax, fraction=0.08, pad=0.03)
                    bar.ax.tick_params(labelsize=7)
                    bar.set_label(unit_of(name), fontsize=7)
                out[paged_name(f"phase_{_safe(variant)}_{slug(family)}", index, len(chunks))] = sheet.figure
    return out


def _every(values: list[Any], most: int) -> list[str]:
    """Tick labels of ``values``: every k-th labelled (the first included), so that at most
    ``most`` are (the others are blank: a narrow panel cannot hold them all).
    """
    k = -(-len(values) // most)
    return [str(v) if i % k == 0 else "" for i, v in enumerate(values)]


def _short(value: float) -> str:
    """3 significant digits (the cells of a phase diagram differ in the third)."""
    return f"{value:.3g}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
