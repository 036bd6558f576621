"""Requests, response matching (TID + SEOJ + ESV family + EPC set), INFC_Res, TIDs."""

from __future__ import annotations

import pytest

from trio_smartmeter.core import echonet
from trio_smartmeter.core.echonet import (
    CONTROLLER,
    EOJ,
    ESV,
    NODE_PROFILE,
    SMART_METER,
    Frame,
    Property,
    TidAllocator,
    decode_frame,
    get_request,
    infc_response,
    is_response_to,
    readable_properties,
    sna_properties,
)


def reply(
    request: Frame,
    esv: int,
    props: list[Property] | None = None,
    *,
    tid: int | None = None,
    seoj: EOJ | None = None,
) -> Frame:
    return Frame(
        tid=request.tid if tid is None else tid,
        seoj=request.deoj if seoj is None else seoj,
        deoj=request.seoj,
        esv=esv,
        properties=tuple(
            props if props is not None else [Property(p.epc) for p in request.properties]
        ),
    )


def test_get_request_defaults() -> None:
    request = get_request(7, [0xE7, 0xE8])
    assert request.seoj == CONTROLLER
    assert request.deoj == SMART_METER
    assert request.esv is ESV.GET
    assert request.properties == (Property(0xE7), Property(0xE8))
    other = get_request(7, (0xD5,), deoj=NODE_PROFILE, seoj=EOJ(0x05, 0xFF, 0x02))
    assert other.deoj == NODE_PROFILE
    assert other.seoj == EOJ(0x05, 0xFF, 0x02)


def test_get_request_needs_an_epc() -> None:
    with pytest.raises(ValueError, match="at least one"):
        get_request(1, [])


def test_captured_replies_match_their_requests() -> None:
    cases = [
        (1, [0xD3], "1081000102880105FF015201D300"),
        (1, [0xE7], "1081000102880105FF017201E704000004A8"),
        (1, [0xE7, 0xE8, 0xE0], "1081000102880105FF017203E7040000055EE80400000082E00400052155"),
        (0x1002, [0xE8, 0xE7], "1081100202880105FF017202E7040000029CE80400280028"),
        (0x1A, [0x9E], "1081001A02880105FF0172019E040381E5ED"),
    ]
    for tid, epcs, payload in cases:
        assert is_response_to(get_request(tid, epcs), decode_frame(bytes.fromhex(payload)))


def test_unsolicited_frames_are_not_replies() -> None:
    d5 = decode_frame(bytes.fromhex("108103610EF0010EF0017301D50401028801"))
    ea = decode_frame(bytes.fromhex("1081036202880105FF017301EA0B07E60801141E0000012D02"))
    assert not is_response_to(get_request(0x0361, [0xD5]), d5)  # node profile, INF
    assert not is_response_to(get_request(0x0362, [0xEA]), ea)  # INF is not a Get answer


def test_mismatches() -> None:
    request = get_request(5, [0xE7, 0xE8])
    assert is_response_to(request, reply(request, ESV.GET_RES))
    assert is_response_to(request, reply(request, ESV.GET_SNA))
    assert not is_response_to(request, reply(request, ESV.GET_RES, tid=6))
    assert not is_response_to(request, reply(request, ESV.GET_RES, seoj=NODE_PROFILE))
    assert not is_response_to(request, reply(request, ESV.SET_RES))
    assert not is_response_to(request, reply(request, ESV.GET_RES, [Property(0xE7)]))
    assert not is_response_to(
        request, reply(request, ESV.GET_RES, [Property(0xE7), Property(0xE8), Property(0xE0)])
    )
    assert is_response_to(request, reply(request, ESV.GET_RES, [Property(0xE8), Property(0xE7)]))


