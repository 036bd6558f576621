"""One simulated stick behind a ``sim:`` device, for an exporter run in process.

The same :class:`SimulatedModule` answers every open (a replug is a power cycle of the
same stick, so scheduled faults and counters survive it). The module runs in the
caller's nursery, outside the exporter's cancel scopes: like hardware, it still answers
SKTERM while the exporter stops. After ``Fault.UNPLUG`` the device is absent (opens
raise ``LinkLost`` as for a missing tty) until the fault's duration has passed.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio
import trio.testing

from trio_smartmeter.core.errors import DeviceBusy, LinkLost
from trio_smartmeter.link.serial_port import describe_os_error
from trio_smartmeter.sim import SimulatedModule


@attrs.define
class PluggableDevice:
    """Pass ``device.open`` as the exporter's ``sim_opener``."""

    module: SimulatedModule
    nursery: trio.Nursery
    #: the path the open errors name (what a user would see)
    path: str = "/dev/ttyUSB0"
    opens: int = 0
    failed_opens: int = 0
    #: absent (ENOENT) until this trio time: set by UNPLUG
    replug_at: float | None = None
    #: permission denied (EACCES) until this trio time: set by a test
    deny_until: float | None = None
    #: held by another process (its exclusive lock) until this trio time: set by a test
    busy_until: float | None = None

    @asynccontextmanager
    async def open(self, _model: str) -> AsyncIterator[trio.abc.Stream]:
        now = trio.current_time()
        if self.deny_until is not None and now < self.deny_until:
            self._refuse(PermissionError(errno.EACCES, "denied"))
        if self.replug_at is not None and now < self.replug_at:
            self._refuse(FileNotFoundError(errno.ENOENT, "gone"))
        if self.busy_until is not None and now < self.busy_until:
            self.failed_opens += 1
            raise DeviceBusy(f"{self.path} is in use by pid 4242", holder_pid=4242)
        self.opens += 1
        host, device = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self._serve, device)
        try:
            yield host
        finally:
            with trio.CancelScope(shield=True):
                await host.aclose()

    def present(self) -> bool:
        """Whether the device node exists (the exporter looks while it waits to reopen)."""
        return self.replug_at is None or trio.current_time() >= self.replug_at

    def _refuse(self, exc: OSError) -> None:
        self.failed_opens += 1
        raise LinkLost(describe_os_error(self.path, exc))

    async def _serve(self, device: trio.abc.Stream) -> None:
        module = self.module
        try:
            await module.serve(device)
        finally:
            if module.unplugged_for is not None:
                self.replug_at = trio.current_time() + module.unplugged_for * module.time_scale
            with trio.CancelScope(shield=True):
                await device.aclose()
