"""MQTT on and off, side by side: CPU per idle hour and RSS of two idle exporters.

Both exporters poll their own simulated module (``simserver.py`` on a pty, time scale 1,
the meter's address pinned) at the same interval; one also publishes to a local
Mosquitto (``tests/mqtt/broker.py``). After the first reading of each, their CPU time is
sampled over ``window`` seconds; RSS is read at the end. The difference is what MQTT
costs an idle exporter: paho, one state message per poll, a keep-alive every minute.

Alone: ``.venv/bin/python scripts/bench_lib/mqtt.py [WINDOW_S]`` prints the rows.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.mqtt.broker import MOSQUITTO, mosquitto
from tests.support import free_port
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID, MeterConfig
from trio_smartmeter.sim.models import link_local

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[str, str, str, str, str]


def _stats(pid: int) -> tuple[float, float]:
    """(RSS MB, CPU seconds) of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 1e6, cpu


def _first_reading(port: int, limit: float = 120.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                if re.search(rb"^smartmeter_power_watts -?\d", r.read(), re.M):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("no reading")


def _start(tmp: Path, name: str, exporter: list[str], interval: int, extra: list[str]) -> tuple[
    subprocess.Popen[str], subprocess.Popen[bytes], int
]:  # fmt: skip
    cfg, link, port = MeterConfig(), str(tmp / f"tty-{name}"), free_port()
    sim = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/bench_lib/simserver.py"), "--link", link,
         "--channel", f"{cfg.channel:02X}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sim.stdout is not None
    assert sim.stdout.readline().strip() == "ready"
    proc = subprocess.Popen(
        [*exporter, "-device", link, "-id", DEMO_RBID, "-password", DEMO_PASSWORD,
         "-port", str(port), "-listen-address", "127.0.0.1", "-interval", str(interval),
         "-verbosity", "0", "-state-file", str(tmp / f"state-{name}.json"),
         "-channel", f"{cfg.channel:02X}", "-ipaddr", link_local(cfg.mac), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return sim, proc, port


def mqtt_footprint(window: float, exporter: list[str], interval: int = 60) -> list[Row]:
    """Rows ``(what, with MQTT, without, ratio, goal)``; none without Mosquitto."""
    if MOSQUITTO is None:
        return [("MQTT on/off", "skipped", "mosquitto not installed", "—", "—")]
    with tempfile.TemporaryDirectory() as d, mosquitto(Path(d)) as broker:
        tmp = Path(d)
        on = _start(tmp, "on", exporter, interval, ["-mqtt-url", broker.url])
        off = _start(tmp, "off", exporter, interval, [])
        try:
            _first_reading(on[2])
            _first_reading(off[2])
            t0 = time.monotonic()
            cpu0 = [_stats(p.pid)[1] for _, p, _ in (on, off)]
            time.sleep(window)
            elapsed = time.monotonic() - t0
            (rss_on, cpu_on), (rss_off, cpu_off) = (_stats(p.pid) for _, p, _ in (on, off))
        finally:
            for sim, proc, _ in (on, off):
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
                sim.kill()
                sim.wait()
    per_hour = 3600 / elapsed
    cph_on, cph_off = (cpu_on - cpu0[0]) * per_hour, (cpu_off - cpu0[1]) * per_hour
    tick = 0.01 * per_hour
    return [
        (f"CPU s per idle hour @{interval} s, MQTT on | off (from {elapsed:.0f} s, ±{tick:.2f} s)",
         f"{cph_on:.2f} s", f"{cph_off:.2f} s", f"{cph_on / max(cph_off, 0.01):.1f}×", "≤ 1 s"),
        (f"RSS after {elapsed:.0f} s idle, MQTT on | off", f"{rss_on:.1f} MB",
         f"{rss_off:.1f} MB", f"+{rss_on - rss_off:.1f} MB", "≤ 45 MB"),
    ]  # fmt: skip


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    py = os.environ.get("BENCH_EXPORTER_PY", sys.executable)
    for row in mqtt_footprint(seconds, [py, "-m", "trio_smartmeter"]):
        print(" | ".join(row))
