"""Every direction the meter measures, every allowed interval (issue 19 items 1, 2, 5).

A half-hour is complete only when both its forward and (on a meter that measures it)
its reverse value are stored; the filler reads back only what a slot lacks, at every
poll interval from 10 s to 3600 s, and says when it starts, how much and how long.
"""

from __future__ import annotations

import re
from decimal import Decimal

import attrs
import pytest
import trio
import trio.testing

from tests.service.test_history_fill import START, meter_registers
from tests.support.rig import capture_logs, start_rig
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.service.history_store import HistoryStore
from trio_smartmeter.sim import MeterConfig, SimulatedModule

DAY = 86400


def solar_meter(seed: int, **config: object) -> SimulatedModule:
    """A meter that measures reverse energy (E3/E4/EB), with two days of history."""
    meter = MeterConfig(start=START, history_days=2, reverse=True, **config)  # type: ignore[arg-type]
    return SimulatedModule("bp35a1", seed=seed, meter=meter)


def one_direction(
    module: SimulatedModule, *, forward: bool
) -> tuple[list[HalfHour], dict[int, tuple[int | None, int | None]]]:
    """The meter's last day as a store would hold it with one direction only."""
    truth = meter_registers(module)
    newest = max(truth)
    rows = [
        HalfHour(end, fr, None, Decimal(fr), None)
        if forward
        else HalfHour(end, None, rr, None, Decimal(rr))
        for end, (fr, rr) in truth.items()
        if end > newest - DAY and fr is not None and rr is not None
    ]
    return rows, truth


async def fill_from(
    nursery: trio.Nursery, module: SimulatedModule, store: HistoryStore, polls: int = 4
) -> None:
    rig = await start_rig(nursery, module=module, history=store, watch=False)
    t = trio.current_time()
    for _ in range(polls):
        t = await rig.next_reading_after(t)
    assert rig.state.history_missing == 0


@pytest.mark.parametrize("known", ["forward", "reverse"])
async def test_a_slot_with_one_direction_is_missing_until_it_has_both(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, known: str
) -> None:
    """EA pushed alone left ``reverse`` NULL for good; a forward value lost likewise."""
    module = solar_meter(seed=7)
    rows, truth = one_direction(module, forward=known == "forward")
    store = HistoryStore(None)
    store.open()
    store.put(rows)
    await fill_from(nursery, module, store)
    for row in store.between(min(r.end_unix for r in rows), max(r.end_unix for r in rows)):
        assert (row.forward_raw, row.reverse_raw) == truth[row.end_unix], row


async def test_only_what_a_slot_lacks_is_read(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A day that has every forward value gets E4 only: no E2 again."""
    module = solar_meter(seed=8)
    rows, _ = one_direction(module, forward=True)
    store = HistoryStore(None)
    store.open()
    store.put(rows)
    await fill_from(nursery, module, store)
    asked = {epc for answer in module.meter.answered_log for epc, _ in answer.props}
    assert 0xE4 in asked
    assert 0xE2 not in asked and 0xEC not in asked


async def test_a_live_push_of_ea_alone_gets_its_reverse_value_read(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Real meters push EA at each half-hour and EB only "where supported"."""
    module = solar_meter(seed=9)
    meter = module.meter
    push = meter.fixed_time_push

    def ea_alone(elapsed: float) -> bytes:
        config = meter.config
        meter.config = attrs.evolve(config, reverse=False)
        try:
            return push(elapsed)
        finally:
            meter.config = config

    meter.fixed_time_push = ea_alone  # type: ignore[method-assign]
    store = HistoryStore(None)
    store.open()
    rig = await start_rig(nursery, module=module, history=store, watch=False)
    await rig.reading_then_settle()
    await trio.sleep(3 * 1800)  # three half-hour pushes, EA alone
    t = await rig.next_reading_after(trio.current_time())
    await rig.next_reading_after(t)  # the last push's EB is read between these polls
    truth = meter_registers(module)
    newest = max(e for e, r in truth.items() if r[0] is not None)
    pushed = [epc for answer in meter.pushed_log for epc, _ in answer.props]
    assert pushed.count(0xEA) >= 3 and 0xEB not in pushed
    rows = store.between(newest - 3 * 1800, newest)
    assert len(rows) == 4
    for row in rows:
        assert (row.forward_raw, row.reverse_raw) == truth[row.end_unix], row


async def test_the_reverse_fixed_time_value_comes_with_the_first_frame(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """EB is read with EA in the session's first frame, not left to the next push."""
    module = solar_meter(seed=10)
    rig = await start_rig(nursery, module=module, watch=False)
    await rig.reading_then_settle()
    assert rig.state.fixed_reverse is not None
    text = rig.exposition()
    assert "smartmeter_fixed_time_energy_reverse_joules " in text
    assert "smartmeter_fixed_time_energy_reverse_timestamp_seconds " in text


@pytest.mark.parametrize("interval", [10.0, 30.0, 60.0, 3600.0])
async def test_the_backfill_progresses_and_says_so_at_every_interval(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, interval: float
) -> None:
    module = solar_meter(seed=11)
    store = HistoryStore(None)
    store.open()
    async with capture_logs() as logs:
        rig = await start_rig(nursery, module=module, history=store, watch=False, interval=interval)
        t = await rig.reading_then_settle()
        t = await rig.next_reading_after(t)  # the frames go out between the first polls
    assert rig.state.history_missing == 0
    assert rig.state.history_slots is not None and rig.state.history_slots >= 48
    started = [m for _, m in logs.records if m.startswith("reading ")]
    assert len(started) == 1, logs.records
    match = re.search(
        r"reading (\d+) missing half-hours .* (\d+) frames, about (\d+) (s|min)", started[0]
    )
    assert match is not None, started
    assert int(match[1]) >= 47 and int(match[2]) >= 2
    filled = [m for _, m in logs.records if m.startswith("filled ")]
    assert len(filled) == 1 and filled[0].startswith(f"filled {match[1]} half-hours"), filled
