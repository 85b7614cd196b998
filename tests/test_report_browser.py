"""Open a synthetic report in headless Chromium: it must load offline with no console errors
and every embedded figure decoded.

Needs the ``chromium`` (Debian) or ``chromium-browser`` binary. Without it the test is skipped,
except under CI (env ``CI`` set), where a missing browser is a failure: the check must run there.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from synthetic import make_manifest, make_tables

from rlsens.report import ReportOptions, build_report

CHECK_SCRIPT = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var source = e.target && e.target.src ? e.target.src.slice(0, 40) : "resource";
  window.__errors.push("error: " + (e.message || source));
}, true);
var originalError = console.error;
console.error = function () {
  window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
  originalError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                     .map(function (i) { return i.alt.slice(0, 60); });
  var out = document.createElement("pre");
  out.id = "rlsens-check";
  var result = {images: images.length, broken: broken, errors: window.__errors};
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""
BROWSER_FLAGS = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                 "--no-first-run", "--disable-extensions", "--enable-logging=stderr", "--v=0"]


def find_browser() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = ("headless Chromium not found on PATH (looked for 'chromium' and "
               "'chromium-browser'); install it, e.g. `apt-get install -y chromium`")
    if os.environ.get("CI"):
        pytest.fail(message + " -- required when CI is set")
    pytest.skip(message)


def run_browser(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *BROWSER_FLAGS, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, check=False)


def test_report_loads_in_headless_chromium(tmp_path: Path):
    browser = find_browser()
    runs, curves = make_tables(algorithms=("ppo", "sac"), n_configs=4, seeds=2)
    index = build_report(runs, curves, make_manifest(runs), tmp_path / "report",
                         options=ReportOptions(reps=300, profile_reps=100, test_reps=100))
    n_figures = len(list((tmp_path / "report" / "figures").glob("*.png")))

    page = index.read_text(encoding="utf-8")
    check = index.with_name("check.html")
    check.write_text(page.replace("<head>", "<head>\n" + CHECK_SCRIPT, 1), encoding="utf-8")
    result = run_browser(browser, "--virtual-time-budget=10000", "--dump-dom",
                         check.as_uri(), cwd=tmp_path)
    found = re.search(r'<pre id="rlsens-check">(.*?)</pre>', result.stdout, re.S)
    assert found, f"page did not finish loading:\n{result.stderr[-2000:]}"
    report = json.loads(html.unescape(found.group(1)))
    assert report["errors"] == []
    assert report["broken"] == []
    assert report["images"] == n_figures
    assert "Uncaught" not in result.stderr

    shot = tmp_path / "screenshot.png"
    result = run_browser(browser, "--window-size=1400,2400", f"--screenshot={shot}",
                         index.as_uri(), cwd=tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000, result.stderr[-2000:]
    assert "Uncaught" not in result.stderr
