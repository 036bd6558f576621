"""The bill keeper on real threads: a ``put`` from a worker thread (as the history filler
makes it) wakes the keeper, which computes in another and replaces ``state.bills``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import trio

from trio_smartmeter.core.jst import meter_time_to_unix
from trio_smartmeter.core.model import FixedTimeEnergy, HalfHour
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.core.tariff import load_tariff
from trio_smartmeter.service.bill_keeper import BillKeeper, meter_now
from trio_smartmeter.service.history_store import HistoryStore

TARIFF = "billing_day: 1\nbasic: {monthly: 100}\nenergy: {tiers: [{price: 10}]}\n"
BOUNDARY = dt.datetime(2026, 12, 3, 10, 0)  # the meter's newest EA


def row(at: dt.datetime, kwh: int) -> HalfHour:
    return HalfHour(int(meter_time_to_unix(at)), None, None, Decimal(kwh) * 3_600_000, None)


def test_the_meter_clock_is_the_newest_boundary_plus_the_time_since() -> None:
    state = ExporterState()
    assert meter_now(state, 50.0) is None  # no meter clock, no bill
    state.set_fixed(
        forward=FixedTimeEnergy(Decimal(0), meter_time_to_unix(BOUNDARY), received_monotonic=40.0)
    )
    assert meter_now(state, 100.0) == BOUNDARY + dt.timedelta(seconds=60)


async def test_a_put_from_a_worker_thread_recomputes_the_bills() -> None:
    state = ExporterState()
    state.set_fixed(
        forward=FixedTimeEnergy(
            Decimal(0), meter_time_to_unix(BOUNDARY), received_monotonic=trio.current_time()
        )
    )
    store = HistoryStore(None)
    store.open()
    keeper = BillKeeper(load_tariff(TARIFF), store, state)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.run)
        with trio.fail_after(10):
            while state.bills is None:  # the first run, on what the store holds (nothing)
                await trio.sleep(0.01)
        assert state.bills.current.charges.bought_kwh == 0
        rows = [row(BOUNDARY - dt.timedelta(minutes=30 * k), 1000 - k) for k in range(3)]
        await trio.to_thread.run_sync(store.put, rows)
        with trio.fail_after(10):
            while state.bills.current.charges.bought_kwh != 2:
                await trio.sleep(0.01)
        assert state.bills.current.charges.total == 100 + 20
        assert store.changed  # subscribed while running ...
        nursery.cancel_scope.cancel()
    assert not store.changed  # ... and no longer after
