"""SIGTERM in every phase of a real exporter process against a pty simulator.

For each phase (no device yet, scanning, joining, a Get in flight, polling, backing off
after a rejected password) the exporter gets SIGTERM and must exit with status 0 within
5 s; the simulator saw SKTERM exactly when a PANA session existed; afterwards the serial
port is free (an exclusive ``flock`` on it succeeds, as pyserial's ``exclusive=True``
takes one) and the process is gone.

Signals, as ``app._watch_signals`` implements them:

* SIGTERM/SIGINT: graceful stop (poller stops, SKTERM bounded, port closed, HTTP stops);
* a second SIGTERM/SIGINT while that stop is still running: ``os._exit(1)`` at once;
* SIGHUP: does NOT stop the exporter; it logs one line with the session state
  ("SIGHUP: state ready, session up, last reading ... (SIGHUP does not stop the exporter)")
  and keeps serving.

State is read from ``smartmeter_session_state{state="..."} 1.0`` on /metrics with
deadlines; nothing sleeps blindly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Key, key

from .harness import exporter, metrics, sim_truth, simulator, wait_for

pytestmark = pytest.mark.slow

FAST = "0.05"  # cold scan + join ≈ 0.5 s
#: the simulator's meter (sim.meter.MeterConfig defaults): -channel/-ipaddr skip the scan
METER_CHANNEL = "33"
METER_IP = "FE80:0000:0000:0000:021C:6400:030C:12A4"
STOP_BOUND = 5.0


class StderrLines:
    """Collects the exporter's stderr in a thread so a test can wait for a log line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert proc.stderr is not None
        self._thread = threading.Thread(target=self._pump, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:  # type: ignore[attr-defined]
                with self._lock:
                    self.lines.append(line)

    def find(self, needle: str) -> str | None:
        with self._lock:
            return next((line for line in self.lines if needle in line), None)

    def text(self) -> str:
        self._thread.join(2)
        with self._lock:
            return "".join(self.lines)


def session_state(m: dict[Key, float]) -> str | None:
    """The state whose ``smartmeter_session_state{state=...}`` sample is 1."""
    on = [dict(labels)["state"] for (name, labels), v in m.items()
          if name == "smartmeter_session_state" and v == 1.0]  # fmt: skip
    return on[0] if on else None


def wait_state(base: str, wanted: set[str], timeout: float) -> dict[Key, float]:
    def probe() -> dict[Key, float] | None:
        m = metrics(base)
        return m if session_state(m) in wanted else None

    return wait_for(f"session state in {sorted(wanted)}", probe, timeout)


def sigterm_and_wait(proc: subprocess.Popen[str]) -> tuple[int, float]:
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = proc.wait(STOP_BOUND + 1)
    took = time.monotonic() - started
    print(f"exporter stopped with status {code} in {took:.2f} s")
    return code, took


def assert_port_free(link: Path) -> None:
    """Nobody holds the exclusive lock the exporter takes on the device."""
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def stop_simulator(sim: subprocess.Popen[str], truth: Path) -> dict[str, object]:
    sim.send_signal(signal.SIGTERM)
    sim.wait(5)
    return sim_truth(truth)  # written again at simulator exit


@contextlib.contextmanager
def running(
    tmp: Path, sim_args: list[str], exporter_args: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str], Path, Path, subprocess.Popen[str]]]:
    with (
        simulator(tmp, "bp35a1", *sim_args) as (link, truth, sim),
        exporter(
            "-device",
            str(link),
            "-interval",
            "10",
            "-state-file",
            str(tmp / "state.json"),
            *exporter_args,
            env=env,
        ) as (base, proc),
    ):
        yield base, proc, link, truth, sim


def test_sigterm_while_opening_a_missing_device(tmp_path: Path) -> None:
    missing = tmp_path / "ttyUSB-not-yet"
    with exporter("-device", str(missing), "-interval", "10") as (base, proc):
        wait_state(base, {"no_device", "backoff"}, 15)
        assert proc.poll() is None
        code, took = sigterm_and_wait(proc)
    assert code == 0
    assert took < STOP_BOUND


@pytest.mark.parametrize(
    ("phase", "sim_args", "exporter_args", "wanted", "session"),
    [
        # time-scale 1: the D=4 sweep alone takes 28 × 0.0096 × 17 ≈ 4.6 s
        ("scanning", ["--time-scale", "1"], [], {"scanning"}, False),
    ],
)
def test_sigterm_before_a_session(
    tmp_path: Path,
    phase: str,
    sim_args: list[str],
    exporter_args: list[str],
    wanted: set[str],
    session: bool,
) -> None:
    with running(tmp_path, sim_args, exporter_args) as (base, proc, link, truth, sim):
        m = wait_state(base, wanted, 15)
        assert m[key("smartmeter_session_up")] == 0.0
        code, took = sigterm_and_wait(proc)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        assert took < STOP_BOUND
        assert_port_free(link)
        assert stop_simulator(sim, truth)["skterm_seen"] is session


