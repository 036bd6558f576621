"""Decoder edge cases: line ends, bounds, garbage, blocks, ERXUDP variants, J11 (synthetic)."""

from __future__ import annotations

import pytest

from trio_smartmeter.core.skstack import (
    Address,
    Decoder,
    Dialect,
    Echo,
    EdScan,
    EmptyLine,
    Fail,
    Garbage,
    J11Frame,
    Message,
    ModuleEvent,
    Ok,
    PanDesc,
    PayloadFormat,
    RxUdp,
    TableList,
)

A = "FE80:0000:0000:0000:021C:6400:030C:12A4"
B = "FE80:0000:0000:0000:021D:1291:0000:0574"
HDR = f"ERXUDP {A} {B} 0E1A 0E1A 001C6400030C12A4".encode()
J11 = b"\xd0\xea\x83\xfc"
PAN_LINES = (
    b"EPANDESC\r\n  Channel:33\r\n  Channel Page:09\r\n  Pan ID:12A4\r\n"
    b"  Addr:001C6400030C12A4\r\n  LQI:CA\r\n"
)
PAN = PanDesc(0x33, 9, 0x12A4, "001C6400030C12A4", 0xCA, None, None)


def feed_bytewise(decoder: Decoder, stream: bytes) -> list[Message]:
    return [m for i in range(len(stream)) for m in decoder.feed(stream[i : i + 1])]


def both(stream: bytes, **kwargs: object) -> list[Message]:
    whole = Decoder(**kwargs).feed(stream)  # type: ignore[arg-type]
    assert feed_bytewise(Decoder(**kwargs), stream) == whole  # type: ignore[arg-type]
    return whole


def rx(data: bytes, **fields: object) -> RxUdp:
    base: dict[str, object] = {
        "sender": A,
        "dest": B,
        "rport": 0x0E1A,
        "lport": 0x0E1A,
        "sender_lla": "001C6400030C12A4",
        "secured": True,
        "side": None,
        "rssi": None,
        "data": data,
    }
    base.update(fields)
    return RxUdp(**base)  # type: ignore[arg-type]


# -- line ends -----------------------------------------------------------------------------
def test_line_ends_crlf_cr_lf_and_skipped_lf() -> None:
    assert both(b"OK\r\n\r\nOK 01\rOK\nFAIL ER09\n\r") == [
        Ok(None),
        EmptyLine(),
        Ok("01"),
        Ok(None),
        Fail(9),
        EmptyLine(),
    ]


def test_cr_only_reply_is_delivered_without_waiting() -> None:
    decoder = Decoder()
    assert decoder.feed(b"OK 00\r") == [Ok("00")]
    assert decoder.feed(b"\n") == []  # the LF after the CR is skipped, even in a new chunk
    assert decoder.feed(b"\n") == [EmptyLine()]
    assert decoder.feed(b"\r") == [EmptyLine()]
    assert decoder.feed(b"OK\r\n") == [Ok(None)]
    assert decoder.buffered == 0


def test_partial_line_waits() -> None:
    decoder = Decoder()
    assert decoder.feed(b"EV") == []
    assert decoder.feed(b"ENT 25 " + A.encode()) == []
    assert decoder.buffered > 0
    assert decoder.feed(b"\r\n") == [ModuleEvent(0x25, A, None, None)]


# -- garbage -------------------------------------------------------------------------------
def test_unrecognised_and_non_ascii_lines_carry_no_bytes() -> None:
    got = both(b"hello secret\r\n\xff\xfesecret\r\nEPONG " + A.encode() + b"\r\n")
    assert got == [
        Garbage("unrecognised line", 12),
        Garbage("non-ASCII line", 8),
        Garbage("unrecognised line", 6 + len(A)),
    ]
    assert "secret" not in repr(got)


