"""The simulated meter's memory: its half-hour and one-minute registers, and their EDTs.

A real meter answers its history from the same counter it reports as E0/E3, so the
simulator records the integrated raw registers at every hh:00/hh:30 (and, for Release R,
every minute) and answers E2/E4, EC and EE from exactly those records. Anything it does
not hold (beyond the retention, before the fabricated past, in the future) is
0xFFFFFFFE, as on a meter. Layouts: protocol.md §7, encoded here independently of the
client's decoders so that a bug in one is not mirrored by the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta

from .household import Household

NOT_COLLECTED = 0xFFFFFFFE
HALF_HOUR = timedelta(minutes=30)
MINUTE = timedelta(minutes=1)
#: ED/EF before any Set: the time is all 0xFF (protocol.md §7)
UNSET_TIME = b"\xff" * 6
_PAST_STEP_S = 60.0
_MINUTES_KEPT = 24 * 60

Registers = tuple[int | None, int | None]  # (forward raw, reverse raw); None: not collected


def stamp(at: datetime) -> bytes:
    """YYYY(2) MM DD hh mm, the history request/answer time."""
    return at.year.to_bytes(2, "big") + bytes((at.month, at.day, at.hour, at.minute))


def parse_stamp(edt: bytes) -> datetime | None:
    try:
        return datetime(int.from_bytes(edt[:2], "big"), edt[2], edt[3], edt[4], edt[5])
    except (ValueError, IndexError):
        return None


def _u32(value: int | None) -> bytes:
    return (NOT_COLLECTED if value is None else value).to_bytes(4, "big")


class RegisterHistory:
    """Raw registers by meter time; half-hours kept for ``retention_days`` back from today."""

    def __init__(self, retention_days: int) -> None:
        self.retention_days = retention_days
        self.half_hours: dict[datetime, Registers] = {}
        self.minutes: dict[datetime, Registers] = {}

    def record(self, boundary: datetime, registers: Registers) -> None:
        self.half_hours[boundary] = registers
        if boundary.time() == time():  # a new day: the oldest one falls out
            oldest_kept = boundary - timedelta(days=self.retention_days)
            for old in [b for b in self.half_hours if b < oldest_kept]:
                del self.half_hours[old]

    def record_minute(self, minute: datetime, registers: Registers) -> None:
        self.minutes[minute] = registers
        while len(self.minutes) > _MINUTES_KEPT:
            del self.minutes[min(self.minutes)]

    def latest_at_or_before(self, boundary: datetime) -> tuple[datetime, Registers]:
        """The newest half-hour record not after ``boundary`` (EA/EB's answer)."""
        if boundary in self.half_hours:
            return boundary, self.half_hours[boundary]
        newest = max(b for b in self.half_hours if b <= boundary)
        return newest, self.half_hours[newest]

    def history1(self, today: date, day: int, reverse: bool) -> bytes:
        """E2 (forward) / E4 (reverse): the day number + the 48 registers of that day."""
        midnight = datetime.combine(today - timedelta(days=day), time())
        out = bytearray(day.to_bytes(2, "big"))
        for index in range(48):
            registers = self.half_hours.get(midnight + index * HALF_HOUR, (None, None))
            out += _u32(registers[1 if reverse else 0])
        return bytes(out)

    def history2(self, at: datetime | None, points: int) -> bytes:
        """EC: the ED time + N + N × (forward, reverse), each 30 minutes earlier."""
        return self._points(self.half_hours, at, points, HALF_HOUR)

    def history3(self, at: datetime | None, points: int) -> bytes:
        """EE: the EF time + N + N × (forward, reverse), each one minute earlier."""
        return self._points(self.minutes, at, points, MINUTE)

    @staticmethod
    def _points(
        records: dict[datetime, Registers], at: datetime | None, points: int, step: timedelta
    ) -> bytes:
        out = bytearray((UNSET_TIME if at is None else stamp(at)) + bytes((points,)))
        for index in range(points):
            forward, reverse = (
                (None, None) if at is None else records.get(at - index * step, (None, None))
            )
            out += _u32(forward) + _u32(reverse)
        return bytes(out)


def _kwh_between(household: Household, start: datetime, end: datetime) -> tuple[float, float]:
    """Import and export (kWh) of the household over ``[start, end)``."""
    imported = exported = 0.0
    at = start
    while at < end:
        step = min(_PAST_STEP_S, (end - at).total_seconds())
        watts = household.net_watts(at)
        kwh = abs(watts) * step / 3_600_000
        if watts >= 0:
            imported += kwh
        else:
            exported += kwh
        at += timedelta(seconds=step)
    return imported, exported


def past_registers(
    household: Household,
    start: datetime,
    oldest: datetime,
    now_kwh: tuple[float, float],
    raw: Callable[[float], int],
) -> Iterator[tuple[datetime, Registers]]:
    """The household run backwards from ``start``: the registers of every half-hour
    boundary from ``start`` back to ``oldest``, newest first.

    Each register is the one at ``start`` minus what the household used since that
    boundary, so the past joins the live counter without a step. A register that would
    fall below zero (e.g. export before a small initial value) was never collected.
    """
    boundary = start.replace(minute=start.minute - start.minute % 30, second=0, microsecond=0)
    imported, exported = now_kwh
    later = start
    while boundary >= oldest:
        used_in, used_out = _kwh_between(household, boundary, later)
        imported, exported = imported - used_in, exported - used_out
        yield (
            boundary,
            (
                raw(imported) if imported >= 0 else None,
                raw(exported) if exported >= 0 else None,
            ),
        )
        later, boundary = boundary, boundary - HALF_HOUR
