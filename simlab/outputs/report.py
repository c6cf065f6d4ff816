"""A self-contained HTML report for a run folder: what was compared, the final-step summary by
metric family with the intervals that exclude 0 highlighted, every figure (embedded, so the file
travels alone), the metric definitions (the metric functions' own docstrings), versions, device
and timings, and the resolved scenario.

All numbers come from summary.csv (:func:`simlab.running.summary.summarize`): means and paired
differences with the project's one interval, the 95% t-interval over replicates cut at each
metric's declared range (a cut interval is marked †). A difference is highlighted only when its
interval excludes 0 with positive width (:func:`simlab.results.intervals.excludes_zero`); metrics
that do not apply to a variant (:mod:`simlab.results.applicable`) read n/a; with fewer than 5
replicates the summary says so.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simlab.core.errors import ScenarioError
from simlab.outputs.labels import FAMILIES, NOTES, OTHER, grouped, slug, title_of, unit_of
from simlab.results.applicable import mask_summary, not_applicable
from simlab.results.intervals import FEW, excludes_zero
from simlab.results.metrics_file import read_metrics
from simlab.results.tables import summary_sweep_columns
from simlab.running.files import atomic_write

# figure file name (or prefix) -> what it shows, in the order the report presents them
CAPTIONS = [
    ("metrics_", "Metric curves: mean over replicates per step with the 95% t-interval band."),
    (
        "paired_",
        "Paired differences per step: each variant minus its baseline, replicate by replicate "
        "(shared seeds), mean and 95% t-interval; a band clear of zero is a difference the replicates support.",
    ),
    ("forest", "Final-step paired differences with 95% t-intervals (filled markers exclude 0)."),
    ("opinion_final", "Final opinion distribution per variant."),
    ("opinion_over_time", "Opinion distribution at every snapshot."),
    ("opinion_heatmap", "Opinion distribution over time, one panel per variant, one colour scale."),
    ("opinion_initial_final", "Each user's initial against final opinion (above the diagonal: moved up)."),
    ("exposure_vs_opinion", "How extreme the items shown to a user were, against the user's opinion."),
    ("sweep_", "Final values against the swept value, with 95% t-intervals, one page per family."),
    ("phase_", "Phase diagram: final mean on the grid of the two swept keys."),
]


def fmt(value: Any) -> str:
    """3 significant digits; scientific when small or large (5e-5 -> 5.00e-05, never 0.0000)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if math.isnan(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        return f"{x:.2e}"
    return f"{x:#.3g}".rstrip(".")


def _signed(value: float) -> str:
    text = fmt(value)
    return text if text.startswith("-") or text in ("n/a", "0") else "+" + text


def definitions(names: list[str]) -> dict[str, str]:
    """Metric -> the first paragraph of its registered function's or class's docstring."""
    from simlab.registry import METRICS

    out = {}
    for name in names:
        doc = (METRICS.get(name).__doc__ or "") if name in METRICS else ""
        first = doc.strip().split("\n\n")[0]
        out[name] = " ".join(first.split()) or "(no definition docstring)"
    return out


def _summary_tables(summary: pd.DataFrame) -> str:
    """One table per metric family: a row per metric, per point the final mean [CI] and, for
    points with a baseline other than themselves, the paired difference [CI] (highlighted when
    the interval excludes 0 with positive width); † marks an interval cut at the metric's range.
    """
    keys = summary_sweep_columns(summary.columns)
    summary = summary.copy()
    summary["_point"] = [
        str(v) + ("" if not keys else " | " + ", ".join(f"{k.split('.')[-1]}={r[k]}" for k in keys))
        for v, (_, r) in zip(summary["variant"], summary.iterrows())
    ]
    point_names = list(dict.fromkeys(summary["_point"]))
    measured = summary.groupby("metric", sort=False)["final_mean"].apply(lambda v: v.notna().any())
    names = [n for n in dict.fromkeys(summary["metric"]) if measured[n]]  # never-recorded metrics left out
    cells_of = {(r["metric"], r["_point"]): r for _, r in summary.iterrows()}
    parts = []
    for family, members in grouped(names).items():
        head = "".join(f"<th>{html.escape(p)}</th>" for p in point_names)
        rows = []
        for name in members:
            cells = []
            for point in point_names:
                r = cells_of.get((name, point))
                if r is None:
                    cells.append("<td></td>")
                    continue
                cell = fmt(r["final_mean"])
                if math.isfinite(float(r["ci_low"])):
                    cell += f" <span class=ci>[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]{_cut(r, 'ci_clipped')}</span>"
                baseline = str(r.get("baseline", ""))
                is_self = r["diff_vs_first"] == 0 and r["diff_ci_low"] == 0 and r["diff_ci_high"] == 0
                css = ""
                if not is_self and baseline not in ("", "nan") and math.isfinite(float(r["final_mean"])):
                    low, high = float(r["diff_ci_low"]), float(r["diff_ci_high"])
                    significant = excludes_zero(low, high)
                    arrow = ("▲ " if low > 0 else "▼ ") if significant else ""
                    css = ' class="sig"' if significant else ""
                    interval = f" [{_signed(low)}, {_signed(high)}]" if math.isfinite(low) else ""
                    cell += (
                        f"<br><span class=diff>{arrow}Δ {_signed(r['diff_vs_first'])}"
                        f"{interval}{_cut(r, 'diff_ci_clipped')}</span>"
                    )
                cells.append(f"<td{css}>{cell}</td>")
            label = f"{html.escape(title_of(name))}<br><code>{html.escape(name)}</code>"
            unit = unit_of(name)
            rows.append(f"<tr><th class=metric title='{html.escape(unit)}'>{label}</th>{''.join(cells)}</tr>")
        parts.append(
            f"<h3>{html.escape(family.capitalize())}</h3><table><thead><tr><th>metric</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    notes = [f"<li><b>{html.escape(title_of(n))}</b>: {html.escape(NOTES[n])}</li>" for n in names if n in NOTES]
    if notes:
        parts.append(f"<p>Notes:</p><ul class=notes>{''.join(notes)}</ul>")
    return "".join(parts)


def _cut(row: pd.Series, column: str) -> str:
    """† when the interval was cut at the metric's range (summary.csv's ``ci_clipped`` columns)."""
    return "†" if str(row.get(column, False)).lower() == "true" else ""


def _figures(run_dir: Path) -> str:
    folder = run_dir / "figures"
    files = sorted(folder.glob("*.png")) if folder.exists() else []
    ordered: list[tuple[Path, str]] = []
    families = [slug(f) for f in [*FAMILIES, OTHER]]

    def family_order(path: Path) -> tuple[int, str]:  # metrics_* and forest_* in family order
        stem = path.stem.split("_", 1)[-1].rsplit("_", 1)
        family = stem[0] if len(stem) == 2 and stem[1].isdigit() else "_".join(stem)
        return (families.index(family) if family in families else len(families), path.name)

    for prefix, caption in CAPTIONS:
        matching = sorted((p for p in files if p.name.startswith(prefix)), key=family_order)
        ordered += [(p, caption) for p in matching if p not in [q for q, _ in ordered]]
    ordered += [(p, "") for p in files if p not in [q for q, _ in ordered]]  # e.g. analysis/ figures
    out = []
    for i, (path, caption) in enumerate(ordered, 1):
        data = base64.b64encode(path.read_bytes()).decode()
        name = html.escape(path.stem.replace("_", " "))
        out.append(
            f'<figure id="fig-{i}"><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>Figure {i}: {name}.</b> {html.escape(caption)}</figcaption></figure>"
        )
    return "".join(out) or "<p>No figures.</p>"


def _about(manifest: dict[str, Any]) -> str:
    timings = manifest.get("timings", {})
    tasks = [t for t in manifest.get("tasks", []) if isinstance(t, dict)]
    seconds = [float(t["seconds"]) for t in tasks if isinstance(t.get("seconds"), (int, float))]
    rows = [
        ("status", manifest.get("status")),
        (
            "simlab / python / torch / numpy",
            " / ".join(str(manifest.get(k, "?")) for k in ("simlab", "python", "torch", "numpy")),
        ),
        ("platform", manifest.get("platform")),
        (
            "device",
            str(manifest.get("device")) + (f" ({manifest['cuda_device']})" if manifest.get("cuda_device") else "")
            if manifest.get("device")
            else None,
        ),
        ("seed, replicates, steps", f"{manifest.get('seed')}, {manifest.get('replicates')}, {manifest.get('steps')}"),
        (
            "backend, workers, threads per task",
            f"{manifest.get('backend')}, {manifest.get('workers')}, {manifest.get('task_threads')}",
        ),
        ("config hash", manifest.get("config_hash")),
        ("started, finished", f"{manifest.get('started')}, {manifest.get('finished')}"),
        ("wall time", f"{fmt(timings['total_seconds'])} s" if "total_seconds" in timings else None),
        (
            "tasks",
            f"{len(tasks)}; per task {fmt(min(seconds))} to {fmt(max(seconds))} s, mean {fmt(sum(seconds) / len(seconds))} s"
            if seconds
            else len(tasks),
        ),
    ]
    return (
        "<table class=about>"
        + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows if v is not None)
        + "</table>"
    )


STYLE = """body{font-family:system-ui,sans-serif;max-width:1640px;margin:auto;padding:0 20px;color:#222}
table{border-collapse:collapse;font-size:13px;margin-bottom:14px}
td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th.metric{font-weight:normal} code{font-size:11px;color:#666} .ci{color:#555}
.diff{font-size:12px;color:#555} td.sig{background:#fff3c4} td.sig .diff{color:#000;font-weight:bold}
figure{margin:18px 0} img{width:100%;max-width:1600px;height:auto} figcaption{font-size:13px;color:#333}
p.few{background:#fde2e2;padding:6px 10px} ul.notes{font-size:13px}
dl dt{font-weight:bold;margin-top:6px} dl dd{margin-left:16px} pre{background:#f6f6f6;padding:8px;font-size:12px}"""


_SUMMARY_COLUMNS = ["variant", "metric", "replicates", "final_mean", "ci_low", "ci_high", "diff_vs_first",
                    "diff_ci_low", "diff_ci_high"]  # fmt: skip


def _read_summary(path: Path) -> pd.DataFrame:
    """summary.csv (empty when missing); a damaged one is one line (ScenarioError), not a
    traceback: ``simlab run --resume`` or a new run writes it again.
    """
    if not path.exists() or path.stat().st_size <= 1:
        return pd.DataFrame()
    damaged = "not a simlab summary table ({}); run `simlab run --resume` on the folder to write it again"
    try:
        summary = pd.read_csv(path, dtype={"variant": str})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ScenarioError(damaged.format(type(exc).__name__), file=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=str(path)) from None
    missing = [c for c in _SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ScenarioError(damaged.format("no column " + ", ".join(missing)), file=str(path))
    numeric = [c for c in _SUMMARY_COLUMNS[2:] if not pd.api.types.is_numeric_dtype(summary[c])]
    if numeric:
        raise ScenarioError(damaged.format("text in the number column " + ", ".join(numeric)), file=str(path))
    return summary


def write_report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/report.html and return its path."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    path = run_dir / "summary.csv"
    summary = _read_summary(path)
    text = (run_dir / "scenario.yaml").read_text(encoding="utf-8") if (run_dir / "scenario.yaml").exists() else ""
    scenario = yaml.safe_load(text) or {} if text else {}
    if len(summary) and (run_dir / "metrics.csv").exists():  # n/a where a metric does not apply
        summary = mask_summary(summary, not_applicable(read_metrics(run_dir / "metrics.csv"), scenario))
    name = str(scenario.get("name") or run_dir.name)
    description = str(scenario.get("description") or "").strip()
    points = list(dict.fromkeys(summary["variant"])) if len(summary) else []
    baselines = sorted({str(b) for b in summary.get("baseline", pd.Series(dtype=str)).dropna() if str(b)})
    chosen = scenario.get("sweep_baseline")
    if chosen:
        rule = "each point against the same variant at " + ", ".join(f"{k} = {v}" for k, v in chosen.items())
    elif scenario.get("sweep"):
        rule = f"each sweep point against {points[0] if points else '?'} at the same sweep point"
    else:
        rule = f"each variant against {points[0] if points else '?'}"
    names = list(dict.fromkeys(summary["metric"])) if len(summary) else []
    defs = definitions(names)
    definition_list = "".join(
        f"<dt>{html.escape(title_of(n))} (<code>{html.escape(n)}</code>; {html.escape(unit_of(n))})</dt>"
        f"<dd>{html.escape(defs[n])}</dd>"
        for members in grouped(names).values()
        for n in members
    )
    replicates = int(summary["replicates"].max()) if len(summary) else 0
    few = (
        f"<p class=few><b>n = {replicates}: few replicates.</b> With fewer than {FEW} replicates an interval is wide "
        "and its width itself uncertain; run more (<code>--replicates</code>) before reading much into it.</p>"
        if 0 < replicates < FEW
        else ""
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}: simlab report</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(name)}</h1>
<p class=description>{html.escape(description) or "<i>(no description in the scenario)</i>"}</p>
<p>Variants: {html.escape(", ".join(points)) or "none"}. Paired differences (Δ): {html.escape(rule)}, replicate by
replicate (replicate r of every variant shares its seed). Baselines used: {html.escape(", ".join(baselines)) or "none"}.</p>
<h2>Summary at the final step</h2>
{few}<p>Mean over {replicates} replicates with its 95% t-interval in brackets; below it, Δ, the paired difference to the
baseline with its 95% t-interval. <span style="background:#fff3c4">Highlighted (▲ up, ▼ down)</span>: the interval of
Δ excludes 0 (an interval of zero width, or none, never does). † the t-interval reached past the metric's range
(shares and probabilities in [0, 1], variances ≥ 0) and was cut there. n/a: the metric does not apply to that variant
(a cohort it does not have, predictions a feed does not make) or was not measured. Numbers have 3 significant digits.
Metrics of no listed family are under "{OTHER}".</p>
{_summary_tables(summary) if len(summary) else "<p>No metrics.</p>"}
<h2>Figures</h2>{_figures(run_dir)}
<h2>Metric definitions</h2><p>From each metric's own docstring (<code>simlab.metrics.columns</code>).</p>
<dl>{definition_list}</dl>
<h2>Run</h2>{_about(manifest)}
<h2>Scenario (resolved, every default filled in)</h2><pre>{html.escape(text)}</pre>
</body></html>
"""
    out = run_dir / "report.html"
    atomic_write(out, page)  # whole or not at all, never through a link
    return out