@pytest.mark.parametrize(
    "line",
    [
        b"FAIL",
        b"FAIL ER1",
        b"FAIL XX",
        b"EVENT",
        b"EVENT 2",
        b"EVENT ZZ " + A.encode(),
        b"EVENT 21 " + A.encode() + b" 0 00 00",
        b"EVENT 21 " + A.encode() + b" G",
        b"EINFO a b c",
        b"EINFO " + A.encode() + b" 001D1290XXXXXXXX 21 8888 FFFE",
        b"EVER",
        b"EAPPVER",
        b"ESREG",
        b"FE80:0000:0000:0000:0000:0000:0000",
        b"ERXUDP",
        b"EPANDESC extra",
    ],
)
def test_malformed_known_lines_are_garbage(line: bytes) -> None:
    assert both(line + b"\r\n") == [Garbage("unrecognised line", len(line))]


def test_overlong_line_gives_one_garbage_then_resyncs() -> None:
    limit = Decoder.MAX_LINE
    stream = b"A" * (limit * 3) + b"\r\nOK\r\n"
    assert both(stream) == [Garbage("line too long", limit + 1), Ok(None)]
    # Exactly MAX_LINE is still a line.
    assert Decoder().feed(b"A" * limit + b"\r\n") == [Garbage("unrecognised line", limit)]


def test_overlong_line_keeps_buffer_bounded() -> None:
    decoder = Decoder()
    got: list[Message] = []
    for _ in range(100):
        got += decoder.feed(b"x" * 1000)
        assert decoder.buffered <= Decoder.MAX_LINE
    got += decoder.feed(b"\nOK\n")
    assert got == [Garbage("line too long", Decoder.MAX_LINE + 1), Ok(None)]


# -- J11 -----------------------------------------------------------------------------------
def test_j11_unique_code_once_per_occurrence() -> None:
    stream = b"OK\r\n" + J11 + b"\x60\x19" + J11 + b"\x00\x04\r\nOK\r\n"
    assert both(stream) == [Ok(None), J11Frame(), J11Frame(), Ok(None)]


def test_j11_without_line_end_is_reported_at_once() -> None:
    decoder = Decoder()
    assert decoder.feed(J11[:2]) == []
    assert decoder.feed(J11[2:] + b"\x01\x02") == [J11Frame()]
    assert decoder.buffered < 4


def test_j11_inside_overlong_line() -> None:
    limit = Decoder.MAX_LINE
    late = b"z" * (limit + 100) + J11 + b"\r\n"
    assert both(late) == [Garbage("line too long", limit + 1), J11Frame()]
    # A code straddling the cut is still found once.
    straddle = b"z" * (limit - 1) + J11 + b"\r\n"
    assert both(straddle) == [Garbage("line too long", limit + 1), J11Frame()]
    # One that ends exactly at the limit wins over the overlong line.
    edge = b"z" * (limit + 1 - 4) + J11 + b"zz\r\n"
    assert both(edge) == [J11Frame()]


def test_j11_code_inside_binary_payload_is_just_data() -> None:
    payload = J11 + b"\r\n" + J11
    stream = HDR + b" 1 %04X " % len(payload) + payload + b"\r\n"
    assert both(stream) == [rx(payload)]


# -- echo and masking ------------------------------------------------------------------------
def test_echo_masks_secrets_and_keeps_text() -> None:
    stream = b"SKSETPWD C 0123456789AB\r\nSKSETRBID 00112233445566778899AABBCCDDEEFF\r\nWOPT 01\r"
    assert both(stream) == [
        Echo("SKSETPWD C ********"),
        Echo("SKSETRBID ********"),
        Echo("WOPT 01"),
    ]


def test_address_line_normalised() -> None:
    assert both(b"fe80:0000:0000:0000:021c:6400:03dd:6393\r\n") == [
        Address("FE80:0000:0000:0000:021C:6400:03DD:6393")
    ]


