"""Where the meter is, and the state file that remembers it across restarts.

A scan costs seconds on the radio; the state file lets a restart skip it. The file is
input like any other: every field is checked when it is read, and a file that fails
any check is ignored as a whole with one reason naming the field (the next good join
rewrites it). A restart must never crash on it, whatever an SD card or a person left
there.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import attrs

from trio_smartmeter.core.skstack import CHANNELS, Dialect, format_ipv6

#: The state file's format version.
STATE_VERSION = 1


@attrs.frozen
class MeterAddress:
    """What a scan finds: the meter's channel, PAN, MAC and link-local address."""

    channel: int
    pan_id: int
    mac: str  # 16 hex digits, upper case
    ip: str  # fully expanded link-local, upper case
    lqi: int | None = None


class StateFileError(ValueError):
    """The state file is unusable; the message names the field and never its raw text."""


def pinned_address(channel: int, ipaddr: str) -> MeterAddress:
    """The address given by ``-channel`` and ``-ipaddr`` (no scan).

    SKJOIN needs the PAN ID too; these meters use the last 4 hex digits of the MAC
    (protocol.md T05 note). A wrong guess fails the join and the ladder rescans.
    """
    ip = format_ipv6(ipaddr)
    mac = mac_from_link_local(ip)
    return MeterAddress(channel=channel, pan_id=int(mac[-4:], 16), mac=mac, ip=ip)


def mac_from_link_local(ip: str) -> str:
    """The MAC behind a link-local address (the EUI-64 interface id, U/L bit flipped)."""
    iid = bytearray(ipaddress.IPv6Address(ip).packed[8:])
    iid[0] ^= 0x02
    return iid.hex().upper()


def encode_state(address: MeterAddress, dialect: Dialect | None) -> bytes:
    doc = {
        "version": STATE_VERSION,
        "channel": f"{address.channel:02X}",
        "pan_id": f"{address.pan_id:04X}",
        "mac": address.mac,
        "ip": address.ip,
        "dialect": dialect.value if dialect is not None else None,
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def decode_state(data: bytes) -> tuple[MeterAddress, Dialect | None]:
    """The address and dialect a state file holds; raises :class:`StateFileError`."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise StateFileError("not a JSON document") from None
    if not isinstance(doc, dict):
        raise StateFileError("not a JSON object")
    if doc.get("version") != STATE_VERSION:
        raise StateFileError(f"field 'version': expected {STATE_VERSION}")
    channel = _hex_field(doc, "channel", 2)
    if channel not in CHANNELS:
        raise StateFileError(
            f"field 'channel': expected a channel {CHANNELS[0]:02X}-{CHANNELS[-1]:02X}"
        )
    pan_id = _hex_field(doc, "pan_id", 4)
    mac_text = doc.get("mac")
    if not isinstance(mac_text, str) or len(mac_text) != 16 or not _is_hex(mac_text):
        raise StateFileError("field 'mac': expected 16 hex digits")
    ip = _link_local(doc.get("ip"))
    dialect_text = doc.get("dialect")
    dialect: Dialect | None = None
    if dialect_text is not None:
        try:
            dialect = Dialect(dialect_text)
        except ValueError:
            raise StateFileError(
                "field 'dialect': expected single-hop, dual-stack or null"
            ) from None
    return MeterAddress(channel, pan_id, mac_text.upper(), ip), dialect


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _hex_field(doc: dict[str, Any], name: str, digits: int) -> int:
    value = doc.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= digits or not _is_hex(value):
        raise StateFileError(f"field {name!r}: expected up to {digits} hex digits")
    return int(value, 16)


def _link_local(value: object) -> str:
    if isinstance(value, str) and "%" not in value:
        try:
            addr = ipaddress.IPv6Address(value)
        except ValueError:
            pass
        else:
            if addr.is_link_local:
                return format_ipv6(addr.exploded)
    raise StateFileError("field 'ip': expected an IPv6 link-local address (FE80::...)")
