"""What the module says: one frozen attrs class per kind of output line (or block).

Messages never carry raw bytes from the wire except :attr:`RxUdp.data` (the datagram
payload, which the caller asked for); :class:`Garbage` only says why and how much, so a
line noise burst (or a secret in a line we failed to recognise) never ends up in a log.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = [
    "Address",
    "AppVersion",
    "Echo",
    "EdScan",
    "EmptyLine",
    "Fail",
    "Garbage",
    "Info",
    "J11Frame",
    "Message",
    "ModuleEvent",
    "Ok",
    "PanDesc",
    "RegisterValue",
    "RxUdp",
    "TableList",
    "Version",
]


@attrs.frozen
class Ok:
    """``OK`` (``arg`` None) or ``OK <arg>`` (ROPT's ``OK 01``, which ends with CR only)."""

    arg: str | None


@attrs.frozen
class Fail:
    """``FAIL ERnn``; ``code`` is the decimal ``nn`` (``FAIL ER10`` -> 10)."""

    code: int


@attrs.frozen
class ModuleEvent:
    """``EVENT <NUM> [<SENDER>] [<SIDE>] [<PARAM>]`` (protocol.md §3.1)."""

    code: int
    sender: str | None
    side: int | None
    param: int | None


@attrs.frozen
class RxUdp:
    """``ERXUDP``: one received UDP datagram (protocol.md §3.2).

    ``secured`` is None for the 2015 form without a SECURED token (transcripts.md T18);
    ``side`` only on dual-stack modules; ``rssi`` (raw, LQI scale) only with DSE SA2=1.
    """

    sender: str
    dest: str
    rport: int
    lport: int
    sender_lla: str
    secured: bool | None
    side: int | None
    rssi: int | None
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


@attrs.frozen
class PanDesc:
    """One ``EPANDESC`` block. ``channel`` is the hex value as printed (``33`` -> 0x33)."""

    channel: int
    channel_page: int
    pan_id: int
    addr: str
    lqi: int
    side: int | None
    pair_id: str | None


@attrs.frozen
class Info:
    """``EINFO <IPADDR> <ADDR64> <CHANNEL> <PANID> <tail>``; tail is ``FFFE`` or a SIDE digit."""

    ip: str
    mac: str
    channel: int
    pan_id: int
    tail: str


@attrs.frozen
class Version:
    """``EVER <text>``."""

    text: str


@attrs.frozen
class AppVersion:
    """``EAPPVER <text>``."""

    text: str


@attrs.frozen
class RegisterValue:
    """``ESREG <value>`` (reply to a register read)."""

    value: str


@attrs.frozen
class Address:
    """A bare IPv6 line (the SKLL64 reply), upper case."""

    addr: str


@attrs.frozen
class EdScan:
    """``EEDSCAN`` and its data line: ``(channel, lqi)`` pairs."""

    levels: tuple[tuple[int, int], ...]


@attrs.frozen
class TableList:
    """``EADDR``/``ENEIGHBOR``/``EPORT``/``EHANDLE`` and its rows (empty lines dropped).

    Emitted just before the ``OK`` (or ``FAIL``) that ends the table.
    """

    kind: str
    entries: tuple[str, ...]


@attrs.frozen
class Echo:
    """An echoed command line (register SFE=1); SKSETPWD/SKSETRBID arguments masked."""

    text: str


@attrs.frozen
class EmptyLine:
    """A line with nothing on it (e.g. the module answering a CRLF after a SKSENDTO payload)."""


@attrs.frozen
class J11Frame:
    """The ROHM J11 binary-protocol unique code ``D0 EA 83 FC`` was seen on the line."""


@attrs.frozen
class Garbage:
    """Input that is not SKSTACK IP output; never carries the bytes themselves."""

    reason: str
    size: int


Message: TypeAlias = (
    Ok
    | Fail
    | ModuleEvent
    | RxUdp
    | PanDesc
    | Info
    | Version
    | AppVersion
    | RegisterValue
    | Address
    | EdScan
    | TableList
    | Echo
    | EmptyLine
    | J11Frame
    | Garbage
)
