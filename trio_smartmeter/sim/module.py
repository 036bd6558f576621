"""The emulated Wi-SUN module: SKSTACK IP text protocol over a byte stream.

Fidelity over convenience: every reply, its order and its timing follow
protocol.md and the captures in transcripts.md, including the awkward parts a
client must cope with (echo, CR-only product commands, SKSENDTO's raw payload,
binary ERXUDP, the other dialect's argument counts, asynchronous lines between a
command's echo and its OK). All delays go through Trio's clock times
``time_scale`` so tests can use a MockClock or run fast on the real clock.

This is the device's serial side: the byte stream in, echo, the framing of lines
and of SKSENDTO's payload, and the wiring of its parts (commands.py answers,
radio.py talks to the meter, faults.py decides what goes wrong, uart.py writes).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

import attrs
import trio

from . import commands, timing
from .arguments import ER04, HEX, CommandError
from .clock import ModeledClock
from .faults import Fault, FaultBoard, FaultSpec, Scenario
from .meter import Meter, MeterConfig
from .models import DEMO_PASSWORD, DEMO_RBID, MODELS, ModelSpec, link_local, own_mac
from .radio import Radio
from .registers import Registers
from .stats import SimStats
from .tasks import Background
from .uart import Uart

_MAX_LINE = 1024
_CR_TERMINATED = frozenset(name.encode() for name in commands.CR_TERMINATED)


def j11_frame(command: int, data: bytes) -> bytes:
    """A ROHM J11 binary frame: unique code D0EA83FC, command, length, checksums."""
    head = b"\xd0\xea\x83\xfc" + command.to_bytes(2, "big") + (len(data) + 4).to_bytes(2, "big")
    sums = (sum(head) & 0xFFFF).to_bytes(2, "big") + (sum(data) & 0xFFFF).to_bytes(2, "big")
    return head + sums + data


_J11_NOTICE = j11_frame(0x6019, b"\x01\x00\x00\x00")


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
        self.meter = Meter(meter, seed=seed)
        self.mac = own_mac(self.spec, seed)
        self.ip = link_local(self.mac)
        self.stats = SimStats()
        self.on_answer: list[Callable[[SimulatedModule], None]] = []
        self.unplugged_for: float | None = None  # set by an UNPLUG fault
        self.clock = ModeledClock(time_scale)
        self._background = Background()
        rng = random.Random(seed)
        self.faults = FaultBoard(scenario or Scenario(), self.clock, rng, self._strike)
        self.uart = Uart(
            self.spec,
            self.stats,
            self.faults,
            hex_output=(not self.spec.rohm) if hex_output is None else hex_output,
        )
        self.registers = Registers()
        self.radio = Radio(
            self.spec,
            ip=self.ip,
            meter=self.meter,
            rbid=rbid,
            password=password,
            session_lifetime=session_lifetime,
            tx_budget_s=tx_budget_s,
            clock=self.clock,
            background=self._background,
            uart=self.uart,
            faults=self.faults,
            registers=self.registers,
            stats=self.stats,
            rng=rng,
            on_answer=self.notify,
        )
        self._commands = commands.command_table(self.spec)
        self._pending: _PendingSend | None = None  # SKSENDTO waiting for its payload
        self._skip_lf = False  # a CR-terminated command's CR was the last byte seen
        self._in_flight = trio.CancelScope()  # the command being answered; a restart ends it

    # ------------------------------------------------------------------ views
    @property
    def rbid(self) -> str:
        return self.radio.rbid

    @rbid.setter
    def rbid(self, value: str) -> None:
        self.radio.rbid = value

    @property
    def password(self) -> str:
        return self.radio.password

    @password.setter
    def password(self, value: str) -> None:
        self.radio.password = value

    @property
    def meter_ip(self) -> str:
        return self.radio.meter_ip

    @property
    def session_peer(self) -> str | None:
        return self.radio.session.peer

    @property
    def rate_limited(self) -> bool:
        return self.radio.airtime.limited

    @property
    def hex_output(self) -> bool:
        return self.uart.hex_output

    @hex_output.setter
    def hex_output(self, value: bool) -> None:
        self.uart.hex_output = value

    @property
    def time_scale(self) -> float:
        return self.clock.time_scale

    def modeled_now(self) -> float:
        """Modeled (real-module) seconds since the module first served."""
        return self.clock.now()

    # floors, in trio seconds (modeled × time_scale)
    def floor_join(self) -> float:
        return timing.join_duration() * self.time_scale

    def floor_get(self, payload_len: int = 14) -> float:
        latency = self.meter.config.response_latency
        return timing.get_round_trip(payload_len, latency) * self.time_scale

    def notify(self) -> None:
        """Tell the ``on_answer`` observers the module's truth changed."""
        for callback in self.on_answer:
            callback(self)

    def power_on(self) -> None:
        """Power-on state; SKRESET and a replug both come here (flash survives)."""
        self.registers.reset()
        self.radio.power_on()
        self.faults.end_hang()
        self._pending = None

    # ------------------------------------------------------------------ serving
    async def serve(
        self,
        stream: trio.abc.Stream,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve one connection until EOF or an UNPLUG fault; never closes ``stream``."""
        first = self.clock.start()
        if not first:
            self.power_on()  # a replug is a power cycle
        self.uart.stream = stream
        self.unplugged_for = None
        try:
            async with trio.open_nursery() as nursery:
                self._background.nursery = nursery
                nursery.start_soon(self.radio.half_hourly_pushes)
                nursery.start_soon(self._j11_beacon)
                if first:
                    nursery.start_soon(self.faults.run_schedule)
                task_status.started()
                await self._read_loop(stream)
                nursery.cancel_scope.cancel()
        finally:
            self._background.nursery = None
            self.uart.stream = None
            self.radio.stop()

    async def _read_loop(self, stream: trio.abc.Stream) -> None:
        buf = bytearray()
        while True:
            try:
                data = await stream.receive_some(4096)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            buf += data
            await self._process(buf)

    # ------------------------------------------------------------------ input
    async def _process(self, buf: bytearray) -> None:
        while buf:
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
            if self.faults.speaks_j11():
                del buf[:]
                await self.uart.write(_J11_NOTICE)
                return
            if not self.faults.hung and buf.startswith(b"SKSENDTO "):
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
                await self.uart.lines("FAIL ER09")
            return False
        i = min(ends)
        raw = bytes(buf[:i])
        if buf[i : i + 1] == b"\r":
            if i + 1 < len(buf):
                del buf[: i + (2 if buf[i + 1 : i + 2] == b"\n" else 1)]
            elif raw.split(b" ", 1)[0] in _CR_TERMINATED:
                del buf[: i + 1]
                self._skip_lf = True
            else:
                return False  # wait: the LF of a CRLF may be in the next chunk
        else:
            del buf[: i + 1]
        await self._command(raw.decode("ascii", errors="replace"))
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
            if len(args) >= 5 and len(token) == 4 and HEX.match(token):
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

    async def _command(self, line: str) -> None:
        name, *args = line.split() or [""]
        if self.faults.hung:
            if name != "SKRESET":
                return  # a hung module hears nothing else
            self.faults.end_hang()
        if name:
            self.stats.commands[name] += 1
        if not line.strip():
            await self.uart.write(b"\r\n")  # an empty command line answers an empty line
            return
        with self._answering():
            if self.registers.echo:
                ending = b"\r" if name in commands.CR_TERMINATED else b"\r\n"
                await self.uart.write(line.encode("ascii", errors="replace") + ending)
            handler = self._commands.get(name)
            try:
                if handler is None:
                    raise CommandError(ER04)
                await handler(self, args)
            except CommandError as err:
                await self.uart.lines(err.reply)

    async def _sendto(self, pending: _PendingSend) -> None:
        self.stats.commands["SKSENDTO"] += 1
        self.stats.sendto_count += 1
        self.stats.payload_bytes += len(pending.payload)
        self.faults.count_request(self.stats.sendto_count)
        if self.faults.hung:
            return
        with self._answering():
            if self.registers.echo:
                await self.uart.write(pending.header.encode("ascii") + b"\r\n")
            try:
                await commands.sendto_payload(self, pending.args, bytes(pending.payload))
            except CommandError as err:
                await self.uart.lines(err.reply)

    def _answering(self) -> trio.CancelScope:
        """A scope for one command's reply, so a restart in place can cut it short."""
        self._in_flight = trio.CancelScope()
        return self._in_flight

    # ------------------------------------------------------------------ faults
    def inject(self, fault: Fault | FaultSpec, **kwargs: object) -> None:
        """Trigger a fault now (kwargs as in FaultSpec). Needs a running ``serve``."""
        spec = fault if isinstance(fault, FaultSpec) else FaultSpec(fault, **kwargs)  # type: ignore[arg-type]
        self.faults.trigger(spec)

    def _strike(self, spec: FaultSpec) -> None:
        self._background.start_soon(functools.partial(self._act_out, spec))

    async def _act_out(self, spec: FaultSpec) -> None:
        """What a one-shot fault does, the moment it triggers."""
        if spec.kind is Fault.EVENT_26:
            await self.radio.end_session_with(0x26)
        elif spec.kind is Fault.EVENT_29:
            await self.radio.end_session_with(0x29)
        elif spec.kind is Fault.TRANSMIT_LIMIT:
            await self.radio.start_limit(spec.duration if spec.duration is not None else 60.0)
        elif spec.kind is Fault.GARBAGE:
            await self.uart.write(self.faults.garbage())
        elif spec.kind is Fault.STRAY_FRAMES:
            await self.radio.stray_frames()
        elif spec.kind is Fault.RESTART_IN_PLACE:
            await self._restart_in_place(nul=spec.nul)
        elif spec.kind is Fault.UNPLUG:
            self.unplugged_for = spec.duration if spec.duration is not None else 1.0
            if self._background.nursery is not None:
                self._background.nursery.cancel_scope.cancel()

    async def _restart_in_place(self, *, nul: bool) -> None:
        """A brownout, a hub glitch or another program's SKRESET: power-on state, tty kept.

        The command being answered dies with the old state. protocol.md knows no
        power-on banner: the module says nothing, only its echo is back on.
        """
        self.stats.restarts += 1
        self._in_flight.cancel()
        self.power_on()
        self.notify()
        if nul:
            await self.uart.write(b"\x00")  # the line's break as the host's UART reads it

    async def _j11_beacon(self) -> None:
        if not self.faults.may_speak_j11():
            return  # no J11 fault in this run: no 2-s wake-ups (they dominate long soaks)
        while True:
            await self.clock.sleep(2.0)
            if self.faults.speaks_j11():
                await self.uart.write(_J11_NOTICE)
