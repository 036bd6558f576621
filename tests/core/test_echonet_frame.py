"""ECHONET Lite frame codec: transcripts.md Appendix A, strict decoding, round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_smartmeter.core import echonet
from trio_smartmeter.core.echonet import (
    CONTROLLER,
    EOJ,
    ESV,
    NODE_PROFILE,
    SMART_METER,
    Frame,
    FrameError,
    Property,
    decode_frame,
)
from trio_smartmeter.core.echonet import meter as m

# -- Appendix A: every captured payload, header fields --------------------------------
APPENDIX_A = [
    # (source, hex, tid, seoj, deoj, esv, epcs)
    ("T01", "1081000102880105FF015201D300", 0x0001, SMART_METER, CONTROLLER, ESV.GET_SNA, [0xD3]),
    (
        "T01",
        "108103610EF0010EF0017301D50401028801",
        0x0361,
        NODE_PROFILE,
        NODE_PROFILE,
        ESV.INF,
        [0xD5],
    ),
    ("T01", "1081000102880105FF017201E10102", 1, SMART_METER, CONTROLLER, ESV.GET_RES, [0xE1]),
    ("T01", "1081000102880105FF017201D70107", 1, SMART_METER, CONTROLLER, ESV.GET_RES, [0xD7]),
    (
        "T01",
        "1081000102880105FF017201EA0B07E6080114000000012CC7",
        1,
        SMART_METER,
        CONTROLLER,
        ESV.GET_RES,
        [0xEA],
    ),
    ("T01", "1081000102880105FF017201E704000004A8", 1, SMART_METER, CONTROLLER, 0x72, [0xE7]),
    ("T01", "1081000102880105FF017201E80400620022", 1, SMART_METER, CONTROLLER, 0x72, [0xE8]),
    ("T02", "1081000102880105FF017201E704000003F8", 1, SMART_METER, CONTROLLER, 0x72, [0xE7]),
    (
        "T02",
        "1081036202880105FF017301EA0B07E60801141E0000012D02",
        0x0362,
        SMART_METER,
        CONTROLLER,
        ESV.INF,
        [0xEA],
    ),
    ("T02", "1081000102880105FF017201E80400420026", 1, SMART_METER, CONTROLLER, 0x72, [0xE8]),
    ("T05", "1081000302880105FF017201E7040000001C", 3, SMART_METER, CONTROLLER, 0x72, [0xE7]),
    ("T05", "1081000302880105FF017201E704FFFFF856", 3, SMART_METER, CONTROLLER, 0x72, [0xE7]),
    (
        "T06",
        "1081000102880105FF017203E7040000055EE80400000082E00400052155",
        1,
        SMART_METER,
        CONTROLLER,
        0x72,
        [0xE7, 0xE8, 0xE0],
    ),
    (
        "T07",
        "1081100202880105FF017202E7040000029CE80400280028",
        0x1002,
        SMART_METER,
        CONTROLLER,
        0x72,
        [0xE7, 0xE8],
    ),
    ("T08", "1081001A02880105FF0172019E040381E5ED", 0x1A, SMART_METER, CONTROLLER, 0x72, [0x9E]),
    ("T09", "1081000102880105FF017201E704000001A8", 1, SMART_METER, CONTROLLER, 0x72, [0xE7]),
    (
        "T11",
        "10812EDA0EF0010EF0017301D50401028801",
        0x2EDA,
        NODE_PROFILE,
        NODE_PROFILE,
        ESV.INF,
        [0xD5],
    ),
    ("T14", "1081000102880105FF017201E704000001F8", 1, SMART_METER, CONTROLLER, 0x72, [0xE7]),
    ("T18", "1081000102880105FF017201E704000003A0", 1, SMART_METER, CONTROLLER, 0x72, [0xE7]),
]


@pytest.mark.parametrize(
    ("source", "payload", "tid", "seoj", "deoj", "esv", "epcs"),
    APPENDIX_A,
    ids=[f"{row[0]}-{row[1][-12:]}" for row in APPENDIX_A],
)
def test_appendix_a_headers(
    source: str, payload: str, tid: int, seoj: EOJ, deoj: EOJ, esv: int, epcs: list[int]
) -> None:
    data = bytes.fromhex(payload)
    frame = decode_frame(data)
    assert frame.tid == tid
    assert frame.seoj == seoj
    assert frame.deoj == deoj
    assert frame.esv == esv
    assert isinstance(frame.esv, ESV)
    assert list(frame.epcs) == epcs
    assert frame.encode() == data


def props(payload: str) -> dict[int, bytes]:
    return echonet.readable_properties(decode_frame(bytes.fromhex(payload)))


def test_appendix_a_values() -> None:
    """The "Property decode" column of transcripts.md Appendix A, row by row."""
    sna = decode_frame(bytes.fromhex("1081000102880105FF015201D300"))
    assert sna.properties == (Property(0xD3, b""),)
    assert echonet.readable_properties(sna) == {}
    assert m.decode_coefficient(sna.properties[0].edt) == 1

    for payload in ("108103610EF0010EF0017301D50401028801", "10812EDA0EF0010EF0017301D50401028801"):
        assert m.decode_instance_list(props(payload)[0xD5]) == (SMART_METER,)

    assert m.decode_unit(props("1081000102880105FF017201E10102")[0xE1]) == Decimal("0.01")
    assert m.decode_digits(props("1081000102880105FF017201D70107")[0xD7]) == 7

    ea = m.decode_fixed_time(props("1081000102880105FF017201EA0B07E6080114000000012CC7")[0xEA])
    assert ea is not None
    assert ea.at.isoformat() == "2022-08-01T20:00:00"
    assert ea.raw == 76999
    assert ea.raw * Decimal("0.01") == Decimal("769.99")

    ea2 = m.decode_fixed_time(props("1081036202880105FF017301EA0B07E60801141E0000012D02")[0xEA])
    assert ea2 == m.FixedTimeRecord(at=ea.at.replace(minute=30), raw=77058)

    power = {
        "1081000102880105FF017201E704000004A8": 1192,
        "1081000102880105FF017201E704000003F8": 1016,
        "1081000302880105FF017201E7040000001C": 28,
        "1081000302880105FF017201E704FFFFF856": -1962,
        "1081000102880105FF017201E704000001A8": 424,
        "1081000102880105FF017201E704000001F8": 504,
        "1081000102880105FF017201E704000003A0": 928,
    }
    for payload, watts in power.items():
        assert m.decode_power(props(payload)[0xE7]) == watts

    assert m.decode_currents(props("1081000102880105FF017201E80400620022")[0xE8]) == (
        Decimal("9.8"),
        Decimal("3.4"),
    )
    assert m.decode_currents(props("1081000102880105FF017201E80400420026")[0xE8]) == (
        Decimal("6.6"),
        Decimal("3.8"),
    )
    # the last E8 of the T01 log file (Appendix A note)
    assert m.decode_currents(bytes.fromhex("00430020")) == (Decimal("6.7"), Decimal("3.2"))

    t06 = props("1081000102880105FF017203E7040000055EE80400000082E00400052155")
    assert m.decode_power(t06[0xE7]) == 1374
    assert m.decode_currents(t06[0xE8]) == (Decimal("0.0"), Decimal("13.0"))
    assert m.decode_cumulative(t06[0xE0]) == 336213

    t07 = props("1081100202880105FF017202E7040000029CE80400280028")
    assert m.decode_power(t07[0xE7]) == 668
    assert m.decode_currents(t07[0xE8]) == (Decimal("4.0"), Decimal("4.0"))

    assert m.decode_property_map(props("1081001A02880105FF0172019E040381E5ED")[0x9E]) == {
        0x81,
        0xE5,
        0xED,
    }


def test_binary_payloads_from_t09_and_t14() -> None:
    t09 = b"\x10\x81\0\x01\x02\x88\x01\x05\xff\x01r\x01\xe7\x04\0\0\x01\xa8"
    t14 = b"\x10\x81\x00\x01\x02\x88\x01\x05\xff\x01r\x01\xe7\x04\x00\x00\x01\xf8"
    assert m.decode_power(decode_frame(t09).properties[0].edt) == 424
    assert m.decode_power(decode_frame(t14).properties[0].edt) == 504


@pytest.mark.parametrize(
    ("tid", "epcs", "wire"),
    [
        (0x0001, [0xE7], "1081000105FF010288016201E700"),  # protocol.md §6, T05, T14
        (0x0000, [0xE7, 0xE8], "1081000005FF010288016202E700E800"),  # protocol.md §6
        (0x001A, [0x9E], "1081001A05FF0102880162019E00"),  # T08
        (0x001B, [0x9F], "1081001B05FF0102880162019F00"),  # T08
    ],
)
def test_get_request_matches_captured_requests(tid: int, epcs: list[int], wire: str) -> None:
    request = echonet.get_request(tid, epcs)
    assert request.encode() == bytes.fromhex(wire)
    assert decode_frame(bytes.fromhex(wire)) == request


# -- strict decoding --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "too short"),
        ("1081000102880105FF0172", "too short"),
        ("1181000102880105FF017201E704000004A8", "EHD1"),
        ("1082000102880105FF017201E704000004A8", "EHD2"),
        ("1081000102880105FF017201", "cut off"),  # OPC 1, no EPC
        ("1081000102880105FF017201E7", "cut off"),  # EPC without PDC
        ("1081000102880105FF017201E704000004", "runs past"),
        ("1081000102880105FF017202E704000004A8", "cut off"),  # OPC says 2
        ("1081000102880105FF017201E704000004A800", "trailing"),
        ("1081000102880105FF017200E704000004A8", "trailing"),  # OPC 0 but data follows
    ],
)
def test_malformed_frames_raise_frame_error(payload: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_frame(bytes.fromhex(payload))


def test_frame_error_is_a_value_error() -> None:
    assert issubclass(FrameError, ValueError)


def test_unknown_esv_is_kept_as_int() -> None:
    frame = decode_frame(bytes.fromhex("1081000102880105FF019901E700"))
    assert frame.esv == 0x99
    assert not isinstance(frame.esv, ESV)
    assert frame.encode().hex().upper() == "1081000102880105FF019901E700"


def test_opc_zero_frame_decodes() -> None:
    frame = decode_frame(bytes.fromhex("1081000102880105FF017200"))
    assert frame.properties == ()


def test_bytearray_input() -> None:
    data = bytes.fromhex("1081000102880105FF017201E704000004A8")
    assert decode_frame(bytearray(data)) == decode_frame(data)  # type: ignore[arg-type]


# -- value types ------------------------------------------------------------------------
def test_eoj_bytes_round_trip_and_text() -> None:
    assert EOJ.from_bytes(b"\x02\x88\x01") == SMART_METER
    assert bytes(NODE_PROFILE) == b"\x0e\xf0\x01"
    assert str(CONTROLLER) == "05FF01"
    assert "0x88" in repr(SMART_METER)
    with pytest.raises(ValueError, match="3 bytes"):
        EOJ.from_bytes(b"\x02\x88")
    with pytest.raises(ValueError, match="class_group"):
        EOJ(0x100, 0, 0)


def test_property_validation() -> None:
    assert Property(0xE7).pdc == 0
    assert Property(0xE7, bytearray(b"\x01")).edt == b"\x01"
    with pytest.raises(ValueError, match="255"):
        Property(0xE7, bytes(256))
    with pytest.raises(ValueError, match="epc"):
        Property(-1)


def test_frame_validation() -> None:
    with pytest.raises(ValueError, match="tid"):
        Frame(0x10000, CONTROLLER, SMART_METER, ESV.GET, ())
    with pytest.raises(ValueError, match="esv"):
        Frame(1, CONTROLLER, SMART_METER, 0x100, ())
    with pytest.raises(ValueError, match="255 properties"):
        Frame(1, CONTROLLER, SMART_METER, ESV.GET, [Property(0x80)] * 256)
    with pytest.raises(TypeError, match="Property"):
        Frame(1, CONTROLLER, SMART_METER, ESV.GET, [(0x80, b"")])  # type: ignore[list-item]
    frame = Frame(1, CONTROLLER, SMART_METER, 0x62, [Property(0x80)])
    assert frame.esv is ESV.GET
    assert frame.properties == (Property(0x80),)
    assert "tid=0x0001" in repr(frame)


# -- property-based ---------------------------------------------------------------------
bytes_ = st.integers(min_value=0, max_value=0xFF)
eojs = st.builds(EOJ, bytes_, bytes_, bytes_)
properties = st.builds(Property, bytes_, st.binary(max_size=255))
frames = st.builds(
    Frame,
    tid=st.integers(min_value=0, max_value=0xFFFF),
    seoj=eojs,
    deoj=eojs,
    esv=st.one_of(st.sampled_from(list(ESV)), bytes_),
    properties=st.lists(properties, max_size=12).map(tuple),
)


@given(frames)
def test_encode_decode_round_trip(frame: Frame) -> None:
    data = frame.encode()
    assert decode_frame(data) == frame
    assert decode_frame(data).encode() == data


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_frame_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameError:
        return
    assert frame.encode() == data


@given(frames, st.data())
def test_truncated_or_extended_frames_are_rejected(frame: Frame, data: st.DataObject) -> None:
    wire = frame.encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(wire) - 1))
    with pytest.raises(FrameError):
        decode_frame(wire[:cut])
    with pytest.raises(FrameError):
        decode_frame(wire + data.draw(st.binary(min_size=1, max_size=4)))


@given(st.binary(min_size=12, max_size=40))
def test_valid_header_random_body_never_escapes(body: bytes) -> None:
    data = b"\x10\x81" + body
    try:
        decode_frame(data)
    except FrameError:
        pass