# -- EVENT -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dialect", "tail", "side", "param"),
    [
        (None, " 0", 0, None),
        (None, " 02", None, 2),
        (None, " 0 02", 0, 2),
        (Dialect.SINGLE_HOP, " 02", None, 2),
        (Dialect.SINGLE_HOP, " 1", None, 1),
        (Dialect.SINGLE_HOP, " 0 02", 0, 2),
        (Dialect.DUAL_STACK, " 1", 1, None),
        (Dialect.DUAL_STACK, " 01", 1, None),
        (Dialect.DUAL_STACK, " 0 02", 0, 2),
        (None, "", None, None),
    ],
)
def test_event_extras(
    dialect: Dialect | None, tail: str, side: int | None, param: int | None
) -> None:
    line = f"EVENT 21 {A.lower()}{tail}\r\n".encode()
    assert both(line, dialect=dialect) == [ModuleEvent(0x21, A, side, param)]


def test_event_c0_has_no_sender() -> None:
    assert both(b"EVENT C0\r\nEVENT C0 0\r\n", dialect=Dialect.DUAL_STACK) == [
        ModuleEvent(0xC0, None, None, None),
        ModuleEvent(0xC0, None, 0, None),
    ]


def test_dialect_is_settable_between_lines() -> None:
    decoder = Decoder()
    line = f"EVENT 21 {A} 1\r\n".encode()
    assert decoder.feed(line) == [ModuleEvent(0x21, A, 1, None)]
    decoder.dialect = Dialect.SINGLE_HOP
    assert decoder.feed(line) == [ModuleEvent(0x21, A, None, 1)]


# -- EPANDESC ----------------------------------------------------------------------------------
def test_pandesc_emitted_before_next_line_message() -> None:
    stream = PAN_LINES + b"EVENT 22 " + B.encode() + b"\r\n"
    assert both(stream) == [PAN, ModuleEvent(0x22, B, None, None)]


@pytest.mark.parametrize(
    ("follower", "after"),
    [
        (b"\r\n", [EmptyLine()]),
        (b"\xff\r\n", [Garbage("non-ASCII line", 1)]),
        (J11 + b"\r\n", [J11Frame()]),
        (b"OK\r\n", [Ok(None)]),
    ],
)
def test_pandesc_flushed_by_any_following_message(follower: bytes, after: list[Message]) -> None:
    assert both(PAN_LINES + follower) == [PAN, *after]


def test_pandesc_flushed_before_erxudp() -> None:
    stream = PAN_LINES + HDR + b" 1 0002 ABCD\r\n"
    assert both(stream) == [PAN, rx(b"\xab\xcd")]


def test_pandesc_indent_tolerant_and_unknown_keys() -> None:
    stream = (
        b"EPANDESC\r\n Channel:21\r\n\tChannel Page: 09\r\n   Pan ID:8888 \r\n"
        b"  Addr:001d129012345678\r\n  LQI:E1\r\n  Extra:1\r\n  nocolon\r\n  Side:1\r\n"
        b"  PairID:ABCDEF01\r\n"
    )
    assert both(stream) == [PanDesc(0x21, 9, 0x8888, "001D129012345678", 0xE1, 1, "ABCDEF01")]


def test_pandesc_without_header_starts_at_channel() -> None:
    stream = PAN_LINES.removeprefix(b"EPANDESC\r\n") + b"  PairID:00000000\r\n"
    assert both(stream) == [PanDesc(0x33, 9, 0x12A4, "001C6400030C12A4", 0xCA, None, "00000000")]


def test_indented_line_outside_a_block_is_parsed_as_a_line() -> None:
    assert both(b"  LQI:CA\r\n  OK\r\n") == [Garbage("unrecognised line", 8), Ok(None)]


@pytest.mark.parametrize(
    "block",
    [
        b"EPANDESC\r\n  Channel:33\r\n  PairID:X\r\n",
        b"EPANDESC\r\n  Channel:3G\r\n  Channel Page:09\r\n  Pan ID:12A4\r\n"
        b"  Addr:001C6400030C12A4\r\n  LQI:CA\r\n  PairID:X\r\n",
        b"EPANDESC\r\n  Channel:33\r\n  Channel Page:09\r\n  Pan ID:12A4\r\n"
        b"  Addr:\r\n  LQI:CA\r\n  PairID:X\r\n",
    ],
)
def test_incomplete_or_malformed_pandesc_is_garbage(block: bytes) -> None:
    got = both(block)
    assert len(got) == 1
    assert isinstance(got[0], Garbage)
    assert got[0].reason == "incomplete EPANDESC block"
    assert got[0].size == len(block) - 2 * block.count(b"\r\n")


