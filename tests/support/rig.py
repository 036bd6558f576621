"""An exporter in process over the simulator, on Trio's virtual clock: the one test rig.

``Rig`` = LinkSupervisor + ExporterState + the metrics registry over ONE SimulatedModule
behind a :class:`PluggableDevice` (a replug is a power cycle of the same stick, so
scheduled faults and counters survive it). It checks the exported metrics against the
staleness rule as it runs, and wakes waiters on every reading instead of polling.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
from loguru import logger

from tests.support.device import PluggableDevice
from tests.support.exposition import Key, key, samples
from trio_smartmeter.app.root import link_supervisor
from trio_smartmeter.core.config import SimulatedDevice
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.serial_port import SimOpener
from trio_smartmeter.service.history_store import HistoryStore
from trio_smartmeter.service.settings import SessionSettings
from trio_smartmeter.service.supervisor import LinkSupervisor
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID, SimulatedModule
from trio_smartmeter.web.metrics import build_registry, render

INTERVAL = 60.0
#: the rig's wall clock: Unix time = this + trio time
WALL_EPOCH = 1.7e9


@attrs.define
class NotifyingState(ExporterState):
    """ExporterState that wakes waiters on every reading."""

    reading_event: trio.Event = attrs.field(factory=trio.Event)

    def record_reading(self, reading: Any, duration: float) -> None:
        super().record_reading(reading, duration)
        self.reading_event.set()
        self.reading_event = trio.Event()


@attrs.define
class Rig:
    supervisor: LinkSupervisor
    state: NotifyingState
    module: SimulatedModule
    device: PluggableDevice
    registry: Any
    violations: list[str] = attrs.field(factory=list)
    up_zero_seen: int = 0

    # the device's counters, as the fault matrix reads them
    @property
    def opens(self) -> int:
        return self.device.opens

    @property
    def failed_opens(self) -> int:
        return self.device.failed_opens

    def exposition(self) -> str:
        body, _ = render(self.registry, None)
        return body.decode()

    def metrics(self) -> dict[Key, float]:
        return samples(self.exposition())

    def check_staleness(self) -> None:
        """No reading older than max age is exported; up is 0 without one."""
        m = self.metrics()
        r = self.state.reading
        age = None if r is None else trio.current_time() - r.received_monotonic
        fresh = age is not None and age <= self.state.max_age
        exported = key("smartmeter_power_watts") in m
        if exported != fresh:
            self.violations.append(f"power exported={exported} age={age}")
        up = m.get(key("smartmeter_up"))
        if up != (1.0 if fresh else 0.0):
            self.violations.append(f"up={up} age={age}")
        if up == 0.0:
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
    module: SimulatedModule | None = None,
    opener: Callable[[PluggableDevice], SimOpener] | None = None,
    history: HistoryStore | None = None,
    **sim: Any,
) -> Rig:
    """Start an exporter on ``model`` in ``nursery``; ``opener`` may wrap the device's."""
    state = NotifyingState(interval=interval)
    module = module if module is not None else SimulatedModule(model, seed=seed, **sim)
    device = PluggableDevice(module, nursery)
    settings = SessionSettings(
        rbid=Secret(rbid),
        password=Secret(password),
        device=SimulatedDevice(model),
        interval=interval,
        state_file=state_file,
    )
    supervisor = link_supervisor(
        settings,
        state,
        rng=random.Random(seed),
        sim_opener=opener(device) if opener is not None else device.open,
        wall_clock=lambda: WALL_EPOCH + trio.current_time(),
        device_present=device.present,
        history=history,
        history_offload=inline,  # a worker thread would let the virtual clock jump meanwhile
    )
    rig = Rig(supervisor, state, module, device, build_registry(state, trio.current_time))
    await nursery.start(supervisor.run)
    if watch:
        nursery.start_soon(rig.watch_staleness)
    return rig


async def inline(fn: Callable[..., Any], *args: object) -> Any:
    return fn(*args)


async def wait_until(predicate: Callable[[], bool], limit: float = 10_000.0) -> float:
    """Poll ``predicate`` on the virtual clock (free under autojump) until it holds."""
    with trio.fail_after(limit):
        while not predicate():
            await trio.sleep(0.01)
    return trio.current_time()


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
