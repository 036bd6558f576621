"""The field encodings the meter's properties share: big-endian counters and date-times.

Kept apart so the property catalogue (``meter``) and the history layouts (``history``)
read a cumulative register and a meter date-time the same way.
"""

from __future__ import annotations

import datetime as _dt

#: no data / not collected, in every cumulative register (E0, E2, EA, EC, D0, EE ...)
CUMULATIVE_SPECIAL = frozenset({0xFFFFFFFE, 0xFFFFFFFF})


def uint(edt: bytes, size: int) -> int | None:
    """A big-endian unsigned integer of exactly ``size`` bytes, else None."""
    return int.from_bytes(edt, "big") if len(edt) == size else None


def counter(value: int) -> int | None:
    """A raw cumulative register; its "no data" codes become None."""
    return None if value in CUMULATIVE_SPECIAL else value


def meter_datetime(edt: bytes) -> _dt.datetime | None:
    """YYYY(2) MM DD hh mm [ss] (6 or 7 bytes) -> naive meter time; None if not a real one."""
    if len(edt) not in (6, 7):
        return None
    second = edt[6] if len(edt) == 7 else 0
    try:
        return _dt.datetime(int.from_bytes(edt[:2], "big"), edt[2], edt[3], edt[4], edt[5], second)
    except ValueError:
        return None


def encode_meter_minute(at: _dt.datetime) -> bytes:
    """A naive meter time as YYYY(2) MM DD hh mm (6 bytes, the history request layout)."""
    if at.tzinfo is not None:
        raise ValueError(f"meter times are naive JST wall-clock times, got {at.isoformat()}")
    if at.second or at.microsecond:
        raise ValueError(f"a history time is whole minutes, got {at.isoformat()}")
    return at.year.to_bytes(2, "big") + bytes((at.month, at.day, at.hour, at.minute))
