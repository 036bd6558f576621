# This is the only place that knows EPC units, sizes, signedness and special values of the
# low-voltage smart electric energy meter (class 0x028801) and of the node profile's
# instance list (its history layouts live beside it, in history.py). Everything above this module sees plain values: int watts, Decimal
# amperes and kWh factors, raw counters, None for "no data".
"""The 0x028801 property catalogue (protocol.md §7, §8): EPCs, decoders and ``describe``.

Every ``decode_*`` is total: a wrong EDT length or a special value ("no data",
overflow, underflow) gives ``None`` (or the documented neutral value), never an
exception and never a sentinel number dressed up as a reading.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Literal

import attrs

from ._fields import counter as _counter
from ._fields import meter_datetime as _datetime
from ._fields import uint as _uint
from ._frame import EOJ, NODE_PROFILE
from .history import (
    HALF_HOUR_SECONDS,
    HistoryTime,
    decode_history1,
    decode_history2,
    decode_history2_time,
    decode_history3,
    decode_history3_time,
    decode_minute_energy,
)

# -- EPCs of the smart meter (0x028801) -------------------------------------------------
EPC_STANDARD_VERSION = 0x82
EPC_PRODUCTION_NUMBER = 0x8D
EPC_MANUFACTURER = 0x8A
EPC_SET_MAP = 0x9E
EPC_GET_MAP = 0x9F
EPC_ONE_MINUTE = 0xD0
EPC_COEFFICIENT = 0xD3
EPC_DIGITS = 0xD7
EPC_FORWARD = 0xE0
EPC_UNIT = 0xE1
EPC_HISTORY_FORWARD = 0xE2
EPC_REVERSE = 0xE3
EPC_HISTORY_REVERSE = 0xE4
EPC_HISTORY_DAY = 0xE5
EPC_POWER = 0xE7
EPC_CURRENTS = 0xE8
EPC_FIXED_FORWARD = 0xEA
EPC_FIXED_REVERSE = 0xEB
EPC_HISTORY2 = 0xEC
EPC_HISTORY2_TIME = 0xED

# -- special values ---------------------------------------------------------------------
POWER_SPECIAL = frozenset({0x7FFFFFFE, 0x7FFFFFFF, 0x80000000})  # no data, overflow, underflow
CURRENT_SPECIAL = frozenset({0x7FFE, 0x7FFF, 0x8000})  # no data (T on 1φ2W), overflow, underflow

#: EPC 0xE1 code -> kWh per raw unit
UNITS_KWH: Mapping[int, Decimal] = {
    0x00: Decimal("1"),
    0x01: Decimal("0.1"),
    0x02: Decimal("0.01"),
    0x03: Decimal("0.001"),
    0x04: Decimal("0.0001"),
    0x0A: Decimal("10"),
    0x0B: Decimal("100"),
    0x0C: Decimal("1000"),
    0x0D: Decimal("10000"),
}
COEFFICIENT_MAX = 999_999
JOULES_PER_KWH = 3_600_000


#: An EA/EB value is fresh for one push period plus the meter's few minutes of slack.
FIXED_TIME_FRESH = HALF_HOUR_SECONDS + 600.0


@attrs.frozen
class FixedTimeRecord:
    """EPC 0xEA/0xEB: a cumulative value the meter took at a fixed time (hh:00 / hh:30).

    ``at`` is the meter's own local clock (JST), naive. ``raw`` is None for "no data".
    """

    at: _dt.datetime
    raw: int | None


# -- decoders (the contract in docs/architecture.md) -------------------------------------
def decode_power(edt: bytes) -> int | None:
    """EPC 0xE7: signed int32 watts (negative = reverse flow); special values -> None."""
    raw = _uint(edt, 4)
    if raw is None or raw in POWER_SPECIAL:
        return None
    return raw - (1 << 32) if raw & 0x80000000 else raw


def _current(raw: int) -> Decimal | None:
    if raw in CURRENT_SPECIAL:
        return None
    signed = raw - (1 << 16) if raw & 0x8000 else raw
    return Decimal(signed).scaleb(-1)


def decode_currents(edt: bytes) -> tuple[Decimal | None, Decimal | None]:
    """EPC 0xE8: (R, T) in amperes, signed int16 × 0.1 A each; special values -> None.

    Single-phase two-wire meters report T = 0x7FFE ("no data") -> T is None.
    """
    if len(edt) != 4:
        return (None, None)
    return (
        _current(int.from_bytes(edt[:2], "big")),
        _current(int.from_bytes(edt[2:], "big")),
    )


def decode_cumulative(edt: bytes) -> int | None:
    """EPC 0xE0/0xE3: uint32 raw counter; 0xFFFFFFFE/0xFFFFFFFF ("no data") -> None."""
    raw = _uint(edt, 4)
    return None if raw is None else _counter(raw)


def decode_coefficient(edt: bytes) -> int:
    """EPC 0xD3: uint32 1..999999. Optional: absent / PDC 0 / malformed / 0 -> 1."""
    raw = _uint(edt, 4)
    if raw is None or not 1 <= raw <= COEFFICIENT_MAX:
        return 1
    return raw


def decode_unit(edt: bytes) -> Decimal | None:
    """EPC 0xE1: kWh per raw unit (0x02 -> Decimal("0.01")); unknown code -> None."""
    code = _uint(edt, 1)
    return None if code is None else UNITS_KWH.get(code)


def decode_digits(edt: bytes) -> int | None:
    """EPC 0xD7: number of effective digits of the cumulative counters, 1..8."""
    digits = _uint(edt, 1)
    return digits if digits is not None and 1 <= digits <= 8 else None


def decode_fixed_time(edt: bytes) -> FixedTimeRecord | None:
    """EPC 0xEA/0xEB: YYYY MM DD hh mm ss + uint32; an impossible date -> None."""
    if len(edt) != 11:
        return None
    at = _datetime(edt[:7])
    if at is None:
        return None
    return FixedTimeRecord(at=at, raw=_counter(int.from_bytes(edt[7:], "big")))


def decode_one_minute(edt: bytes) -> tuple[_dt.datetime, int | None, int | None] | None:
    """EPC 0xD0: (time, forward raw, reverse raw); newer meters only (see
    :func:`~.history.decode_minute_energy`)."""
    energy = decode_minute_energy(edt)
    return None if energy is None else (energy.at, energy.forward, energy.reverse)


def decode_history(edt: bytes) -> tuple[int, tuple[int | None, ...]] | None:
    """EPC 0xE2/0xE4: (days ago, 48 half-hour raw values from 00:00; None = not collected)."""
    history = decode_history1(edt)
    return None if history is None else (history.day, history.registers)


def decode_standard_version(edt: bytes) -> str | None:
    """EPC 0x82 of a device object: ``00 00 'F' 00`` -> "F" (the Appendix release letter)."""
    if len(edt) != 4 or not 0x41 <= edt[2] <= 0x5A:
        return None
    return chr(edt[2])


def decode_production_number(edt: bytes) -> str | None:
    """EPC 0x8D: the meter's production (serial) number, 12 ASCII; malformed -> None."""
    return _render_ascii(edt) or None


