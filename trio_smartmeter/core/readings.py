"""From the meter's answer to a :class:`Reading`: which EPCs a poll asks for, and how the
properties of the answer become SI values. Pure.

Every poll is ONE Get frame. A session's first frame also carries the static properties
(standard version, manufacturer, D3, D7, E1, the Get and Set maps and the last
fixed-time values of both directions, EA and EB: the reverse one is not left to the next
half-hour's push, which real meters may not send),
so the scaling comes from the same frame as the first reading: one round trip, not two.
Later frames ask for E7, E8, E0, and E3 only if the meter has it, and D0 (the one-minute
values of a Release R meter) when its Get map lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import attrs

from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.echonet.history import decode_minute_energy
from trio_smartmeter.core.jst import meter_time_to_unix
from trio_smartmeter.core.model import (
    FixedTimeEnergy,
    HalfHour,
    MeterInfo,
    MeterScaling,
    MinuteEnergy,
    Reading,
)

#: The last fixed-time (half-hour) values, EA forward and EB reverse: the first frame's.
FIXED_EPCS = (epc.EPC_FIXED_FORWARD, epc.EPC_FIXED_REVERSE)
#: Read once per session, in the session's first poll frame (Get_SNA for some is fine).
STATIC_EPCS = (
    epc.EPC_STANDARD_VERSION,
    epc.EPC_MANUFACTURER,
    epc.EPC_PRODUCTION_NUMBER,
    epc.EPC_COEFFICIENT,
    epc.EPC_DIGITS,
    epc.EPC_UNIT,
    epc.EPC_GET_MAP,
    epc.EPC_SET_MAP,
    *FIXED_EPCS,
)
#: Every poll carries these (E3 too while the meter has it).
POLL_EPCS = (epc.EPC_POWER, epc.EPC_CURRENTS, epc.EPC_FORWARD)

Properties = Mapping[int, bytes]


class UnreadableAnswer(ValueError):
    """The answer lacks what a reading needs; the message says what."""


def poll_epcs(scaling: MeterScaling | None) -> tuple[int, ...]:
    """What the next poll asks for: the static EPCs too while the scaling is unknown."""
    if scaling is None:
        return STATIC_EPCS + POLL_EPCS + (epc.EPC_REVERSE,)
    return (
        POLL_EPCS
        + ((epc.EPC_REVERSE,) if scaling.has_reverse else ())
        + ((epc.EPC_ONE_MINUTE,) if scaling.minute_energy else ())
    )


def scaling_from(props: Properties) -> MeterScaling:
    """How raw cumulative values become energy, from the static EPCs of an answer."""
    if epc.EPC_UNIT not in props or (unit := epc.decode_unit(props[epc.EPC_UNIT])) is None:
        raise UnreadableAnswer("the meter did not give the unit of cumulative energy (EPC E1)")
    get_map = _map(props, epc.EPC_GET_MAP)
    set_map = _map(props, epc.EPC_SET_MAP) or frozenset()
    return MeterScaling(
        coefficient=epc.decode_coefficient(props.get(epc.EPC_COEFFICIENT, b"")),
        unit_kwh=unit,
        digits=epc.decode_digits(props[epc.EPC_DIGITS]) if epc.EPC_DIGITS in props else None,
        has_reverse=get_map is None or epc.EPC_REVERSE in get_map,
        history2=get_map is not None
        and epc.EPC_HISTORY2 in get_map
        and epc.EPC_HISTORY2_TIME in set_map,
        minute_energy=get_map is not None and epc.EPC_ONE_MINUTE in get_map,
    )


def _map(props: Properties, code: int) -> frozenset[int] | None:
    return epc.decode_property_map(props[code]) if code in props else None


def minute_energy_from(
    props: Properties, scaling: MeterScaling, received_monotonic: float
) -> MinuteEnergy | None:
    """D0 (Release R) as energy stamped with the meter's clock; None without it."""
    if epc.EPC_ONE_MINUTE not in props:
        return None
    minute = decode_minute_energy(props[epc.EPC_ONE_MINUTE])
    if minute is None:
        return None
    return MinuteEnergy(
        forward_joules=_joules(minute.forward, scaling),
        reverse_joules=_joules(minute.reverse, scaling),
        meter_timestamp_unix=minute.unix,
        received_monotonic=received_monotonic,
    )


