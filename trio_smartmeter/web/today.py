"""Energy today: the meter's day, from its stored half-hours plus the live register.

One home for the number ``/api/status``, the status page and its bar chart all show (so
they cannot disagree, issue 22). The day is the meter's: half-hours are filed by its clock
(JST), so the registers at today's half-hour boundaries come from the store; what was
bought since the newest of them is the live reading's register minus that boundary's.

A day is *complete* when the register at its 00:00 is stored and no half-hour between the
first and the last stored boundary is missing. Otherwise it says so: "since 02:31" means
the store has nothing of today before 02:31, never merely that the exporter started then.
Without any boundary of today stored, the exporter's own first reading of the day
(:class:`~trio_smartmeter.web.status.PowerLog`) is the start.

Pure: the clocks and rows are handed in.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from trio_smartmeter.core.jst import JST
from trio_smartmeter.core.model import HalfHour, Reading

__all__ = ["SLOTS_PER_DAY", "SLOT_SECONDS", "energy_today"]

SLOT_SECONDS: Final = 1800
SLOTS_PER_DAY: Final = 48
DAY_SECONDS: Final = SLOT_SECONDS * SLOTS_PER_DAY
_JOULES_PER_KWH: Final = Decimal(3_600_000)
#: How far a reading may seem to precede the boundary it is counted from (host clock vs
#: the meter's) and still count: a live part is never negative.
CLOCK_SLACK: Final = 300.0


def _kwh(joules: Decimal) -> float:
    return float(joules / _JOULES_PER_KWH)


def _midnight(unix: float) -> int:
    day = datetime.datetime.fromtimestamp(unix, JST).date()
    return int(datetime.datetime.combine(day, datetime.time(), JST).timestamp())


def _meter_midnight(forward: dict[int, Decimal], latest: Reading | None) -> int | None:
    """Today's 00:00 on the meter's clock: the newest stored boundary's day (the register
    at 00:00 opens its day), or a later day the live reading is already in."""
    candidates = [_midnight(max(forward))] if forward else []
    if latest is not None:
        candidates.append(_midnight(latest.received_unix))
    return max(candidates, default=None)


def _live(
    latest: Reading | None, base: Decimal, base_unix: float, midnight: int
) -> tuple[Decimal, float] | None:
    """(joules bought since ``base``, the reading's time) if the reading is of this day."""
    if latest is None or latest.energy_forward_joules is None:
        return None
    if not base_unix - CLOCK_SLACK <= latest.received_unix < midnight + DAY_SECONDS:
        return None
    if latest.energy_forward_joules < base:  # a replaced meter: not a negative live part
        return None
    return latest.energy_forward_joules - base, latest.received_unix


def energy_today(
    rows: Sequence[HalfHour],
    latest: Reading | None,
    day_start: tuple[str, Decimal, float] | None = None,
) -> dict[str, Any] | None:
    """The meter's day as JSON-able facts, ``None`` when nothing of it is known.

    ``energy_forward_kwh`` is exactly ``sum(half_hours_kwh)`` (the known ones) plus
    ``live_kwh``; ``since_unix`` is where that count starts (today's 00:00 when the store
    has it); ``missing_half_hours`` counts unknown half-hours after ``since_unix`` and
    before the live part. ``day_start``: the exporter's first reading of a JST day
    (ISO date, joules, unix time), used only when the store has nothing of today.
    """
    forward = {r.end_unix: r.forward_joules for r in rows if r.forward_joules is not None}
    midnight = _meter_midnight(forward, latest)
    if midnight is None:
        return None
    date = datetime.datetime.fromtimestamp(midnight, JST).date().isoformat()
    ends = sorted(t for t in forward if midnight <= t <= midnight + DAY_SECONDS)
    slots: list[Decimal | None] = []
    for i in range(SLOTS_PER_DAY):
        before = forward.get(midnight + i * SLOT_SECONDS)
        after = forward.get(midnight + (i + 1) * SLOT_SECONDS)
        if before is None or after is None or after < before:  # not stored; a replaced meter
            slots.append(None)
        else:
            slots.append(after - before)
    if ends:
        since, base_unix, base = float(ends[0]), float(ends[-1]), forward[ends[-1]]
        first, last = (ends[0] - midnight) // SLOT_SECONDS, (ends[-1] - midnight) // SLOT_SECONDS
        missing = sum(1 for v in slots[first:last] if v is None)
    elif day_start is not None and day_start[0] == date:
        since, base_unix, base, missing = day_start[2], day_start[2], day_start[1], 0
    else:
        return None
    live = _live(latest, base, base_unix, midnight)
    stored = sum((v for v in slots if v is not None), Decimal(0))
    total = stored + (live[0] if live else Decimal(0))
    return {
        "date": date,
        "midnight_unix": midnight,
        "energy_forward_kwh": _kwh(total),
        "since_unix": since,
        "complete": since == midnight and missing == 0,
        "missing_half_hours": missing,
        "half_hours_kwh": [None if v is None else _kwh(v) for v in slots],
        "live_kwh": None if live is None else _kwh(live[0]),
        "live_since_unix": base_unix,
        "live_until_unix": None if live is None else live[1],
    }