def test_second_epandesc_header_flushes_the_first() -> None:
    assert both(PAN_LINES + PAN_LINES + b"OK\r\n") == [PAN, PAN, Ok(None)]


# -- EEDSCAN and tables -------------------------------------------------------------------------
def test_edscan_without_data_line() -> None:
    assert both(b"EEDSCAN\r\nOK\r\nEEDSCAN\r\n21 04 22\r\n") == [
        Garbage("EEDSCAN without data line", 7),
        Ok(None),
        Garbage("EEDSCAN without data line", 7),
        Garbage("unrecognised line", 8),
    ]
    assert both(b"EEDSCAN\r\n21 04 3C 02\r\n") == [EdScan(((0x21, 4), (0x3C, 2)))]


def test_tables() -> None:
    stream = (
        b"EADDR\r\n" + B.encode() + b"\r\n\r\nOK\r\n"
        b"ENEIGHBOR\r\n" + A.encode() + b" 001C6400030C12A4 FFFF\r\nOK\r\n"
        b"EHANDLE\r\n1 " + A.encode() + b" 0E1A 0E1A\r\nFAIL ER10\r\n"
        b"EPORT\r\nEVENT 21 " + A.encode() + b" 00\r\n3610\r\nOK 00\r\n"
    )
    assert both(stream) == [
        TableList("EADDR", (B,)),
        Ok(None),
        TableList("ENEIGHBOR", (f"{A} 001C6400030C12A4 FFFF",)),
        Ok(None),
        TableList("EHANDLE", (f"1 {A} 0E1A 0E1A",)),
        Fail(10),
        ModuleEvent(0x21, A, None, 0),
        TableList("EPORT", ("3610",)),
        Ok("00"),
    ]


def test_table_is_bounded() -> None:
    stream = b"EPORT\r\n" + b"0\r\n" * 300 + b"OK\r\n"
    assert both(stream) == [
        Garbage("table too long", 1),
        *[Garbage("unrecognised line", 1)] * 43,
        Ok(None),
    ]


# -- ERXUDP --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extras", "fields"),
    [
        (b"", {"secured": None}),
        (b" 0", {"secured": False}),
        (b" 1 1", {"secured": True, "side": 1}),
        (b" C8 1 0", {"rssi": 0xC8, "secured": True, "side": 0}),
    ],
)
@pytest.mark.parametrize("payload", [None, PayloadFormat.HEX, PayloadFormat.BINARY])
def test_erxudp_extras_and_formats(
    extras: bytes, fields: dict[str, object], payload: PayloadFormat | None
) -> None:
    data = b"\x10\x81\r\n \x00\xff"
    body = data.hex().upper().encode() if payload is PayloadFormat.HEX else data
    stream = HDR + extras + b" %04X " % len(data) + body + b"\r\n"
    assert both(stream, payload=payload) == [rx(data, **fields)]


def test_erxudp_hex_lower_case_and_trailing_space() -> None:
    stream = HDR + b" 1 0002 abcd  \r\n"
    assert both(stream) == [rx(b"\xab\xcd")]


def test_erxudp_zero_length_binary() -> None:
    assert both(HDR + b" 1 0000 \r\n") == [rx(b"")]


