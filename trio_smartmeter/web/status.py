"""The exporter's status as plain facts: what ``/api/status`` serves and ``/`` shows.

Pure functions of an :class:`ExporterState` and the clocks handed in, so the page and the
JSON can never disagree and both are tested without a server. No secrets: the B-route
ID/password are not in the state.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

import attrs

from trio_smartmeter.core.jst import jst_date
from trio_smartmeter.core.model import HalfHour, Reading
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.today import energy_today

__all__ = [
    "DAY_LOOKAROUND",
    "HISTORY_WINDOW",
    "PowerLog",
    "ready_reason",
    "status_dict",
    "status_json",
]

#: Seconds of power history the status shows (the chart's width).
HISTORY_WINDOW: Final = 3600.0
#: How far around the host's "now" the page looks for the meter's newest day: the slots
#: are filed by the meter's clock, so a host clock off by hours still finds them.
DAY_LOOKAROUND: Final = 2 * 86400.0
_JOULES_PER_KWH: Final = Decimal(3_600_000)


#: How many (unix time, watts) points the status page keeps (one hour at a 10 s interval).
HISTORY_POINTS: Final = 360


@attrs.define
class PowerLog:
    """What the status page shows of past readings: the last hour's power, energy today.

    Fed by ``ExporterState.reading_sinks`` (:meth:`following`), from before the first
    reading: the root makes it before the link starts.
    """

    points: collections.deque[tuple[float, int]] = attrs.field(
        factory=lambda: collections.deque(maxlen=HISTORY_POINTS)
    )
    #: First forward-energy reading of the current JST day: (ISO date, joules, unix time),
    #: where "energy today" starts when the store holds nothing of the day (web/today.py).
    day_start: tuple[str, Decimal, float] | None = None

    @classmethod
    def following(cls, state: ExporterState) -> PowerLog:
        log = cls()
        state.reading_sinks.append(log.record)
        return log

    def record(self, reading: Reading) -> None:
        if reading.power_watts is not None:
            self.points.append((reading.received_unix, reading.power_watts))
        forward = reading.energy_forward_joules
        if forward is not None:
            day = jst_date(reading.received_unix)
            ds = self.day_start
            if ds is None or ds[0] != day or forward < ds[1]:  # new day, or meter reset
                self.day_start = (day, forward, reading.received_unix)


def _kwh(joules: Decimal | None) -> float | None:
    return None if joules is None else float(joules / _JOULES_PER_KWH)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def status_dict(
    state: ExporterState,
    log: PowerLog,
    *,
    now_monotonic: float,
    now_unix: float,
    version: str,
    rows: Sequence[HalfHour] = (),
    device: str | None = None,
) -> dict[str, Any]:
    """Everything the status page shows, as plain JSON-able values (no secrets).

    ``rows``: the stored half-hours around now, for "energy today" (web/today.py)."""
    fresh = state.is_fresh(now_monotonic)
    r = state.reading
    reading: dict[str, Any] | None = None
    if r is not None:
        reading = {
            "fresh": fresh,
            "age_seconds": round(max(0.0, now_monotonic - r.received_monotonic), 1),
            "received_unix": r.received_unix,
            "power_watts": r.power_watts,
            "current_r_amperes": _float(r.current_r_amperes),
            "current_t_amperes": _float(r.current_t_amperes),
            "energy_forward_kwh": _kwh(r.energy_forward_joules),
            "energy_reverse_kwh": _kwh(r.energy_reverse_joules),
        }
    mod, met = state.module_info, state.meter_info
    return {
        "exporter": "trio-smartmeter",
        "version": version,
        "up": fresh,
        "interval_seconds": state.interval,
        "max_age_seconds": state.max_age,
        "device": device,
        "session_state": state.session_state.value,
        "session_up": state.session_up,
        "rate_limited": state.rate_limited,
        "credentials_latched": state.credentials_latched,
        "rssi_dbm": state.rssi_dbm,
        "last_success_unix": state.last_success_unix,
        "module": None
        if mod is None
        else {
            "model": mod.model,
            "firmware": mod.firmware,
            "app_version": mod.app_version,
            "dialect": mod.dialect,
            "payload_format": mod.payload_format,
        },
        "meter": None
        if met is None
        else {"manufacturer": met.manufacturer, "standard_version": met.standard_version},
        "reading": reading,
        "today": energy_today(rows, state.reading, log.day_start),
        "history": [
            [t, w] for t, w in log.points if now_unix - HISTORY_WINDOW <= t <= now_unix + 60
        ],
    }


def status_json(status: dict[str, Any]) -> bytes:
    """``status`` as strict JSON (a NaN is refused, not sent as the non-JSON ``NaN``)."""
    return json.dumps(status, allow_nan=False, default=_json_default).encode()


def _json_default(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else str(value)


def ready_reason(state: ExporterState, now_monotonic: float) -> str | None:
    """``None`` when ready, else the one-line reason ``/-/ready`` answers with."""
    if state.is_fresh(now_monotonic):
        return None
    st = state.session_state.value
    if state.credentials_latched:
        return "not ready: the meter rejected the B-route ID/password (latched; slow retry)"
    r = state.reading
    if r is None:
        return f"not ready: no meter reading yet (session state: {st})"
    age = now_monotonic - r.received_monotonic
    return (
        f"not ready: last meter reading is {age:.0f} s old, limit {state.max_age:.0f} s "
        f"(session state: {st})"
    )
