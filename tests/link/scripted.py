"""The module's end of an in-memory serial link, played by hand in the link tests.

The test reads what the host wrote (one command at a time, SKSENDTO with its payload)
and answers with the lines a module prints. ECHONET payloads are built with the real
encoder (``echonet.Frame(...).encode()``); ERXUDP is printed in hex or binary as
protocol.md §1.2 shows.
"""

from __future__ import annotations

import re

import attrs
import trio

from trio_smartmeter.core import echonet

OWN_IP = "FE80:0000:0000:0000:021D:1290:1234:5678"
METER_IP = "FE80:0000:0000:0000:021C:6400:030C:12A4"
METER_MAC = "001C6400030C12A4"
#: another node on the PAN (a neighbour's meter, a HEMS controller)
OTHER_IP = "FE80:0000:0000:0000:021C:6400:0000:0001"

_SENDTO = re.compile(rb"SKSENDTO (?:\S+ ){4,5}([0-9A-F]{4}) ")


@attrs.frozen
class Written:
    """One command as the host wrote it: its text, and SKSENDTO's payload."""

    text: str
    payload: bytes = b""

    @property
    def name(self) -> str:
        return self.text.split(" ", 1)[0]

    def request(self) -> echonet.Frame:
        return echonet.decode_frame(self.payload)


class ScriptedModule:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buf = bytearray()

    async def _fill(self) -> None:
        data = await self.stream.receive_some(4096)
        if not data:
            raise EOFError("the host closed the link")
        self._buf += data

    async def command(self) -> Written:
        """The next command the host wrote (CRLF or CR terminated, or SKSENDTO + payload)."""
        while True:
            if self._buf.startswith(b"\n"):  # the LF of a CRLF read as a CR-only line
                del self._buf[:1]
            if self._buf.startswith(b"SKSENDTO "):
                m = _SENDTO.match(self._buf)
                if m is not None and len(self._buf) >= m.end() + int(m[1], 16):
                    end = m.end() + int(m[1], 16)
                    written = Written(m[0].decode().rstrip(), bytes(self._buf[m.end() : end]))
                    del self._buf[:end]
                    return written
            elif (cr := self._buf.find(b"\r")) >= 0:
                written = Written(self._buf[:cr].decode())
                del self._buf[: cr + 1]
                return written
            await self._fill()

    async def pending(self) -> bytes:
        """Whatever the host has written and the test has not read yet (no waiting)."""
        with trio.move_on_after(0):
            await self._fill()
        return bytes(self._buf).lstrip(b"\n")

    async def raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def say(self, *lines: str) -> None:
        await self.raw(b"".join(line.encode("ascii") + b"\r\n" for line in lines))

    async def event(self, code: int, sender: str = METER_IP, param: int | None = None) -> None:
        await self.say(f"EVENT {code:02X} {sender}" + ("" if param is None else f" {param:02X}"))

    async def erxudp(
        self, payload: bytes, *, sender: str = METER_IP, port: int = 0x0E1A, hex_mode: bool = True
    ) -> None:
        head = f"ERXUDP {sender} {OWN_IP} {port:04X} {port:04X} {METER_MAC} 1 {len(payload):04X} "
        body = payload.hex().upper().encode("ascii") if hex_mode else payload
        await self.raw(head.encode("ascii") + body + b"\r\n")

    async def pandesc(self, channel: int, addr: str = METER_MAC) -> None:
        await self.say(
            f"EVENT 20 {OWN_IP}",
            "EPANDESC",
            f"  Channel:{channel:02X}",
            "  Channel Page:09",
            "  Pan ID:8888",
            f"  Addr:{addr}",
            "  LQI:E1",
            "  PairID:00112233",
        )
