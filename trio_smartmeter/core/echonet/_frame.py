"""ECHONET Lite EDATA format 1: the frame, its objects and properties, encode and decode.

Layout (protocol.md §6), multi-byte integers big-endian::

    EHD1(0x10) EHD2(0x81) TID(2) SEOJ(3) DEOJ(3) ESV(1) OPC(1) OPC × {EPC(1) PDC(1) EDT(PDC)}

Decoding is strict: a frame that is short, long, or whose OPC/PDC do not add up to its
length is rejected with :class:`FrameError`. An unknown ESV is not an error; it is kept
as a plain ``int`` (known ones become :class:`ESV` members, which compare equal to ints).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = [
    "CONTROLLER",
    "ECHONET_PORT",
    "EHD1",
    "EHD2_FORMAT1",
    "EOJ",
    "ESV",
    "HEADER_SIZE",
    "NODE_PROFILE",
    "SMART_METER",
    "Frame",
    "FrameError",
    "Property",
    "decode_frame",
]

EHD1 = 0x10
EHD2_FORMAT1 = 0x81
#: EHD1 EHD2 TID(2) SEOJ(3) DEOJ(3) ESV OPC
HEADER_SIZE = 12


class FrameError(ValueError):
    """The bytes are not a well-formed ECHONET Lite format-1 frame."""


class ESV(enum.IntEnum):
    """ECHONET Lite service codes (protocol.md §6)."""

    SETI = 0x60
    SETC = 0x61
    GET = 0x62
    INF_REQ = 0x63
    SETGET = 0x6E
    SET_RES = 0x71
    GET_RES = 0x72
    INF = 0x73
    INFC = 0x74
    INFC_RES = 0x7A
    SETGET_RES = 0x7E
    SETI_SNA = 0x50
    SETC_SNA = 0x51
    GET_SNA = 0x52
    INF_SNA = 0x53
    SETGET_SNA = 0x5E


_KNOWN_ESV = frozenset(int(e) for e in ESV)


def _byte(_inst: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{attribute.name} must be 0..0xFF, got {value!r}")


def _hex2(value: int) -> str:
    return f"0x{value:02X}"


def _esv(value: int) -> int:
    """Known service codes as :class:`ESV` (for readable reprs), anything else as int."""
    value = int(value)
    return ESV(value) if value in _KNOWN_ESV else value


@attrs.frozen
class EOJ:
    """An ECHONET object: class group, class code, instance (``02 88 01`` = smart meter 1)."""

    class_group: int = attrs.field(validator=_byte, repr=_hex2)
    class_code: int = attrs.field(validator=_byte, repr=_hex2)
    instance: int = attrs.field(validator=_byte, repr=_hex2)

    @classmethod
    def from_bytes(cls, data: bytes) -> EOJ:
        if len(data) != 3:
            raise ValueError(f"an EOJ is 3 bytes, got {len(data)}")
        return cls(data[0], data[1], data[2])

    def __bytes__(self) -> bytes:
        return bytes((self.class_group, self.class_code, self.instance))

    def __str__(self) -> str:
        return bytes(self).hex().upper()


#: The UDP port ECHONET Lite uses (3610), on the B-route as on a LAN.
ECHONET_PORT = 0x0E1A

CONTROLLER = EOJ(0x05, 0xFF, 0x01)
SMART_METER = EOJ(0x02, 0x88, 0x01)
NODE_PROFILE = EOJ(0x0E, 0xF0, 0x01)


def _edt(_inst: Any, _attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if len(value) > 0xFF:
        raise ValueError(f"EDT is at most 255 bytes (PDC is one byte), got {len(value)}")


@attrs.frozen
class Property:
    """One EPC with its data. ``edt == b""`` is PDC 0 (a Get, or "unreadable" in Get_SNA)."""

    epc: int = attrs.field(validator=_byte, repr=_hex2)
    edt: bytes = attrs.field(default=b"", converter=bytes, validator=_edt)

    @property
    def pdc(self) -> int:
        return len(self.edt)


def _as_tuple(value: Iterable[Property]) -> tuple[Property, ...]:
    return tuple(value)


def _properties(_inst: Any, _attribute: Any, value: tuple[Property, ...]) -> None:
    if len(value) > 0xFF:
        raise ValueError(f"at most 255 properties fit in one frame (OPC), got {len(value)}")
    for prop in value:
        if not isinstance(prop, Property):
            raise TypeError(f"properties must be Property instances, got {prop!r}")


def _tid(_inst: Any, _attribute: Any, value: int) -> None:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"tid must be 0..0xFFFF, got {value!r}")


def _esv_range(_inst: Any, _attribute: Any, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"esv must be 0..0xFF, got {value!r}")


@attrs.frozen
class Frame:
    """A decoded (or to-be-encoded) ECHONET Lite format-1 frame."""

    tid: int = attrs.field(validator=_tid, repr=lambda v: f"0x{v:04X}")
    seoj: EOJ
    deoj: EOJ
    esv: int = attrs.field(converter=_esv, validator=_esv_range)
    properties: tuple[Property, ...] = attrs.field(converter=_as_tuple, validator=_properties)

    @property
    def epcs(self) -> tuple[int, ...]:
        """The EPCs in frame order."""
        return tuple(p.epc for p in self.properties)

    def encode(self) -> bytes:
        out = bytearray((EHD1, EHD2_FORMAT1))
        out += self.tid.to_bytes(2, "big")
        out += bytes(self.seoj)
        out += bytes(self.deoj)
        out.append(self.esv)
        out.append(len(self.properties))
        for prop in self.properties:
            out.append(prop.epc)
            out.append(len(prop.edt))
            out += prop.edt
        return bytes(out)


def decode_frame(data: bytes) -> Frame:
    """Parse one complete frame; anything malformed raises :class:`FrameError`."""
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise FrameError(f"frame too short: {len(data)} bytes, the header alone is {HEADER_SIZE}")
    if data[0] != EHD1:
        raise FrameError(f"EHD1 is 0x{data[0]:02X}, expected 0x10 (ECHONET Lite)")
    if data[1] != EHD2_FORMAT1:
        raise FrameError(f"EHD2 is 0x{data[1]:02X}, expected 0x81 (format 1)")
    tid = int.from_bytes(data[2:4], "big")
    seoj = EOJ.from_bytes(data[4:7])
    deoj = EOJ.from_bytes(data[7:10])
    esv = data[10]
    opc = data[11]
    properties: list[Property] = []
    offset = HEADER_SIZE
    for index in range(opc):
        if offset + 2 > len(data):
            raise FrameError(
                f"property {index + 1} of {opc} is cut off at byte {offset} "
                f"(frame is {len(data)} bytes)"
            )
        epc = data[offset]
        pdc = data[offset + 1]
        end = offset + 2 + pdc
        if end > len(data):
            raise FrameError(
                f"EPC 0x{epc:02X}: PDC {pdc} runs past the end of the frame "
                f"({len(data) - offset - 2} bytes left)"
            )
        properties.append(Property(epc, data[offset + 2 : end]))
        offset = end
    if offset != len(data):
        raise FrameError(f"{len(data) - offset} trailing bytes after {opc} properties")
    return Frame(tid=tid, seoj=seoj, deoj=deoj, esv=esv, properties=tuple(properties))
