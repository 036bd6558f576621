"""Which half-hours are missing, and which frames read them back from the meter. Pure.

The meter keeps its own half-hour registers (history 1: E5 + E2/E4, a day per frame;
history 2: ED + EC, 12 half-hours of both directions per frame, on some meters only).
After a gap the service asks this module for the next :class:`Step`, one frame at a
time, between polls. Slot times come from the meter's clock (the latest fixed-time
boundary it reported), never from the host's.

Which history: history 2 is preferred (both directions in one answer), unless the gap
is long enough that history 1 needs fewer frames (a day per Set + Get, against 12
half-hours per Set + Get): for a 5-hour gap EC/ED takes 2 frames, E5 + E2 + E4 3; for
3 days EC/ED takes 24, E5 + E2 + E4 12.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Set

import attrs

from trio_smartmeter.core.echonet.history import (
    HISTORY1_MAX_DAY,
    HistoryTime,
    Slot,
    history1_days,
    history2_windows,
)

#: With an empty store, look this far back on the first join (the demo's chart, a
#: restart after a reinstall); afterwards, as far back as the store reaches.
FIRST_FILL = _dt.timedelta(days=1)
#: Never further back than the meter keeps (history 1: today and 99 days).
LOOKBACK_LIMIT = _dt.timedelta(days=HISTORY1_MAX_DAY)


@attrs.frozen
class Capabilities:
    """What the meter's property maps say it can answer."""

    history2: bool  # EC in the Get map and ED in the Set map
    reverse: bool  # E4 (and E3) in the Get map


@attrs.frozen
class SetDay:
    """SetC E5 = ``day`` (days back from the meter's today)."""

    day: int


@attrs.frozen
class GetDay:
    """Get E2 (or E4 with ``reverse``) for the day set by the preceding :class:`SetDay`."""

    day: int
    reverse: bool


@attrs.frozen
class SetWindow:
    """SetC ED = ``window`` (the newest boundary and the number of points)."""

    window: HistoryTime


@attrs.frozen
class GetWindow:
    """Get EC for the window set by the preceding :class:`SetWindow`."""

    window: HistoryTime


Step = SetDay | GetDay | SetWindow | GetWindow


def missing_slots(
    newest_boundary: _dt.datetime,
    known_ends: Set[int],
    *,
    oldest_known_end: int | None,
    unavailable: Set[int] = frozenset(),
) -> list[Slot]:
    """The slots up to ``newest_boundary`` (meter time) that are not stored, newest first.

    The window covers at least the last :data:`FIRST_FILL` and reaches back to the
    oldest stored slot, never past what the meter keeps; ``unavailable`` are slots the
    meter answered "not collected" for.
    """
    newest = Slot.ending_at(newest_boundary)
    start = newest_boundary - FIRST_FILL
    if oldest_known_end is not None:
        start = min(start, _from_unix(oldest_known_end, newest))
    start = max(start, newest_boundary - LOOKBACK_LIMIT)
    out = []
    slot = newest
    while slot.end > start:
        end = int(slot.unix_end)
        if end not in known_ends and end not in unavailable:
            out.append(slot)
        slot = slot.shifted(-1)
    return out


def _from_unix(end_unix: int, like: Slot) -> _dt.datetime:
    """The meter-time boundary of a stored slot end (``like`` fixes the clock's offset)."""
    return like.end + _dt.timedelta(seconds=end_unix - like.unix_end)


def plan(
    missing: Iterable[Slot], capabilities: Capabilities, meter_today: _dt.date
) -> tuple[Step, ...]:
    """The frames that read ``missing`` back, newest first, fewest frames."""
    slots = sorted(set(missing), reverse=True)
    if not slots:
        return ()
    days = history1_days(slots, meter_today)
    per_day = 2 + capabilities.reverse
    by_day: tuple[Step, ...] = tuple(
        step
        for day in days
        for step in (
            SetDay(day),
            GetDay(day, reverse=False),
            *((GetDay(day, reverse=True),) if capabilities.reverse else ()),
        )
    )
    if not capabilities.history2:
        return by_day
    windows = history2_windows(slots)
    by_window: tuple[Step, ...] = tuple(
        step for w in windows for step in (SetWindow(w), GetWindow(w))
    )
    return by_window if len(by_window) <= len(days) * per_day else by_day


def slot_span(slots: Iterable[Slot]) -> str:
    """ "2026-11-30 21:00 … 2026-12-01 03:30" for a log line."""
    ordered = sorted(slots)
    if not ordered:
        return ""
    first, last = ordered[0], ordered[-1]
    return str(first) if first == last else f"{first} … {last}"


__all__ = [
    "FIRST_FILL",
    "Capabilities",
    "GetDay",
    "GetWindow",
    "SetDay",
    "SetWindow",
    "Step",
    "missing_slots",
    "plan",
    "slot_span",
]