def test_sigterm_during_the_join_leaves_no_session_at_the_meter(tmp_path: Path) -> None:
    """A stop mid-SKJOIN must not let the module finish PANA alone: the meter would hold a
    session for a peer that is gone (it accepts one at a time). The exporter waits for the
    join's EVENT 25/24 and sends SKTERM, or resets the module, within the stop bound."""
    # cached address from the flags: no scan; the join's PANA exchange takes ~2.7 s
    exporter_args = ["-channel", METER_CHANNEL, "-ipaddr", METER_IP]
    with running(tmp_path, ["--time-scale", "1"], exporter_args) as (base, proc, link, truth, sim):
        assert wait_state(base, {"joining"}, 15)[key("smartmeter_session_up")] == 0.0
        code, took = sigterm_and_wait(proc)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        assert took < STOP_BOUND
        assert_port_free(link)
        final = stop_simulator(sim, truth)
    commands = final["commands"]
    assert commands.get("SKJOIN") == 1, commands  # the stop came while PANA was running
    assert final["skterm_seen"] or commands.get("SKRESET", 0) >= 2, commands
    assert final["session_established"] is False


def test_sigterm_with_a_get_in_flight(tmp_path: Path) -> None:
    """The meter answers 100 modelled s (5 s real) late: SIGTERM while the Get waits."""
    scenario = tmp_path / "delay.json"
    scenario.write_text(json.dumps({"faults": [{"kind": "delay_response", "delay": 100.0}]}))
    with running(tmp_path, ["--time-scale", FAST, "--scenario", str(scenario)], []) as (
        base,
        proc,
        link,
        truth,
        sim,
    ):
        m = wait_state(base, {"ready"}, 15)  # the poller sends its first Get right away
        assert m[key("smartmeter_session_up")] == 1.0
        assert key("smartmeter_power_watts") not in m and m[key("smartmeter_polls_total")] == 0
        code, took = sigterm_and_wait(proc)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        assert took < STOP_BOUND
        assert_port_free(link)
        final = stop_simulator(sim, truth)
    assert final["commands"]["SKSENDTO"] >= 1  # type: ignore[index]
    assert final["skterm_seen"] is True


def test_sigterm_while_polling_and_sighup_does_not_stop(tmp_path: Path) -> None:
    with running(tmp_path, ["--time-scale", FAST], []) as (base, proc, link, truth, sim):
        err = StderrLines(proc)
        wait_for(
            "the first reading",
            lambda: metrics(base).get(key("smartmeter_power_watts")) is not None or None,
            20,
        )
        proc.send_signal(signal.SIGHUP)
        line = wait_for("the SIGHUP log line", lambda: err.find("SIGHUP"), 5)
        assert "does not stop" in line and "ready" in line
        assert proc.poll() is None
        assert metrics(base)[key("smartmeter_up")] == 1.0  # still serving
        code, took = sigterm_and_wait(proc)
        assert code == 0, err.text()
        assert took < STOP_BOUND
        assert "session terminated (SKTERM)" in err.text()
        assert_port_free(link)
        assert stop_simulator(sim, truth)["skterm_seen"] is True


def test_sigterm_while_backing_off_after_a_rejected_password(tmp_path: Path) -> None:
    # the simulator's meter expects its demo password; the exporter brings another one
    env = {"SMARTMETER_PASSWORD": "WRONGPASS123"}
    with running(tmp_path, ["--time-scale", FAST], [], env=env) as (
        base,
        proc,
        link,
        truth,
        sim,
    ):
        m = wait_state(base, {"backoff", "latched"}, 20)
        assert m[key("smartmeter_join_failures_total")] >= 1
        assert m[key("smartmeter_session_up")] == 0.0
        code, took = sigterm_and_wait(proc)
        assert code == 0
        assert took < STOP_BOUND
        assert_port_free(link)
        assert stop_simulator(sim, truth)["skterm_seen"] is False


def test_second_sigterm_during_a_slow_stop_exits_at_once(tmp_path: Path) -> None:
    """The simulator is frozen (SIGSTOP), so SKTERM waits for its 1 s command timeout."""
    with running(tmp_path, ["--time-scale", FAST], []) as (base, proc, _link, _truth, sim):
        err = StderrLines(proc)
        wait_for(
            "the first reading",
            lambda: metrics(base).get(key("smartmeter_power_watts")) is not None or None,
            20,
        )
        sim.send_signal(signal.SIGSTOP)
        try:
            proc.send_signal(signal.SIGTERM)
            wait_for("the stop to begin", lambda: err.find("SIGTERM received"), 3, step=0.01)
            assert proc.poll() is None  # still waiting for the frozen module's SKTERM answer
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = proc.wait(3)
            took = time.monotonic() - started
        finally:
            sim.send_signal(signal.SIGCONT)
        assert code == 1
        assert took < 1.0
        assert "second signal" in err.text()
