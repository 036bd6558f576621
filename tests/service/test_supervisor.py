"""The supervisor in-process against the simulator, on Trio's virtual clock.

Exact virtual times: the poll schedule has no drift, readings go stale at 3 × interval,
and a wrong password latches into the slow retry instead of hammering the meter.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from tests.support.rig import INTERVAL, Rig, capture_logs, start_rig, wait_until
from trio_smartmeter.core.model import SessionState
from trio_smartmeter.core.recovery import Backoff
from trio_smartmeter.core.state import Counter, ErrorType
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.sim import (
    DEMO_PASSWORD,
    Fault,
    MeterConfig,
    SimulatedModule,
)


async def start(
    nursery: trio.Nursery,
    model: str = "bp35a1",
    *,
    password: str = DEMO_PASSWORD,
    state_file: Path | None = None,
    **sim: Any,
) -> Rig:
    module = SimulatedModule(model, **sim)
    return await start_rig(
        nursery, model, password=password, state_file=state_file, module=module, watch=False
    )


async def test_polls_on_a_fixed_schedule_without_drift(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    rig = await start(nursery)
    times: list[float] = []
    while len(times) < 5:
        await wait_until(
            lambda: (
                rig.state.reading is not None
                and (not times or rig.state.reading.received_monotonic != times[-1])
            )
        )
        assert rig.state.reading is not None
        times.append(rig.state.reading.received_monotonic)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Each poll is scheduled at start + k × interval; the read latency does not accumulate.
    # (The first frame also carries the static EPCs: its longer air-time makes the first
    # reading arrive ~1 ms later in the round trip, never later in the schedule.)
    assert all(abs(g - INTERVAL) < 1e-6 for g in gaps[1:]), gaps
    assert abs(gaps[0] - INTERVAL) < 0.01, gaps
    # exactly one SKSENDTO per poll: the first one also carries the static properties
    assert rig.module.stats.sendto_count == 5


async def test_stale_readings_disappear_and_up_drops(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    rig = await start(nursery)
    await wait_until(lambda: rig.state.reading is not None)
    assert "smartmeter_power_watts " in rig.exposition()
    assert "smartmeter_up 1.0" in rig.exposition()
    taken = rig.state.reading.received_monotonic  # type: ignore[union-attr]
    rig.module.inject(Fault.DROP_RESPONSE)  # the meter goes silent for good
    await trio.sleep_until(taken + 3 * INTERVAL - 0.5)
    assert "smartmeter_power_watts " in rig.exposition()  # still within max age
    await trio.sleep_until(taken + 3 * INTERVAL + 0.5)
    text = rig.exposition()
    assert "smartmeter_power_watts " not in text
    assert "smartmeter_current_amperes{" not in text
    assert "smartmeter_up 0.0" in text
    assert "smartmeter_last_scrape_timestamp_seconds" in text  # a fact about the past stays
    assert rig.state.errors[ErrorType.QUERY] >= 2


async def test_wrong_password_latches_into_slow_retry(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    rig = await start(nursery, password="WRONGPASSWRD")
    await wait_until(lambda: rig.state.credentials_latched)
    latched_at = trio.current_time()
    joins_at_latch = rig.module.stats.joins
    assert rig.state.session_state is SessionState.LATCHED
    assert rig.state.errors[ErrorType.AUTH] >= 3
    # While latched, the meter sees at most one join per latch period (600 s), not a storm.
    await trio.sleep(1800)
    assert rig.module.stats.joins - joins_at_latch <= 3
    assert rig.state.reading is None
    assert trio.current_time() - latched_at >= 1800


async def test_the_first_rejection_names_the_credentials_to_check(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async with capture_logs("WARNING") as logs:
        rig = await start(nursery, password="WRONGPASSWRD")
        await wait_until(lambda: rig.state.counters[Counter.JOIN_FAILURES] >= 1)
        await trio.lowlevel.checkpoint()  # the supervisor logs the fault as it climbs
        warnings = [m for _, m in logs.at_least("WARNING")]
    assert not rig.state.credentials_latched  # long before the latch
    [first] = [m for m in warnings if "EVENT 24" in m]
    assert "wrong B-route ID or password" in first
    assert "SMARTMETER_ID" in first and "SMARTMETER_PASSWORD" in first
    assert "\n" not in first and "WRONGPASSWRD" not in first


async def test_sigterm_equivalent_sends_skterm_and_returns(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    rig = await start(nursery, "bp35c2")
    await wait_until(lambda: rig.state.reading is not None)
    rig.supervisor.request_stop()
    await wait_until(lambda: rig.supervisor.terminated, limit=5)
    assert rig.module.stats.skterm_seen
    assert rig.state.session_up is False


@pytest.mark.parametrize("model", ["bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss"])
async def test_each_model_reaches_a_reading_and_caches_the_address(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, tmp_path: Path, model: str
) -> None:
    state_file = tmp_path / "state.json"
    rig = await start(nursery, model, state_file=state_file, meter=MeterConfig(channel=0x3A))
    t = await wait_until(lambda: rig.state.reading is not None)
    assert t < 120  # scan (D=4 over 28 channels) + join + one Get, in virtual seconds
    info = rig.state.module_info
    assert info is not None
    assert info.dialect == ("dual-stack" if model in ("bp35c2", "rl7023-dss") else "single-hop")
    assert info.payload_format == ("binary" if model.startswith("bp35") else "hex")
    assert '"channel": "3A"' in state_file.read_text()


async def test_the_modules_own_reauthentication_needs_no_rejoin(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    rig = await start(nursery, "bp35c2", session_lifetime=600.0)
    await wait_until(lambda: rig.state.reading is not None)
    polls = rig.state.counters[Counter.POLLS]
    await trio.sleep(2000)  # three lifetimes: the module re-authenticates at 80 % each time
    assert rig.module.stats.events[0x25] >= 3  # unsolicited EVENT 25s
    assert rig.state.counters[Counter.JOINS] == 1
    assert rig.module.stats.commands["SKJOIN"] == 1
    assert rig.state.counters[Counter.POLLS] - polls >= 30
    assert sum(rig.state.errors.values()) == 0


async def test_event_29_without_reauth_rejoins_and_reads_again(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    rig = await start(nursery, "bp35a1")
    await wait_until(lambda: rig.state.reading is not None)
    rig.module.inject(Fault.EVENT_29)
    lost_at = trio.current_time()
    await wait_until(lambda: not rig.state.session_up)
    await wait_until(
        lambda: rig.state.session_up and rig.state.reading.received_monotonic > lost_at
    )  # type: ignore[union-attr]
    recovered = trio.current_time() - lost_at
    # bound: the re-auth wait + the REJOIN's backoff (its second step, jitter at most) +
    # SKJOIN (2.7 s) + one Get (< 1 s); the poller reads at once after a join (measured 9.9 s)
    assert recovered < Timing().reauth + Backoff().worst(1) + 2.7 + 1
    assert rig.state.errors[ErrorType.AUTH] == 1
    assert rig.state.module_events[0x29] == 1
    assert rig.state.counters[Counter.JOINS] == 2


@pytest.mark.parametrize(("channel", "scans"), [(0x21, 1), (0x2A, 10), (0x3C, 28)])
async def test_a_cold_start_sweeps_channel_by_channel_and_stops_at_the_meter(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, channel: int, scans: int
) -> None:
    from trio_smartmeter.sim import timing

    started = trio.current_time()
    rig = await start(nursery, meter=MeterConfig(channel=channel))
    t = await wait_until(lambda: rig.state.reading is not None)
    # one single-channel SKSCAN per channel up to the meter's, then no more
    assert rig.module.stats.scans == scans
    assert rig.state.counters[Counter.SCANS] == 1  # one scan, whatever its sweep steps
    floor = scans * timing.scan_dwell(4) + timing.join_duration() + rig.module.floor_get(25)
    # start-up drain (0.1 s) + commands are the only time above the modelled floor
    assert floor <= t - started < floor + 0.2, (t - started, floor)


async def test_a_stale_cached_address_is_rescanned_after_one_failed_join(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """A replaced meter (or a demo's cache) must not cost three 38 s joins before a scan."""
    from trio_smartmeter.link.timing import Timing
    from trio_smartmeter.sim import timing

    state_file = tmp_path / "state.json"
    stale = {"version": 1, "channel": "21", "pan_id": "1234", "mac": "001C640003001234",
             "ip": "FE80:0000:0000:0000:021C:6400:0300:1234", "dialect": "single-hop"}  # fmt: skip
    state_file.write_text(json.dumps(stale))
    started = trio.current_time()
    rig = await start(nursery, state_file=state_file, meter=MeterConfig(channel=0x30))
    t = await wait_until(lambda: rig.state.reading is not None)
    assert rig.module.stats.commands["SKJOIN"] == 2  # the stale one, then the scanned one
    assert rig.state.errors[ErrorType.AUTH] == 1
    assert not rig.state.credentials_latched
    assert '"channel": "30"' in state_file.read_text()
    # one failed join (EVENT 24 at 38 s) + backoff (<= 1.1 s) + the cached channel at D=4..8,
    # then a sweep up to 0x30 at D=4 + join + one Get; before, two more failed joins (> 117 s)
    known = sum(timing.scan_dwell(d) for d in range(4, 9))
    sweep = (0x30 - 0x21 + 1) * timing.scan_dwell(4)
    grace = 5 * Timing().scan_trailing  # after each fruitless scan of the cached channel
    bound = 38.0 + 1.1 + known + grace + sweep + timing.join_duration() + 2.0
    assert t - started < bound < 60, (t - started, bound)


async def test_a_lock_taken_while_running_is_a_transient_loss(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Only at start is a held device a configuration error; later it is waited out."""
    rig = await start(nursery)
    taken = await rig.reading_then_settle()
    rig.device.busy_until = taken + 30.0
    rig.module.inject(Fault.UNPLUG, duration=0.0)
    back = await rig.next_reading_after(taken + 30.0)
    assert rig.device.failed_opens >= 1
    assert rig.state.errors[ErrorType.SERIAL] >= 2  # the EOF and each refused open
    assert back - taken < 30.0 + 60.0 + 15.0