def half_hour_from_fixed(
    edt: bytes, scaling: MeterScaling | None, *, reverse: bool
) -> HalfHour | None:
    """EA/EB as the store's row for the slot that ends at its timestamp."""
    record = epc.decode_fixed_time(edt)
    if record is None or record.raw is None or scaling is None:
        return None
    end = int(meter_time_to_unix(record.at))
    joules = _joules(record.raw, scaling)
    if reverse:
        return HalfHour(end, reverse_raw=record.raw, reverse_joules=joules)
    return HalfHour(end, forward_raw=record.raw, forward_joules=joules)


def meter_info_from(props: Properties) -> MeterInfo | None:
    if epc.EPC_MANUFACTURER not in props and epc.EPC_STANDARD_VERSION not in props:
        return None
    return MeterInfo(
        manufacturer=epc.decode_manufacturer(props.get(epc.EPC_MANUFACTURER, b"")),
        standard_version=epc.decode_standard_version(props.get(epc.EPC_STANDARD_VERSION, b""))
        or "",
        production_number=epc.decode_production_number(props.get(epc.EPC_PRODUCTION_NUMBER, b"")),
    )


def fixed_time_from(
    edt: bytes, scaling: MeterScaling | None, received_monotonic: float
) -> FixedTimeEnergy | None:
    """EA/EB as energy stamped with the meter's own clock; None for "no data"."""
    record = epc.decode_fixed_time(edt)
    if record is None or record.raw is None or scaling is None:
        return None
    return FixedTimeEnergy(
        joules=epc.energy_joules(record.raw, scaling.coefficient, scaling.unit_kwh),
        meter_timestamp_unix=meter_time_to_unix(record.at),
        received_monotonic=received_monotonic,
    )


@attrs.frozen
class RawCounters:
    """The cumulative registers of one answer, unscaled (None = no data)."""

    forward: int | None
    reverse: int | None


def reading_from(
    props: Properties,
    scaling: MeterScaling,
    *,
    received_monotonic: float,
    received_unix: float,
) -> tuple[Reading, RawCounters]:
    """The reading in an answer; raises :class:`UnreadableAnswer` when it has no value."""
    power = epc.decode_power(props[epc.EPC_POWER]) if epc.EPC_POWER in props else None
    r, t = (
        epc.decode_currents(props[epc.EPC_CURRENTS]) if epc.EPC_CURRENTS in props else (None, None)
    )
    raw = RawCounters(
        forward=_counter(props, epc.EPC_FORWARD), reverse=_counter(props, epc.EPC_REVERSE)
    )
    if power is None and r is None and raw.forward is None:
        raise UnreadableAnswer("the meter answered without any readable value")
    reading = Reading(
        power_watts=power,
        current_r_amperes=r,
        current_t_amperes=t,
        energy_forward_joules=_joules(raw.forward, scaling),
        energy_reverse_joules=_joules(raw.reverse, scaling),
        received_monotonic=received_monotonic,
        received_unix=received_unix,
    )
    return reading, raw


def _counter(props: Properties, code: int) -> int | None:
    return epc.decode_cumulative(props[code]) if code in props else None


def _joules(raw: int | None, scaling: MeterScaling) -> Decimal | None:
    if raw is None:
        return None
    return epc.energy_joules(raw, scaling.coefficient, scaling.unit_kwh)


@attrs.define
class EnergyCounterWatch:
    """Notices when the forward register goes down: a roll-over at 10^D7 or a reset."""

    last_forward: int | None = None

    def observe(
        self, forward: int | None, digits: int | None
    ) -> Literal["rollover", "reset"] | None:
        previous = self.last_forward
        if forward is not None:
            self.last_forward = forward
        if forward is None or previous is None or forward >= previous:
            return None
        return epc.classify_decrease(previous, forward, digits)
