"""The commands the simulated module answers, one handler each (protocol.md §2).

``SKSTACK_COMMANDS`` and ``PRODUCT_COMMANDS`` are the whole command set: a name in
neither answers ``FAIL ER04`` (command not supported), as a real module does for a
typo, and so do ROHM's product commands on a Tessera stick (protocol.md §10).
SKLOAD, SKERASE, WUART and RUART are documented but not emulated: they answer
``FAIL ER04`` too, so no client can come to rely on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from .arguments import (
    ER05,
    ER06,
    ER10,
    HEX,
    CommandError,
    expect_args,
    parse_hex,
    parse_ipv6,
)
from .meter import Meter
from .models import ModelSpec, link_local
from .radio import Radio
from .registers import S_MAC, S_PAIRING_ID, Registers
from .stats import SimStats
from .uart import Uart


class Module(Protocol):
    """What a command handler uses of the module: its parts, not the whole
    ``SimulatedModule`` (which builds its table from this module)."""

    spec: ModelSpec
    ip: str
    mac: str
    meter: Meter
    stats: SimStats
    uart: Uart
    registers: Registers
    radio: Radio

    def notify(self) -> None:
        """The module's truth changed (the ``on_answer`` observers)."""

    def power_on(self) -> None:
        """SKRESET: the power-on state."""


Handler = Callable[[Module, list[str]], Awaitable[None]]

MAX_DATALEN = 0x04D0
#: CR-terminated both ways on every model (protocol.md §1), whether answered or not
CR_TERMINATED = frozenset({"ROPT", "WOPT", "RUART", "WUART"})


