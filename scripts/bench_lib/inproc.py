"""In-process scenarios: the real exporter (run_exporter) against a SimulatedModule.

Recovery runs on the real clock (time scale 1) unless ``virtual`` is set, in which case
trio's MockClock jumps over idle time: every modelled delay and deadline is kept, CPU
time counts as zero. Air-time runs one virtual hour at the default interval.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
import trio.testing
from loguru import logger

from tests.support import PluggableDevice, free_port
from tests.support.rig import start_rig
from trio_smartmeter.app.root import run_exporter
from trio_smartmeter.cli.entry import parse
from trio_smartmeter.core.recovery import Backoff
from trio_smartmeter.core.state import Counter, ExporterState
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID, Fault, MeterConfig, SimulatedModule
from trio_smartmeter.sim import timing as simtiming
from trio_smartmeter.sim.models import link_local

logger.remove()


def _config(interval: int, state_file: Path, channel: int, mac: str) -> Any:
    argv = [
        "-id", DEMO_RBID, "-password", DEMO_PASSWORD, "-device", "sim:bp35a1",
        "-interval", str(interval), "-port", str(free_port()), "-listen-address", "127.0.0.1",
        "-channel", f"{channel:02X}", "-ipaddr", link_local(mac), "-verbosity", "0",
        "-state-file", str(state_file),
    ]  # fmt: skip
    return parse(argv, {})


async def _wait_reading(state: ExporterState, after: float) -> float:
    while state.reading is None or state.reading.received_monotonic <= after:
        await trio.sleep(0.005)
    return state.reading.received_monotonic


async def _scenario(kind: str, interval: int, result: dict[str, Any]) -> None:
    module = SimulatedModule("bp35a1", time_scale=1.0, meter=MeterConfig())
    state = ExporterState(interval=float(interval))
    t = Timing()
    backoff = Backoff()
    join, get = module.floor_join(), module.floor_get()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _config(interval, Path(tmp) / "state.json", module.meter.config.channel,
                      module.meter.config.mac)  # fmt: skip
        async with trio.open_nursery() as nursery:
            device = PluggableDevice(module, nursery)
            nursery.start_soon(
                lambda: run_exporter(
                    cfg,
                    state=state,
                    sim_opener=device.open,
                    handle_signals=False,
                    rng=random.Random(1),
                )
            )
            first = await _wait_reading(state, -1.0)
            # fault right after a fresh reading: the next poll is one interval away
            await _wait_reading(state, first)
            t_fault = trio.current_time()
            next_poll = state.reading.received_monotonic + interval - t_fault  # type: ignore[union-attr]
            floor: float
            if kind == "event29_reauth":
                peer = module.session_peer
                module.inject(Fault.EVENT_29)

                async def reauth() -> None:  # the module's own PANA re-auth (sim timing)
                    await trio.sleep(0.8 + 0.3)
                    module.radio.establish(peer)
                    await module.uart.event(0x25, peer)

                nursery.start_soon(reauth)
                floor = 0.8 + 0.3 + get
                rung = "module re-auth (EVENT 25) + Get"
            elif kind == "event29":
                module.inject(Fault.EVENT_29)
                floor = t.reauth + backoff.delay(1, _Nominal()) + join + get
                rung = f"wait re-auth {t.reauth:g} s + backoff 2 s + rejoin"
            elif kind == "event26":
                module.inject(Fault.EVENT_26)
                floor = backoff.delay(0, _Nominal()) + join + get
                rung = "backoff 1 s + rejoin"
            elif kind == "hang":
                module.inject(Fault.HANG)
                floor = next_poll + t.send_ack + backoff.delay(0, _Nominal()) + join + get
                rung = f"next poll + send deadline {t.send_ack:g} s + backoff 1 s + reset/join"
            elif kind == "unplug":
                module.inject(Fault.UNPLUG, duration=2.0)
                back = 0.0  # the reopen backoff schedule 1, 2, 5 s: first attempt after replug
                for step in (1.0, 2.0, 5.0):
                    back += step
                    if back >= 2.0:
                        break
                floor = back + join + get
                rung = "replug after 2 s; reopen backoff 1+2 s + reset/join"
            else:
                raise ValueError(kind)
            got = await _wait_reading(state, t_fault)
            result.update(
                kind=kind, seconds=got - t_fault, floor=floor, rung=rung,
                scans=module.stats.scans,
            )  # fmt: skip
            nursery.cancel_scope.cancel()


async def _dropped_responses(interval: int, result: dict[str, Any]) -> None:
    """Three Get_Res lost, the fault right after a reading (the next poll one interval
    away): the session supervisor alone, as the fault matrix drives it, so that the lost
    answers are the polls' (run_exporter's history filler would take some of them)."""
    t, backoff = Timing(), Backoff()
    async with trio.open_nursery() as nursery:
        rig = await start_rig(nursery, "bp35a1", interval=float(interval), watch=False)
        module = rig.module
        join, get = module.floor_join(), module.floor_get()
        t_fault = await rig.reading_then_settle()
        module.inject(Fault.DROP_RESPONSE, count=3)
        got = await rig.next_reading_after(t_fault)
        backoffs = sum(backoff.delay(i, _Nominal()) for i in range(3))
        result.update(
            kind="drop_x3", seconds=got - t_fault, scans=module.stats.scans,
            floor=interval + 3 * (t.response + get) + backoffs + join + get,
            rung=f"next poll + 3 × Get deadline {t.response:g} s + backoff {backoffs:g} s + rejoin",
        )  # fmt: skip
        nursery.cancel_scope.cancel()


class _Nominal(random.Random):
    """Draws the middle of the jitter band: the documented (nominal) backoff."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def recovery(kind: str, *, virtual: bool, interval: int = 10) -> dict[str, Any]:
    result: dict[str, Any] = {"clock": "virtual" if virtual else "real"}
    clock = trio.testing.MockClock(autojump_threshold=0.0) if virtual else None
    if kind == "drop_x3":
        trio.run(_dropped_responses, interval, result, clock=clock)
    else:
        trio.run(_scenario, kind, interval, result, clock=clock)
    return result


