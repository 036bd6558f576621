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


@attrs.frozen
class GetLatest:
    """Get EA and/or EB: the newest slot's registers, one frame and no Set (a live push
    of EA alone leaves the reverse value of that slot to read)."""

    forward: bool
    reverse: bool


Step = SetDay | GetDay | SetWindow | GetWindow | GetLatest


def missing_slots(
    newest_boundary: _dt.datetime,
    known_ends: Set[int],
    *,
    oldest_known_end: int | None,
    unavailable: Set[int] = frozenset(),
    reach_back_to: _dt.datetime | None = None,
) -> list[Slot]:
    """The slots up to ``newest_boundary`` (meter time) that are not complete, newest first.

    ``known_ends`` are the slots complete in the store: every direction the meter
    measures is known (a slot with its forward value alone, from a live EA push, is
    missing while the meter measures reverse energy too).

    The window covers at least the last :data:`FIRST_FILL` and reaches back to the
    oldest stored slot, never past what the meter keeps; ``unavailable`` are slots the
    meter answered "not collected" for. ``reach_back_to`` (meter time) widens the window
    to the slot starting then: with a tariff, the start of the previous billing period
    (:func:`trio_smartmeter.core.bill.backfill_oldest_slot`), so both bills become complete;
    newest first still, so the current period is complete first.
    """
    newest = Slot.ending_at(newest_boundary)
    start = newest_boundary - FIRST_FILL
    if oldest_known_end is not None:
        start = min(start, _from_unix(oldest_known_end, newest))
    if reach_back_to is not None:
        start = min(start, reach_back_to)
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
    missing: Iterable[Slot],
    capabilities: Capabilities,
    meter_today: _dt.date,
    *,
    have_forward: Set[int] = frozenset(),
    have_reverse: Set[int] = frozenset(),
    newest: Slot | None = None,
) -> tuple[Step, ...]:
    """The frames that read ``missing`` back, newest first, fewest frames.

    A missing slot lacks at least one direction the meter measures; ``have_forward`` and
    ``have_reverse`` are the slot ends whose forward / reverse value is already stored,
    so history 1 asks E2 or E4 only for the days that lack it (a slot pushed live by EA
    alone needs E4, not E2 again). When only ``newest`` (the slot of the meter's latest
    boundary) is missing, EA/EB give it in one frame.
    """
    slots = sorted(set(missing), reverse=True)
    if not slots:
        return ()
    if newest is not None and slots == [newest]:
        end = int(newest.unix_end)
        reverse = capabilities.reverse and end not in have_reverse
        return (GetLatest(forward=end not in have_forward, reverse=reverse),)
    by_day: list[Step] = []
    for day in history1_days(slots, meter_today):
        of_day = [int(s.unix_end) for s in slots if (meter_today - s.end.date()).days == day]
        forward = any(end not in have_forward for end in of_day)
        reverse = capabilities.reverse and any(end not in have_reverse for end in of_day)
        if not forward and not reverse:
            continue
        by_day.append(SetDay(day))
        by_day.extend(
            GetDay(day, reverse=r) for r, need in ((False, forward), (True, reverse)) if need
        )
    if not capabilities.history2:
        return tuple(by_day)
    windows = history2_windows(slots)
    by_window: tuple[Step, ...] = tuple(
        step for w in windows for step in (SetWindow(w), GetWindow(w))
    )
    return by_window if len(by_window) <= len(by_day) else tuple(by_day)


def missing_directions(
    missing: Iterable[Slot], *, have_forward: Set[int], have_reverse: Set[int], reverse: bool
) -> tuple[set[Slot], set[Slot]]:
    """The slots of ``missing`` that lack their forward value, and those that lack their
    reverse one (none when the meter measures no reverse energy)."""
    slots = set(missing)
    return (
        {s for s in slots if int(s.unix_end) not in have_forward},
        {s for s in slots if reverse and int(s.unix_end) not in have_reverse},
    )


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
    "GetLatest",
    "GetWindow",
    "SetDay",
    "SetWindow",
    "Step",
    "missing_directions",
    "missing_slots",
    "plan",
    "slot_span",
]
