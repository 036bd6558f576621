"""The meter's own past: half-hour registers (history 1 and 2) and one-minute energy (D0, history 3).

Every low-voltage meter keeps its half-hour cumulative registers for weeks, so a gap in
the exporter's data (a reboot, an unplugged stick) can be filled from the meter itself.
Layouts follow protocol.md §7 (class 0x028801, Appendix Release F..R):

* history 1: Set E5 (day 0..99 back), Get E2 (forward) / E4 (reverse) = u16 day + 48 × u32
  for 00:00 … 23:30 of that day;
* history 2: Set ED (YYYY MM DD hh mm + N), Get EC = the set time + N + N × (u32 forward,
  u32 reverse), each point 30 minutes earlier than the one before;
* Release R: D0 = the latest one-minute registers (date-time + u32 + u32); history 3: Set
  EF, Get EE, laid out like history 2 with one-minute steps (N ≤ 10).

Times are the meter's naive JST wall clock, never the host's: a register read at ``T``
belongs to the half-hour that ends at ``T`` (:meth:`Slot.ending_at`). Decoders are total:
a malformed EDT gives None, a "no data" register gives a None value; encoders raise
``ValueError`` for an argument the meter would refuse.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

import attrs

from trio_smartmeter.core.jst import meter_time_to_unix

from ._fields import counter, encode_meter_minute, meter_datetime, uint

__all__ = [
    "HALF_HOUR",
    "HALF_HOUR_SECONDS",
    "HISTORY1_MAX_DAY",
    "HISTORY1_SLOTS",
    "HISTORY2_MAX_POINTS",
    "HISTORY3_MAX_POINTS",
    "History1",
    "History2",
    "History3",
    "HistoryTime",
    "MinuteEnergy",
    "Slot",
    "SlotRegisters",
    "decode_history1",
    "decode_history2",
    "decode_history2_time",
    "decode_history3",
    "decode_history3_time",
    "decode_history_day",
    "decode_meter_clock",
    "decode_minute_energy",
    "encode_history2_request",
    "encode_history3_request",
    "encode_history_day",
    "history1_days",
    "history2_windows",
]

HALF_HOUR = _dt.timedelta(minutes=30)
#: The same, in seconds: the one home of the half-hour's length (the store's slot width,
#: the meter's EA/EB push period).
HALF_HOUR_SECONDS = int(HALF_HOUR.total_seconds())
_MINUTE = _dt.timedelta(minutes=1)
HISTORY1_MAX_DAY = 99
HISTORY1_SLOTS = 48
HISTORY2_MAX_POINTS = 12
HISTORY3_MAX_POINTS = 10
_HISTORY1_SIZE = 2 + HISTORY1_SLOTS * 4
_TIME_SIZE = 7  # YYYY(2) MM DD hh mm + N


def _is_boundary(at: _dt.datetime) -> bool:
    return at.minute in (0, 30) and at.second == 0 and at.microsecond == 0


def _slot_start(_inst: Any, _attribute: Any, value: _dt.datetime) -> None:
    if value.tzinfo is not None or not _is_boundary(value):
        raise ValueError(f"a slot starts at a naive hh:00 or hh:30, got {value.isoformat()}")


@attrs.frozen(order=True)
class Slot:
    """A half-hour of the meter's clock, ``[start, end)``; its register is the one read at ``end``."""

    start: _dt.datetime = attrs.field(validator=_slot_start)

    @classmethod
    def containing(cls, at: _dt.datetime) -> Slot:
        """The half-hour in which a meter time falls (the one now being measured)."""
        return cls(at.replace(minute=at.minute - at.minute % 30, second=0, microsecond=0))

    @classmethod
    def ending_at(cls, boundary: _dt.datetime) -> Slot:
        """The half-hour whose register the meter read at ``boundary`` (hh:00 / hh:30)."""
        if boundary.tzinfo is not None or not _is_boundary(boundary):
            raise ValueError(f"registers are read at hh:00 or hh:30, got {boundary.isoformat()}")
        return cls(boundary - HALF_HOUR)

    @property
    def end(self) -> _dt.datetime:
        return self.start + HALF_HOUR

    @property
    def unix_end(self) -> float:
        """When the register was read, as a Unix time (the OpenMetrics sample time)."""
        return meter_time_to_unix(self.end)

    def shifted(self, count: int) -> Slot:
        """The slot ``count`` half-hours later (negative: earlier)."""
        return Slot(self.start + count * HALF_HOUR)

    def __str__(self) -> str:
        return self.start.isoformat(sep=" ", timespec="minutes")


