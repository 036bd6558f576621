"""A tiny, strict host for talking to the simulator in tests."""

from __future__ import annotations

import trio

from trio_smartmeter.core.skstack import Dialect, sk_sendto
from trio_smartmeter.sim import SimulatedModule


class Host:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buf = bytearray()

    async def send(self, data: bytes | str) -> None:
        await self.stream.send_all(data.encode() if isinstance(data, str) else data)

    async def cmd(self, line: str) -> None:
        await self.send(line + "\r\n")

    async def _fill(self) -> None:
        chunk = await self.stream.receive_some(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    async def peek(self) -> bytes:
        while not self.buf:
            await self._fill()
        return bytes(self.buf)

    async def raw_line(self, *, cr_only: bool = False) -> bytes:
        """One line including its terminator (CRLF, or CR when cr_only)."""
        end = b"\r" if cr_only else b"\r\n"
        while (i := self.buf.find(end)) < 0:
            await self._fill()
        out = bytes(self.buf[: i + len(end)])
        del self.buf[: i + len(end)]
        return out

    async def line(self) -> str:
        return (await self.raw_line())[:-2].decode("ascii")

    async def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def lines(self, n: int) -> list[str]:
        return [await self.line() for _ in range(n)]

    async def until(self, prefix: str) -> list[str]:
        """Lines up to and including the first one starting with ``prefix``."""
        seen = []
        while True:
            seen.append(await self.line())
            if seen[-1].startswith(prefix):
                return seen

    async def erxudp(self, *, hex_mode: bool) -> tuple[list[str], bytes]:
        """Read one ERXUDP: header tokens and payload (read by DATALEN in binary mode)."""
        while (i := self.buf.find(b"ERXUDP ")) != 0:
            if i > 0:
                raise AssertionError(f"unexpected bytes before ERXUDP: {bytes(self.buf[:i])!r}")
            await self._fill()
        if hex_mode:
            tokens = (await self.line()).split(" ")
            data = bytes.fromhex(tokens[-1])
            assert len(data) == int(tokens[-2], 16)
            return tokens[:-1], data
        head = b""
        while True:
            head += await self.exact(1)
            parts = head.split(b" ")
            if head.endswith(b" ") and len(parts) >= 8 and len(parts[-2]) == 4:
                tokens = [p.decode() for p in parts[:-1]]
                if len(tokens) >= 8 and tokens[5] and len(tokens[5]) == 16:
                    break
        datalen = int(tokens[-1], 16)
        data = await self.exact(datalen)
        assert await self.exact(2) == b"\r\n"
        return tokens, data

    async def quiet(self) -> None:
        """Assert nothing is pending right now (no waiting)."""
        with trio.move_on_after(0):
            await self._fill()
        assert not self.buf, bytes(self.buf)


def sendto_header(dse: bool, ip: str, payload: bytes, sec: int = 1) -> bytes:
    """The text part of the exporter's own SKSENDTO for ``payload`` (the payload follows)."""
    dialect = Dialect.DUAL_STACK if dse else Dialect.SINGLE_HOP
    return sk_sendto(dialect, ip, payload, sec=sec).wire[: -len(payload)]


async def connect(host: Host, module: SimulatedModule, *, hex_mode: bool = True) -> str:
    """Echo off, payload mode, credentials, scan, join; returns the meter's address."""
    dse = module.spec.dse
    await host.cmd("SKSREG SFE 0")
    assert await host.lines(2) == ["SKSREG SFE 0", "OK"]
    if module.spec.rohm:
        await host.send(f"WOPT {'01' if hex_mode else '00'}\r")
        assert await host.raw_line(cr_only=True) == b"OK\r"
    await host.cmd(f"SKSETRBID {module.rbid}")
    await host.cmd(f"SKSETPWD {len(module.password):X} {module.password}")
    assert await host.lines(2) == ["OK", "OK"]
    await host.cmd("SKSCAN 2 FFFFFFFF 4" + (" 0" if dse else ""))
    lines = await host.until("EVENT 22")
    desc = dict(line.strip().split(":", 1) for line in lines if line.startswith("  "))
    await host.cmd(f"SKSREG S2 {desc['Channel']}")
    await host.cmd(f"SKSREG S3 {desc['Pan ID']}")
    await host.cmd(f"SKLL64 {desc['Addr']}")
    assert await host.lines(2) == ["OK", "OK"]
    ip = await host.line()
    await host.cmd(f"SKJOIN {ip}")
    assert await host.line() == "OK"
    while True:
        if host.buf.startswith(b"ERXUDP") or (await host.peek()).startswith(b"ERXUDP"):
            await host.erxudp(hex_mode=hex_mode)
            continue
        if (await host.line()).startswith("EVENT 25"):
            break
    _, data = await host.erxudp(hex_mode=hex_mode)  # the D5 instance-list INF
    assert data[10] == 0x73 and data[12] == 0xD5
    return ip
