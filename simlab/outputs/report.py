"""A self-contained HTML report for a run folder (summary table and figures)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd


def write_report(run_dir: str | Path) -> Path:
    """Write report.html (figures embedded as data URIs, so the file travels alone)."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    summary = pd.read_csv(run_dir / "summary.csv") if (run_dir / "summary.csv").stat().st_size > 1 else pd.DataFrame()
    scenario = (run_dir / "scenario.yaml").read_text() if (run_dir / "scenario.yaml").exists() else ""
    figures = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").exists() else []
    table = summary.round(4).to_html(index=False, border=0) if len(summary) else "<p>No metrics.</p>"
    images = "".join(
        f'<h3>{html.escape(p.stem)}</h3><img style="max-width:100%" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}">'
        for p in figures
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>simlab report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:auto}} table{{border-collapse:collapse;font-size:12px}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}</style></head><body>
<h1>simlab run: {html.escape(run_dir.name)}</h1>
<p>status: {html.escape(str(manifest.get("status", "?")))}; simlab {html.escape(str(manifest.get("simlab", "")))};
device {html.escape(str(manifest.get("device", "")))}; config {html.escape(str(manifest.get("config_hash", "")))}</p>
<h2>Summary (final step; mean and 95% CI over replicates; paired difference to the first variant)</h2>{table}
<h2>Figures</h2>{images}
<h2>Scenario</h2><pre>{html.escape(scenario)}</pre></body></html>"""
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
