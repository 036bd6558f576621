"""The meter's own history fills every gap, paced between polls (virtual clock).

An exporter that was down for hours (or days) is started again: it works out which
half-hours its store lacks and reads exactly those from the simulated meter, one frame
between polls, never delaying a poll, never during the transmit-time limit.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
import trio
import trio.testing

from tests.support.rig import INTERVAL, Rig, capture_logs, start_rig
from trio_smartmeter.core.jst import JST, meter_time_to_unix
from trio_smartmeter.service.history_store import HistoryStore
from trio_smartmeter.sim import Fault, MeterConfig, SimulatedModule

START = datetime(2026, 12, 1, 9, 0)  # the meter's clock at power-on (JST)


def meter_registers(module: SimulatedModule) -> dict[int, tuple[int | None, int | None]]:
    """The simulator's own half-hour registers, by slot end (Unix)."""
    return {
        int(meter_time_to_unix(at)): regs for at, regs in module.meter.registers.half_hours.items()
    }


async def run_until_quiet(rig: Rig, polls: int) -> list[float]:
    """Let ``polls`` polls happen; return their times (to check none was delayed)."""
    times = []
    t = trio.current_time()
    for _ in range(polls):
        t = await rig.next_reading_after(t)
        times.append(t)
    return times


async def outage_then_fill(
    nursery: trio.Nursery, *, hours: float, **meter: object
) -> tuple[Rig, SimulatedModule, HistoryStore, list[float]]:
    module = SimulatedModule(
        "bp35a1",
        seed=3,
        meter=MeterConfig(start=START, history_days=4, **meter),  # type: ignore[arg-type]
    )
    store = HistoryStore(None)
    store.open()
    first = await start_rig(nursery, module=module, history=store, watch=False)
    await run_until_quiet(first, 8)  # the first fill (the last day) happens meanwhile
    first.supervisor.request_stop()
    await trio.sleep(hours * 3600)  # the exporter is down; the meter goes on
    rig = await start_rig(nursery, module=module, history=store, watch=False)
    times = await run_until_quiet(rig, 12 + int(hours / 24 * 16))
    return rig, module, store, times


def assert_on_schedule(times: list[float]) -> None:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(g - INTERVAL) < 1.0 for g in gaps), gaps  # no poll was delayed


@pytest.mark.parametrize("history2", [True, False], ids=["EC/ED", "E5+E2/E4"])
async def test_a_five_hour_outage_is_filled_exactly(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, history2: bool
) -> None:
    async with capture_logs() as logs:
        rig, module, store, times = await outage_then_fill(nursery, hours=5, history2=history2)
    truth = meter_registers(module)
    newest = max(truth)
    wanted = [newest - i * 1800 for i in range(48)]  # the last day, contiguous
    stored = {r.end_unix: r for r in store.between(min(wanted), newest)}
    assert sorted(stored) == sorted(wanted)
    for end in wanted:
        assert stored[end].forward_raw == truth[end][0], end
        assert stored[end].reverse_raw in (truth[end][1], None)
    assert rig.state.history_missing == 0
    assert_on_schedule(times)
    filled = [m for _, m in logs.records if m.startswith("filled ")]
    assert any("half-hours" in m and "from the meter" in m for m in filled), filled


async def test_a_three_day_outage_is_filled(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    _rig, module, store, times = await outage_then_fill(nursery, hours=72)
    truth = meter_registers(module)
    newest = max(truth)
    wanted = [newest - i * 1800 for i in range(3 * 48 + 48)]
    stored = {r.end_unix: r.forward_raw for r in store.between(min(wanted), newest)}
    assert {e: stored.get(e) for e in wanted} == {e: truth[e][0] for e in wanted}
    assert_on_schedule(times)


async def test_no_history_frame_during_the_transmit_limit(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    module = SimulatedModule("bp35a1", seed=4, meter=MeterConfig(start=START, history_days=2))
    store = HistoryStore(None)
    store.open()
    rig = await start_rig(nursery, module=module, history=store, watch=False)
    await rig.reading_then_settle()
    module.inject(Fault.TRANSMIT_LIMIT, duration=600.0)
    await trio.sleep(1.0)
    assert rig.state.rate_limited
    sent = module.stats.sendto_count
    while rig.state.rate_limited:
        await trio.sleep(5.0)
        assert module.stats.sendto_count == sent  # not a poll, not a history read
    await run_until_quiet(rig, 8)
    assert rig.state.history_missing == 0
    assert rig.state.history_slots is not None and rig.state.history_slots >= 48


async def test_history_is_read_at_the_shortest_interval_without_delaying_a_poll(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """At -interval 10 a history frame gets 9 s, not its full 30 s deadline."""
    module = SimulatedModule("bp35a1", seed=5, meter=MeterConfig(start=START, history_days=2))
    store = HistoryStore(None)
    store.open()
    rig = await start_rig(nursery, module=module, history=store, watch=False, interval=10.0)
    t = await rig.reading_then_settle()
    times = [t]
    while rig.state.history_missing != 0 and len(times) < 60:
        times.append(await rig.next_reading_after(times[-1]))
    assert rig.state.history_missing == 0
    assert rig.state.history_slots is not None and rig.state.history_slots >= 48
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(g - 10.0) < 0.5 for g in gaps), gaps


async def test_a_release_r_meter_s_one_minute_values_ride_in_the_poll_frame(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    module = SimulatedModule("bp35a1", seed=6, meter=MeterConfig(start=START, release_r=True))
    rig = await start_rig(nursery, module=module, watch=False)
    t = await rig.reading_then_settle()
    sends = module.stats.sendto_count
    await rig.next_reading_after(t)
    assert module.stats.sendto_count == sends + 1  # still one frame per poll
    minute = rig.state.minute_energy
    assert minute is not None and minute.forward_joules is not None
    at = datetime.fromtimestamp(minute.meter_timestamp_unix, tz=JST).replace(tzinfo=None)
    assert at.second == 0 and START <= at <= START + timedelta(minutes=5)  # the meter's clock
    text = rig.exposition()
    assert "smartmeter_minute_energy_forward_joules " in text
    assert "smartmeter_minute_energy_timestamp_seconds " in text
