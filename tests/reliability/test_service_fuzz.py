"""The decoder at the service level: noise between the module and the exporter.

An in-process rig (LinkSupervisor + ExporterState over a SimulatedModule, autojump clock)
whose serial line passes through a proxy: everything the module writes reaches the
exporter in random chunks (1 byte to 200 bytes) with arbitrary bytes (random binary,
lone CR/LF, half lines, NUL/0xFF, plausible but bogus ``OK``/``FAIL``/``EVENT`` lines)
inserted between chunks. The exporter's own commands reach the module intact.

For each seed (a seeded ``random.Random`` drives noise, chunking and the exporter's
jitter, so a failure replays): ``NOISE_FOR`` virtual seconds of noise — from power-on
(even seeds: init, scan, join) or from the first reading (odd seeds: polls, recovery) —
then a clean line. Four models (binary/hex payloads × single-hop/DSE), four densities. The service must stay up (the supervisor task never dies, /metrics
renders and the staleness invariant holds throughout), and after the noise stops it
must resynchronise and publish a fresh reading — equal to what the meter answered —
within ``RECOVERY_BOUND`` (worst ladder wait + worst reopen wait + a full cold start
with the whole scan plan + one interval).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from tests.support import PluggableDevice, key
from tests.support.rig import capture_logs, start_rig
from trio_smartmeter.core.state import Counter
from trio_smartmeter.sim import SimulatedModule

from .harness import (
    INTERVAL,
    MODELS,
    T_GET,
    T_INIT,
    T_JOIN,
    T_SCAN_PLAN,
    backoff_max,
    reopen_max,
)

NOISE_FOR = 300.0
RECOVERY_BOUND = backoff_max(10) + reopen_max(10) + T_INIT + T_SCAN_PLAN + T_JOIN + 2 * T_GET
RECOVERY_BOUND += INTERVAL
SEEDS = range(32)
BOGUS_LINES = (
    b"OK\r\n",
    b"FAIL ER04\r\n",
    b"FAIL ER10\r\n",
    b"EVENT 21 FE80:0000:0000:0000:021C:6400:030C:12A4 02\r\n",
    b"EVENT 1F FE80:0000:0000:0000:021C:6400:030C:12A4\r\n",
    b"ERXUDP FE80::1 FE80::2 0E1A 0E1A 001C640000000000 1 0012 1081\r\n",
    b"ERXUDP FE80:0000:0000:0000:021C:6400:030C:12A4 FE80::2 0E1A 0E1A",
    b"EPANDESC\r\n  Channel:ZZ\r\n",
    b"SKSENDTO 1 FE80::1 0E1A 1 0 000E ",
    b"\r",
    b"\n",
    b"\r\n\r\n",
)


def noise(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.4:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    if pick < 0.5:
        return b"\x00" * rng.randint(1, 8) + b"\xff" * rng.randint(0, 8)
    if pick < 0.9:
        return rng.choice(BOGUS_LINES)
    return bytes(rng.randrange(0x20, 0x7F) for _ in range(rng.randint(1, 300)))


def noisy_opener(
    rng: random.Random, density: float, noisy: Callable[[], bool], stats: dict[str, int]
) -> Callable[[PluggableDevice], Callable[[str], Any]]:
    """An opener whose module → exporter direction goes through the noise proxy."""

    def wrap(pluggable: PluggableDevice) -> Callable[[str], Any]:
        module, nursery = pluggable.module, pluggable.nursery

        @asynccontextmanager
        async def open_sim(_model: str) -> AsyncIterator[trio.abc.Stream]:
            to_mod_send, to_mod_recv = trio.testing.memory_stream_one_way_pair()
            mod_out_send, mod_out_recv = trio.testing.memory_stream_one_way_pair()
            to_exp_send, to_exp_recv = trio.testing.memory_stream_one_way_pair()
            host = trio.StapledStream(to_mod_send, to_exp_recv)
            device = trio.StapledStream(mod_out_send, to_mod_recv)
            done = trio.CancelScope()

            async def proxy() -> None:
                with done:
                    try:
                        while data := await mod_out_recv.receive_some(4096):
                            while data:
                                cut = rng.randint(1, 200)
                                chunk, data = data[:cut], data[cut:]
                                if noisy() and rng.random() < density:
                                    junk = noise(rng)
                                    stats["noise_bytes"] += len(junk)
                                    await to_exp_send.send_all(junk)
                                await to_exp_send.send_all(chunk)
                                stats["chunks"] += 1
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass

            async def serve() -> None:
                try:
                    await module.serve(device)
                finally:
                    done.cancel()
                    with trio.CancelScope(shield=True):
                        await device.aclose()

            nursery.start_soon(proxy)
            nursery.start_soon(serve)
            try:
                yield host
            finally:
                done.cancel()
                with trio.CancelScope(shield=True):
                    await host.aclose()

        return open_sim

    return wrap


@pytest.mark.parametrize("seed", SEEDS)
async def test_noise_on_the_line_then_a_fresh_reading(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, seed: int
) -> None:
    rng = random.Random(seed)
    model = MODELS[seed // 2 % len(MODELS)]
    density = (0.05, 0.2, 0.5, 0.9)[seed // 8 % 4]
    module = SimulatedModule(model, seed=seed)
    # even seeds: noise from power-on (init, scan, join); odd seeds: from the first reading
    window = [trio.current_time() if seed % 2 == 0 else float("inf"), float("inf")]
    stats = {"noise_bytes": 0, "chunks": 0}
    opener = noisy_opener(rng, density, lambda: window[0] <= trio.current_time() < window[1], stats)
    async with capture_logs("ERROR") as logs:
        rig = await start_rig(nursery, model, seed=seed, module=module, opener=opener, watch=False)
        nursery.start_soon(rig.watch_staleness, 5.0)
        if seed % 2:
            window[0] = await rig.next_reading_after(trio.current_time())
        window[1] = quiet_at = window[0] + NOISE_FOR
        await trio.sleep_until(quiet_at)
        assert stats["noise_bytes"] > 0 or density < 0.1
        fresh_at = await rig.next_reading_after(quiet_at, limit=RECOVERY_BOUND)

    state = rig.state
    took = fresh_at - quiet_at
    print(
        f"seed {seed} {model} density {density} from {'start' if seed % 2 == 0 else 'polling'}: {stats['noise_bytes']} noise bytes, "
        f"errors {dict(state.errors)}, resets {state.counters[Counter.MODULE_RESETS]}, joins {state.counters[Counter.JOINS]}, "
        f"fresh reading {took:.1f} s after the noise"
    )
    assert took <= RECOVERY_BOUND, (model, density, took)
    reading = state.reading
    assert reading is not None
    assert reading.power_watts == module.meter.last_power_watts  # the meter's answer, intact
    assert rig.violations == []
    assert rig.metrics()[key("smartmeter_up")] == 1.0
    # noise is not an error worth an ERROR line (it is counted and logged lower)
    assert logs.at_least("ERROR") == []
    rig.supervisor.request_stop()
