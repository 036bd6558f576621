"""The status facts behind /api/status, /-/ready and the page: pure functions of the state."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry

from trio_smartmeter.core.model import HalfHour, Reading
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.page import status_page
from trio_smartmeter.web.router import ExporterApp
from trio_smartmeter.web.status import PowerLog, ready_reason, status_dict, status_json
from trio_smartmeter.web.today import energy_today

from .helpers import PWD, RBID, UNIX, VERSION, Clock, call, connect, reading, setup


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
    today = status["today"]
    assert (today["energy_forward_kwh"], today["since_unix"], today["live_kwh"]) == (0.0, UNIX, 0.0)


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


def test_without_the_store_energy_today_counts_from_the_first_reading_of_the_jst_day() -> None:
    state = ExporterState()
    log = PowerLog.following(state)
    state.record_reading(energy(0.0, NOON_JST, Decimal(1000)), 0.1)
    state.record_reading(energy(60.0, NOON_JST + 60, Decimal(1_801_000)), 0.1)
    today = energy_today([], state.reading, log.day_start)
    assert today is not None
    assert (today["energy_forward_kwh"], today["since_unix"]) == (0.5, NOON_JST)
    assert today["complete"] is False
    # the next JST day (00:00 JST = 15:00 UTC) starts again
    midnight = NOON_JST + 12 * 3600
    state.record_reading(energy(120.0, midnight + 1, Decimal(1_900_000)), 0.1)
    today = energy_today([], state.reading, log.day_start)
    assert today is not None
    assert (today["energy_forward_kwh"], today["since_unix"]) == (0.0, midnight + 1)
    # a meter reset mid-day restarts the day's count
    state.record_reading(energy(180.0, midnight + 60, Decimal(10)), 0.1)
    assert log.day_start == ("2025-12-02", Decimal(10), midnight + 60)


def test_a_reading_without_forward_energy_starts_no_day() -> None:
    state = ExporterState()
    log = PowerLog.following(state)
    state.record_reading(energy(0.0, NOON_JST, None), 0.1)
    assert log.day_start is None
    assert energy_today([], state.reading, log.day_start) is None


MIDNIGHT_JST = NOON_JST - 12 * 3600
KWH = Decimal(3_600_000)


def morning() -> list[HalfHour]:
    """The store holds 00:00-09:00 (registers every half-hour, 0.2 kWh each, more at 07:00)."""
    registers, total = [], Decimal(5000)
    for i in range(19):
        registers.append(HalfHour(int(MIDNIGHT_JST) + 1800 * i, 0, None, total * KWH))
        total += Decimal("0.2") if i != 14 else Decimal("1.1")
    return registers


async def test_api_status_today_is_the_stored_morning_plus_the_live_part() -> None:
    """Issue 22's acceptance: the exporter starts at 15:00; the store holds the morning."""
    rows = morning()
    first, last = rows[0].forward_joules, rows[-1].forward_joules
    assert first is not None and last is not None
    stored = last - first  # every half-hour of the morning is stored

    async def reader(since: float, until: float) -> list[HalfHour]:
        return [r for r in rows if since <= r.end_unix <= until]

    state, mono = ExporterState(interval=60.0), Clock(100.0)
    afternoon = MIDNIGHT_JST + 15 * 3600
    wall = Clock(afternoon + 120)
    app = ExporterApp(
        state, CollectorRegistry(), monotonic=mono, version=VERSION, wall=wall, history=reader
    )
    live = Decimal("2.34") * KWH  # 09:00 -> 15:01
    state.record_reading(energy(99.0, afternoon, last + live - KWH), 1.0)  # first reading
    state.record_reading(energy(100.0, afternoon + 60, last + live), 1.0)
    data = json.loads((await call(app, "/api/status"))[2])["today"]
    assert data["energy_forward_kwh"] == pytest.approx(float((stored + live) / KWH))
    assert data["energy_forward_kwh"] == pytest.approx(
        sum(v for v in data["half_hours_kwh"] if v is not None) + data["live_kwh"]
    )
    assert data["live_kwh"] == pytest.approx(2.34)
    assert (data["since_unix"], data["complete"]) == (MIDNIGHT_JST, True)  # not "since 15:00"
    # the page shows the same number, without "since", and its bars add up to it
    for lang in ("en", "ja"):
        page = (await call(app, "/", headers=[(b"accept-language", lang.encode())]))[2].decode()
        shown = f"{data['energy_forward_kwh']:,.2f}\N{NO-BREAK SPACE}kWh"
        assert f"<td>{shown}</td>" in page  # no "(since ...)": the day is known from 00:00
        tips = re.findall(r"<title>[^<]*?([\d.]+)\N{NO-BREAK SPACE}kWh</title>", page)
        assert sum(map(float, tips)) == pytest.approx(data["energy_forward_kwh"], abs=0.03)


async def test_a_day_whose_morning_is_missing_says_since_when() -> None:
    rows = morning()[5:]  # the store starts at 02:30
    day = energy_today(rows, energy(1.0, MIDNIGHT_JST + 10 * 3600, rows[-1].forward_joules))
    assert day is not None
    assert (day["since_unix"], day["complete"]) == (MIDNIGHT_JST + 9000, False)


def test_a_day_without_a_live_reading_says_until_when() -> None:
    """The store's morning and no reading since: the count stops at the last half-hour."""
    rows = morning()
    day = energy_today(rows, None)
    assert day is not None and day["live_kwh"] is None
    page = status_page(
        {
            **status_dict(
                ExporterState(),
                PowerLog(),
                now_monotonic=1.0,
                now_unix=NOON_JST,
                version="v",
                rows=rows,
            )
        },
        now_unix=NOON_JST,
    ).decode()
    assert "until 09:00 JST" in page
