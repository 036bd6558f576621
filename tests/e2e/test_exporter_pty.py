"""End to end, as a user runs it: `trio-smartmeter` against `trio-smartmeter simulate` on a pty.

For each of the four module models: the first reading arrives, /metrics equals the
simulator's truth (signed power with solar at noon, no ``t`` series on a two-wire meter,
energy in joules = raw × D3 × unit × 3.6e6), and SIGTERM ends the exporter with status 0
within 5 s after it sent SKTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.support import CLI, cli_env, free_port, key
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID

from .harness import exporter, first_reading, metrics, sim_truth, simulator, wait_for

pytestmark = pytest.mark.slow

#: The simulator's modelled delays at 1/20 of real time: a cold scan + join takes ~0.5 s.
TIME_SCALE = "0.05"
NOON = "2024-06-01T12:00:00"


@pytest.mark.parametrize(
    ("model", "two_wire"),
    [("bp35a1", False), ("rl7023-ips", True), ("bp35c2", False), ("rl7023-dss", True)],
)
def test_reads_the_meter_and_stops_cleanly(tmp_path: Path, model: str, two_wire: bool) -> None:
    extra = ["--time-scale", TIME_SCALE, "--solar-peak", "4000", "--meter-start", NOON]
    if two_wire:
        extra.append("--two-wire")
    with (
        simulator(tmp_path, model, *extra) as (link, truth_file, sim),
        exporter(
            "-device", str(link), "-interval", "10", "-state-file", str(tmp_path / "state.json")
        ) as (base, proc),
    ):
        started = time.monotonic()
        m = first_reading(base)
        took = time.monotonic() - started
        truth = sim_truth(truth_file)

        # signed power: solar at noon exports
        assert m[key("smartmeter_power_watts")] == truth["power_watts"]
        assert truth["power_watts"] < 0
        assert m[key("smartmeter_up")] == 1.0
        assert m[key("smartmeter_current_amperes", phase="r")] == pytest.approx(
            float(truth["current_r_amperes"])
        )
        if two_wire:
            assert truth["current_t_amperes"] is None
            assert not any(("phase", "t") in labels for _, labels in m)
        else:
            assert m[key("smartmeter_current_amperes", phase="t")] == pytest.approx(
                float(truth["current_t_amperes"])
            )
        coefficient = truth["coefficient"] or 1
        joules = (
            Decimal(truth["energy_forward_raw"])
            * coefficient
            * Decimal(truth["unit_kwh"])
            * 3_600_000
        )
        assert Decimal(repr(m[key("smartmeter_energy_forward_joules_total")])) == joules
        assert took < 30

        # the state file caches where the meter is, never the credentials
        state_text = (tmp_path / "state.json").read_text()
        assert "ip" in state_text
        proc.send_signal(signal.SIGTERM)
        stop_started = time.monotonic()
        code = proc.wait(5)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() - stop_started < 5
        sim.send_signal(signal.SIGTERM)
        sim.wait(5)
        assert sim_truth(truth_file)["skterm_seen"] is True


def test_second_start_skips_the_scan_with_the_state_file(tmp_path: Path) -> None:
    extra = ["--time-scale", TIME_SCALE]
    state = tmp_path / "state.json"
    with simulator(tmp_path, "bp35c2", *extra) as (link, truth_file, _sim):
        for run in range(2):
            with exporter("-device", str(link), "-interval", "10", "-state-file", str(state)) as (
                base,
                proc,
            ):
                m = first_reading(base)
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(5) == 0
            if run == 0:
                scans_first = m[key("smartmeter_scans_total")]
                skscans_first = sim_truth(truth_file)["commands"]["SKSCAN"]
        # one scan (however many channels its sweep steps through) on the first run
        assert scans_first == 1 and skscans_first >= 1
        assert m[key("smartmeter_scans_total")] == 0  # second run: cached address, no SKSCAN
        assert sim_truth(truth_file)["commands"]["SKSCAN"] == skscans_first


def test_metrics_answer_without_a_device_and_serial_errors_count(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tty"
    with exporter("-device", str(missing), "-interval", "10") as (base, proc):

        def counted() -> float | None:
            v = metrics(base).get(key("smartmeter_scrape_errors_total", type="serial"))
            return v if v is not None and v >= 1 else None

        assert wait_for("a serial error to be counted", counted, 10) >= 1
        assert httpx.get(f"{base}/-/healthy", timeout=2).status_code == 200
        assert httpx.get(f"{base}/-/ready", timeout=2).status_code == 503
        assert proc.poll() is None  # it keeps retrying instead of exiting
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0


def test_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "trio_smartmeter", "--demo", "-port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "already in use" in line]
    assert len(errors) == 1
    assert str(port) in errors[0]


def test_a_device_another_process_holds_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A second exporter on a stick the first one holds must not serve `up 0` for ever."""
    import fcntl
    import os

    with simulator(tmp_path, "bp35a1") as (link, _truth, _sim):
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what the first exporter holds
            creds = {"SMARTMETER_ID": DEMO_RBID, "SMARTMETER_PASSWORD": DEMO_PASSWORD}
            proc = subprocess.run(
                [*CLI, "-device", str(link), "-port", str(free_port())],
                capture_output=True,
                text=True,
                timeout=20,
                env=cli_env(creds),
            )
        finally:
            os.close(fd)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "in use by" in line]
    assert len(lines) == 1, proc.stderr
    assert str(link) in lines[0]
    assert f"pid {os.getpid()}" in lines[0]
