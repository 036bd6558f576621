"""An in-process exporter over the simulator, on Trio's virtual clock (autojump_clock).

``Rig`` = LinkSupervisor + ExporterState + build_registry over ONE SimulatedModule that is
reused across serial reopens (a replug is a power cycle of the same stick, so scheduled
faults and counters survive it). Recovery bounds are derived here from ``Timing``,
``recovery.Backoff``, the supervisor's constants and the simulator's modelled delays.
"""

from __future__ import annotations

import errno
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing
from loguru import logger

from trio_smartmeter.core.errors import LinkLost
from trio_smartmeter.core.recovery import Backoff, Ladder
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.session import ALL_CHANNEL_DURATIONS
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.meter_client import Timing
from trio_smartmeter.link.serial_port import describe_os_error
from trio_smartmeter.link.skstack_client import ORPHAN_GRACE
from trio_smartmeter.service.settings import SessionSettings
from trio_smartmeter.service.supervisor import LinkSupervisor
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID, SimulatedModule
from trio_smartmeter.sim import timing as sim_timing
from trio_smartmeter.web.metrics import build_registry, render

INTERVAL = 60.0
MODELS = ("bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss")  # binary/hex × single-hop/DSE

# -- the bounds, derived --------------------------------------------------------------
T = Timing()
BACKOFF = Backoff()


#: The policy's own bounds (the tests ask recovery.py; they never copy its arithmetic).
POLICY = Ladder()


def backoff_max(attempt: int) -> float:
    """The longest ``Ladder`` wait before the ``attempt``-th consecutive fault's rung."""
    return BACKOFF.worst(attempt)


def reopen_max(attempt: int) -> float:
    return POLICY.worst_reopen_delay(attempt)


#: initialise(): CRLF + drain (≤ 2 s) + commands answered at once, + a possible orphan grace.
T_INIT = 2.0 + ORPHAN_GRACE
#: one Get round trip (the static read carries 7 EPCs, a poll 4-5), + an orphan grace.
T_GET = sim_timing.get_round_trip(payload_len=26) + ORPHAN_GRACE
T_JOIN = sim_timing.join_duration()
T_SCAN_FIRST = sim_timing.scan_duration(sim_timing.ALL_CHANNELS, ALL_CHANNEL_DURATIONS[0])
#: the rescan of a known channel: one channel at every duration, each with its grace
T_RESCAN_KNOWN = sum(sim_timing.scan_dwell(d) + T.scan_trailing for d in ALL_CHANNEL_DURATIONS)
T_SCAN_PLAN = sum(
    sim_timing.scan_duration(sim_timing.ALL_CHANNELS, d) + T.scan_trailing
    for d in ALL_CHANNEL_DURATIONS
)
#: a cold start with a known address: init, join, static read, first poll
T_WARM_START = T_INIT + T_JOIN + 2 * T_GET
T_COLD_START = T_INIT + T_SCAN_FIRST + T_JOIN + 2 * T_GET
#: readings older than this are never exported
MAX_AGE = 3 * INTERVAL


@attrs.define
class NotifyingState(ExporterState):
    """ExporterState that wakes waiters on every reading (no polling of the virtual clock)."""

    reading_event: trio.Event = attrs.field(factory=trio.Event)

    def record_reading(self, reading: Any, duration: float) -> None:
        super().record_reading(reading, duration)
        self.reading_event.set()
        self.reading_event = trio.Event()


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