@attrs.frozen
class SlotRegisters:
    """Both cumulative registers (raw units) read at the end of ``slot``; None = no data."""

    slot: Slot
    forward: int | None
    reverse: int | None


@attrs.frozen
class MinuteEnergy:
    """D0 or one point of EE: both registers (raw) at a one-minute meter time."""

    at: _dt.datetime
    forward: int | None
    reverse: int | None

    @property
    def unix(self) -> float:
        return meter_time_to_unix(self.at)


@attrs.frozen
class History1:
    """E2 or E4: the day the meter answered for and its 48 registers for 00:00 … 23:30.

    ``day`` is what the meter's E5 held when it answered: compare it with the day set,
    another HEMS (or a retried Set) may have changed it in between.
    """

    day: int
    registers: tuple[int | None, ...]

    def date(self, meter_today: _dt.date) -> _dt.date:
        """The calendar day of the registers, counted back from the meter's today."""
        return meter_today - _dt.timedelta(days=self.day)

    def slots(self, meter_today: _dt.date) -> tuple[tuple[Slot, int | None], ...]:
        """(slot, raw) in time order; register k (read at 00:00 + k × 30 min) ends slot k."""
        midnight = _dt.datetime.combine(self.date(meter_today), _dt.time())
        return tuple(
            (Slot.ending_at(midnight + k * HALF_HOUR), raw) for k, raw in enumerate(self.registers)
        )


@attrs.frozen
class HistoryTime:
    """ED / EF: the newest point asked for and how many; ``at`` None = never set (0xFFFF…)."""

    at: _dt.datetime | None
    points: int


@attrs.frozen
class History2:
    """EC: the registers of ``len(points)`` half-hours, newest first; ``at`` None = no data."""

    at: _dt.datetime | None
    points: tuple[SlotRegisters, ...]


@attrs.frozen
class History3:
    """EE (Release R): one-minute registers, newest first; ``at`` None = no data."""

    at: _dt.datetime | None
    points: tuple[MinuteEnergy, ...]


# -- history 1 ----------------------------------------------------------------------------
def encode_history_day(day: int) -> bytes:
    """E5's EDT for a SetC: the day counted back from the meter's today (0 = today)."""
    if not 0 <= day <= HISTORY1_MAX_DAY:
        raise ValueError(f"history 1 day must be 0..{HISTORY1_MAX_DAY}, got {day!r}")
    return bytes((day,))


def decode_history_day(edt: bytes) -> int | None:
    """E5 as a Get answers it: the day currently set; None when not 0..99."""
    day = uint(edt, 1)
    return day if day is not None and day <= HISTORY1_MAX_DAY else None


def decode_history1(edt: bytes) -> History1 | None:
    """E2 / E4: u16 day + 48 × u32; 0xFFFFFFFE ("not collected") registers are None."""
    if len(edt) != _HISTORY1_SIZE:
        return None
    registers = tuple(counter(int.from_bytes(edt[i : i + 4], "big")) for i in range(2, len(edt), 4))
    return History1(day=int.from_bytes(edt[:2], "big"), registers=registers)


# -- history 2 and 3: one shape, different steps ------------------------------------------
def _encode_request(at: _dt.datetime, points: int, limit: int) -> bytes:
    if not 1 <= points <= limit:
        raise ValueError(f"a history request asks for 1..{limit} points, got {points!r}")
    return encode_meter_minute(at) + bytes((points,))


def _decode_time(edt: bytes) -> HistoryTime | None:
    if len(edt) != _TIME_SIZE:
        return None
    return HistoryTime(at=meter_datetime(edt[:6]), points=edt[6])


def _decode_points(
    edt: bytes, step: _dt.timedelta
) -> tuple[_dt.datetime | None, tuple[tuple[_dt.datetime, int | None, int | None], ...]] | None:
    """The shared EC/EE layout; (None, ()) for the unset form, None when malformed."""
    time = _decode_time(edt[:_TIME_SIZE])
    if time is None:
        return None
    if time.at is None:
        return (None, ())  # the default 0xFFFF… form: no data, whatever follows
    if len(edt) != _TIME_SIZE + 8 * time.points:
        return None
    points = tuple(
        (
            time.at - index * step,
            counter(int.from_bytes(edt[offset : offset + 4], "big")),
            counter(int.from_bytes(edt[offset + 4 : offset + 8], "big")),
        )
        for index, offset in enumerate(range(_TIME_SIZE, len(edt), 8))
    )
    return (time.at, points)


