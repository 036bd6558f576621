"""The B-route ID and password never leave the process, with faults, at verbosity 3.

Credentials are NOT the demo ones (the simulator gets them by ``--rbid/--password``, the
exporter by ``SMARTMETER_ID``/``SMARTMETER_PASSWORD``). A "leak" is the value itself or
its UTF-8 hex encoding in upper or lower case (what SKSETPWD/SKSETRBID or a hex dump
would carry).

Out of process (real CLI, pty simulator, verbosity 3 = every serial line):

* text log format: garbage bytes, stray frames and EVENT 26 on the first Get (the
  session is rebuilt), then a transmit-time limit (EVENT 32/33) on the next one;
* JSON log format: first a run with a wrong password (EVENT 24, join failure), then a
  run with garbage and EVENT 26;
* after the first reading and a recovery: stdout, stderr, /metrics, /, /api/status and
  the state file are free of both secrets; ``trio-smartmeter read`` and ``scan`` print
  their results and no secret either.

In process (autojump clock, tests/reliability/harness.py): a session through a wrong
password phase, EVENT 26, EVENT 29 (no re-auth: the 60 s wait), a dropped response
(the 20 s timeout), garbage, stray frames and a transmit limit. ``str()``/``repr()`` of
every ``ExporterError`` created and of every exception a log record carries, and every
log message from DEBUG up (unmasked: the ``Secret`` type alone keeps them clean), hold
neither secret; TRACE serial lines hold none after the ``Masker``.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from loguru import logger

from tests.support import CLI, Key, cli_env, key
from trio_smartmeter.cli.log import Masker
from trio_smartmeter.core.errors import ExporterError
from trio_smartmeter.core.state import Counter, ErrorType
from trio_smartmeter.sim import Fault, FaultSpec, Scenario

from .harness import exporter, metrics, simulator, wait_for

RBID = "7E3A91C0D4B25F68A0C1E9D7B3F24A56"
PASSWORD = "Xq7Rk2Tz9LpW"
WRONG_PASSWORD = "Mv4Hs8Bn3JcQ"
SECRETS = (RBID, PASSWORD, WRONG_PASSWORD)
SIM = ["--time-scale", "0.05", "--rbid", RBID, "--password", PASSWORD]


def needles(*secrets: str) -> set[str]:
    out: set[str] = set()
    for s in secrets:
        h = s.encode().hex()
        out |= {s, h.lower(), h.upper()}
    return out


NEEDLES = needles(*SECRETS)


def assert_clean(where: str, text: str) -> None:
    found = sorted(n for n in NEEDLES if n in text)
    assert not found, f"{where} leaks {found}"


def creds(password: str = PASSWORD) -> dict[str, str]:
    return {"SMARTMETER_ID": RBID, "SMARTMETER_PASSWORD": password}


def scenario_file(tmp: Path, name: str, faults: list[dict[str, Any]]) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"faults": faults}), encoding="utf-8")
    return path


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=6)
    assert proc.returncode == 0, err[-2000:]
    return out, err


def scrape_everything(base: str) -> dict[str, str]:
    return {
        path: httpx.get(f"{base}{path}", timeout=2).text
        for path in ("/metrics", "/", "/api/status", "/-/ready")
    }


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=30, env=cli_env(env)
    )


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_in_any_output(tmp_path: Path, fmt: str) -> None:
    if fmt == "text":
        faults = [
            {"kind": "garbage", "after_request": 1},
            {"kind": "stray_frames", "after_request": 1},
            {"kind": "event_26", "after_request": 1},
            {"kind": "transmit_limit", "after_request": 2, "duration": 10.0},
        ]
    else:
        faults = [
            {"kind": "garbage", "after_request": 1},
            {"kind": "event_26", "after_request": 1},
        ]
    scenario = scenario_file(tmp_path, fmt, faults)
    state_file = tmp_path / "state.json"
    common = ["-interval", "10", "-verbosity", "3", "-log-format", fmt]
    with simulator(tmp_path, "bp35a1", *SIM, "--scenario", str(scenario)) as (link, _t, _s):
        device = ["-device", str(link), "-state-file", str(state_file)]
        if fmt == "json":
            # a wrong password first: the meter answers EVENT 24, the join fails
            with exporter(*device, *common, env=creds(WRONG_PASSWORD)) as (base, proc):
                wait_for(
                    "a rejected join",
                    lambda: metrics(base)[key("smartmeter_join_failures_total")] >= 1 or None,
                    20,
                )
                pages = scrape_everything(base)
                out, err = stop(proc)
            for where, text in {"stdout": out, "stderr": err, **pages}.items():
                assert_clean(f"wrong-password run {where}", text)
            assert "EVENT 24" in err or "rejected" in err
            for line in err.splitlines():
                json.loads(line)  # one JSON object per line

        with exporter(*device, *common, env=creds()) as (base, proc):

            def recovered() -> dict[Key, float] | None:
                m = metrics(base)
                ok = (
                    m.get(key("smartmeter_joins_total"), 0) >= 2
                    and key("smartmeter_power_watts") in m
                )
                return m if ok else None

            m = wait_for("a reading after the rebuilt session", recovered, 20)
            if fmt == "text":
                wait_for(  # EVENT 32 then EVENT 33 on the second session
                    "the transmit limit to come and go",
                    lambda: (
                        metrics(base).get(key("smartmeter_module_events_total", event="33")) or None
                    ),
                    10,
                )
            pages = scrape_everything(base)
            out, err = stop(proc)
        assert m[key("smartmeter_up")] == 1.0
        state_text = state_file.read_text(encoding="utf-8")
        outputs = {"stdout": out, "stderr": err, "state file": state_text, **pages}
        for where, text in outputs.items():
            assert_clean(where, text)
        assert "SKSETPWD" in err and "********" in err  # the serial trace is there, masked
        if fmt == "json":
            for line in err.splitlines():
                json.loads(line)

        # the one-shot tools on the same simulator (once: text)
        for tool in ("scan", "read") if fmt == "text" else ():
            p = run_cli(tool, "-device", str(link), "-verbosity", "3", env=creds())
            assert p.returncode == 0, p.stderr[-2000:]
            assert_clean(f"{tool} stdout", p.stdout)
            assert_clean(f"{tool} stderr", p.stderr)
            assert "12A4" in p.stdout.upper() or tool == "read"
            assert p.stdout.strip()


# -- in process ------------------------------------------------------------------------


async def test_no_secret_in_exception_texts_or_log_messages(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support.rig import start_rig

    created: list[BaseException] = []
    original_init = ExporterError.__init__

    def recording_init(self: ExporterError, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(ExporterError, "__init__", recording_init)
    records: list[tuple[str, str, BaseException | None]] = []

    def sink(message: Any) -> None:
        r = message.record
        exc = r["exception"]
        records.append((r["level"].name, r["message"], None if exc is None else exc.value))

    handler = logger.add(sink, level="TRACE", format="{message}")
    scenario = Scenario(
        faults=(
            FaultSpec(Fault.WRONG_PASSWORD, at=0.0, duration=100.0),
            FaultSpec(Fault.EVENT_26, at=400.0),
            FaultSpec(Fault.GARBAGE, at=500.0),
            FaultSpec(Fault.DROP_RESPONSE, at=590.0, count=1),
            FaultSpec(Fault.EVENT_29, at=800.0),
            FaultSpec(Fault.STRAY_FRAMES, at=1000.0),
            FaultSpec(Fault.TRANSMIT_LIMIT, at=1100.0, duration=120.0),
        )
    )
    try:
        rig = await start_rig(nursery, rbid=RBID, password=PASSWORD, scenario=scenario)
        rig.module.rbid = RBID  # the meter's own credentials (before the first join)
        rig.module.password = PASSWORD
        await rig.next_reading_after(1400.0, limit=5000.0)
    finally:
        logger.remove(handler)

    s = rig.state
    counts = s.counters
    assert counts[Counter.JOIN_FAILURES] >= 1 and counts[Counter.JOINS] >= 3
    assert counts[Counter.POLLS] >= 3
    assert s.errors[ErrorType.RATE_LIMIT] >= 1
    kinds = {type(e).__name__ for e in created}
    print(f"{len(created)} ExporterErrors ({sorted(kinds)}), {len(records)} log records")
    assert {"JoinFailed", "SessionLost", "RequestTimeout"} <= kinds, kinds
    for exc in created:
        assert_clean(f"str({type(exc).__name__})", str(exc))
        assert_clean(f"repr({type(exc).__name__})", repr(exc))
    masker = Masker([RBID, PASSWORD])
    for level, message, exc in records:
        if exc is not None:
            assert_clean("a logged exception", f"{exc!s} {exc!r}")
        if level == "TRACE":
            assert_clean("a TRACE line after masking", masker.mask(message))
        else:
            assert_clean(f"a {level} message (unmasked)", message)
    assert any("SKSETPWD" in m for _, m, _ in records)
