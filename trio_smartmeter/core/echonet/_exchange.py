"""Requests, response matching and transaction ids.

A reply is matched to its request by content, never by arrival order (protocol.md §9.6,
§9.7): same TID, sent by the object we asked, an ESV of the request's family, and the
same set of EPCs. The transport layer adds the sender address and port on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._frame import CONTROLLER, EOJ, ESV, SMART_METER, Frame, Property

__all__ = [
    "RESPONSES",
    "TidAllocator",
    "get_request",
    "infc_response",
    "is_response_to",
    "is_sna",
    "readable_properties",
    "set_request",
    "sna_properties",
]

#: request ESV -> the ESVs that answer it (success and "service not available")
RESPONSES: Mapping[int, frozenset[int]] = {
    ESV.GET: frozenset({ESV.GET_RES, ESV.GET_SNA}),
    ESV.SETC: frozenset({ESV.SET_RES, ESV.SETC_SNA}),
    ESV.SETI: frozenset({ESV.SETI_SNA}),
    ESV.INF_REQ: frozenset({ESV.INF, ESV.INF_SNA}),
    ESV.SETGET: frozenset({ESV.SETGET_RES, ESV.SETGET_SNA}),
}

_SNA = frozenset({ESV.SETI_SNA, ESV.SETC_SNA, ESV.GET_SNA, ESV.INF_SNA, ESV.SETGET_SNA})
#: SNA kinds where a *rejected* property echoes its EDT back (accepted ones have PDC 0)
_SET_SNA = frozenset({ESV.SETI_SNA, ESV.SETC_SNA})


def get_request(
    tid: int,
    epcs: Sequence[int],
    deoj: EOJ = SMART_METER,
    seoj: EOJ = CONTROLLER,
) -> Frame:
    """A Get (0x62) for ``epcs``, every property with PDC 0."""
    if not epcs:
        raise ValueError("a Get needs at least one EPC")
    return Frame(
        tid=tid,
        seoj=seoj,
        deoj=deoj,
        esv=ESV.GET,
        properties=tuple(Property(epc) for epc in epcs),
    )


def set_request(
    tid: int,
    properties: Sequence[Property],
    deoj: EOJ = SMART_METER,
    seoj: EOJ = CONTROLLER,
) -> Frame:
    """A SetC (0x61) for ``properties``: the meter answers Set_Res, or SetC_SNA echoing
    the EDT of each property it refused (E5/ED/EF, the history selectors)."""
    if not properties:
        raise ValueError("a Set needs at least one property")
    return Frame(tid=tid, seoj=seoj, deoj=deoj, esv=ESV.SETC, properties=tuple(properties))


def is_response_to(request: Frame, response: Frame) -> bool:
    """Whether ``response`` answers ``request`` (TID, source object, ESV family, EPC set)."""
    family = RESPONSES.get(request.esv)
    return (
        family is not None
        and response.tid == request.tid
        and response.seoj == request.deoj
        and response.esv in family
        and set(response.epcs) == set(request.epcs)
    )


def is_sna(frame: Frame) -> bool:
    """An error ("service not available") response: 0x50-0x53, 0x5E."""
    return frame.esv in _SNA


def readable_properties(frame: Frame) -> dict[int, bytes]:
    """EPC -> EDT for every property that carries data (PDC > 0).

    A Get_SNA still lists every requested EPC; the ones the meter could read have data,
    the others PDC 0 (protocol.md §6). Partial success is success for the readable ones.
    """
    return {p.epc: p.edt for p in frame.properties if p.edt}


def sna_properties(frame: Frame) -> frozenset[int]:
    """The EPCs an SNA response refused; empty for any other frame.

    Get_SNA / INF_SNA / SetGet_SNA: the ones with PDC 0. SetI_SNA / SetC_SNA: the ones
    whose EDT was echoed back (accepted properties have PDC 0 there).
    """
    if frame.esv in _SET_SNA:
        return frozenset(p.epc for p in frame.properties if p.edt)
    if frame.esv in _SNA:
        return frozenset(p.epc for p in frame.properties if not p.edt)
    return frozenset()


def infc_response(infc: Frame) -> Frame:
    """The INFC_Res (0x7A) for an INFC: same TID, objects swapped, same EPCs with PDC 0."""
    return Frame(
        tid=infc.tid,
        seoj=infc.deoj,
        deoj=infc.seoj,
        esv=ESV.INFC_RES,
        properties=tuple(Property(p.epc) for p in infc.properties),
    )


class TidAllocator:
    """Transaction ids 1..0xFFFF in sequence; wraps from 0xFFFF to 1, never yields 0."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= 0xFFFF:
            raise ValueError(f"start must be 1..0xFFFF, got {start!r}")
        self._next = start

    def next(self) -> int:
        tid = self._next
        self._next = 1 if tid == 0xFFFF else tid + 1
        return tid

    def __repr__(self) -> str:
        return f"TidAllocator(next=0x{self._next:04X})"