def decode_manufacturer(edt: bytes) -> str:
    """EPC 0x8A: 3-byte manufacturer code as 6 upper-case hex digits; malformed -> ""."""
    return edt.hex().upper() if len(edt) == 3 else ""


def decode_instance_list(edt: bytes) -> tuple[EOJ, ...]:
    """Node profile 0xD5/0xD6: count(1) + count × EOJ(3); malformed -> ()."""
    if not edt or len(edt) != 1 + 3 * edt[0]:
        return ()
    return tuple(EOJ.from_bytes(edt[i : i + 3]) for i in range(1, len(edt), 3))


def decode_property_map(edt: bytes) -> frozenset[int]:
    """EPC 0x9D/0x9E/0x9F: count N, then N EPCs (N < 16) or a 16-byte bitmap.

    In the bitmap, bit j of byte i means EPC ``0x80 + (j << 4) + i``. Malformed -> empty.
    """
    if not edt:
        return frozenset()
    count = edt[0]
    if count < 16:
        return frozenset(edt[1:]) if len(edt) == 1 + count else frozenset()
    if len(edt) != 17:
        return frozenset()
    return frozenset(
        0x80 + (bit << 4) + index
        for index, byte in enumerate(edt[1:])
        for bit in range(8)
        if byte & (1 << bit)
    )


