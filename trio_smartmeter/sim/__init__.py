"""Built-in simulator: an emulated Wi-SUN module with a smart meter behind it.

It is how the product is demonstrated and tested without hardware, so it behaves
like a real module (protocol.md), never like our client's convenience.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from . import timing
from .faults import Fault, FaultSpec, Scenario
from .history import RegisterHistory
from .meter import Meter, MeterConfig
from .models import DEMO_MODEL, DEMO_PASSWORD, DEMO_RBID, MODELS, link_local
from .module import SimulatedModule
from .stats import SimStats

__all__ = [
    "DEMO_MODEL",
    "DEMO_PASSWORD",
    "DEMO_RBID",
    "MODELS",
    "Fault",
    "FaultSpec",
    "Meter",
    "MeterConfig",
    "RegisterHistory",
    "Scenario",
    "SimStats",
    "SimulatedModule",
    "link_local",
    "open_in_process",
    "open_sim_stream",
    "timing",
]


async def _serve_and_close(
    module: SimulatedModule,
    stream: trio.abc.Stream,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    try:
        await module.serve(stream, task_status=task_status)
    finally:
        # EOF for the host after an unplug (an in-process device never comes back)
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def open_in_process(
    nursery: trio.Nursery, model: str, **kwargs: Any
) -> tuple[trio.abc.Stream, SimulatedModule]:
    """Start a module in ``nursery``; return the host's end of the link and the module.

    ``kwargs`` go to :class:`SimulatedModule`. Closing the host end ends the module.
    """
    import trio.testing  # here: it pulls in pytest wherever that is installed

    module = SimulatedModule(model, **kwargs)
    host, device = trio.testing.memory_stream_pair()
    await nursery.start(_serve_and_close, module, device)
    return host, module


@asynccontextmanager
async def open_sim_stream(
    model: str, **kwargs: Any
) -> AsyncIterator[tuple[trio.abc.Stream, SimulatedModule]]:
    """``async with open_sim_stream("bp35a1") as (stream, module): ...``"""
    async with trio.open_nursery() as nursery:
        host, module = await open_in_process(nursery, model, **kwargs)
        try:
            yield host, module
        finally:
            nursery.cancel_scope.cancel()
