"""No task, file descriptor or memory leak across 100 fault/recovery repetitions."""

from __future__ import annotations

import gc
import os
import tracemalloc

import trio
import trio.testing
from loguru import logger

from tests.support.rig import start_rig
from trio_smartmeter.sim import Fault, FaultSpec

REPETITIONS = 100
#: the faults that tear down the most: a reopen, a reset, a rejoin, a resend
CYCLE = (
    FaultSpec(Fault.UNPLUG, duration=0.5),
    FaultSpec(Fault.HANG),
    FaultSpec(Fault.EVENT_26),
    FaultSpec(Fault.DROP_RESPONSE, count=1),
)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_no_leak_across_100_recoveries(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    logger.disable("trio_smartmeter")
    try:
        rig = await start_rig(nursery, "bp35c2", watch=False)
        await rig.next_reading_after(0.0)
        # warm-up: one of each, so lazily created objects exist before the baseline
        for spec in CYCLE:
            rig.module.inject(spec)
            await rig.next_reading_after(trio.current_time())
        gc.collect()
        fds0 = _fds()
        tasks0 = trio.lowlevel.current_statistics().tasks_living
        tracemalloc.start()
        mem0 = tracemalloc.get_traced_memory()[0]
        for i in range(REPETITIONS):
            rig.module.inject(CYCLE[i % len(CYCLE)])
            await rig.next_reading_after(trio.current_time())
        gc.collect()
        mem1 = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        fds1 = _fds()
        tasks1 = trio.lowlevel.current_statistics().tasks_living
    finally:
        logger.enable("trio_smartmeter")
    assert fds1 == fds0
    assert tasks1 == tasks0, (tasks0, tasks1)
    # the simulator's truth log keeps every answer (~0.25 KiB per poll); the rest is noise
    assert mem1 - mem0 < 256 * 1024, mem1 - mem0
    assert rig.opens >= 1 + REPETITIONS // len(CYCLE)
