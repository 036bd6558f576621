"""What the module writes to the host, in its model's dialect (protocol.md §3).

One lock keeps concurrent writers (a command's reply, an EVENT from a scan, an
ERXUDP from the meter) from interleaving inside a line, as on a real UART.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio.lowlevel

from .faults import FaultBoard
from .models import ModelSpec
from .stats import SimStats


class Uart:
    def __init__(
        self, spec: ModelSpec, stats: SimStats, faults: FaultBoard, *, hex_output: bool
    ) -> None:
        self._dse = spec.dse
        self._stats = stats
        self._faults = faults
        self._lock = trio.Lock()
        self.stream: trio.abc.Stream | None = None  # the host's, while one is connected
        self.hex_output = hex_output  # ERXUDP data as hex (WOPT 01); flash, survives SKRESET

    async def write(self, data: bytes) -> None:
        if self.stream is None:
            return
        async with self._lock:
            try:
                if self._faults.split_writes():
                    for chunk in self._faults.chunks(data):
                        await self.stream.send_all(chunk)
                        await trio.lowlevel.checkpoint()
                else:
                    await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass

    async def lines(self, *lines: str) -> None:
        await self.write(b"".join(line.encode("ascii") + b"\r\n" for line in lines))

    async def event(
        self, num: int, addr: str, param: int | None = None, *, block: Sequence[str] = ()
    ) -> None:
        """``EVENT nn addr [side] [param]``, then ``block`` (EPANDESC's lines)."""
        self._stats.events[num] += 1
        text = f"EVENT {num:02X} {addr}"
        if self._dse:
            text += " 0"
        if param is not None:
            text += f" {param:02X}"
        await self.lines(text, *block)

    async def erxudp(
        self, src: str, dst: str, port: int, lla: str, secured: int, data: bytes, *, lqi: int | None
    ) -> None:
        """One received datagram (same port both ends); ``lqi`` when the RSSI token is on."""
        head = f"ERXUDP {src} {dst} {port:04X} {port:04X} {lla}"
        if lqi is not None:
            head += f" {lqi:02X}"
        head += f" {secured}"
        if self._dse:
            head += " 0"
        head += f" {len(data):04X} "
        body = data.hex().upper().encode("ascii") if self.hex_output else data
        await self.write(head.encode("ascii") + body + b"\r\n")
