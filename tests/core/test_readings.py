"""From a Get answer's properties to a Reading: which EPCs, how scaled, what is absent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.jst import meter_time_to_unix
from trio_smartmeter.core.model import MeterScaling
from trio_smartmeter.core.readings import (
    POLL_EPCS,
    STATIC_EPCS,
    EnergyCounterWatch,
    UnreadableAnswer,
    fixed_time_from,
    meter_info_from,
    poll_epcs,
    reading_from,
    scaling_from,
)

SCALING = MeterScaling(coefficient=1, unit_kwh=Decimal("0.1"), digits=6, has_reverse=True)


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def test_the_first_poll_carries_the_static_properties() -> None:
    assert poll_epcs(None) == STATIC_EPCS + POLL_EPCS + (epc.EPC_REVERSE,)
    assert poll_epcs(SCALING) == (*POLL_EPCS, epc.EPC_REVERSE)
    no_reverse = MeterScaling(1, Decimal("0.1"), 6, has_reverse=False)
    assert poll_epcs(no_reverse) == POLL_EPCS


def test_scaling_from_the_static_properties() -> None:
    props = {
        epc.EPC_UNIT: b"\x01",
        epc.EPC_COEFFICIENT: u32(10),
        epc.EPC_DIGITS: b"\x06",
        epc.EPC_GET_MAP: bytes([2, 0xE0, 0xE7]),  # a list-form property map,
    }
    assert scaling_from(props) == MeterScaling(10, Decimal("0.1"), 6, has_reverse=False)
    # no D3 (Get_SNA) -> coefficient 1; no Get map -> assume E3 until it is missing
    assert scaling_from({epc.EPC_UNIT: b"\x00"}) == MeterScaling(1, Decimal(1), None, True)


def test_no_unit_is_unreadable() -> None:
    with pytest.raises(UnreadableAnswer, match="E1"):
        scaling_from({epc.EPC_COEFFICIENT: u32(1)})


def test_a_reading_in_si_units_with_absent_values() -> None:
    props = {
        epc.EPC_POWER: (-1200).to_bytes(4, "big", signed=True),
        epc.EPC_CURRENTS: bytes.fromhex("FFF6 7FFE"),  # R = -1.0 A, T = no data
        epc.EPC_FORWARD: u32(12345),
        epc.EPC_REVERSE: u32(0xFFFFFFFE),  # no data
    }
    reading, raw = reading_from(props, SCALING, received_monotonic=5.0, received_unix=1.7e9)
    assert reading.power_watts == -1200
    assert reading.current_r_amperes == Decimal("-1.0")
    assert reading.current_t_amperes is None
    assert reading.energy_forward_joules == Decimal(12345) * Decimal("0.1") * 3_600_000
    assert reading.energy_reverse_joules is None
    assert (raw.forward, raw.reverse) == (12345, None)
    assert (reading.received_monotonic, reading.received_unix) == (5.0, 1.7e9)


def test_an_answer_with_nothing_readable_is_refused() -> None:
    with pytest.raises(UnreadableAnswer):
        reading_from(
            {epc.EPC_POWER: u32(0x7FFFFFFE)}, SCALING, received_monotonic=0, received_unix=0
        )


def test_meter_info_only_when_given() -> None:
    assert meter_info_from({}) is None
    info = meter_info_from({epc.EPC_MANUFACTURER: bytes.fromhex("000016")})
    assert info is not None and info.manufacturer == "000016"
    assert info.production_number is None


def test_the_production_number_names_the_meter_when_answered() -> None:
    """EPC 0x8D (12 ASCII, padded) becomes Home Assistant's serial_number; garbage is absent."""
    base = {epc.EPC_MANUFACTURER: bytes.fromhex("000016")}
    info = meter_info_from({**base, epc.EPC_PRODUCTION_NUMBER: b"A12345678\x00\x00\x00"})
    assert info is not None and info.production_number == "A12345678"
    garbled = meter_info_from({**base, epc.EPC_PRODUCTION_NUMBER: b"\xff" * 12})
    assert garbled is not None and garbled.production_number is None
    assert epc.EPC_PRODUCTION_NUMBER in STATIC_EPCS  # asked once, in the session's first frame


def test_fixed_time_is_stamped_with_the_meter_clock_in_jst() -> None:
    edt = (2026).to_bytes(2, "big") + bytes([12, 1, 3, 30, 0]) + u32(500)
    fixed = fixed_time_from(edt, SCALING, received_monotonic=9.0)
    assert fixed is not None
    assert fixed.meter_timestamp_unix == meter_time_to_unix(datetime(2026, 12, 1, 3, 30))
    assert fixed.meter_timestamp_unix == 1796063400.0  # 2026-11-30T18:30Z
    assert fixed.joules == Decimal(500) * Decimal("0.1") * 3_600_000
    assert fixed_time_from(edt, None, 0.0) is None  # no scaling yet
    no_data = edt[:7] + u32(0xFFFFFFFE)
    assert fixed_time_from(no_data, SCALING, 0.0) is None


def test_the_energy_counter_watch_tells_rollover_from_reset() -> None:
    watch = EnergyCounterWatch()
    assert watch.observe(999_990, digits=6) is None
    assert watch.observe(None, digits=6) is None  # no data keeps the last value
    assert watch.observe(5, digits=6) == "rollover"
    assert watch.observe(0, digits=6) == "reset"
    assert watch.last_forward == 0
    assert watch.observe(0, digits=6) is None


def test_the_first_frame_reads_both_fixed_time_values() -> None:
    """EB with EA: the reverse value is not left to a push real meters may not send."""
    first = poll_epcs(None)
    assert epc.EPC_FIXED_FORWARD in first and epc.EPC_FIXED_REVERSE in first
    assert epc.EPC_FIXED_REVERSE not in poll_epcs(SCALING)
