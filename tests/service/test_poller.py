"""The poll schedule on its own: fixed phase, skipped ticks, the bounded rate-limit pause,
and a lost session waking the poller at once."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from trio_smartmeter.core.errors import SessionLost
from trio_smartmeter.core.session import SessionSignal
from trio_smartmeter.core.state import ErrorType
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.service.module_session import ModuleSession
from trio_smartmeter.service.poller import Poller

from ._session import SimMeterClient, module_session

INTERVAL = 60.0


def poller(session: ModuleSession, meter: SimMeterClient) -> Poller:
    session.meter = meter  # type: ignore[assignment]  # the poller only calls get()
    return Poller(session, session.state, interval=INTERVAL, wall_clock=lambda: 1.7e9)


async def run_for(p: Poller, seconds: float, readings: list[float]) -> None:
    with trio.move_on_after(seconds):
        await p.run(on_reading=lambda: readings.append(trio.current_time()))


async def test_ticks_keep_their_phase_and_an_overrun_skips_the_missed_ones(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = module_session()
    meter = SimMeterClient(latency=0.5)
    p = poller(session, meter)
    readings: list[float] = []
    start = trio.current_time()

    async def slow_once() -> None:
        await trio.sleep(INTERVAL * 2 + 10)  # during the third poll: 130 s instead of 0.5 s
        meter.latency = 0.5

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_for, p, 5 * INTERVAL + 1, readings)
        await trio.sleep(INTERVAL * 2 - 1)
        meter.latency = INTERVAL * 2 + 10
        nursery.start_soon(slow_once)
    sent = [t - start for t in meter.gets]
    # ticks at 0, 60, 120; the third poll takes 130 s (to 250): 180 and 240 are skipped
    assert sent == [0.0, 60.0, 120.0, 300.0]
    assert [t - start for t in readings] == [0.5, 60.5, 250.0, 300.5]
    assert session.state.reading is not None


async def test_the_rate_limit_pause_is_bounded_by_timing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = module_session(Timing(rate_limit=300.0))
    meter = SimMeterClient()
    p = poller(session, meter)
    session.state.set_rate_limited(True)  # EVENT 32, and its EVENT 33 is never seen
    readings: list[float] = []
    start = trio.current_time()
    await run_for(p, 6 * INTERVAL + 1, readings)
    # ticks 0..240 skipped (300 s is the bound from the first skipped tick), 300 and 360 poll
    assert [t - start for t in meter.gets] == [300.0, 360.0]
    assert session.state.errors[ErrorType.RATE_LIMIT] == 5
    assert not session.state.rate_limited


async def test_an_event_33_ends_the_pause_at_the_next_tick(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = module_session()
    meter = SimMeterClient()
    p = poller(session, meter)
    session.state.set_rate_limited(True)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_for, p, 3 * INTERVAL + 1, [])
        await trio.sleep(INTERVAL + 5)
        session.state.set_rate_limited(False)  # EVENT 33
    assert [t - start for t in meter.gets] == [120.0, 180.0]


@pytest.mark.parametrize(
    ("signal", "expired"),
    [(SessionSignal.SESSION_EXPIRED, True), (SessionSignal.SESSION_ENDED, False)],
)
async def test_a_lost_session_wakes_the_poller_at_once(
    autojump_clock: trio.testing.MockClock, signal: SessionSignal, expired: bool
) -> None:
    session = module_session()
    p = poller(session, SimMeterClient())
    caught: list[Any] = []

    async def run() -> None:
        try:
            await p.run(on_reading=lambda: None)
        except SessionLost as exc:
            caught.append((trio.current_time(), exc.expired))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await trio.sleep(10.0)
        lost_at = trio.current_time()
        session.watch.lose(signal)
    assert caught == [(lost_at, expired)]


async def test_no_session_no_polls() -> None:
    session = module_session()
    p = Poller(session, session.state, interval=INTERVAL, wall_clock=lambda: 1.7e9)
    with pytest.raises(SessionLost):
        await p.run(on_reading=lambda: None)