# ---------------------------------------------------------------------- identity
async def skver(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    await dev.uart.lines(f"EVER {dev.spec.ever}", "OK")


async def skappver(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    await dev.uart.lines(f"EAPPVER {dev.spec.eappver}", "OK")


async def skinfo(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    tail = "0" if dev.spec.dse else "FFFE"
    regs = dev.registers
    line = f"EINFO {dev.ip} {dev.mac} {regs.channel:02X} {regs.pan_id:04X} {tail}"
    await dev.uart.lines(line, "OK")


async def skll64(dev: Module, args: list[str]) -> None:
    expect_args(args, 1)
    if len(args[0]) != 16 or not HEX.match(args[0]):
        raise CommandError(ER06)
    await dev.uart.lines(link_local(args[0]))  # the address line and no OK


async def sktable(dev: Module, args: list[str]) -> None:
    expect_args(args, 1)
    kind = args[0].upper()
    if kind == "1":
        await dev.uart.lines("EADDR", dev.ip, "OK")
    elif kind == "2":
        mac = dev.meter.config.mac
        rows = [f"{ip} {mac} FFFF" for ip in sorted(dev.radio.session.neighbors)]
        await dev.uart.lines("ENEIGHBOR", *rows, "OK")
    elif kind == "E":
        await dev.uart.lines("EPORT", "3610", "716", "0", "0", "0", "0", "OK")
    else:
        raise CommandError(ER06)


# ---------------------------------------------------------------------- settings
async def skreset(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    dev.stats.resets += 1
    dev.power_on()
    await dev.uart.lines("OK")


async def sksreg(dev: Module, args: list[str]) -> None:
    expect_args(args, 1, 2)
    reg = Registers.number(args[0])
    regs = dev.registers
    if reg == S_PAIRING_ID:
        if len(args) == 1:
            await dev.uart.lines(f"ESREG {regs.pairing_id}", "OK")
            return
        if len(args[1]) != 8:
            raise CommandError(ER06)
        regs.pairing_id = args[1]
        await dev.uart.lines("OK")
        return
    if reg == S_MAC:
        if len(args) == 2:
            raise CommandError(ER06)
        await dev.uart.lines(f"ESREG {dev.mac}", "OK")
        return
    if not Registers.known(reg):
        raise CommandError(ER06)
    if len(args) == 1:
        await dev.uart.lines(f"ESREG {Registers.shown(reg, _read(dev, reg))}", "OK")
        return
    # SA2 is the RSSI switch on DSE modules; single-hop modules accept and store it
    # (momonga writes SA2 1 on BP35A1 too, and real BP35A1s answer OK).
    regs.write(reg, args[1])
    await dev.uart.lines("OK")


def _read(dev: Module, reg: int) -> int:
    if reg == 0xFB:
        return int(dev.radio.airtime.limited)
    if reg == 0xFD:
        return dev.radio.airtime.logged_ms()
    return dev.registers.values[reg]


async def sksetrbid(dev: Module, args: list[str]) -> None:
    expect_args(args, 1)
    if len(args[0]) > 32:
        raise CommandError(ER06)
    dev.registers.rbid = args[0]
    dev.registers.pairing_id = args[0][-8:].rjust(8, "0")
    await dev.uart.lines("OK")


async def sksetpwd(dev: Module, args: list[str]) -> None:
    expect_args(args, 2)
    length = parse_hex(args[0], max_digits=2, lo=1, hi=32)
    if len(args[1]) != length:
        raise CommandError(ER06)
    dev.registers.password = args[1]
    await dev.uart.lines("OK")


async def sksave(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    await dev.uart.lines("OK")  # accepted; the simulator keeps no register flash


# ---------------------------------------------------------------------- radio
async def skscan(dev: Module, args: list[str]) -> None:
    dse = dev.spec.dse
    expect_args(args, 4 if dse else 3)
    mode = parse_hex(args[0], max_digits=1)
    if mode not in (0, 2, 3):
        raise CommandError(ER06)
    mask = parse_hex(args[1], max_digits=8, lo=1)
    duration = parse_hex(args[2], max_digits=2, hi=14)
    if dse:
        parse_hex(args[3], max_digits=1, hi=1)
    dev.stats.scans += 1
    await dev.uart.lines("OK")
    dev.radio.start_scan(mode, mask, duration)


async def skjoin(dev: Module, args: list[str]) -> None:
    expect_args(args, 1)
    target = parse_ipv6(args[0])
    session = dev.radio.session
    if session.peer is not None:
        raise CommandError(ER10)
    dev.stats.joins += 1
    session.last_join = target
    await dev.uart.lines("OK")
    dev.radio.start_join(target, rejoin=False)


async def skrejoin(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    target = dev.radio.session.last_join
    if target is None:
        raise CommandError(ER10)
    await dev.uart.lines("OK")
    dev.radio.start_join(target, rejoin=True)


async def skterm(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    peer = dev.radio.session.peer
    if peer is None:
        raise CommandError(ER10)
    dev.radio.end_session()
    await dev.uart.lines("OK")
    dev.notify()
    dev.radio.announce_termination(peer)


async def sksendto(dev: Module, args: list[str]) -> None:
    # only reached when a line ended before a DATALEN token followed by a space
    raise CommandError(ER05)


async def sendto_payload(dev: Module, args: list[str], payload: bytes) -> None:
    """SKSENDTO once its DATALEN bytes have arrived (protocol.md §1.3)."""
    dse = dev.spec.dse
    # the wrong dialect's form is recognised by where the DATALEN token landed
    expect_args(args, 6 if dse else 5)
    parse_hex(args[0], max_digits=1, lo=1, hi=6)
    dest = parse_ipv6(args[1])
    port = parse_hex(args[2], max_digits=4)
    sec = parse_hex(args[3], max_digits=1, hi=2)
    if dse:
        parse_hex(args[4], max_digits=1, hi=1)
    if len(payload) > MAX_DATALEN:
        raise CommandError(ER06)
    secured = dev.radio.session.peer == dest
    if sec == 1 and not secured:
        raise CommandError(ER10)  # no security context with the peer
    await dev.radio.send(dest, port, payload, secured=secured)


# ---------------------------------------------------------------------- product commands
async def ropt(dev: Module, args: list[str]) -> None:
    expect_args(args, 0)
    await dev.uart.write(b"OK 01\r" if dev.uart.hex_output else b"OK 00\r")


async def wopt(dev: Module, args: list[str]) -> None:
    expect_args(args, 1)
    dev.uart.hex_output = parse_hex(args[0], max_digits=2, hi=1) == 1
    await dev.uart.write(b"OK\r")


#: every module family's SKSTACK IP commands
SKSTACK_COMMANDS: Mapping[str, Handler] = {
    "SKVER": skver,
    "SKAPPVER": skappver,
    "SKINFO": skinfo,
    "SKRESET": skreset,
    "SKSREG": sksreg,
    "SKSETRBID": sksetrbid,
    "SKSETPWD": sksetpwd,
    "SKSAVE": sksave,
    "SKLL64": skll64,
    "SKTABLE": sktable,
    "SKSCAN": skscan,
    "SKJOIN": skjoin,
    "SKREJOIN": skrejoin,
    "SKTERM": skterm,
    "SKSENDTO": sksendto,
}

#: ROHM's product commands (BP35A1, BP35C2), CR-terminated
PRODUCT_COMMANDS: Mapping[str, Handler] = {
    "ROPT": ropt,
    "WOPT": wopt,
}


def command_table(spec: ModelSpec) -> dict[str, Handler]:
    """The commands a module of ``spec``'s family answers; anything else is FAIL ER04."""
    if spec.rohm:
        return {**SKSTACK_COMMANDS, **PRODUCT_COMMANDS}
    return dict(SKSTACK_COMMANDS)
