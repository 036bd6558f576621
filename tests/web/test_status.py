"""The status facts behind /api/status, /-/ready and the page: pure functions of the state."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from trio_smartmeter.core.model import Reading
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.status import PowerLog, ready_reason, status_dict, status_json

from .helpers import PWD, RBID, UNIX, VERSION, call, connect, reading, setup


async def test_status_json() -> None:
    state, mono, wall, app = setup()
    connect(state, mono)
    status, headers, body = await call(app, "/api/status")
    data = json.loads(body)
    assert status == 200
    assert headers[b"content-type"] == b"application/json"
    assert data["version"] == VERSION
    assert data["up"] is True
    assert data["reading"]["power_watts"] == 1400
    assert data["reading"]["current_t_amperes"] is None
    assert len(data["history"]) == 10
    assert data["today"]["energy_forward_kwh"] == pytest.approx(0.9)
    for secret in (RBID, PWD):
        assert secret.encode() not in body
    # an hour later the old points fall out of the chart
    wall.now += 3600
    data = json.loads((await call(app, "/api/status"))[2])
    assert len(data["history"]) <= 1


def test_status_without_a_reading() -> None:
    status = status_dict(
        ExporterState(interval=60.0), PowerLog(), now_monotonic=5.0, now_unix=UNIX, version="v"
    )
    assert status["up"] is False
    assert status["session_state"] == "starting"
    for absent in ("reading", "today", "module", "meter", "rssi_dbm", "last_success_unix"):
        assert status[absent] is None
    assert status["history"] == []
    assert json.loads(status_json(status)) == status


def test_energy_is_shown_in_kwh() -> None:
    state = ExporterState(interval=60.0)
    log = PowerLog.following(state)
    state.record_reading(
        Reading(
            power_watts=-850,
            current_r_amperes=Decimal("-4.2"),
            current_t_amperes=Decimal("4.3"),
            energy_forward_joules=Decimal("45296640000"),  # 12582.4 kWh
            energy_reverse_joules=Decimal("360000000"),  # 100 kWh
            received_monotonic=10.0,
            received_unix=UNIX,
        ),
        1.0,
    )
    status = status_dict(state, log, now_monotonic=12.5, now_unix=UNIX + 2, version="v")
    assert status["reading"] == {
        "fresh": True,
        "age_seconds": 2.5,
        "received_unix": UNIX,
        "power_watts": -850,
        "current_r_amperes": -4.2,
        "current_t_amperes": 4.3,
        "energy_forward_kwh": 12582.4,
        "energy_reverse_kwh": 100.0,
    }
    assert status["today"] == {"energy_forward_kwh": 0.0, "since_unix": UNIX}


def test_ready_reasons() -> None:
    state = ExporterState(interval=60.0)
    assert ready_reason(state, 5.0) == "not ready: no meter reading yet (session state: starting)"
    state.record_reading(reading(100.0, UNIX), 1.0)
    assert ready_reason(state, 100.0 + state.max_age) is None
    assert ready_reason(state, 300.0) == (
        "not ready: last meter reading is 200 s old, limit 180 s (session state: starting)"
    )
    state.set_credentials_latched(True)
    assert ready_reason(state, 300.0) == (
        "not ready: the meter rejected the B-route ID/password (latched; slow retry)"
    )


def test_status_json_is_strict_json() -> None:
    assert status_json({"kwh": Decimal("1.5"), "other": b"x"}) == b'{"kwh": 1.5, "other": "b\'x\'"}'
    with pytest.raises(ValueError, match="JSON compliant"):
        status_json({"rssi_dbm": float("nan")})


def test_status_page_and_metrics_import_no_trio() -> None:
    """The pure parts of the web layer stay importable (and testable) without trio."""
    code = (
        "import sys\n"
        "import trio_smartmeter.web.status, trio_smartmeter.web.page, trio_smartmeter.web.metrics\n"
        "print(sorted(m for m in ('trio', 'hypercorn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


NOON_JST = 1_764_558_000.0  # 2025-12-01 12:00 JST


def energy(at: float, unix: float, forward: Decimal | None) -> Reading:
    return Reading(100, Decimal(1), None, forward, None, at, unix)


def test_energy_today_counts_from_the_first_reading_of_the_jst_day() -> None:
    state = ExporterState()
    log = PowerLog.following(state)
    state.record_reading(energy(0.0, NOON_JST, Decimal(1000)), 0.1)
    state.record_reading(energy(60.0, NOON_JST + 60, Decimal(1500)), 0.1)
    assert log.energy_today(state.reading, NOON_JST + 61) == (Decimal(500), NOON_JST)
    # the next JST day (00:00 JST = 15:00 UTC) starts again
    midnight = NOON_JST + 12 * 3600
    assert log.energy_today(state.reading, midnight + 1) is None
    state.record_reading(energy(120.0, midnight + 1, Decimal(1600)), 0.1)
    assert log.energy_today(state.reading, midnight + 2) == (Decimal(0), midnight + 1)
    # a meter reset mid-day restarts the day's count
    state.record_reading(energy(180.0, midnight + 60, Decimal(10)), 0.1)
    assert log.energy_today(state.reading, midnight + 61) == (Decimal(0), midnight + 60)


def test_a_reading_without_forward_energy_starts_no_day() -> None:
    state = ExporterState()
    log = PowerLog.following(state)
    state.record_reading(energy(0.0, NOON_JST, None), 0.1)
    assert log.day_start is None
    assert log.energy_today(state.reading, NOON_JST) is None
