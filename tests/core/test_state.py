"""ExporterState: the staleness rule, energy today, and the counters' guard rails."""

from __future__ import annotations

from decimal import Decimal

from trio_smartmeter.core.model import FixedTimeEnergy, Reading
from trio_smartmeter.core.state import ERROR_TYPES, Counter, ErrorType, ExporterState

NOON_JST = 1_764_558_000.0  # 2025-12-01 12:00 JST


def reading(at: float, unix: float, forward: Decimal | None = Decimal(1000)) -> Reading:
    return Reading(100, Decimal(1), None, forward, None, at, unix)


def test_a_reading_is_fresh_for_three_intervals() -> None:
    state = ExporterState(interval=60.0)
    assert state.fresh_reading(0.0) is None
    state.record_reading(reading(10.0, NOON_JST), 0.3)
    assert state.is_fresh(10.0 + 180.0)
    assert state.fresh_reading(10.0 + 180.1) is None
    assert (state.counters[Counter.POLLS], state.last_success_unix) == (1, NOON_JST)
    assert state.durations.total == 1


def test_the_fixed_time_value_stays_fresh_for_a_period() -> None:
    state = ExporterState(interval=60.0)
    fixed = FixedTimeEnergy(Decimal(5), NOON_JST, received_monotonic=0.0)
    assert state.fresh_fixed(fixed, 2400.0) is fixed
    assert state.fresh_fixed(fixed, 2400.5) is None
    assert state.fresh_fixed(None, 0.0) is None


def test_counters_are_typed() -> None:
    state = ExporterState()
    state.count_error(ErrorType.SERIAL)
    state.bump(Counter.SCANS, 2)
    assert (state.errors[ErrorType.SERIAL], state.counters[Counter.SCANS]) == (1, 2)
    assert set(state.errors) == set(ERROR_TYPES)
    assert set(state.counters) == set(Counter)


def test_module_events_are_counted_by_number() -> None:
    state = ExporterState()
    state.count_module_event(0x29)
    state.count_module_event(0x45)
    state.count_module_event(0x45)
    assert state.module_events == {0x29: 1, 0x45: 2}


def test_every_new_reading_is_told_to_the_listeners() -> None:
    state = ExporterState()
    told: list[Reading] = []
    state.reading_sinks.append(told.append)
    first, second = reading(0.0, NOON_JST), reading(60.0, NOON_JST + 60)
    state.record_reading(first, 0.1)
    state.record_failed_poll(ErrorType.QUERY)  # not a reading
    state.record_reading(second, 0.1)
    assert told == [first, second]


def test_the_histogram_is_cumulative() -> None:
    state = ExporterState()
    for seconds in (0.2, 0.4, 500.0):
        state.durations.observe(seconds)
    pairs = dict(state.durations.cumulative())
    assert pairs["0.25"] == 1
    assert pairs["0.5"] == 2
    assert pairs["300.0"] == 2
    assert pairs["+Inf"] == 3


def test_a_failed_poll_counts_a_poll_and_an_error() -> None:
    state = ExporterState()
    state.record_failed_poll(ErrorType.PARSE, 0.5)
    state.record_failed_poll(ErrorType.QUERY)
    assert (
        state.counters[Counter.POLLS],
        state.errors[ErrorType.PARSE],
        state.errors[ErrorType.QUERY],
    ) == (
        2,
        1,
        1,
    )
    assert state.durations.total == 1


def test_the_info_setters_record() -> None:
    state = ExporterState()
    fixed = FixedTimeEnergy(Decimal(5), NOON_JST, received_monotonic=0.0)
    state.set_rssi(-60.5)
    state.set_fixed(forward=fixed)
    state.set_fixed(reverse=fixed)
    state.set_module_info(None)
    state.set_meter_info(None)
    state.set_scaling(None)
    assert (state.rssi_dbm, state.fixed_forward, state.fixed_reverse) == (-60.5, fixed, fixed)
