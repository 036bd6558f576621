"""Command builders: exact wire bytes for the host side (protocol.md §1, §2).

Every builder validates its arguments (``ValueError`` without echoing secret values) and
returns a :class:`Command` whose ``redacted`` text is safe to log: SKSETPWD/SKSETRBID
arguments are masked and a SKSENDTO payload shows as ``<N bytes>``.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import string

import attrs

from trio_smartmeter.core.secret import MASK, Secret

from ._dialect import Dialect

__all__ = [
    "CHANNELS",
    "MAX_SEND_DATALEN",
    "Command",
    "Completion",
    "channel_mask",
    "format_ipv6",
    "mac_to_link_local",
    "mask_line",
    "ropt",
    "sk_appver",
    "sk_info",
    "sk_join",
    "sk_ll64",
    "sk_reset",
    "sk_scan",
    "sk_sendto",
    "sk_setpwd",
    "sk_setrbid",
    "sk_sreg",
    "sk_term",
    "sk_ver",
    "wopt",
]

#: Largest SKSENDTO payload any implementation sends (smdn: 0x04D0, protocol.md §1.3).
MAX_SEND_DATALEN = 0x04D0

_HEX = frozenset(string.hexdigits)
_PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation)

_PWD_RE = re.compile(r"(SKSETPWD)((?:[ \t]+[0-9A-Fa-f]{1,2}(?=[ \t]+\S))?)[ \t]+\S.*", re.I)
_RBID_RE = re.compile(r"(SKSETRBID)[ \t]+\S.*", re.I)


class Completion(enum.Enum):
    """What ends a command: ``OK``/``FAIL`` or, for SKLL64, the bare address line."""

    OK = "ok"
    ADDRESS = "address"


@attrs.frozen(repr=False)
class Command:
    """One command: its name, the exact bytes to write and how its reply ends."""

    name: str
    wire: bytes
    completion: Completion
    redacted: str

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"Command({self.redacted!r})"


def mask_line(text: str) -> str:
    """Mask the arguments of SKSETPWD / SKSETRBID wherever they appear in ``text``.

    ``SKSETPWD C secret`` -> ``SKSETPWD C ********``, ``SKSETRBID id`` -> ``SKSETRBID ********``
    (everything after the command to the end of the line is masked).
    """
    text = _PWD_RE.sub(lambda m: f"{m[1]}{m[2]} {MASK}", text)
    return _RBID_RE.sub(lambda m: f"{m[1]} {MASK}", text)


def _crlf(name: str, text: str, completion: Completion = Completion.OK) -> Command:
    return Command(name, text.encode("ascii") + b"\r\n", completion, text)


def _token(what: str, value: str) -> str:
    if not value or not set(value) <= _PRINTABLE:
        raise ValueError(f"{what} must be non-empty printable ASCII without spaces")
    return value


def _hex_digits(what: str, value: str, length: int) -> str:
    if len(value) != length or not set(value) <= _HEX:
        raise ValueError(f"{what} must be {length} hex digits, got {value!r}")
    return value.upper()


def _ranged(what: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{what} must be in {low:#x}..{high:#x}, got {value!r}")
    return value


def sk_reset() -> Command:
    return _crlf("SKRESET", "SKRESET")


def sk_ver() -> Command:
    return _crlf("SKVER", "SKVER")


def sk_appver() -> Command:
    return _crlf("SKAPPVER", "SKAPPVER")


def sk_info() -> Command:
    return _crlf("SKINFO", "SKINFO")


def sk_term() -> Command:
    return _crlf("SKTERM", "SKTERM")


def sk_sreg(register: str, value: str | None = None) -> Command:
    """``SKSREG <REG> <VAL>`` (write) or ``SKSREG <REG>`` (read, answered by ESREG)."""
    text = f"SKSREG {_token('register', register)}"
    if value is not None:
        text += f" {_token('register value', value)}"
    return _crlf("SKSREG", text)


def sk_setrbid(rbid: Secret) -> Command:
    """``SKSETRBID <ID>``: the 32-character B-route ID (masked in ``redacted``)."""
    value = rbid.reveal()
    if not value or not set(value) <= _PRINTABLE:
        raise ValueError("the B-route ID must be non-empty printable ASCII without spaces")
    return Command(
        "SKSETRBID", f"SKSETRBID {value}\r\n".encode("ascii"), Completion.OK, f"SKSETRBID {MASK}"
    )


def sk_setpwd(password: Secret) -> Command:
    """``SKSETPWD <LEN> <PWD>``; LEN in hex (12 -> ``C``), 1..32 characters."""
    value = password.reveal()
    if not 1 <= len(value) <= 32 or not set(value) <= _PRINTABLE:
        raise ValueError("the password must be 1-32 printable ASCII characters without spaces")
    length = f"{len(value):X}"
    return Command(
        "SKSETPWD",
        f"SKSETPWD {length} {value}\r\n".encode("ascii"),
        Completion.OK,
        f"SKSETPWD {length} {MASK}",
    )


#: The 920 MHz band's channels as SKSTACK IP numbers them (protocol.md §2 SKSCAN).
CHANNELS = range(0x21, 0x3D)


def channel_mask(channel: int | None) -> str:
    """SKSCAN channel mask: None -> all channels ``FFFFFFFF``; ``0x21`` -> ``00000001``."""
    if channel is None:
        return "FFFFFFFF"
    _ranged("channel", channel, CHANNELS[0], CHANNELS[-1])
    return f"{1 << (channel - CHANNELS[0]):08X}"


def sk_scan(
    dialect: Dialect,
    *,
    mode: int = 2,
    channel: int | None = None,
    duration: int,
    side: int = 0,
) -> Command:
    """``SKSCAN <MODE> <MASK> <DURATION>`` (+ ``<SIDE>`` on dual-stack modules)."""
    if mode not in (0, 2, 3):
        raise ValueError(f"scan mode must be 0, 2 or 3, got {mode!r}")
    _ranged("duration", duration, 0, 14)
    text = f"SKSCAN {mode:X} {channel_mask(channel)} {duration:X}"
    if dialect is Dialect.DUAL_STACK:
        text += f" {_ranged('side', side, 0, 1):X}"
    return _crlf("SKSCAN", text)


def format_ipv6(addr: str) -> str:
    """The module's IPv6 form: fully expanded, upper case, 8 groups of 4 hex digits.

    Accepts any textual IPv6 form (``fe80::21c:6400:3dd:6393``); raises ``ValueError``
    otherwise (scope ids are rejected).
    """
    if "%" in addr:
        raise ValueError(f"not an IPv6 address (scope ids are not allowed): {addr!r}")
    try:
        parsed = ipaddress.IPv6Address(addr)
    except ValueError:
        raise ValueError(f"not an IPv6 address: {addr!r}") from None
    return parsed.exploded.upper()


def mac_to_link_local(mac: str) -> str:
    """EUI-64 MAC to link-local IPv6: flip bit 0x02 of the first byte (protocol.md §2 SKLL64)."""
    mac = _hex_digits("MAC address", mac, 16)
    iid = f"{int(mac, 16) ^ (0x02 << 56):016X}"
    return "FE80:0000:0000:0000:" + ":".join(iid[i : i + 4] for i in range(0, 16, 4))


def sk_ll64(mac: str) -> Command:
    """``SKLL64 <ADDR64>``: answered by a bare address line and no OK."""
    return _crlf("SKLL64", f"SKLL64 {_hex_digits('MAC address', mac, 16)}", Completion.ADDRESS)


def sk_join(ip: str) -> Command:
    return _crlf("SKJOIN", f"SKJOIN {format_ipv6(ip)}")


def sk_sendto(
    dialect: Dialect,
    ip: str,
    payload: bytes,
    *,
    handle: int = 1,
    port: int = 0x0E1A,
    sec: int = 1,
    side: int = 0,
) -> Command:
    """``SKSENDTO <HANDLE> <IP> <PORT> <SEC> [<SIDE>] <DATALEN> `` + raw payload, no CRLF."""
    _ranged("payload length", len(payload), 1, MAX_SEND_DATALEN)
    _ranged("handle", handle, 1, 6)
    _ranged("port", port, 0, 0xFFFF)
    _ranged("sec", sec, 0, 2)
    head = f"SKSENDTO {handle:X} {format_ipv6(ip)} {port:04X} {sec:X} "
    if dialect is Dialect.DUAL_STACK:
        head += f"{_ranged('side', side, 0, 1):X} "
    head += f"{len(payload):04X} "
    return Command(
        "SKSENDTO",
        head.encode("ascii") + bytes(payload),
        Completion.OK,
        f"{head}<{len(payload)} bytes>",
    )


def ropt() -> Command:
    """``ROPT`` (CR only): answered ``OK 00``/``OK 01`` (CR only) or ``FAIL ER04``."""
    return Command("ROPT", b"ROPT\r", Completion.OK, "ROPT")


def wopt(mode: int) -> Command:
    """``WOPT <mode>`` (CR only); writes flash, so only when ROPT says otherwise."""
    text = f"WOPT {_ranged('WOPT mode', mode, 0, 1):02X}"
    return Command("WOPT", text.encode("ascii") + b"\r", Completion.OK, text)