@pytest.mark.parametrize(
    ("request_esv", "good", "bad"),
    [
        (ESV.GET, {ESV.GET_RES, ESV.GET_SNA}, {ESV.SET_RES, ESV.INF, ESV.SETC_SNA}),
        (ESV.SETC, {ESV.SET_RES, ESV.SETC_SNA}, {ESV.GET_RES, ESV.SETI_SNA}),
        (ESV.SETI, {ESV.SETI_SNA}, {ESV.SET_RES, ESV.SETC_SNA}),
        (ESV.INF_REQ, {ESV.INF, ESV.INF_SNA}, {ESV.INFC, ESV.GET_RES}),
        (ESV.SETGET, {ESV.SETGET_RES, ESV.SETGET_SNA}, {ESV.GET_RES, ESV.SET_RES}),
    ],
)
def test_esv_families(request_esv: ESV, good: set[ESV], bad: set[ESV]) -> None:
    request = Frame(9, CONTROLLER, SMART_METER, request_esv, (Property(0xE5, b"\x01"),))
    for esv in good:
        assert is_response_to(request, reply(request, esv)), esv
    for esv in bad:
        assert not is_response_to(request, reply(request, esv)), esv


def test_a_response_or_notification_is_never_a_request() -> None:
    for esv in (ESV.GET_RES, ESV.INF, ESV.INFC, ESV.INFC_RES, 0x99):
        request = Frame(1, CONTROLLER, SMART_METER, esv, (Property(0xE7),))
        assert not is_response_to(request, reply(request, ESV.GET_RES))


def test_get_sna_partial_success() -> None:
    """u-one capture shape: D5 unreadable, the others filled."""
    request = get_request(3, [0x80, 0x82, 0xD3, 0xD5, 0xD7])
    response = reply(
        request,
        ESV.GET_SNA,
        [
            Property(0x80, b"\x30"),
            Property(0x82, b"\x00\x00F\x00"),
            Property(0xD3, b"\x00\x00\x00\x01"),
            Property(0xD5),
            Property(0xD7, b"\x07"),
        ],
    )
    assert is_response_to(request, response)
    assert echonet.is_sna(response)
    assert readable_properties(response) == {
        0x80: b"\x30",
        0x82: b"\x00\x00F\x00",
        0xD3: b"\x00\x00\x00\x01",
        0xD7: b"\x07",
    }
    assert sna_properties(response) == {0xD5}


def test_sna_properties_by_kind() -> None:
    get_res = Frame(1, SMART_METER, CONTROLLER, ESV.GET_RES, (Property(0xE7, b"\0\0\0\1"),))
    assert sna_properties(get_res) == frozenset()
    assert not echonet.is_sna(get_res)
    # SetC_SNA: accepted properties PDC 0, rejected ones echo the EDT
    setc_sna = Frame(
        1, SMART_METER, CONTROLLER, ESV.SETC_SNA, (Property(0xE5), Property(0xED, b"\x01" * 7))
    )
    assert sna_properties(setc_sna) == {0xED}


def test_infc_response() -> None:
    infc = Frame(
        0x0362,
        SMART_METER,
        CONTROLLER,
        ESV.INFC,
        (Property(0xEA, bytes.fromhex("07E60801141E0000012D02")),),
    )
    response = infc_response(infc)
    assert response == Frame(0x0362, CONTROLLER, SMART_METER, ESV.INFC_RES, (Property(0xEA),))
    assert response.encode().hex().upper() == "1081036205FF010288017A01EA00"


def test_tid_allocator_sequence_and_wrap() -> None:
    tids = TidAllocator()
    assert [tids.next() for _ in range(3)] == [1, 2, 3]
    near_end = TidAllocator(0xFFFE)
    assert [near_end.next() for _ in range(4)] == [0xFFFE, 0xFFFF, 1, 2]
    assert "0x0003" in repr(near_end)


@pytest.mark.parametrize("start", [0, 0x10000, -1])
def test_tid_allocator_rejects_bad_start(start: int) -> None:
    with pytest.raises(ValueError, match="start"):
        TidAllocator(start)


def test_tid_allocator_full_cycle() -> None:
    tids = TidAllocator()
    seen = [tids.next() for _ in range(0xFFFF + 2)]
    assert 0 not in seen
    assert seen[:2] == [1, 2]
    assert seen[0xFFFE] == 0xFFFF
    assert seen[0xFFFF:] == [1, 2]
