"""The emulated Wi-SUN module: SKSTACK IP text protocol over a byte stream.

Fidelity over convenience: every reply, its order and its timing follow
protocol.md and the captures in transcripts.md, including the awkward parts a
client must cope with (echo, CR-only product commands, SKSENDTO's raw payload,
binary ERXUDP, the other dialect's argument counts, asynchronous lines between a
command's echo and its OK). All delays go through Trio's clock times
``time_scale`` so tests can use a MockClock or run fast on the real clock.
"""

from __future__ import annotations

import collections
import functools
import random
import re
from collections.abc import Awaitable, Callable

import attrs
import trio
import trio.lowlevel

from trio_smartmeter.core.config import DEMO_PASSWORD, DEMO_RBID

from . import timing
from .faults import ONE_SHOT, ActiveFault, Fault, FaultSpec, Scenario
from .meter import Meter, MeterConfig
from .models import (
    MODELS,
    PANA_COMPLETE,
    PANA_EAP_PSK,
    PANA_START,
    ModelSpec,
    link_local,
    own_mac,
)

MULTICAST_ALL_NODES = "FF02:0000:0000:0000:0000:0000:0000:0001"
STRAY_SENDER = "FE80:0000:0000:0000:021C:6400:0000:BEEF"

PORT_ECHONET = 0x0E1A
PORT_PANA = 0x02CC
PORT_MLE = 0x4D4C
MAX_DATALEN = 0x04D0
_PRODUCT_COMMANDS = ("ROPT", "WOPT", "RUART", "WUART")
_IPV6 = re.compile(r"^[0-9A-Fa-f]{4}(?::[0-9A-Fa-f]{4}){7}$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_MAX_LINE = 1024
_TX_WINDOW_S = 3600.0 + 180.0

ER04, ER05, ER06, ER09, ER10 = 4, 5, 6, 9, 10


class _CommandError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"FAIL ER{code:02d}")
        self.code = code


def _hex(token: str, *, max_digits: int, lo: int = 0, hi: int | None = None) -> int:
    if not token or len(token) > max_digits or not _HEX.match(token):
        raise _CommandError(ER06)
    value = int(token, 16)
    if value < lo or (hi is not None and value > hi):
        raise _CommandError(ER06)
    return value


def _ipv6(token: str) -> str:
    if not _IPV6.match(token):
        raise _CommandError(ER06)
    return token.upper()


def _nargs(args: list[str], *allowed: int) -> None:
    if len(args) not in allowed:
        raise _CommandError(ER05)


# register -> (default, max hex digits, min, max, read-only); S0A is text
_REGISTERS: dict[int, tuple[int, int, int, int, bool]] = {
    0x02: (0x21, 2, 0x21, 0x3C, False),
    0x03: (0xFFFF, 4, 0, 0xFFFF, False),
    0x07: (0, 8, 0, 0xFFFFFFFF, True),
    0x15: (1, 1, 0, 1, False),
    0x16: (0x384, 8, 0x3C, 0xFFFFFFFF, False),
    0x17: (1, 1, 0, 1, False),
    0xA0: (1, 1, 0, 1, False),
    0xA1: (1, 1, 0, 1, False),
    0xA2: (0, 1, 0, 1, False),
    0xFB: (0, 1, 0, 1, True),
    0xFD: (0, 8, 0, 0xFFFFFFFF, True),
    0xFE: (1, 1, 0, 1, False),
    0xFF: (0, 1, 0, 1, False),
}
_REG_WIDTH = {0x02: 2, 0x03: 4, 0x07: 8, 0x16: 8, 0xFD: 8}


def j11_frame(command: int, data: bytes) -> bytes:
    """A ROHM J11 binary frame: unique code D0EA83FC, command, length, checksums."""
    head = b"\xd0\xea\x83\xfc" + command.to_bytes(2, "big") + (len(data) + 4).to_bytes(2, "big")
    sums = (sum(head) & 0xFFFF).to_bytes(2, "big") + (sum(data) & 0xFFFF).to_bytes(2, "big")
    return head + sums + data


@attrs.define
class SimStats:
    """Counters tests and benchmarks read."""

    commands: collections.Counter[str] = attrs.field(factory=collections.Counter)
    sendto_count: int = 0
    payload_bytes: int = 0
    airtime_s: float = 0.0
    scans: int = 0
    joins: int = 0
    resets: int = 0
    events: collections.Counter[int] = attrs.field(factory=collections.Counter)

    @property
    def skterm_seen(self) -> bool:
        return self.commands["SKTERM"] > 0


