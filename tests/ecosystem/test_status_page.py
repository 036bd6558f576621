"""The status page ``/`` in a real headless Chromium (Debian package).

``--dump-dom`` gives the rendered DOM: the power figure it shows must equal
``smartmeter_power_watts`` on ``/metrics`` for the same reading. ``--screenshot`` keeps
``artifacts/status-page.png``; a good one is copied to ``docs/images/status-page.png``
when that file is missing or ``UPDATE_DOCS_SCREENSHOT=1``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import stop, value, wait_for

from .helpers import ROOT, DemoExporter, which

pytestmark = pytest.mark.slow

CHROMIUM_TIMEOUT = 45.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
ARTIFACT = ROOT / "artifacts" / "status-page.png"
DOCS_IMAGE = ROOT / "docs" / "images" / "status-page.png"


def chromium(*args: str) -> str:
    """Run headless Chromium once with a new empty profile; its stdout (DOM for --dump-dom)."""
    exe = which("chromium")
    profile = Path(tempfile.mkdtemp(prefix="smartmeter-chromium-"))
    out, err = profile / "stdout", profile / "stderr"
    try:
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [exe, *FLAGS, f"--user-data-dir={profile / 'profile'}", *args],
                stdin=subprocess.DEVNULL,
                stdout=o,
                stderr=e,
                start_new_session=True,
            )
        try:
            code = proc.wait(timeout=CHROMIUM_TIMEOUT)
        finally:
            stop(proc, group=True)
        assert code == 0, f"chromium exit {code}: {err.read_text(errors='replace')[-1500:]}"
        return out.read_text(encoding="utf-8", errors="replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def shown_power(dom: str) -> float | None:
    m = re.search(r'<p class="big (ok|bad)">(.*?)</p>', dom, re.DOTALL)
    assert m is not None, f"no power figure on the page: {dom[:800]}"
    text = html.unescape(m.group(2)).replace("\xa0", " ").strip()
    if text in ("–", "-"):
        return None
    num = re.fullmatch(r"(-?[\d,]+(?:\.\d+)?) W", text)
    assert num is not None, text
    return float(num.group(1).replace(",", ""))


def shown_current_r(dom: str) -> str | None:
    m = re.search(r"<th>Current R / T</th><td>(.*?)</td>", dom, re.DOTALL)
    assert m is not None
    first = html.unescape(m.group(1)).replace("\xa0", " ").split(" / ")[0].strip()
    return None if first in ("–", "-") else first


def test_status_page_shows_the_metrics_power(demo_exporter: DemoExporter) -> None:
    url = demo_exporter.base + "/"

    def rendered_from_one_reading() -> tuple[str, str] | None:
        before = demo_exporter.metrics()
        dom = chromium("--dump-dom", url)
        after = demo_exporter.metrics()
        stamp = value(before, "smartmeter_last_scrape_timestamp_seconds")
        same = stamp is not None and stamp == value(
            after, "smartmeter_last_scrape_timestamp_seconds"
        )
        return (before, dom) if same else None  # the page was rendered from this very reading

    before, dom = wait_for("a page rendered from one reading", rendered_from_one_reading, 40)
    power = value(before, "smartmeter_power_watts")
    assert power is not None
    assert shown_power(dom) == power
    assert "meter data fresh" in dom
    current_r = value(before, "smartmeter_current_amperes", phase="r")
    if current_r is not None:
        assert shown_current_r(dom) == f"{current_r:,.1f} A"
    assert "<svg" in dom  # the power chart


def test_status_page_screenshot(demo_exporter: DemoExporter) -> None:
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.unlink(missing_ok=True)
    chromium(f"--screenshot={ARTIFACT}", "--window-size=900,820", demo_exporter.base + "/")
    data = ARTIFACT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000, "screenshot suspiciously small (blank page?)"
    good = demo_exporter.status()["up"]
    if good and (not DOCS_IMAGE.exists() or os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1"):
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACT, DOCS_IMAGE)
