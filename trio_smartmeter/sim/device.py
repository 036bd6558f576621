"""The ``sim:MODEL`` device: the built-in simulator as a stream, in this process.

The command line injects :func:`open_demo_sim` as ``serial_port.open_device``'s opener
(``cli/simulator.py``) and imports it only for a ``sim:`` device: it imports
``trio.testing``, which imports pytest wherever it is installed, so a service on a real
stick loads neither.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from trio_smartmeter.core.jst import jst_now

from .meter import MeterConfig
from .module import SimulatedModule


@asynccontextmanager
async def open_sim_device(
    model: str, *, on_start: Callable[[Any], None] | None = None, **kwargs: Any
) -> AsyncIterator[trio.abc.Stream]:
    """A simulated module in-process, as a device that outlives the exporter's stop request.

    Like hardware, the module keeps running while the exporter cancels its own tasks and
    sends SKTERM; it stops when the device is closed. (The shield covers only the module's
    task, never the caller's body.) ``on_start`` receives the ``SimulatedModule``.
    """
    module = SimulatedModule(model, **kwargs)
    if on_start is not None:
        on_start(module)
    host, device = trio.testing.memory_stream_pair()
    powered = trio.CancelScope(shield=True)

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with powered:
            try:
                await module.serve(device, task_status=task_status)
            finally:
                with trio.CancelScope(shield=True):
                    await device.aclose()

    async with trio.open_nursery() as nursery:
        await nursery.start(run)
        try:
            yield host
        finally:
            powered.cancel()


@asynccontextmanager
async def open_demo_sim(model: str) -> AsyncIterator[trio.abc.Stream]:
    """The ``sim:MODEL`` device of ``--demo``: the meter's clock starts at the current
    Japanese time and the household has solar panels, so the demo shows the daily curve
    and negative power around noon. A week of past half-hours (~0.1 s to fabricate) lets
    the history store, the status page's bar chart and ``/api/history`` fill at once."""
    now_jst = jst_now(time.time())
    meter = MeterConfig(start=now_jst, solar_peak_watts=3200.0, channel=0x3B, history_days=7)
    async with open_sim_device(model, meter=meter) as stream:
        yield stream
