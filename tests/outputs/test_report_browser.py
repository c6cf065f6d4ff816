"""report.html in a real headless browser (Debian's chromium, which .ci/run installs): the page
loads with no console errors and every image decodes.

A probe script is put in front of the report's own markup: it records script errors, failed
resources and console.error calls, and on load writes into the DOM how many images there are
and how many did not decode (``img.complete && img.naturalWidth > 0``); chromium's
``--dump-dom`` prints that DOM, and its stderr log (``--enable-logging=stderr``) is checked for
console errors as well. A missing chromium fails the test: CI installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from simlab.outputs.report import write_report

PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || (e.target && e.target.src || "").slice(0, 60))), true);
const __error = console.error;
console.error = (...args) => { window.__errors.push(args.join(" ")); __error(...args); };
window.addEventListener("load", () => {
  const images = [...document.images];
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).length, errors: window.__errors});
  document.body.appendChild(probe);
});
</script>"""


def test_the_report_loads_in_chromium_and_every_image_decodes(feeds_run, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed (apt-get install -y chromium; .ci/run does this)"
    page = write_report(feeds_run).read_text(encoding="utf-8")
    probed = tmp_path / "report.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, "the page did not finish loading: " + result.stderr[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    figures = len(list((feeds_run / "figures").glob("*.png")))
    assert probe == {"images": figures, "broken": 0, "errors": []}
    # the report runs no script of its own, so any console message at all is a problem
    assert [line for line in result.stderr.splitlines() if ":CONSOLE" in line] == []