def encode_history2_request(at: _dt.datetime, points: int) -> bytes:
    """ED's EDT for a SetC: the newest half-hour register wanted (meter time) and how many."""
    if not _is_boundary(at):
        raise ValueError(f"history 2 starts at hh:00 or hh:30, got {at.isoformat()}")
    return _encode_request(at, points, HISTORY2_MAX_POINTS)


def decode_history2_time(edt: bytes) -> HistoryTime | None:
    """ED as a Get answers it (``at`` None: unset)."""
    return _decode_time(edt)


def decode_history2(edt: bytes) -> History2 | None:
    """EC: 7 + 8N bytes; the unset form decodes to ``History2(at=None, points=())``."""
    decoded = _decode_points(edt, HALF_HOUR)
    if decoded is None:
        return None
    at, points = decoded
    if at is not None and not _is_boundary(at):
        return None
    return History2(
        at=at,
        points=tuple(SlotRegisters(Slot.ending_at(t), fwd, rev) for t, fwd, rev in points),
    )


def encode_history3_request(at: _dt.datetime, points: int) -> bytes:
    """EF's EDT for a SetC (Release R): the newest one-minute register wanted and how many."""
    return _encode_request(at, points, HISTORY3_MAX_POINTS)


def decode_history3_time(edt: bytes) -> HistoryTime | None:
    """EF as a Get answers it (``at`` None: unset, the default ``FFFF FF FF FF FF 01``)."""
    return _decode_time(edt)


def decode_history3(edt: bytes) -> History3 | None:
    """EE: laid out as EC with one-minute steps; the unset form decodes to no points."""
    decoded = _decode_points(edt, _MINUTE)
    if decoded is None:
        return None
    at, points = decoded
    return History3(at=at, points=tuple(MinuteEnergy(t, fwd, rev) for t, fwd, rev in points))


# -- Release R: the latest one-minute registers, and the meter's clock --------------------
def decode_minute_energy(edt: bytes) -> MinuteEnergy | None:
    """D0: YYYY MM DD hh mm ss + u32 forward + u32 reverse; None for an impossible time."""
    if len(edt) != 15:
        return None
    at = meter_datetime(edt[:7])
    if at is None:
        return None
    return MinuteEnergy(
        at=at,
        forward=counter(int.from_bytes(edt[7:11], "big")),
        reverse=counter(int.from_bytes(edt[11:], "big")),
    )


def decode_meter_clock(date_edt: bytes, time_edt: bytes) -> _dt.datetime | None:
    """0x98 (YYYY MM DD) + 0x97 (hh mm) -> the meter's naive JST time; None if malformed."""
    if len(date_edt) != 4 or len(time_edt) != 2:
        return None
    return meter_datetime(date_edt + time_edt)


# -- what to ask for, for a set of missing slots ------------------------------------------
def history2_windows(
    missing: Iterable[Slot], points: int = HISTORY2_MAX_POINTS
) -> tuple[HistoryTime, ...]:
    """The ED settings that cover ``missing``, newest first, each at most ``points`` long.

    A window starts at the newest slot still missing and reaches no further back than
    the oldest missing slot it can cover, so no frame carries registers already stored.
    """
    if not 1 <= points <= HISTORY2_MAX_POINTS:
        raise ValueError(f"points must be 1..{HISTORY2_MAX_POINTS}, got {points!r}")
    pending = sorted(set(missing), reverse=True)
    windows: list[HistoryTime] = []
    while pending:
        newest = pending[0]
        covered = [s for s in pending if s.start > newest.start - points * HALF_HOUR]
        span = (newest.start - covered[-1].start) // HALF_HOUR + 1
        windows.append(HistoryTime(at=newest.end, points=span))
        pending = pending[len(covered) :]
    return tuple(windows)


def history1_days(missing: Iterable[Slot], meter_today: _dt.date) -> tuple[int, ...]:
    """The E5 days whose E2/E4 hold the registers of ``missing``, newest first.

    A slot's register is read at its end, so the slot 23:30-00:00 is in the next day's
    answer. Slots beyond the meter's 99 days (or in its future) are left out.
    """
    days = {(meter_today - slot.end.date()).days for slot in missing}
    return tuple(sorted(d for d in days if 0 <= d <= HISTORY1_MAX_DAY))
