"""A self-contained HTML report for a run folder: what was compared, the final-step summary by
metric family with the intervals that exclude 0 highlighted, every figure (embedded, so the file
travels alone), the metric definitions (the metric functions' own docstrings), versions, device
and timings, and the resolved scenario.

All numbers come from summary.csv (:func:`simlab.running.summary.summarize`): means and paired
differences with the project's one interval, the 95% t-interval over replicates.
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
from simlab.outputs.plotting import FAMILIES, OTHER, _slug, grouped, title_of, ylabel_of
from simlab.running.files import atomic_write
from simlab.running.summary import summary_sweep_columns

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
    ("sweep_", "Final values against the swept value, with 95% t-intervals."),
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
    points with a baseline other than themselves, the paired difference [CI] (highlighted
    when the interval excludes 0)."""
    keys = summary_sweep_columns(summary.columns)
    summary = summary.copy()
    summary["_point"] = [
        str(v) + ("" if not keys else " | " + ", ".join(f"{k.split('.')[-1]}={r[k]}" for k in keys))
        for v, (_, r) in zip(summary["variant"], summary.iterrows())
    ]
    point_names = list(dict.fromkeys(summary["_point"]))
    measured = summary.groupby("metric", sort=False)["final_mean"].apply(lambda v: v.notna().any())
    names = [n for n in dict.fromkeys(summary["metric"]) if measured[n]]  # never-recorded metrics left out
    parts = []
    for family, members in grouped(names).items():
        head = "".join(f"<th>{html.escape(p)}</th>" for p in point_names)
        rows = []
        for name in members:
            cells = []
            for point in point_names:
                row = summary[(summary["metric"] == name) & (summary["_point"] == point)]
                if not len(row):
                    cells.append("<td></td>")
                    continue
                r = row.iloc[0]
                cell = f"{fmt(r['final_mean'])} <span class=ci>[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]</span>"
                baseline = str(r.get("baseline", ""))
                is_self = r["diff_vs_first"] == 0 and r["diff_ci_low"] == 0 and r["diff_ci_high"] == 0
                css = ""
                if not is_self and baseline not in ("", "nan"):
                    low, high = float(r["diff_ci_low"]), float(r["diff_ci_high"])
                    significant = math.isfinite(low) and (low > 0 or high < 0)
                    arrow = ("▲ " if low > 0 else "▼ ") if significant else ""
                    css = ' class="sig"' if significant else ""
                    cell += (
                        f"<br><span class=diff>{arrow}Δ {_signed(r['diff_vs_first'])} "
                        f"[{_signed(low)}, {_signed(high)}]</span>"
                    )
                cells.append(f"<td{css}>{cell}</td>")
            label = f"{html.escape(title_of(name))}<br><code>{html.escape(name)}</code>"
            unit = ylabel_of(name)
            rows.append(f"<tr><th class=metric title='{html.escape(unit)}'>{label}</th>{''.join(cells)}</tr>")
        parts.append(
            f"<h3>{html.escape(family.capitalize())}</h3><table><thead><tr><th>metric</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts)


def _figures(run_dir: Path) -> str:
    folder = run_dir / "figures"
    files = sorted(folder.glob("*.png")) if folder.exists() else []
    ordered: list[tuple[Path, str]] = []
    families = [_slug(f) for f in [*FAMILIES, OTHER]]

    def family_order(path: Path) -> tuple[int, str]:  # metrics_* and paired_* in family order
        slug = path.stem.split("_", 1)[-1]
        return (families.index(slug) if slug in families else len(families), path.name)

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
dl dt{font-weight:bold;margin-top:6px} dl dd{margin-left:16px} pre{background:#f6f6f6;padding:8px;font-size:12px}"""


_SUMMARY_COLUMNS = ["variant", "metric", "replicates", "final_mean", "ci_low", "ci_high", "diff_vs_first",
                    "diff_ci_low", "diff_ci_high"]  # fmt: skip


def _read_summary(path: Path) -> pd.DataFrame:
    """summary.csv (empty when missing); a damaged one is one line (ScenarioError), not a
    traceback: ``simlab run --resume`` or a new run writes it again."""
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
        f"<dt>{html.escape(title_of(n))} (<code>{html.escape(n)}</code>{'' if ylabel_of(n) == 'value' else '; ' + html.escape(ylabel_of(n))})</dt>"
        f"<dd>{html.escape(defs[n])}</dd>"
        for members in grouped(names).values()
        for n in members
    )
    replicates = int(summary["replicates"].max()) if len(summary) else 0
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}: simlab report</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(name)}</h1>
<p class=description>{html.escape(description) or "<i>(no description in the scenario)</i>"}</p>
<p>Variants: {html.escape(", ".join(points)) or "none"}. Paired differences (Δ): {html.escape(rule)}, replicate by
replicate (replicate r of every variant shares its seed). Baselines used: {html.escape(", ".join(baselines)) or "none"}.</p>
<h2>Summary at the final step</h2>
<p>Mean over {replicates} replicates with its 95% t-interval in brackets; below it, Δ, the paired difference to the
baseline with its 95% t-interval. <span style="background:#fff3c4">Highlighted (▲ up, ▼ down)</span>: the interval of
Δ excludes 0. Numbers have 3 significant digits. Metrics of no listed family are under "{OTHER}".</p>
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
