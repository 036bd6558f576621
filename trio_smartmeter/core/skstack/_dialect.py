"""Module families and ERXUDP payload formats, and how to tell them apart (protocol.md §0, §1.2)."""

from __future__ import annotations

import enum

from ._messages import Fail, Info, Ok

__all__ = [
    "J11_MAGIC",
    "Dialect",
    "PayloadFormat",
    "dialect_from_info",
    "dialect_from_scan_failure",
    "is_j11",
    "payload_from_ropt",
    "rssi_from_lqi",
]

#: The unique code that starts every ROHM J11 binary-protocol frame (BP35C0-J11 sticks).
J11_MAGIC = b"\xd0\xea\x83\xfc"


class Dialect(enum.Enum):
    """Single-hop edition (BP35A1, RL7023 Stick-D/IPS) or dual-stack edition (BP35C2 ...)."""

    SINGLE_HOP = "single-hop"
    DUAL_STACK = "dual-stack"


class PayloadFormat(enum.Enum):
    """How ERXUDP prints its payload: raw bytes or hex ASCII (register set with WOPT)."""

    BINARY = "binary"
    HEX = "hex"


def dialect_from_info(info: Info) -> Dialect:
    """Guess the family from SKINFO's last token (protocol.md §0, §2 SKINFO).

    Single-hop modules print their 16-bit short address (``FFFE``); dual-stack modules
    print one small digit (``0``, transcripts.md T12). Anything else is taken as
    single-hop: a wrong guess shows up as ``FAIL ER05`` on SKSCAN, see
    :func:`dialect_from_scan_failure`.
    """
    tail = info.tail
    if 1 <= len(tail) <= 2 and tail.isdigit():
        return Dialect.DUAL_STACK
    return Dialect.SINGLE_HOP


def dialect_from_scan_failure(fail: Fail, tried: Dialect) -> Dialect | None:
    """``FAIL ER05`` (wrong argument count) on SKSCAN means the other dialect, else None."""
    if fail.code != 5:
        return None
    return Dialect.DUAL_STACK if tried is Dialect.SINGLE_HOP else Dialect.SINGLE_HOP


def payload_from_ropt(reply: Ok | Fail) -> PayloadFormat:
    """Map the ROPT reply to the ERXUDP payload format (protocol.md §1.2).

    ``OK 00`` -> binary, ``OK 01`` -> hex (bit 0 of the option byte); ``FAIL`` (``ER04`` on
    the RL7023 sticks, which only print hex) -> hex. An ``OK`` without a hex argument is
    not a ROPT reply: ``ValueError``.
    """
    if isinstance(reply, Fail):
        return PayloadFormat.HEX
    try:
        value = int(reply.arg or "", 16)
    except ValueError:
        raise ValueError(f"not a ROPT reply: {reply!r}") from None
    return PayloadFormat.HEX if value & 1 else PayloadFormat.BINARY


def is_j11(data: bytes) -> bool:
    """True if ``data`` contains the J11 unique code ``D0 EA 83 FC``."""
    return J11_MAGIC in data


def rssi_from_lqi(lqi: int) -> float:
    """RSSI in dBm from an LQI byte: ``0.275 * lqi - 104.27`` (protocol.md §2 EPANDESC),
    to 0.1 dB: one LQI step is 0.275 dB, so a finer figure (-55.31999999999999) is noise."""
    return round(0.275 * lqi - 104.27, 1)
