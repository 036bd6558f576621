"""Opening the device: a real tty through trio-serial, or the built-in simulator.

The only module that imports ``trio_serial``; a ``sim:`` device is opened by the opener
the command line injects (the simulator's, ``sim/device.py``). Every way a device can be absent or go
away (ENOENT, EACCES, EIO, a non-tty path's ``termios.error``, a lock held by another
process) becomes :class:`~trio_smartmeter.core.errors.LinkLost` with a message that says
what to do about it.
"""

from __future__ import annotations

import errno
import os
import termios
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from trio_smartmeter.core.config import Device, SimulatedDevice
from trio_smartmeter.core.errors import DeviceBusy, LinkLost
from trio_smartmeter.i18n import _

#: Hook for the built-in simulator: ``device model -> async context manager yielding a stream``.
SimOpener = Callable[[str], Any]


def describe_os_error(device: str, exc: BaseException) -> str:
    """A one-line reason with a way forward, for the log and the ``serial`` error count,
    in the user's language: a missing, denied or held device is for the user to fix."""
    if isinstance(exc, termios.error):
        detail = exc.args[-1] if exc.args else exc
        return _("{device} is not a serial device (termios: {detail})").format(
            device=device, detail=detail
        )
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOENT:
            return _(
                "{device} does not exist: is the Wi-SUN stick plugged in?"
                " (try /dev/serial/by-id/...)"
            ).format(device=device)
        if exc.errno in (errno.EACCES, errno.EPERM):
            return _("permission denied on {device}: add the user to the 'dialout' group").format(
                device=device
            )
        if exc.errno is None and "lock" in str(exc).lower():
            return _("{device} is in use by another program (exclusive lock held)").format(
                device=device
            )
        if exc.errno in (errno.EIO, errno.ENXIO, errno.ENODEV):
            code = errno.errorcode.get(exc.errno or 0, exc.errno)
            return _("{device} went away (I/O error {code})").format(device=device, code=code)
        return f"{device}: {exc.strerror or exc}"
    return f"{device}: {type(exc).__name__}"


def _is_lock_failure(exc: BaseException) -> bool:
    # trio-serial reports a failed flock as a bare IOError without an errno
    return isinstance(exc, OSError) and exc.errno is None and "lock" in str(exc).lower()


def lock_holder(device: str, locks: str = "/proc/locks") -> int | None:
    """The pid holding a flock on ``device``, from the kernel's lock table (Linux)."""
    try:
        st = os.stat(device)
        table = Path(locks).read_text(encoding="ascii")
    except OSError:
        return None
    node = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 00:05:417 0 EOF"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == node:
            try:
                return int(fields[4])
            except ValueError:
                return None
    return None


def device_present(device: Device) -> bool:
    """Whether the device node exists (a ``sim:`` device always does)."""
    return isinstance(device, SimulatedDevice) or os.path.exists(device.path)


class _MappedStream(trio.abc.Stream):
    """A stream whose I/O errors are already :class:`LinkLost` (and EOF is LinkLost too)."""

    def __init__(self, inner: trio.abc.Stream, device: str) -> None:
        self._inner = inner
        self._device = device

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self._inner.send_all(data)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise LinkLost(describe_os_error(self._device, exc)) from None

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            data = await self._inner.receive_some(max_bytes)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise LinkLost(describe_os_error(self._device, exc)) from None
        if not data:
            raise LinkLost(
                _("{device} closed (end of file: unplugged or the module reset)").format(
                    device=self._device
                )
            )
        return bytes(data)

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            try:
                await self._inner.aclose()
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                pass


@asynccontextmanager
async def open_device(
    device: Device, *, sim_opener: SimOpener | None = None
) -> AsyncIterator[trio.abc.Stream]:
    """Open ``device`` (115200 8N1, exclusive) or start the simulator for ``sim:MODEL``
    with ``sim_opener`` (the caller's: this layer does not know the simulator).

    Raises :class:`LinkLost` when the device cannot be opened; the caller retries.
    """
    if isinstance(device, SimulatedDevice):
        if sim_opener is None:
            raise ValueError(f"{device}: no simulator given to open it")
        async with sim_opener(device.model) as stream:
            yield _MappedStream(stream, str(device))
        return
    path = device.path
    from trio_serial import SerialStream

    port = SerialStream(path, baudrate=115200, exclusive=True)
    try:
        await port.aopen()
    except (OSError, termios.error) as exc:
        if _is_lock_failure(exc):
            pid = lock_holder(path)
            held = f"pid {pid}" if pid is not None else _("another program")
            raise DeviceBusy(
                _(
                    "{device} is in use by {holder} (it holds the exclusive lock):"
                    " stop that program, or point -device at another stick"
                ).format(device=path, holder=held),
                holder_pid=pid,
            ) from None
        raise LinkLost(describe_os_error(path, exc)) from None
    mapped = _MappedStream(port, path)
    try:
        yield mapped
    finally:
        await mapped.aclose()