def test_erxudp_binary_waits_for_the_whole_payload() -> None:
    decoder = Decoder()
    assert decoder.feed(HDR + b" 1 0004 \r\n") == []
    assert decoder.feed(b"\r\n") == []
    assert decoder.feed(b"\r\n") == [rx(b"\r\n\r\n")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (HDR + b" 1 0002 ABC", "malformed ERXUDP hex payload"),
        (HDR + b" 1 0002 ABCDEF", "malformed ERXUDP hex payload"),
        (HDR + b" 1 0002 GHIJ", "malformed ERXUDP hex payload"),
        (HDR + b" 1 0012", "ERXUDP line without payload"),
        (b"ERXUDP " + A.encode(), "ERXUDP line without payload"),
    ],
)
def test_erxudp_malformed_lines(line: bytes, reason: str) -> None:
    got = Decoder(payload=PayloadFormat.HEX).feed(line + b"\r\nOK\r\n")
    assert got[0].reason == reason  # type: ignore[union-attr]
    assert got[1:] == [Ok(None)]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (f"ERXUDP {A} {B} 0E1 0E1A 001C6400030C12A4 1 0002 ", "malformed ERXUDP port"),
        (f"ERXUDP {A} {B} 0E1A XXXX 001C6400030C12A4 1 0002 ", "malformed ERXUDP port"),
        (f"ERXUDP {A}  {B} 0E1A 0E1A 001C6400030C12A4 1 0002 ", "malformed ERXUDP header"),
        (f"ERXUDP {A} {B} 0E1A 0E1A 001C6400030C12A4 123 0002 ", "malformed ERXUDP header"),
        (f"ERXUDP {A} {B} 0E1A 0E1A 001C6400030C12A4 1 1 1 1 0002 ", "malformed ERXUDP header"),
        (f"ERXUDP {A} {B} 0E1A 0E1A 001C6400030C12A4 X 0002 ", "malformed ERXUDP header"),
        (f"ERXUDP {A} {B} 0E1A 0E1A 001C6400030C12A4 1 FFFF ", "ERXUDP payload too long"),
    ],
)
def test_erxudp_bad_headers_resync(header: str, reason: str) -> None:
    stream = header.encode() + b"\xab\xcd\r\nOK\r\n"
    got = both(stream)
    assert len(got) == 2
    assert isinstance(got[0], Garbage)
    assert got[0].reason == reason
    assert got[1] == Ok(None)


def test_erxudp_non_ascii_header_token() -> None:
    got = both(b"ERXUDP \xff\xfe " + B.encode() + b"\r\nOK\r\n")
    assert got == [Garbage("malformed ERXUDP header", 10), Ok(None)]


def test_erxudp_header_too_long() -> None:
    stream = b"ERXUDP " + b"A" * 600 + b"\r\nOK\r\n"
    assert both(stream) == [Garbage("ERXUDP header too long", 256), Ok(None)]


def test_forced_binary_without_crlf_after_payload() -> None:
    stream = HDR + b" 1 0002 ABCD\r\nOK\r\n"
    got = both(stream, payload=PayloadFormat.BINARY)
    assert got == [Garbage("binary ERXUDP payload not followed by CRLF", len(HDR) + 10), Ok(None)]


def test_forced_hex_overlong_payload() -> None:
    stream = HDR + b" 1 0002 " + b"A" * 40 + b"\r\nOK\r\n"
    got = both(stream, payload=PayloadFormat.HEX)
    assert got == [Garbage("ERXUDP hex payload too long", len(HDR) + 8 + 4 + 16), Ok(None)]


def test_payload_format_is_settable_between_datagrams() -> None:
    decoder = Decoder(payload=PayloadFormat.BINARY)
    assert decoder.feed(HDR + b" 1 0002 AB\r\n") == [rx(b"AB")]
    decoder.payload = PayloadFormat.HEX
    assert decoder.feed(HDR + b" 1 0002 ABCD\r\n") == [rx(b"\xab\xcd")]


def test_max_datalen_binary_is_accepted() -> None:
    data = bytes(range(256)) * (Decoder.MAX_DATALEN // 256) + b"\r" * (Decoder.MAX_DATALEN % 256)
    assert len(data) == Decoder.MAX_DATALEN
    stream = HDR + b" 1 %04X " % len(data) + data + b"\r\n"
    assert both(stream) == [rx(data)]
    hexed = HDR + b" 1 %04X " % len(data) + data.hex().encode() + b"\r\n"
    assert Decoder().feed(hexed) == [rx(data)]


def test_rxudp_repr_hides_payload() -> None:
    assert "secret" not in repr(rx(b"secret"))
    assert "<6 bytes>" in repr(rx(b"secret"))