class _TaskGroup:
    """Background tasks that one action (SKRESET, session end) cancels together."""

    def __init__(self) -> None:
        self._scopes: set[trio.CancelScope] = set()

    def spawn(self, nursery: trio.Nursery, fn: Callable[[], Awaitable[object]]) -> None:
        scope = trio.CancelScope()
        self._scopes.add(scope)

        async def run() -> None:
            try:
                with scope:
                    await fn()
            finally:
                self._scopes.discard(scope)

        nursery.start_soon(run)

    def cancel(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()
        self._scopes.clear()


@attrs.define
class _PendingSend:
    header: str
    args: list[str]
    datalen: int
    payload: bytearray = attrs.field(factory=bytearray)


class SimulatedModule:
    """One Wi-SUN module with a smart meter in radio range.

    ``rbid``/``password`` are the meter's B-route credentials (what the utility
    issued); the host must configure the same with SKSETRBID/SKSETPWD.
    """

    def __init__(
        self,
        model: str,
        *,
        rbid: str = DEMO_RBID,
        password: str = DEMO_PASSWORD,
        seed: int = 0,
        time_scale: float = 1.0,
        meter: MeterConfig | None = None,
        scenario: Scenario | None = None,
        session_lifetime: float = 86400.0,
        tx_budget_s: float = 350.0,
        hex_output: bool | None = None,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; one of {sorted(MODELS)}")
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.spec: ModelSpec = MODELS[model]
        self.model = model
        self.rbid = rbid
        self.password = password
        self.seed = seed
        self.time_scale = time_scale
        self.session_lifetime = session_lifetime
        self.tx_budget_s = tx_budget_s
        self.meter = Meter(meter, seed=seed)
        self.scenario = scenario or Scenario()
        self.rng = random.Random(seed)
        self.mac = own_mac(self.spec, seed)
        self.ip = link_local(self.mac)
        self.meter_ip = link_local(self.meter.config.mac)
        # flash: survives SKRESET and unplug
        self.hex_output = (not self.spec.rohm) if hex_output is None else hex_output
        self.stats = SimStats()
        self.on_answer: list[Callable[[SimulatedModule], None]] = []
        self.unplugged_for: float | None = None
        self.session_peer: str | None = None
        self.rate_limited = False
        self._t0: float | None = None
        self._stream: trio.abc.Stream | None = None
        self._nursery: trio.Nursery | None = None
        self._send_lock = trio.Lock()
        self._bg = _TaskGroup()
        self._session = _TaskGroup()
        self._active: list[ActiveFault] = []
        self._fired: set[int] = set()
        self._pending: _PendingSend | None = None
        self._swallow = 0
        self._skip_lf = False
        self._hung = False
        self._storm_toggle = False
        self._tx_log: collections.deque[tuple[float, float]] = collections.deque()
        self._power_on()

    # ------------------------------------------------------------------ state
    def _power_on(self) -> None:
        self.registers: dict[int, int] = {reg: spec[0] for reg, spec in _REGISTERS.items()}
        self.pairing_id = "00000000"
        self.rbid_set: str | None = None
        self.password_set: str | None = None
        self.session_peer = None
        self.neighbors: set[str] = set()
        self._last_join: str | None = None
        self._hung = False
        self._pending = None
        self._swallow = 0
        self._bg.cancel()
        self._session.cancel()

    @property
    def echo(self) -> bool:
        return self.registers[0xFE] == 1

    @property
    def rssi_token(self) -> bool:
        return self.spec.dse and self.registers[0xA2] == 1

    def modeled_now(self) -> float:
        """Modeled (real-module) seconds since the module first served."""
        if self._t0 is None:
            return 0.0
        return (trio.current_time() - self._t0) / self.time_scale

    async def _sleep(self, seconds: float) -> None:
        await trio.sleep(max(0.0, seconds) * self.time_scale)

    # floors, in trio seconds (modeled × time_scale)
    def floor_scan(self, mask: int = timing.ALL_CHANNELS, duration: int = 6) -> float:
        return timing.scan_duration(mask, duration) * self.time_scale

    def floor_join(self) -> float:
        return timing.join_duration() * self.time_scale

    def floor_get(self, payload_len: int = 14) -> float:
        latency = self.meter.config.response_latency
        return timing.get_round_trip(payload_len, latency) * self.time_scale

    # ------------------------------------------------------------------ serving
    async def serve(
        self,
        stream: trio.abc.Stream,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve one connection until EOF or an UNPLUG fault; never closes ``stream``."""
        first = self._t0 is None
        if first:
            self._t0 = trio.current_time()
        else:
            self._power_on()  # a replug is a power cycle
        self._stream = stream
        self.unplugged_for = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._half_hourly_push)
                nursery.start_soon(self._j11_beacon)
                if first:
                    nursery.start_soon(self._fault_clock)
                task_status.started()
                await self._read_loop()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self._stream = None
            self._bg.cancel()
            self._session.cancel()

    async def _read_loop(self) -> None:
        assert self._stream is not None
        buf = bytearray()
        while True:
            try:
                data = await self._stream.receive_some(4096)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            buf += data
            await self._process(buf)

    # ------------------------------------------------------------------ output
    async def _emit(self, data: bytes) -> None:
        if self._stream is None:
            return
        async with self._send_lock:
            try:
                if self._fault_active(Fault.SPLIT_WRITES):
                    pos = 0
                    while pos < len(data):
                        size = self.rng.randint(1, 4)
                        await self._stream.send_all(data[pos : pos + size])
                        pos += size
                        await trio.lowlevel.checkpoint()
                else:
                    await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass

    async def _lines(self, *lines: str) -> None:
        await self._emit(b"".join(line.encode("ascii") + b"\r\n" for line in lines))

    def _event_text(self, num: int, addr: str, param: int | None = None) -> str:
        text = f"EVENT {num:02X} {addr}"
        if self.spec.dse:
            text += " 0"
        if param is not None:
            text += f" {param:02X}"
        return text

    async def _event(self, num: int, addr: str, param: int | None = None) -> None:
        self.stats.events[num] += 1
        await self._lines(self._event_text(num, addr, param))

    async def _erxudp(
        self, src: str, dst: str, rport: int, lport: int, lla: str, secured: int, data: bytes
    ) -> None:
        head = f"ERXUDP {src} {dst} {rport:04X} {lport:04X} {lla}"
        if self.rssi_token:
            head += f" {self.meter.config.lqi:02X}"
        head += f" {secured}"
        if self.spec.dse:
            head += " 0"
        head += f" {len(data):04X} "
        body = data.hex().upper().encode("ascii") if self.hex_output else data
        await self._emit(head.encode("ascii") + body + b"\r\n")

    async def _from_meter(self, port: int, secured: int, data: bytes, dst: str = "") -> None:
        mac = self.meter.config.mac
        await self._erxudp(self.meter_ip, dst or self.ip, port, port, mac, secured, data)

    # ------------------------------------------------------------------ input
    async def _process(self, buf: bytearray) -> None:
        while buf:
            if self._swallow:
                n = min(self._swallow, len(buf))
                del buf[:n]
                self._swallow -= n
                continue
            if self._pending is not None:
                need = self._pending.datalen - len(self._pending.payload)
                self._pending.payload += buf[:need]
                del buf[:need]
                if len(self._pending.payload) == self._pending.datalen:
                    pending, self._pending = self._pending, None
                    await self._sendto(pending)
                continue
            if self._skip_lf:
                self._skip_lf = False
                if buf[:1] == b"\n":
                    del buf[:1]
                    continue
            if self._fault_active(Fault.J11):
                del buf[:]
                await self._emit(j11_frame(0x6019, b"\x01\x00\x00\x00"))
                return
            if not self._hung and buf.startswith(b"SKSENDTO "):
                header = self._sendto_header(buf)
                if header is None:
                    return
                if not isinstance(header, str):
                    await self._start_sendto(buf, header)
                    continue
            if not await self._take_line(buf):
                return

    async def _take_line(self, buf: bytearray) -> bool:
        ends = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
        if not ends:
            if len(buf) > _MAX_LINE:
                del buf[:]
                await self._lines("FAIL ER09")
            return False
        i = min(ends)
        raw = bytes(buf[:i])
        if buf[i : i + 1] == b"\r":
            if i + 1 < len(buf):
                del buf[: i + (2 if buf[i + 1 : i + 2] == b"\n" else 1)]
            elif raw.split(b" ", 1)[0] in {c.encode() for c in _PRODUCT_COMMANDS}:
                del buf[: i + 1]
                self._skip_lf = True
            else:
                return False  # wait: the LF of a CRLF may be in the next chunk
            terminator = "\r"
        else:
            del buf[: i + 1]
            terminator = "\n"
        await self._command(raw.decode("ascii", errors="replace"), terminator)
        return True

    def _sendto_header(self, buf: bytearray) -> tuple[int, list[str]] | str | None:
        """Find SKSENDTO's DATALEN token: (header length, args), "line", or None (need more)."""
        pos = len(b"SKSENDTO ")
        args: list[str] = []
        while True:
            space = buf.find(b" ", pos)
            eol = [i for i in (buf.find(b"\r", pos), buf.find(b"\n", pos)) if i >= 0]
            if eol and (space < 0 or min(eol) < space):
                return "line"
            if space < 0:
                return "line" if len(buf) > 200 else None
            token = bytes(buf[pos:space]).decode("ascii", errors="replace")
            pos = space + 1
            if not token:
                continue
            args.append(token)
            if len(args) >= 5 and len(token) == 4 and _HEX.match(token):
                return pos, args
            if len(args) >= 7:
                return "line"

    async def _start_sendto(self, buf: bytearray, header: tuple[int, list[str]]) -> None:
        length, args = header
        text = bytes(buf[:length]).decode("ascii")
        del buf[:length]
        self._pending = _PendingSend(text, args, int(args[-1], 16))
        if self._pending.datalen == 0:
            pending, self._pending = self._pending, None
            await self._sendto(pending)

    async def _command(self, line: str, terminator: str) -> None:
        name, *args = line.split() or [""]
        if self._hung:
            if name == "SKRESET":
                self._hung = False
                self._clear_fault(Fault.HANG)
                await self._dispatch(line, name, args, terminator)
            return
        await self._dispatch(line, name, args, terminator)

    async def _dispatch(self, line: str, name: str, args: list[str], terminator: str) -> None:
        if name:
            self.stats.commands[name] += 1
        product = name in _PRODUCT_COMMANDS
        if not line.strip():
            await self._emit(b"\r\n")  # an empty command line answers an empty line
            return
        if self.echo:
            await self._emit(
                line.encode("ascii", errors="replace") + (b"\r" if product else b"\r\n")
            )
        handler = getattr(self, f"_cmd_{name.lower()}", None) if name.isupper() else None
        try:
            if handler is None or (product and not self.spec.rohm):
                raise _CommandError(ER04)
            await handler(args)
        except _CommandError as err:
            await self._lines(f"FAIL ER{err.code:02d}")

    # ------------------------------------------------------------------ commands
    async def _cmd_ropt(self, args: list[str]) -> None:
        _nargs(args, 0)
        await self._emit(b"OK 01\r" if self.hex_output else b"OK 00\r")

    async def _cmd_wopt(self, args: list[str]) -> None:
        _nargs(args, 1)
        self.hex_output = _hex(args[0], max_digits=2, hi=1) == 1
        await self._emit(b"OK\r")

    async def _cmd_skver(self, args: list[str]) -> None:
        _nargs(args, 0)
        await self._lines(f"EVER {self.spec.ever}", "OK")

    async def _cmd_skappver(self, args: list[str]) -> None:
        _nargs(args, 0)
        await self._lines(f"EAPPVER {self.spec.eappver}", "OK")

    async def _cmd_skinfo(self, args: list[str]) -> None:
        _nargs(args, 0)
        tail = "0" if self.spec.dse else "FFFE"
        ch, pan = self.registers[0x02], self.registers[0x03]
        await self._lines(f"EINFO {self.ip} {self.mac} {ch:02X} {pan:04X} {tail}", "OK")

    async def _cmd_skreset(self, args: list[str]) -> None:
        _nargs(args, 0)
        self.stats.resets += 1
        self._power_on()
        self._clear_fault(Fault.HANG)
        await self._lines("OK")

    async def _cmd_sksreg(self, args: list[str]) -> None:
        _nargs(args, 1, 2)
        reg_name = args[0].upper()
        if not reg_name.startswith("S"):
            raise _CommandError(ER06)
        reg = _hex(reg_name[1:], max_digits=2)
        if reg == 0x0A:
            if len(args) == 1:
                await self._lines(f"ESREG {self.pairing_id}", "OK")
                return
            if len(args[1]) != 8:
                raise _CommandError(ER06)
            self.pairing_id = args[1]
            await self._lines("OK")
            return
        if reg == 0x01:
            if len(args) == 2:
                raise _CommandError(ER06)
            await self._lines(f"ESREG {self.mac}", "OK")
            return
        if reg not in _REGISTERS:
            raise _CommandError(ER06)
        _, digits, lo, hi, read_only = _REGISTERS[reg]
        if len(args) == 1:
            value = self._register_value(reg)
            await self._lines(f"ESREG {value:0{_REG_WIDTH.get(reg, 1)}X}", "OK")
            return
        if read_only:
            raise _CommandError(ER06)
        # SA2 is the RSSI switch on DSE modules; single-hop modules accept and store it
        # (momonga writes SA2 1 on BP35A1 too, and real BP35A1s answer OK).
        self.registers[reg] = _hex(args[1], max_digits=digits, lo=lo, hi=hi)
        await self._lines("OK")

    def _register_value(self, reg: int) -> int:
        if reg == 0xFB:
            return int(self.rate_limited)
        if reg == 0xFD:
            return int(sum(ms for _, ms in self._tx_log) * 1000) & 0xFFFFFFFF
        return self.registers[reg]

    async def _cmd_sksetrbid(self, args: list[str]) -> None:
        _nargs(args, 1)
        if len(args[0]) > 32:
            raise _CommandError(ER06)
        self.rbid_set = args[0]
        self.pairing_id = args[0][-8:].rjust(8, "0")
        await self._lines("OK")

    async def _cmd_sksetpwd(self, args: list[str]) -> None:
        _nargs(args, 2)
        length = _hex(args[0], max_digits=2, lo=1, hi=32)
        if len(args[1]) != length:
            raise _CommandError(ER06)
        self.password_set = args[1]
        await self._lines("OK")

    async def _cmd_skll64(self, args: list[str]) -> None:
        _nargs(args, 1)
        if len(args[0]) != 16 or not _HEX.match(args[0]):
            raise _CommandError(ER06)
        await self._lines(link_local(args[0]))  # the address line and no OK

    async def _cmd_sktable(self, args: list[str]) -> None:
        _nargs(args, 1)
        kind = args[0].upper()
        if kind == "1":
            await self._lines("EADDR", self.ip, "OK")
        elif kind == "2":
            rows = [f"{ip} {self.meter.config.mac} FFFF" for ip in sorted(self.neighbors)]
            await self._lines("ENEIGHBOR", *rows, "OK")
        elif kind == "E":
            await self._lines("EPORT", "3610", "716", "0", "0", "0", "0", "OK")
        else:
            raise _CommandError(ER06)

    async def _cmd_sksendto(self, args: list[str]) -> None:
        # only reached when a line ended before a DATALEN token followed by a space
        raise _CommandError(ER05)

    async def _cmd_sksave(self, args: list[str]) -> None:
        _nargs(args, 0)
        await self._lines("OK")  # accepted; the simulator keeps no register flash

    async def _cmd_skscan(self, args: list[str]) -> None:
        _nargs(args, 4 if self.spec.dse else 3)
        mode = _hex(args[0], max_digits=1)
        if mode not in (0, 2, 3):
            raise _CommandError(ER06)
        mask = _hex(args[1], max_digits=8, lo=1)
        duration = _hex(args[2], max_digits=2, hi=14)
        if self.spec.dse:
            _hex(args[3], max_digits=1, hi=1)
        self.stats.scans += 1
        await self._lines("OK")
        self._spawn(self._bg, functools.partial(self._scan, mode, mask, duration))

    async def _cmd_skjoin(self, args: list[str]) -> None:
        _nargs(args, 1)
        target = _ipv6(args[0])
        if self.session_peer is not None:
            raise _CommandError(ER10)
        self.stats.joins += 1
        self._last_join = target
        await self._lines("OK")
        self._spawn(self._bg, functools.partial(self._join, target, False))

    async def _cmd_skrejoin(self, args: list[str]) -> None:
        _nargs(args, 0)
        if self._last_join is None:
            raise _CommandError(ER10)
        await self._lines("OK")
        self._spawn(self._bg, functools.partial(self._join, self._last_join, True))

    async def _cmd_skterm(self, args: list[str]) -> None:
        _nargs(args, 0)
        peer = self.session_peer
        if peer is None:
            raise _CommandError(ER10)
        self._end_session()
        await self._lines("OK")
        self._notify()

        async def terminated() -> None:
            await self._sleep(timing.TERM_DELAY_S)
            await self._event(0x27, peer)

        self._spawn(self._bg, terminated)

    # ------------------------------------------------------------------ SKSENDTO
    async def _sendto(self, pending: _PendingSend) -> None:
        self.stats.commands["SKSENDTO"] += 1
        self.stats.sendto_count += 1
        self.stats.payload_bytes += len(pending.payload)
        self._check_request_triggers()
        if self._hung:
            return
        if self.echo:
            await self._emit(pending.header.encode("ascii") + b"\r\n")
        try:
            await self._do_sendto(pending.args, bytes(pending.payload))
        except _CommandError as err:
            await self._lines(f"FAIL ER{err.code:02d}")

    async def _do_sendto(self, args: list[str], payload: bytes) -> None:
        # the wrong dialect's form is recognised by where the DATALEN token landed
        _nargs(args, 6 if self.spec.dse else 5)
        _hex(args[0], max_digits=1, lo=1, hi=6)
        dest = _ipv6(args[1])
        port = _hex(args[2], max_digits=4)
        sec = _hex(args[3], max_digits=1, hi=2)
        if self.spec.dse:
            _hex(args[4], max_digits=1, hi=1)
        if len(payload) > MAX_DATALEN:
            raise _CommandError(ER06)
        secured = self.session_peer == dest
        if sec == 1 and not secured:
            raise _CommandError(ER10)  # no security context with the peer
        if self.rate_limited:
            # ARIB limit: the send is cancelled internally; we report it as 01 (failed)
            await self._event(0x21, dest, 0x01)
            await self._lines("OK")
            return
        storm = self._take_fault(Fault.EVENT21_STORM)
        if storm is not None:
            self._storm_toggle = not self._storm_toggle
            await self._event(0x21, dest, 0x01 if self._storm_toggle else 0x02)
            await self._lines("OK")
            return
        unicast = dest.startswith("FE80")
        if unicast and dest not in self.neighbors:
            # not sent: a neighbour solicitation went out instead
            await self._event(0x21, dest, 0x02)
            await self._lines("OK")
            if dest == self.meter_ip:
                self._spawn(self._bg, functools.partial(self._neighbor_advert, dest))
            return
        await self._sleep(timing.tx_delay(len(payload)))
        self._account_airtime(len(payload))
        await self._event(0x21, dest, 0x00)
        await self._lines("OK")
        if dest == self.meter_ip and port == PORT_ECHONET and secured:
            self._spawn(self._session, functools.partial(self._meter_answer, payload))
        if self._tx_used() > self.tx_budget_s and not self.rate_limited:
            await self._limit_start(None)

    async def _neighbor_advert(self, dest: str) -> None:
        await self._sleep(0.2)
        self.neighbors.add(dest)
        await self._event(0x02, dest)

    async def _meter_answer(self, payload: bytes) -> None:
        latency = self.meter.config.response_latency
        if self._take_fault(Fault.DROP_RESPONSE) is not None:
            return
        delayed = self._take_fault(Fault.DELAY_RESPONSE)
        if delayed is not None:
            latency += delayed.spec.delay
        await self._sleep(latency)
        self.meter.sna_epcs = {
            epc for a in self._active_faults(Fault.GET_SNA) for epc in a.spec.epcs
        }
        answer = self.meter.handle(payload, self.modeled_now())
        if answer is None:
            return
        await self._from_meter(PORT_ECHONET, 1, answer)
        if self._take_fault(Fault.DUPLICATE_RESPONSE) is not None:
            await self._sleep(0.05)
            await self._from_meter(PORT_ECHONET, 1, answer)
        self._notify()

    def _notify(self) -> None:
        for callback in self.on_answer:
            callback(self)

    # ------------------------------------------------------------------ airtime
    def _tx_used(self) -> float:
        now = self.modeled_now()
        while self._tx_log and self._tx_log[0][0] < now - _TX_WINDOW_S:
            self._tx_log.popleft()
        return sum(seconds for _, seconds in self._tx_log)

    def _account_airtime(self, payload_len: int) -> None:
        seconds = timing.airtime(payload_len)
        self.stats.airtime_s += seconds
        self._tx_log.append((self.modeled_now(), seconds))

    async def _limit_start(self, duration: float | None) -> None:
        self.rate_limited = True
        await self._event(0x32, self.ip)
        self._spawn(self._bg, functools.partial(self._limit_release, duration))

    async def _limit_release(self, duration: float | None) -> None:
        if duration is not None:
            await self._sleep(duration)
        else:
            while self._tx_used() > self.tx_budget_s:
                oldest = self._tx_log[0][0]
                await self._sleep(oldest + _TX_WINDOW_S - self.modeled_now() + 1e-6)
        self.rate_limited = False
        await self._event(0x33, self.ip)

    # ------------------------------------------------------------------ scan / join
    async def _scan(self, mode: int, mask: int, duration: int) -> None:
        channels = timing.scanned_channels(mask)
        dwell = timing.scan_dwell(duration)
        if mode == 0:
            await self._sleep(dwell * len(channels))
            await self._event(0x1F, self.ip)
            pairs = " ".join(f"{ch:02X} {self.rng.randint(2, 0x11):02X}" for ch in channels)
            extra = [""] if self.model == "bp35a1" else []
            await self._lines("EEDSCAN", pairs, *extra)
            return
        cfg = self.meter.config
        found = (
            cfg.channel in channels
            and not self._fault_active(Fault.NO_BEACON)
            and (mode == 3 or self.pairing_id == self.rbid[-8:])
        )
        done = 0
        if found:
            done = channels.index(cfg.channel) + 1
            await self._sleep(dwell * done)
            block = [
                "EPANDESC",
                f"  Channel:{cfg.channel:02X}",
                "  Channel Page:09",
                f"  Pan ID:{cfg.pan_id:04X}",
                f"  Addr:{cfg.mac}",
                f"  LQI:{cfg.lqi:02X}",
            ]
            if self.spec.dse:
                block.append("  Side:0")
            if mode == 2:
                block.append(f"  PairID:{self.pairing_id}")
            self.stats.events[0x20] += 1
            await self._lines(self._event_text(0x20, self.ip), *block)
        await self._sleep(dwell * (len(channels) - done))
        await self._event(0x22, self.ip)

    async def _join(self, target: str, rejoin: bool) -> None:
        cfg = self.meter.config
        steps = iter(timing.JOIN_STEPS)

        async def step() -> None:
            await self._sleep(next(steps)[0])

        started = self.modeled_now()
        await step()
        await self._event(0x21, target, 0x02)
        reachable = (
            target == self.meter_ip
            and self.registers[0x02] == cfg.channel
            and self.registers[0x03] == cfg.pan_id
        )
        if not reachable:
            await self._sleep(timing.PANA_FAILURE_S - (self.modeled_now() - started))
            await self._event(0x24, target)
            return
        await step()
        self.neighbors.add(target)
        await self._event(0x02, target)
        await self._pana_round(step, PANA_START)
        credentials_ok = (
            self.rbid_set == self.rbid
            and self.password_set == self.password
            and not self._fault_active(Fault.WRONG_PASSWORD)
        )
        if not credentials_ok:
            await self._sleep(timing.PANA_FAILURE_S - (self.modeled_now() - started))
            await self._event(0x24, target)
            return
        await self._pana_round(step, PANA_EAP_PSK)
        await self._pana_round(step, PANA_COMPLETE)
        await step()
        self._establish(target)
        await self._event(0x25, target)
        if not rejoin:
            self._spawn(self._session, self._instance_list)

    async def _pana_round(self, step: Callable[[], Awaitable[None]], message: bytes) -> None:
        await step()
        await self._from_meter(PORT_PANA, 0, message)
        await step()
        await self._event(0x21, self.meter_ip, 0x00)

    async def _instance_list(self) -> None:
        await self._sleep(timing.INSTANCE_LIST_DELAY_S)
        await self._from_meter(PORT_ECHONET, 1, self.meter.instance_list_inf(), MULTICAST_ALL_NODES)

    def _establish(self, peer: str) -> None:
        self._session.cancel()
        self.session_peer = peer
        self._spawn(self._session, self._session_life)

    def _end_session(self) -> None:
        self.session_peer = None
        self._session.cancel()

    async def _session_life(self) -> None:
        peer = self.session_peer
        assert peer is not None
        await self._sleep(self.session_lifetime * 0.8)
        if self.registers[0x17] == 1 and not self._fault_active(Fault.NO_REAUTH):
            # the module's own re-authentication: PANA on 02CC, then an unsolicited EVENT 25
            await self._from_meter(PORT_PANA, 0, PANA_START)
            await self._event(0x21, peer, 0x00)
            await self._sleep(0.8)
            await self._from_meter(PORT_PANA, 0, PANA_COMPLETE)
            await self._event(0x21, peer, 0x00)
            await self._sleep(0.3)
            await self._event(0x25, peer)
            self._nursery_spawn_session_life()
            return
        await self._sleep(self.session_lifetime * 0.2)
        self.session_peer = None
        await self._event(0x29, peer)
        self._session.cancel()

    def _nursery_spawn_session_life(self) -> None:
        # a new lifetime task; this one returns right after
        self._spawn(self._session, self._session_life)

    # ------------------------------------------------------------------ pushes
    async def _half_hourly_push(self) -> None:
        while True:
            meter_now = self.meter.now(self.modeled_now())
            boundary = meter_now.replace(minute=0 if meter_now.minute < 30 else 30, second=0)
            boundary = boundary.replace(microsecond=0)
            wait = 1800 - (meter_now - boundary).total_seconds() + timing.PUSH_DELAY_S
            await self._sleep(wait)
            if self.session_peer is not None:
                await self._from_meter(
                    PORT_ECHONET, 1, self.meter.fixed_time_push(self.modeled_now())
                )

    async def _j11_beacon(self) -> None:
        if not self._fault_active(Fault.J11) and all(
            s.kind is not Fault.J11 for s in self.scenario.faults
        ):
            return  # no J11 fault in this run: no 2-s wake-ups (they dominate long soaks)
        while True:
            await self._sleep(2.0)
            if self._fault_active(Fault.J11):
                await self._emit(j11_frame(0x6019, b"\x01\x00\x00\x00"))

    # ------------------------------------------------------------------ faults
    def _spawn(self, group: _TaskGroup, fn: Callable[[], Awaitable[object]]) -> None:
        if self._nursery is not None:
            group.spawn(self._nursery, fn)

    def inject(self, fault: Fault | FaultSpec, **kwargs: object) -> None:
        """Trigger a fault now (kwargs as in FaultSpec). Needs a running ``serve``."""
        spec = fault if isinstance(fault, FaultSpec) else FaultSpec(fault, **kwargs)  # type: ignore[arg-type]
        self._trigger(spec)

    def _trigger(self, spec: FaultSpec) -> None:
        if spec.kind not in ONE_SHOT:
            until = None
            if spec.duration is not None:
                until = trio.current_time() + spec.duration * self.time_scale
            self._active.append(ActiveFault(spec, until, spec.count))
            if spec.kind is Fault.HANG:
                self._hung = True
            return
        self._spawn(_TaskGroup(), functools.partial(self._one_shot, spec))

    async def _one_shot(self, spec: FaultSpec) -> None:
        peer = self.session_peer
        if spec.kind is Fault.EVENT_26 and peer is not None:
            self._end_session()
            await self._event(0x26, peer)
        elif spec.kind is Fault.EVENT_29 and peer is not None:
            self._end_session()
            await self._event(0x29, peer)
        elif spec.kind is Fault.TRANSMIT_LIMIT:
            await self._limit_start(spec.duration if spec.duration is not None else 60.0)
        elif spec.kind is Fault.GARBAGE:
            noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(8, 40)))
            await self._emit(noise + b"\xff\xfe\xc3\x28\r\n")
        elif spec.kind is Fault.STRAY_FRAMES:
            await self._stray_frames()
        elif spec.kind is Fault.UNPLUG:
            self.unplugged_for = spec.duration if spec.duration is not None else 1.0
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()

    async def _stray_frames(self) -> None:
        last = self.meter.answered_log[-1].tid if self.meter.answered_log else 1
        get_res = bytes.fromhex(f"1081{last ^ 0x5A5A:04X}02880105FF017201E704000004A8")
        other = bytes.fromhex("1081000102880105FF017201E704000001F8")
        await self._erxudp(
            STRAY_SENDER, self.ip, PORT_ECHONET, PORT_ECHONET, "001C64000000BEEF", 1, other
        )
        await self._from_meter(PORT_ECHONET, 1, get_res)
        mle = bytes(self.rng.randrange(256) for _ in range(24))
        await self._from_meter(PORT_MLE, 0, mle, MULTICAST_ALL_NODES)

    async def _fault_clock(self) -> None:
        assert self._t0 is not None
        timed = [(i, s) for i, s in enumerate(self.scenario.faults) if s.after_request is None]
        for index, spec in sorted(timed, key=lambda item: item[1].at or 0.0):
            await trio.sleep_until(self._t0 + (spec.at or 0.0) * self.time_scale)
            self._fired.add(index)
            self._trigger(spec)

    def _check_request_triggers(self) -> None:
        for index, spec in enumerate(self.scenario.faults):
            if index in self._fired or spec.after_request is None:
                continue
            if self.stats.sendto_count >= spec.after_request:
                self._fired.add(index)
                self._trigger(spec)

    def _active_faults(self, kind: Fault) -> list[ActiveFault]:
        now = trio.current_time()
        self._active = [
            a
            for a in self._active
            if (a.until is None or a.until > now) and (a.remaining is None or a.remaining > 0)
        ]
        return [a for a in self._active if a.spec.kind is kind]

    def _fault_active(self, kind: Fault) -> bool:
        return bool(self._active_faults(kind))

    def _take_fault(self, kind: Fault) -> ActiveFault | None:
        for active in self._active_faults(kind):
            if active.remaining is not None:
                active.remaining -= 1
            return active
        return None

    def _clear_fault(self, kind: Fault) -> None:
        self._active = [a for a in self._active if a.spec.kind is not kind]
