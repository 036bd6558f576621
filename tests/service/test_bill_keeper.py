"""End to end on the simulator (issue 21): a tariff file, a meter whose clock is in a
period with a national holiday on a Monday, the backfill completing both periods, and
``/api/bill`` equal to the bill computed here by hand from the simulator's registers.

The hand computation shares nothing with ``core/bill.py``: the holidays are listed here,
the bands are written out as ``if``s, and the registers are the simulator's own.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path

import trio
import trio.testing
from loguru import logger

from tests.support.exposition import key
from tests.support.rig import WALL_EPOCH, inline, start_rig, wait_until
from tests.web.helpers import call
from trio_smartmeter.core.model import FixedTimeEnergy
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.core.tariff import load_tariff
from trio_smartmeter.service.bill_keeper import BillKeeper
from trio_smartmeter.service.history_store import HistoryStore
from trio_smartmeter.sim import MeterConfig, SimulatedModule
from trio_smartmeter.web.metrics import build_registry
from trio_smartmeter.web.router import ExporterApp

D = Decimal
HALF = dt.timedelta(minutes=30)
#: The meter's clock at power-on: a Wednesday, two days after 成人の日 (Monday 2027-01-11).
START = dt.datetime(2027, 1, 13, 9, 0)
TARIFF = """\
name: e2e time of use
billing_day: 10
basic: {monthly: 1480.50}
energy:
  bands:
    - {name: night,   hours: "23:00-07:00", price: 28.85}
    - {name: day,     hours: "07:00-23:00", days: [weekday], price: 35.76}
    - {name: holiday, hours: "07:00-23:00", days: [saturday, sunday, holiday], price: 30.10}
surcharges:
  fuel_cost_adjustment:
    - {from: 2026-12-01, price: -2.05}
    - {from: 2027-02-01, price: -1.50}
  renewable_energy:
    - {from: 2026-05-01, price: 3.98}
