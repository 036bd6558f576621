"""ECHONET Lite EDATA format 1, as the meter side needs it.

The simulator carries its own codec on purpose: it must never share parsing quirks
with the client it is testing (a bug in both would cancel out).
"""

from __future__ import annotations

import attrs

EHD = b"\x10\x81"
SMART_METER = b"\x02\x88\x01"
NODE_PROFILE = b"\x0e\xf0\x01"
CONTROLLER = b"\x05\xff\x01"

GET = 0x62
SETI = 0x60
SETC = 0x61
INF_REQ = 0x63
GET_RES = 0x72
GET_SNA = 0x52
SET_RES = 0x71
SETC_SNA = 0x51
SETI_SNA = 0x50
INF = 0x73
INFC = 0x74
INFC_RES = 0x7A
INF_SNA = 0x53
SETGET = 0x6E
SETGET_RES = 0x7E
SETGET_SNA = 0x5E


@attrs.frozen
class SimFrame:
    tid: int
    seoj: bytes
    deoj: bytes
    esv: int
    props: tuple[tuple[int, bytes], ...]

    def encode(self) -> bytes:
        out = bytearray(EHD)
        out += self.tid.to_bytes(2, "big") + self.seoj + self.deoj
        out += bytes([self.esv, len(self.props)])
        for epc, edt in self.props:
            out += bytes([epc, len(edt)]) + edt
        return bytes(out)


@attrs.frozen
class SimSetGet:
    """SetGet and its answers: two property lists, the Set one first."""

    tid: int
    seoj: bytes
    deoj: bytes
    esv: int
    sets: tuple[tuple[int, bytes], ...]
    gets: tuple[tuple[int, bytes], ...]

    def encode(self) -> bytes:
        out = bytearray(EHD)
        out += self.tid.to_bytes(2, "big") + self.seoj + self.deoj + bytes([self.esv])
        for props in (self.sets, self.gets):
            out.append(len(props))
            for epc, edt in props:
                out += bytes([epc, len(edt)]) + edt
        return bytes(out)


def _props(data: bytes, pos: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    if pos >= len(data):
        raise ValueError("missing property count")
    count = data[pos]
    pos += 1
    props: list[tuple[int, bytes]] = []
    for _ in range(count):
        if pos + 2 > len(data):
            raise ValueError("truncated property block")
        epc, pdc = data[pos], data[pos + 1]
        pos += 2
        if pos + pdc > len(data):
            raise ValueError("truncated EDT")
        props.append((epc, data[pos : pos + pdc]))
        pos += pdc
    return tuple(props), pos


def decode(data: bytes) -> SimFrame:
    """Decode a frame; ValueError for anything a meter would drop."""
    if len(data) < 12 or data[:2] != EHD:
        raise ValueError("not an ECHONET Lite format-1 frame")
    props, _ = _props(data, 11)
    return SimFrame(int.from_bytes(data[2:4], "big"), data[4:7], data[7:10], data[10], props)


def decode_setget(data: bytes) -> SimSetGet:
    """Decode a SetGet's two lists; ValueError when they do not fill the frame."""
    frame = decode(data)
    pos = 12 + sum(2 + len(edt) for _, edt in frame.props)
    gets, end = _props(data, pos)
    if end != len(data):
        raise ValueError("trailing bytes after the Get list")
    return SimSetGet(frame.tid, frame.seoj, frame.deoj, frame.esv, frame.props, gets)


def property_map(epcs: set[int]) -> bytes:
    """Encode a 0x9D/0x9E/0x9F map (list form below 16 entries, bitmap form otherwise)."""
    ordered = sorted(epcs)
    if len(ordered) < 16:
        return bytes([len(ordered), *ordered])
    bitmap = bytearray(16)
    for epc in ordered:
        low = epc - 0x80
        bitmap[low & 0x0F] |= 1 << (low >> 4)
    return bytes([len(ordered)]) + bytes(bitmap)