def energy_joules(raw: int, coefficient: int, unit_kwh: Decimal) -> Decimal:
    """Exact energy: raw × coefficient × unit (kWh) × 3 600 000 J/kWh."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        return Decimal(raw) * coefficient * unit_kwh * JOULES_PER_KWH


def classify_decrease(
    previous: int, current: int, digits: int | None
) -> Literal["rollover", "reset"]:
    """Why a cumulative counter went down.

    "rollover" when the counter plausibly wrapped at ``10**digits``: the previous value
    was in the top 10 % of the range and the current one is in the bottom 10 %.
    Anything else (or unknown digits) is a "reset" of the meter's counter.
    """
    if digits is None:
        return "reset"
    modulus = 10**digits
    if 9 * modulus <= 10 * previous < 10 * modulus and 0 <= 10 * current < modulus:
        return "rollover"
    return "reset"


# -- describe: the human view used by the `read` CLI ------------------------------------
def _or_na(value: object | None) -> str | None:
    return None if value is None else str(value)


def _render_power(edt: bytes) -> str | None:
    watts = decode_power(edt)
    return None if watts is None else f"{watts} W"


def _render_currents(edt: bytes) -> str | None:
    if len(edt) != 4:
        return None
    r, t = decode_currents(edt)
    return f"R {_or_na(r) or 'n/a'} A, T {_or_na(t) or 'n/a'} A"


def _render_cumulative(edt: bytes) -> str | None:
    raw = decode_cumulative(edt)
    return None if raw is None else f"{raw} (raw units)"


def _render_fixed(edt: bytes) -> str | None:
    fixed = decode_fixed_time(edt)
    if fixed is None:
        return None
    value = "no data" if fixed.raw is None else f"{fixed.raw} (raw units)"
    return f"{fixed.at.isoformat(sep=' ')}: {value}"


def _render_one_minute(edt: bytes) -> str | None:
    decoded = decode_one_minute(edt)
    if decoded is None:
        return None
    at, forward, reverse = decoded
    forward_text = _or_na(forward) or "n/a"
    reverse_text = _or_na(reverse) or "n/a"
    return f"{at.isoformat(sep=' ')}: forward {forward_text}, reverse {reverse_text} (raw units)"


def _render_history(edt: bytes) -> str | None:
    decoded = decode_history(edt)
    if decoded is None:
        return None
    day, values = decoded
    collected = sum(v is not None for v in values)
    return f"{day} day(s) ago: {collected}/48 half-hour values"


def _render_points(at: _dt.datetime | None, count: int, collected: int) -> str:
    if at is None:
        return "not set (no data)"
    return f"{count} point(s) back from {at.isoformat(sep=' ', timespec='minutes')}, {collected} collected"


def _render_history2(edt: bytes) -> str | None:
    decoded = decode_history2(edt)
    if decoded is None:
        return None
    collected = sum(p.forward is not None for p in decoded.points)
    return _render_points(decoded.at, len(decoded.points), collected)


def _render_history3(edt: bytes) -> str | None:
    decoded = decode_history3(edt)
    if decoded is None:
        return None
    collected = sum(p.forward is not None for p in decoded.points)
    return _render_points(decoded.at, len(decoded.points), collected)


def _render_history_time(
    decode: Callable[[bytes], HistoryTime | None],
) -> Callable[[bytes], str | None]:
    def render(edt: bytes) -> str | None:
        time = decode(edt)
        if time is None:
            return None
        if time.at is None:
            return f"not set ({time.points} point(s))"
        return f"{time.at.isoformat(sep=' ', timespec='minutes')}, {time.points} point(s)"

    return render


def _render_coefficient(edt: bytes) -> str | None:
    if not edt:
        return "1 (not provided)"
    return str(decode_coefficient(edt)) if _uint(edt, 4) is not None else None


def _render_unit(edt: bytes) -> str | None:
    unit = decode_unit(edt)
    return None if unit is None else f"{unit} kWh"


def _render_digits(edt: bytes) -> str | None:
    digits = decode_digits(edt)
    return None if digits is None else f"{digits} digits"


def _render_map(edt: bytes) -> str | None:
    epcs = decode_property_map(edt)
    if not epcs and edt != b"\x00":
        return None
    return " ".join(f"{epc:02X}" for epc in sorted(epcs)) or "(none)"


def _render_instances(edt: bytes) -> str | None:
    eojs = decode_instance_list(edt)
    if not eojs and edt != b"\x00":
        return None
    return " ".join(str(eoj) for eoj in eojs) or "(none)"


def _render_choice(choices: Mapping[int, str]) -> Callable[[bytes], str | None]:
    def render(edt: bytes) -> str | None:
        code = _uint(edt, 1)
        return None if code is None else choices.get(code)

    return render


def _render_uint(size: int, suffix: str = "") -> Callable[[bytes], str | None]:
    def render(edt: bytes) -> str | None:
        value = _uint(edt, size)
        return None if value is None else f"{value}{suffix}"

    return render


def _render_standard_version(edt: bytes) -> str | None:
    letter = decode_standard_version(edt)
    return None if letter is None else f"Release {letter}"


def _render_manufacturer(edt: bytes) -> str | None:
    return decode_manufacturer(edt) or None


def _render_ascii(edt: bytes) -> str | None:
    text = edt.rstrip(b"\x00 ")
    if not all(0x20 <= byte <= 0x7E for byte in text):
        return None
    return text.decode("ascii")


def _render_time(edt: bytes) -> str | None:
    if len(edt) != 2 or edt[0] > 23 or edt[1] > 59:
        return None
    return f"{edt[0]:02d}:{edt[1]:02d}"


def _render_date(edt: bytes) -> str | None:
    if len(edt) != 4:
        return None
    try:
        return _dt.date(int.from_bytes(edt[:2], "big"), edt[2], edt[3]).isoformat()
    except ValueError:
        return None


def _render_hidden(edt: bytes) -> str | None:
    return f"({len(edt)} bytes, not shown)"  # the B-route ID: never printed


def _render_np_version(edt: bytes) -> str | None:
    if len(edt) != 4:
        return None
    return f"{edt[0]}.{edt[1]} (message format 0x{edt[2]:02X})"


def _render_class_list(edt: bytes) -> str | None:
    if not edt or len(edt) != 1 + 2 * edt[0]:
        return None
    return " ".join(edt[i : i + 2].hex().upper() for i in range(1, len(edt), 2)) or "(none)"


@attrs.frozen
class _Entry:
    name: str
    render: Callable[[bytes], str | None]
    empty_ok: bool = False  # PDC 0 has a meaning of its own (D3: "absent => 1")


def _hex(edt: bytes) -> str | None:
    return edt.hex().upper()


_COMMON: Mapping[int, _Entry] = {
    0x80: _Entry("operation status", _render_choice({0x30: "on", 0x31: "off"})),
    0x88: _Entry("fault status", _render_choice({0x41: "fault", 0x42: "no fault"})),
    0x8A: _Entry("manufacturer code", _render_manufacturer),
    0x9D: _Entry("status-change announcement property map", _render_map),
    0x9E: _Entry("set property map", _render_map),
    0x9F: _Entry("get property map", _render_map),
}

#: EPC -> name and renderer, for 0x028801
CATALOGUE: Mapping[int, _Entry] = {
    **_COMMON,
    0x81: _Entry("installation location", _hex),
    0x82: _Entry("standard version", _render_standard_version),
    0x8D: _Entry("production number", _render_ascii),
    0x97: _Entry("current time", _render_time),
    0x98: _Entry("current date", _render_date),
    0xC0: _Entry("B-route identification number", _render_hidden),
    0xD0: _Entry("one-minute cumulative energy", _render_one_minute),
    0xD3: _Entry("coefficient", _render_coefficient, empty_ok=True),
    0xD7: _Entry("effective digits", _render_digits),
    0xE0: _Entry("cumulative energy (normal direction)", _render_cumulative),
    0xE1: _Entry("unit for cumulative energy", _render_unit),
    0xE2: _Entry("historical cumulative energy 1 (normal)", _render_history),
    0xE3: _Entry("cumulative energy (reverse direction)", _render_cumulative),
    0xE4: _Entry("historical cumulative energy 1 (reverse)", _render_history),
    0xE5: _Entry("day for historical data 1", _render_uint(1, " day(s) ago")),
    0xE7: _Entry("instantaneous power", _render_power),
    0xE8: _Entry("instantaneous current", _render_currents),
    0xEA: _Entry("cumulative energy at fixed time (normal)", _render_fixed),
    0xEB: _Entry("cumulative energy at fixed time (reverse)", _render_fixed),
    0xEC: _Entry("historical cumulative energy 2", _render_history2),
    0xED: _Entry("day/time for historical data 2", _render_history_time(decode_history2_time)),
    0xEE: _Entry("historical cumulative energy 3", _render_history3),
    0xEF: _Entry("day/time for historical data 3", _render_history_time(decode_history3_time)),
    0xD5: _Entry("instance list notification", _render_instances),
}

#: EPC -> name and renderer, for the node profile 0x0EF001
NODE_PROFILE_CATALOGUE: Mapping[int, _Entry] = {
    **_COMMON,
    0x82: _Entry("version information", _render_np_version),
    0x83: _Entry("identification number", _hex),
    0xD3: _Entry("number of self-node instances", _render_uint(3)),
    0xD4: _Entry("number of self-node classes", _render_uint(2)),
    0xD5: _Entry("instance list notification", _render_instances),
    0xD6: _Entry("self-node instance list S", _render_instances),
    0xD7: _Entry("self-node class list S", _render_class_list),
}


def describe(epc: int, edt: bytes, *, eoj: EOJ | None = None) -> tuple[str, str]:
    """(property name, human-readable value) for one property; never raises.

    ``eoj`` selects the node-profile meanings (D3/D7 differ); default: the smart meter.
    An unknown EPC gives ``("0xNN", hex)``; PDC 0 gives "n/a (no data)"; an EDT that does
    not decode gives "invalid: <hex>".
    """
    table = NODE_PROFILE_CATALOGUE if eoj == NODE_PROFILE else CATALOGUE
    entry = table.get(epc)
    if entry is None:
        return (f"0x{epc:02X}", edt.hex().upper())
    if not edt and not entry.empty_ok:
        return (entry.name, "n/a (no data)")
    value = entry.render(edt)
    if value is None:
        return (entry.name, f"invalid or no data: {edt.hex().upper()}")
    return (entry.name, value)