"""
PRICES = {"night": D("28.85"), "day": D("35.76"), "holiday": D("30.10")}
#: National holidays in the two periods (2026-12-10 .. 2027-02-10), by hand.
HOLIDAYS = {dt.date(2027, 1, 1), dt.date(2027, 1, 11)}
UNIT_KWH = D("0.1")  # the simulator's default unit (E1 = 0x01), coefficient 1


def band(start: dt.datetime) -> str:
    minutes = start.hour * 60 + start.minute
    if minutes >= 23 * 60 or minutes < 7 * 60:
        return "night"
    if start.date() in HOLIDAYS or start.weekday() >= 5:
        return "holiday"
    return "day"


def by_hand(
    registers: dict[dt.datetime, tuple[int | None, int | None]],
    start: dt.datetime,
    until: dt.datetime,
    fuel: Decimal,
) -> dict[str, object]:
    kwh = dict.fromkeys(PRICES, D(0))
    t = start
    while t < until:
        before, after = registers[t][0], registers[t + HALF][0]
        assert before is not None and after is not None
        kwh[band(t)] += (after - before) * UNIT_KWH
        t += HALF
    bought = sum(kwh.values(), D(0))
    energy = sum((kwh[b] * PRICES[b] for b in PRICES), D(0))
    total = math.floor(D("1480.50") + energy + bought * fuel) + math.floor(bought * D("3.98"))
    return {"kwh": kwh, "bought": bought, "energy": energy, "total": total}


async def test_api_bill_equals_the_hand_computation_once_the_backfill_completes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    module = SimulatedModule("bp35a1", seed=7, meter=MeterConfig(start=START, history_days=40))
    store = HistoryStore(None)
    store.open()
    rig = await start_rig(nursery, module=module, history=store, watch=False)
    keeper = BillKeeper(load_tariff(TARIFF), store, rig.state, offload=inline)
    assert rig.supervisor.history is not None
    rig.supervisor.history.reach_back = keeper.reach_back  # as app/root.py wires it
    nursery.start_soon(keeper.run)
    app = ExporterApp(
        rig.state,
        build_registry(rig.state, trio.current_time),
        monotonic=trio.current_time,
        version="test",
        billing=True,
    )
    registers = module.meter.registers.half_hours

    def complete() -> bool:
        bills = rig.state.bills
        return (
            bills is not None
            and bills.current.missing_half_hours == 0
            and bills.previous.missing_half_hours == 0
            and bills.current.counted_until == max(registers)  # the slot in progress began
        )

    await wait_until(complete, limit=20_000)
    _, _, current_body = await call(app, "/api/bill?period=current")
    _, _, previous_body = await call(app, "/api/bill?period=previous")
    current, previous = json.loads(current_body), json.loads(previous_body)

    # the meter's clock, not the host's (the rig's wall clock is in 2023)
    assert dt.datetime.fromtimestamp(WALL_EPOCH, dt.UTC).year == 2023
    assert current["period"]["start"] == "2027-01-10T00:00:00+09:00"
    assert current["period"]["end"] == "2027-02-10T00:00:00+09:00"
    assert previous["period"]["start"] == "2026-12-10T00:00:00+09:00"
    until = dt.datetime.fromisoformat(current["counted_until"]).replace(tzinfo=None)
    hand_now = by_hand(registers, dt.datetime(2027, 1, 10), until, D("-1.50"))
    hand_before = by_hand(
        registers, dt.datetime(2026, 12, 10), dt.datetime(2027, 1, 10), D("-2.05")
    )
    for doc, hand in ((current, hand_now), (previous, hand_before)):
        assert doc["missing_half_hours"] == 0
        assert doc["energy_bought_kwh"] == float(hand["bought"])  # type: ignore[arg-type]
        assert doc["yen"]["energy"] == float(hand["energy"])  # type: ignore[arg-type]
        assert doc["yen"]["total"] == hand["total"]
        kwh = {b["name"]: b["kwh"] for b in doc["bands"]}
        assert kwh == {name: float(v) for name, v in hand["kwh"].items()}  # type: ignore[attr-defined]
    # 成人の日 (a Monday) was priced as a holiday: its daytime is in the holiday band
    assert hand_now["kwh"]["holiday"] > 0  # type: ignore[index]
    assert current["surcharges"]["fuel_cost_adjustment"]["price"] == -1.50  # closes 02-10
    assert previous["surcharges"]["fuel_cost_adjustment"]["price"] == -2.05  # closes 01-10
    metrics = rig.metrics()
    assert metrics[key("smartmeter_bill_due_yen", period="current")] == hand_now["total"]
    assert metrics[key("smartmeter_bill_missing_slots", period="previous")] == 0


async def test_a_computation_that_fails_keeps_the_last_bill_and_the_service(
    tmp_path: Path,
) -> None:
    """A bill is derived data: a store read that raises is one warning, never a crash."""

    store = HistoryStore(tmp_path / "history.sqlite")
    state = ExporterState(interval=60.0)
    state.set_fixed(
        forward=FixedTimeEnergy(
            joules=Decimal(0), meter_timestamp_unix=WALL_EPOCH, received_monotonic=0.0
        )
    )
    keeper = BillKeeper(load_tariff(TARIFF), store, state, offload=inline)
    failures = 0

    def broken(since: dt.datetime, until: dt.datetime) -> list[object]:
        nonlocal failures
        failures += 1
        raise OSError("disk I/O error")

    store.between = broken  # type: ignore[method-assign]
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keeper.run)
            await wait_until(lambda: failures == 1)
            for callback in list(store.changed):  # two more changes, the same failure
                callback()
            await wait_until(lambda: failures >= 2)
            nursery.cancel_scope.cancel()
    finally:
        logger.remove(sink)
        store.close()
    assert state.bills is None
    assert [line for line in lines if "bill could not be computed" in line] != []
    assert sum("bill could not be computed" in line for line in lines) == 1