async def _airtime(result: dict[str, Any], hours: float) -> None:
    module = SimulatedModule("bp35a1", time_scale=1.0, meter=MeterConfig())
    state = ExporterState(interval=60.0)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _config(60, Path(tmp) / "s.json", module.meter.config.channel,
                      module.meter.config.mac)  # fmt: skip
        async with trio.open_nursery() as nursery:
            device = PluggableDevice(module, nursery)
            nursery.start_soon(
                lambda: run_exporter(cfg, state=state, sim_opener=device.open, handle_signals=False)
            )
            first = await _wait_reading(state, -1.0)
            start_sends, start_bytes = module.stats.sendto_count, module.stats.payload_bytes
            start_air, start_polls = module.stats.airtime_s, state.counters[Counter.POLLS]
            await trio.sleep_until(first + hours * 3600 - 1.0)
            polls = state.counters[Counter.POLLS] - start_polls
            sends = module.stats.sendto_count - start_sends
            nbytes = module.stats.payload_bytes - start_bytes
            result.update(
                polls=polls, frames=sends, payload_bytes=nbytes,
                airtime_s=module.stats.airtime_s - start_air, hours=hours,
                startup_frames=start_sends, startup_bytes=start_bytes,
                frame_airtime=simtiming.airtime,
            )  # fmt: skip
            nursery.cancel_scope.cancel()


def airtime(hours: float = 1.0) -> dict[str, Any]:
    result: dict[str, Any] = {}
    trio.run(_airtime, result, hours, clock=trio.testing.MockClock(autojump_threshold=0.0))
    return result


Callback = Callable[[], None]
