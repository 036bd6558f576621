"""Serve a simulated module on a pseudo-terminal, for programs that open a tty.

The harness keeps its own slave fd open for the device's lifetime: without one,
reads on the master fail with EIO before the client opens the port and between
reconnects (stack.md §1). An optional symlink gives clients a stable path across
simulated unplug/replug cycles, as udev names do for real sticks.
"""

from __future__ import annotations

import contextlib
import os
import tty
from collections.abc import Callable

import trio

from .module import SimulatedModule


def _point_link(link: str, target: str) -> None:
    tmp = f"{link}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _remove_link(link: str, target: str) -> None:
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            os.unlink(link)


async def serve_pty(
    module: SimulatedModule,
    link: str | None = None,
    *,
    on_path: Callable[[str], None] | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``module`` on a pty until cancelled; ``task_status.started(path)``.

    ``path`` is ``link`` when given, else the slave's /dev/pts path. After an UNPLUG
    fault the pty (and symlink) vanish and a new one appears after the fault's
    duration × ``time_scale``; ``on_path`` is called with every new slave path.
    """
    started = False
    while True:
        master, slave = os.openpty()
        tty.setraw(slave)
        path = os.ttyname(slave)
        if link is not None:
            _point_link(link, path)
        if on_path is not None:
            on_path(path)
        stream = trio.lowlevel.FdStream(master)
        try:
            if not started:
                started = True
                task_status.started(link if link is not None else path)
            await module.serve(stream)
        finally:
            if link is not None:
                _remove_link(link, path)
            with trio.CancelScope(shield=True):
                await stream.aclose()
            os.close(slave)
        if module.unplugged_for is None:
            return
        await trio.sleep(module.unplugged_for * module.time_scale)
