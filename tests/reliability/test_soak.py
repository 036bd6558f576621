"""Soak: a week of polls (10 000 intervals of 60 s) on the virtual clock, with a seeded
random mix of the fault matrix injected while the service is healthy.

Every fault must be recovered within its derived bound, every error counter must move
exactly as the injected fault predicts, traced memory must not grow by 1 MiB between the
first and the last thousand polls, and the whole run must take under a minute.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import random
import time
import tracemalloc
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from loguru import logger

from tests.support.rig import INTERVAL, start_rig
from trio_smartmeter.core.state import Counter, ErrorType

from .faults import CASES, Case

#: 10 000 polls under the mock clock: tens of seconds of CPU, so out of a quick run
#: (``-m "not slow"``) like the suites of real processes.
pytestmark = pytest.mark.slow

POLLS = 10_000
#: faults that can be injected mid-session (the start-up ones are in the matrix; the soak's
#: one rig cannot take a case's own simulator or interval)
MIX = tuple(
    c
    for c in CASES
    if c.inject is not None
    and not c.sim
    and c.custom in (None, "unplug")
    and c.name not in ("get_sna_e3", "unplug_1h")
)
#: one fault roughly every this many intervals
FAULT_EVERY = 8
FULL_TRACE = os.environ.get("SOAK_FULL_TRACE") == "1"
SOAK_RESULTS = Path(os.environ.get("SOAK_RESULTS", "")) if os.environ.get("SOAK_RESULTS") else None


@attrs.define
class SoakStats:
    injected: collections.Counter[str] = attrs.field(factory=collections.Counter)
    recovered: collections.Counter[str] = attrs.field(factory=collections.Counter)
    worst: dict[str, float] = attrs.field(factory=dict)
    mem_first: int | None = None
    mem_last: int | None = None
    sim_bytes: int = 0
    real_seconds: float = 0.0
    polls: int = 0
    virtual_seconds: float = 0.0


def _service_bytes(*, sim: bool = False) -> int:
    """Traced bytes still allocated, without (or only) the simulator's own truth logs
    (``Meter.answered_log`` keeps every answer for tests: ~240 B per poll by design)."""
    flt = tracemalloc.Filter(sim, "*/trio_smartmeter/sim/*")
    snapshot = tracemalloc.take_snapshot().filter_traces([flt])
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def soak(nursery: trio.Nursery, seed: int = 7) -> SoakStats:
    rng = random.Random(seed)
    stats = SoakStats()
    rig = await start_rig(nursery, "bp35a1", seed=seed, watch=False)
    started = time.monotonic()
    t = await rig.next_reading_after(0.0)
    end = t + POLLS * INTERVAL
    first_mark = t + 1000 * INTERVAL
    # Tracing every allocation triples the cost of a poll: the suite traces polls 1000-3000
    # (SOAK_FULL_TRACE=1 traces 1000 to 9000, the "first and last thousand").
    last_mark = end - 1000 * INTERVAL if FULL_TRACE else t + 3000 * INTERVAL
    while trio.current_time() < end:
        now = trio.current_time()
        if stats.mem_first is None and now >= first_mark:
            # trace from the end of the first thousand polls: what is still allocated at the
            # start of the last thousand is exactly the growth in between
            gc.collect()
            tracemalloc.start()
            stats.mem_first = _service_bytes()
        if stats.mem_last is None and now >= last_mark:
            gc.collect()
            stats.mem_last = _service_bytes()
            stats.sim_bytes = _service_bytes(sim=True)
            tracemalloc.stop()
        if rng.randrange(FAULT_EVERY):
            t = await rig.next_reading_after(t)
            continue
        case: Case = rng.choice(MIX)
        assert case.inject is not None
        before = dict(rig.state.errors)
        failed_opens = rig.failed_opens
        t0 = trio.current_time()
        rig.module.inject(case.inject)
        stats.injected[case.name] += 1
        t = await rig.next_reading_after(t0)
        took = t - t0
        assert took <= case.bound, (case.name, took, case.bound)
        t = await rig.next_reading_after(t)  # late effects are counted by then
        stats.recovered[case.name] += 1
        stats.worst[case.name] = max(stats.worst.get(case.name, 0.0), took)
        deltas = {k: rig.state.errors[k] - before[k] for k in before}
        expected = dict.fromkeys(deltas, 0) | case.errors
        if expected.get("serial") == -1:
            expected["serial"] = 1 + rig.failed_opens - failed_opens
        if case.name == "transmit_limit":
            assert abs(deltas[ErrorType.RATE_LIMIT] - 10) <= 1
            expected["rate_limit"] = deltas[ErrorType.RATE_LIMIT]
        assert deltas == expected, (case.name, deltas, expected)
    stats.real_seconds = time.monotonic() - started
    stats.polls = rig.state.counters[Counter.POLLS]
    stats.virtual_seconds = trio.current_time()
    return stats


async def test_a_week_of_polls_with_faults(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    logger.disable("trio_smartmeter")
    try:
        stats = await soak(nursery)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        logger.enable("trio_smartmeter")
    assert stats.virtual_seconds >= POLLS * INTERVAL
    # polls skipped under EVENT 32 and intervals spent recovering are not polls
    assert stats.polls >= 0.8 * POLLS, stats.polls
    assert stats.injected == stats.recovered
    assert set(stats.injected) == {c.name for c in MIX}, stats.injected
    assert stats.mem_first is not None and stats.mem_last is not None
    growth = stats.mem_last - stats.mem_first
    assert growth < 1 << 20, growth
    assert stats.real_seconds < 60, stats.real_seconds
    if SOAK_RESULTS is not None:
        SOAK_RESULTS.write_text(
            json.dumps(
                {
                    "polls": stats.polls,
                    "virtual_days": stats.virtual_seconds / 86400,
                    "injected": dict(stats.injected),
                    "recovered": dict(stats.recovered),
                    "worst_recovery_s": stats.worst,
                    "tracemalloc_bytes_at_poll_1000": stats.mem_first,
                    "tracemalloc_growth_bytes": growth,
                    "sim_truth_log_bytes": stats.sim_bytes,
                    "real_seconds": stats.real_seconds,
                    "traced_polls": "1000-9000" if FULL_TRACE else "1000-3000",
                },
                indent=2,
            )
        )