@attrs.define
class Rig:
    supervisor: LinkSupervisor
    state: NotifyingState
    module: SimulatedModule
    registry: Any
    opens: int = 0
    failed_opens: int = 0
    replug_at: float | None = None
    deny_until: float | None = None
    sim_nursery: trio.Nursery = attrs.field(default=None)
    violations: list[str] = attrs.field(factory=list)
    up_zero_seen: int = 0

    def exposition(self) -> str:
        body, _ = render(self.registry, None)
        return body.decode()

    def metrics(self) -> dict[str, float]:
        return parse_metrics(self.exposition())

    def check_staleness(self) -> None:
        """Invariant 3: no reading older than max age is exported; up is 0 without one."""
        m = self.metrics()
        r = self.state.reading
        age = None if r is None else trio.current_time() - r.received_monotonic
        fresh = age is not None and age <= self.state.max_age
        if ("smartmeter_power_watts" in m) != fresh:
            self.violations.append(f"power exported={('smartmeter_power_watts' in m)} age={age}")
        if m.get("smartmeter_up") != (1.0 if fresh else 0.0):
            self.violations.append(f"up={m.get('smartmeter_up')} age={age}")
        if m.get("smartmeter_up") == 0.0:
            self.up_zero_seen += 1

    async def watch_staleness(self, period: float = 15.0) -> None:
        while True:
            self.check_staleness()
            await trio.sleep(period)

    async def next_reading_after(self, t: float, limit: float = 20_000.0) -> float:
        """Virtual time of the first reading received after ``t``."""
        with trio.fail_after(limit):
            while True:
                r = self.state.reading
                if r is not None and r.received_monotonic > t:
                    return r.received_monotonic
                await self.state.reading_event.wait()

    async def reading_then_settle(self) -> float:
        """Wait for a fresh reading; return its time (the poll phase is then known)."""
        return await self.next_reading_after(trio.current_time())


def make_opener(rig_box: list[Rig], module: SimulatedModule) -> Callable[[str], Any]:
    @asynccontextmanager
    async def open_sim(_model: str) -> AsyncIterator[trio.abc.Stream]:
        rig = rig_box[0]
        now = trio.current_time()
        if rig.deny_until is not None and now < rig.deny_until:
            rig.failed_opens += 1
            raise LinkLost(
                describe_os_error("/dev/ttyUSB0", PermissionError(errno.EACCES, "denied"))
            )
        if rig.replug_at is not None and now < rig.replug_at:
            rig.failed_opens += 1
            raise LinkLost(
                describe_os_error("/dev/ttyUSB0", FileNotFoundError(errno.ENOENT, "gone"))
            )
        rig.opens += 1
        host, device = trio.testing.memory_stream_pair()

        async def serve() -> None:
            try:
                await module.serve(device)
            finally:
                if module.unplugged_for is not None:
                    rig.replug_at = trio.current_time() + module.unplugged_for * module.time_scale
                with trio.CancelScope(shield=True):
                    await device.aclose()

        # The stick lives outside the exporter's cancel scopes (it answers SKTERM while the
        # exporter stops), so it runs in the test's nursery, not inside this context.
        rig.sim_nursery.start_soon(serve)
        try:
            yield host
        finally:
            with trio.CancelScope(shield=True):
                await host.aclose()

    return open_sim


async def start_rig(
    nursery: trio.Nursery,
    model: str = "bp35a1",
    *,
    seed: int = 1,
    interval: float = INTERVAL,
    rbid: str = DEMO_RBID,
    password: str = DEMO_PASSWORD,
    watch: bool = True,
    state_file: Path | None = None,
    **sim: Any,
) -> Rig:
    state = NotifyingState(interval=interval)
    module = SimulatedModule(model, seed=seed, **sim)
    settings = SessionSettings(
        rbid=Secret(rbid),
        password=Secret(password),
        device=f"sim:{model}",
        interval=interval,
        state_file=state_file,
    )
    box: list[Rig] = []
    supervisor = LinkSupervisor(
        settings,
        state,
        rng=random.Random(seed),
        sim_opener=make_opener(box, module),
        wall_clock=lambda: 1.7e9 + trio.current_time(),
    )
    rig = Rig(
        supervisor, state, module, build_registry(state, trio.current_time), sim_nursery=nursery
    )
    box.append(rig)
    await nursery.start(supervisor.run)
    if watch:
        nursery.start_soon(rig.watch_staleness)
    return rig


@attrs.define
class LogCapture:
    records: list[tuple[str, str]] = attrs.field(factory=list)

    def sink(self, message: Any) -> None:
        rec = message.record
        self.records.append((rec["level"].name, rec["message"]))

    def at_least(self, level: str) -> list[tuple[str, str]]:
        order = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "SUCCESS": 25, "WARNING": 30, "ERROR": 40}
        return [r for r in self.records if order.get(r[0], 50) >= order[level]]

    def clear(self) -> None:
        self.records.clear()


@asynccontextmanager
async def capture_logs(level: str = "INFO") -> AsyncIterator[LogCapture]:
    cap = LogCapture()
    handler = logger.add(cap.sink, level=level, format="{message}")
    try:
        yield cap
    finally:
        logger.remove(handler)
