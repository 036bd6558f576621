"""SetGet (ESV 0x6E): a Set and a Get in one frame, and its two answers.

History 1 needs "Set E5, then Get E2/E4"; SetGet does both in one exchange, so E5 cannot
change in between and the radio carries half the frames. The AIF does not require it
and meters that lack it answer SetGet_SNA, so a caller tries it once and falls back to
SetC + Get. The layout has two property lists (ECHONET Lite §3.2.5)::

    EHD1 EHD2 TID(2) SEOJ(3) DEOJ(3) ESV OPCSet {EPC PDC EDT}… OPCGet {EPC PDC EDT}…

SetGet_Res (0x7E): the Set list with PDC 0, the Get list with data. SetGet_SNA (0x5E):
a rejected Set property echoes its EDT, an unreadable Get property has PDC 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from ._frame import CONTROLLER, EHD1, EHD2_FORMAT1, EOJ, ESV, SMART_METER, FrameError, Property

__all__ = [
    "SETGET_ESVS",
    "SetGetFrame",
    "decode_setget_frame",
    "is_setget_response_to",
    "setget_request",
]

#: the ESVs laid out with two property lists
SETGET_ESVS = frozenset({ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA})
_ANSWERS = frozenset({ESV.SETGET_RES, ESV.SETGET_SNA})


def _as_tuple(value: Iterable[Property]) -> tuple[Property, ...]:
    return tuple(value)


def _setget_esv(_inst: object, _attribute: object, value: int) -> None:
    if value not in SETGET_ESVS:
        raise ValueError(f"ESV 0x{value:02X} is not SetGet, SetGet_Res or SetGet_SNA")


def _short_list(_inst: object, _attribute: object, value: tuple[Property, ...]) -> None:
    if len(value) > 0xFF:
        raise ValueError(f"at most 255 properties fit in one list, got {len(value)}")


@attrs.frozen
class SetGetFrame:
    """A SetGet request or answer: ``sets`` (OPCSet list) then ``gets`` (OPCGet list)."""

    tid: int = attrs.field(validator=attrs.validators.in_(range(0x10000)))
    seoj: EOJ
    deoj: EOJ
    esv: int = attrs.field(converter=ESV, validator=_setget_esv)
    sets: tuple[Property, ...] = attrs.field(converter=_as_tuple, validator=_short_list)
    gets: tuple[Property, ...] = attrs.field(converter=_as_tuple, validator=_short_list)

    def encode(self) -> bytes:
        out = bytearray((EHD1, EHD2_FORMAT1))
        out += self.tid.to_bytes(2, "big") + bytes(self.seoj) + bytes(self.deoj)
        out.append(self.esv)
        for properties in (self.sets, self.gets):
            out.append(len(properties))
            for prop in properties:
                out += bytes((prop.epc, prop.pdc)) + prop.edt
        return bytes(out)

    def readable(self) -> dict[int, bytes]:
        """EPC -> EDT of the Get list's properties that carry data."""
        return {p.epc: p.edt for p in self.gets if p.edt}

    def refused(self) -> frozenset[int]:
        """The EPCs an SNA did not process (Set: EDT echoed; Get: PDC 0); empty otherwise."""
        if self.esv != ESV.SETGET_SNA:
            return frozenset()
        return frozenset(
            [p.epc for p in self.sets if p.edt] + [p.epc for p in self.gets if not p.edt]
        )


def setget_request(
    tid: int,
    sets: Sequence[Property],
    gets: Sequence[int],
    deoj: EOJ = SMART_METER,
    seoj: EOJ = CONTROLLER,
) -> SetGetFrame:
    """A SetGet (0x6E): ``sets`` with their EDTs, then ``gets`` with PDC 0."""
    if not sets or not gets:
        raise ValueError("a SetGet needs at least one property to set and one to get")
    return SetGetFrame(
        tid=tid,
        seoj=seoj,
        deoj=deoj,
        esv=ESV.SETGET,
        sets=tuple(sets),
        gets=tuple(Property(epc) for epc in gets),
    )


def _properties(data: bytes, offset: int, which: str) -> tuple[tuple[Property, ...], int]:
    if offset >= len(data):
        raise FrameError(f"the {which} list's count is missing at byte {offset}")
    count = data[offset]
    offset += 1
    found: list[Property] = []
    for index in range(count):
        if offset + 2 > len(data):
            raise FrameError(f"{which} property {index + 1} of {count} is cut off")
        end = offset + 2 + data[offset + 1]
        if end > len(data):
            raise FrameError(f"{which} EPC 0x{data[offset]:02X}: PDC runs past the frame")
        found.append(Property(data[offset], data[offset + 2 : end]))
        offset = end
    return tuple(found), offset


def decode_setget_frame(data: bytes) -> SetGetFrame:
    """Parse a SetGet / SetGet_Res / SetGet_SNA frame; anything else raises FrameError."""
    data = bytes(data)
    if len(data) < 11 or data[0] != EHD1 or data[1] != EHD2_FORMAT1:
        raise FrameError("not an ECHONET Lite format-1 frame")
    if data[10] not in SETGET_ESVS:
        raise FrameError(f"ESV 0x{data[10]:02X} has one property list, not SetGet's two")
    sets, offset = _properties(data, 11, "Set")
    gets, offset = _properties(data, offset, "Get")
    if offset != len(data):
        raise FrameError(f"{len(data) - offset} trailing bytes after the Get list")
    return SetGetFrame(
        tid=int.from_bytes(data[2:4], "big"),
        seoj=EOJ.from_bytes(data[4:7]),
        deoj=EOJ.from_bytes(data[7:10]),
        esv=data[10],
        sets=sets,
        gets=gets,
    )


def is_setget_response_to(request: SetGetFrame, response: SetGetFrame) -> bool:
    """Whether ``response`` answers ``request``: TID, source object, ESV, both EPC sets."""
    return (
        response.esv in _ANSWERS
        and response.tid == request.tid
        and response.seoj == request.deoj
        and {p.epc for p in response.sets} == {p.epc for p in request.sets}
        and {p.epc for p in response.gets} == {p.epc for p in request.gets}
    )
