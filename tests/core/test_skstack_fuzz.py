"""Property tests: echoes of every command, arbitrary input, and generated valid streams."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.skstack import (
    Address,
    AppVersion,
    Command,
    Decoder,
    Dialect,
    Echo,
    EdScan,
    EmptyLine,
    Fail,
    Info,
    Message,
    ModuleEvent,
    Ok,
    PanDesc,
    PayloadFormat,
    RegisterValue,
    RxUdp,
    TableList,
    Version,
    format_ipv6,
    mask_line,
    ropt,
    sk_appver,
    sk_info,
    sk_join,
    sk_ll64,
    sk_reset,
    sk_scan,
    sk_sendto,
    sk_setpwd,
    sk_setrbid,
    sk_sreg,
    sk_term,
    sk_ver,
    wopt,
)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUND = Decoder.MAX_LINE + Decoder.MAX_DATALEN

dialects = st.sampled_from(Dialect)
payload_formats = st.none() | st.sampled_from(PayloadFormat)
hex_digit = st.sampled_from("0123456789ABCDEF")


def hexstr(n: int) -> st.SearchStrategy[str]:
    return st.text(hex_digit, min_size=n, max_size=n)


ipv6 = st.integers(0, 2**128 - 1).map(
    lambda n: format_ipv6(f"{n:032x}"[:4] + "::" + f"{n:032x}"[-4:])
)
ipv6_full = st.integers(0, 2**128 - 1).map(
    lambda n: ":".join(f"{n:032X}"[i : i + 4] for i in range(0, 32, 4))
)
secret_text = st.text(st.sampled_from("0123456789ABCDEFabcdefXYZ!#"), min_size=1, max_size=32)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    dialect = draw(dialects)
    builders: list[Callable[[], Command]] = [
        sk_reset,
        sk_ver,
        sk_appver,
        sk_info,
        sk_term,
        ropt,
        lambda: wopt(draw(st.integers(0, 1))),
        lambda: sk_sreg(
            draw(st.sampled_from(["SFE", "S2", "S02", "SA2"])), draw(st.none() | hexstr(2))
        ),
        lambda: sk_setrbid(Secret(draw(secret_text))),
        lambda: sk_setpwd(Secret(draw(secret_text))),
        lambda: sk_scan(
            dialect,
            mode=draw(st.sampled_from([0, 2, 3])),
            channel=draw(st.none() | st.integers(0x21, 0x3C)),
            duration=draw(st.integers(0, 14)),
            side=draw(st.integers(0, 1)),
        ),
        lambda: sk_ll64(draw(hexstr(16))),
        lambda: sk_join(draw(ipv6)),
        lambda: sk_sendto(
            dialect,
            draw(ipv6),
            draw(st.binary(min_size=1, max_size=64)),
            handle=draw(st.integers(1, 6)),
            sec=draw(st.integers(0, 2)),
            side=draw(st.integers(0, 1)),
        ),
    ]
    return draw(st.sampled_from(builders))()


@FAST
@given(commands())
def test_command_echo_decodes_as_echo(cmd: Command) -> None:
    if cmd.name == "SKSENDTO":
        # The module echoes the text header (up to the space after DATALEN) + CRLF.
        text = cmd.redacted.rsplit("<", 1)[0]
        assert cmd.wire.startswith(text.encode())
        assert text.endswith(f" {len(cmd.wire) - len(text):04X} ")
        echo = text.encode() + b"\r\n"
    else:
        text = cmd.wire.decode().rstrip("\r\n")
        echo = cmd.wire  # CRLF, or CR only for ROPT/WOPT
    got = Decoder().feed(echo)
    assert got == [Echo(mask_line(text))]
    if cmd.name in ("SKSETPWD", "SKSETRBID"):
        assert got == [Echo(cmd.redacted)]
    if cmd.name != "SKSENDTO":
        assert cmd.redacted == mask_line(text)


def chunked(decoder: Decoder, stream: bytes, cuts: list[int]) -> list[Message]:
    out: list[Message] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
        assert decoder.buffered <= BOUND
    return out


fragments = st.sampled_from(
    [
        b"OK\r\n",
        b"OK 01\r",
        b"\r",
        b"\n",
        b"\r\n",
        b"EPANDESC\r\n",
        b"  Channel:33\r\n",
        b"  PairID:X\r\n",
        b"EEDSCAN\r\n",
        b"EPORT\r\n",
        b"ERXUDP ",
        b"ERXUDP A B 0E1A 0E1A 001C6400030C12A4 1 ",
        b"0002 ",
        b"0012 ",
        b"\xd0\xea\x83\xfc",
        b"EVENT 21 FE80:0000:0000:0000:021C:6400:030C:12A4 0 00\r\n",
        b"SKSETPWD C ",
    ]
)
noisy = st.lists(fragments | st.binary(max_size=40), max_size=30).map(b"".join)


@FAST
@given(st.data(), noisy | st.binary(max_size=3000), st.none() | dialects, payload_formats)
def test_arbitrary_bytes_never_raise_and_chunking_does_not_matter(
    data: st.DataObject, stream: bytes, dialect: Dialect | None, payload: PayloadFormat | None
) -> None:
    whole = Decoder(dialect, payload).feed(stream)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    assert chunked(Decoder(dialect, payload), stream, cuts) == whole
    for msg in whole:
        assert not isinstance(msg, Echo) or "SKSETPWD C " not in msg.text or "****" in msg.text


@settings(max_examples=5, deadline=None)
@given(st.binary(min_size=1, max_size=64))
def test_huge_input_stays_bounded(block: bytes) -> None:
    decoder = Decoder()
    for _ in range(200):
        decoder.feed(block * 4)
        assert decoder.buffered <= BOUND


# -- valid streams generated from message fields ------------------------------------------------
@st.composite
def rendered_messages(draw: st.DrawFn) -> tuple[bytes, list[Message], bool]:
    """One message as bytes (terminator included) + what it decodes to + 'is binary ERXUDP'."""
    kind = draw(st.integers(0, 13))
    if kind == 0:
        arg = draw(st.none() | hexstr(2))
        return (b"OK" if arg is None else f"OK {arg}".encode()), [Ok(arg)], False
    if kind == 1:
        code = draw(st.integers(0, 99))
        return f"FAIL ER{code:02d}".encode(), [Fail(code)], False
    if kind == 2:
        code = draw(st.integers(0, 255))
        sender = draw(st.none() | ipv6_full)
        side = draw(st.none() | st.integers(0, 1))
        param = draw(st.none() | st.integers(0, 255))
        text = f"EVENT {code:02X}"
        if sender is not None:
            text += f" {sender}"
        if side is not None:
            text += f" {side}"
        if param is not None:
            text += f" {param:02X}"
        return text.encode(), [ModuleEvent(code, sender, side, param)], False
    if kind == 3:
        data = draw(st.binary(max_size=80))
        extras = draw(
            st.sampled_from([(), ("secured",), ("secured", "side"), ("rssi", "secured", "side")])
        )
        msg = RxUdp(
            sender=draw(ipv6_full),
            dest=draw(ipv6_full),
            rport=draw(st.integers(0, 0xFFFF)),
            lport=draw(st.integers(0, 0xFFFF)),
            sender_lla=draw(hexstr(16)),
            secured=draw(st.booleans()) if "secured" in extras else None,
            side=draw(st.integers(0, 1)) if "side" in extras else None,
            rssi=draw(st.integers(0, 255)) if "rssi" in extras else None,
            data=data,
        )
        head = f"ERXUDP {msg.sender} {msg.dest} {msg.rport:04X} {msg.lport:04X} {msg.sender_lla}"
        if msg.rssi is not None:
            head += f" {msg.rssi:02X}"
        if msg.secured is not None:
            head += f" {int(msg.secured)}"
        if msg.side is not None:
            head += f" {msg.side}"
        head += f" {len(data):04X} "
        binary = draw(st.booleans())
        body = data if binary else data.hex().encode()
        return head.encode() + body, [msg], binary
    if kind == 4:
        side = draw(st.none() | st.integers(0, 1))
        pair = draw(
            st.none() | st.text(st.sampled_from("0123456789ABCDEFX"), min_size=8, max_size=8)
        )
        pan = PanDesc(
            channel=draw(st.integers(0x21, 0x3C)),
            channel_page=9,
            pan_id=draw(st.integers(0, 0xFFFF)),
            addr=draw(hexstr(16)),
            lqi=draw(st.integers(0, 255)),
            side=side,
            pair_id=pair,
        )
        block = [
            "EPANDESC",
            f"  Channel:{pan.channel:02X}",
            f"  Channel Page:{pan.channel_page:02X}",
            f"  Pan ID:{pan.pan_id:04X}",
            f"  Addr:{pan.addr}",
            f"  LQI:{pan.lqi:02X}",
        ]
        if side is not None:
            block.append(f"  Side:{side}")
        if pair is not None:
            block.append(f"  PairID:{pair}")
        return "\r\n".join(block).encode(), [pan], False
    if kind == 5:
        msg5 = Info(
            draw(ipv6_full),
            draw(hexstr(16)),
            draw(st.integers(0x21, 0x3C)),
            draw(st.integers(0, 0xFFFF)),
            draw(st.sampled_from(["FFFE", "0", "1"])),
        )
        text = f"EINFO {msg5.ip} {msg5.mac} {msg5.channel:02X} {msg5.pan_id:04X} {msg5.tail}"
        return text.encode(), [msg5], False
    word = st.text(st.sampled_from("0123456789abcdefrev."), min_size=1, max_size=10)
    if kind == 6:
        text6 = draw(word)
        return f"EVER {text6}".encode(), [Version(text6)], False
    if kind == 7:
        text7 = draw(word)
        return f"EAPPVER {text7}".encode(), [AppVersion(text7)], False
    if kind == 8:
        value = draw(hexstr(draw(st.integers(1, 8))))
        return f"ESREG {value}".encode(), [RegisterValue(value)], False
    if kind == 9:
        addr = draw(ipv6_full)
        return addr.encode(), [Address(addr)], False
    if kind == 10:
        levels = draw(
            st.lists(
                st.tuples(st.integers(0x21, 0x3C), st.integers(0, 255)), min_size=1, max_size=28
            )
        )
        text10 = " ".join(f"{c:02X} {q:02X}" for c, q in levels)
        return f"EEDSCAN\r\n{text10}".encode(), [EdScan(tuple(levels))], False
    if kind == 11:
        kind11 = draw(st.sampled_from(["EADDR", "ENEIGHBOR", "EPORT", "EHANDLE"]))
        rows = draw(st.lists(st.sampled_from(["3610", "716", "0", "1 2 3"]), max_size=8))
        text11 = "\r\n".join([kind11, *rows, "OK"])
        return text11.encode(), [TableList(kind11, tuple(rows)), Ok(None)], False
    if kind == 12:
        text12 = draw(st.from_regex(r"SK[A-Z0-9]{0,8}( [0-9A-F]{1,4}){0,4} ?", fullmatch=True))
        return text12.encode(), [Echo(text12)], False
    return b"", [EmptyLine()], False


@st.composite
def valid_streams(draw: st.DrawFn) -> tuple[bytes, list[Message], set[bool]]:
    items = draw(st.lists(rendered_messages(), max_size=25))
    out = bytearray()
    expected: list[Message] = []
    formats: set[bool] = set()
    previous_cr = False
    for body, msgs, binary in items:
        if binary:
            end = b"\r\n"
        else:
            end = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
            if previous_cr and not body and end == b"\n":
                end = b"\r\n"  # "\r" + "\n" would be one line end
        if msgs and isinstance(msgs[0], RxUdp):
            formats.add(binary)
        out += body + end
        previous_cr = end == b"\r"
        expected += msgs
    out += b"OK\r\n"  # flushes a trailing EPANDESC without PairID
    expected.append(Ok(None))
    return bytes(out), expected, formats


@FAST
@given(st.data(), valid_streams())
def test_valid_streams_decode_exactly_in_any_chunking(
    data: st.DataObject, case: tuple[bytes, list[Message], set[bool]]
) -> None:
    stream, expected, formats = case
    payloads: list[PayloadFormat | None] = [None]
    if formats == {True}:
        payloads.append(PayloadFormat.BINARY)
    if formats == {False}:
        payloads.append(PayloadFormat.HEX)
    for payload in payloads:
        assert Decoder(payload=payload).feed(stream) == expected
        cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
        assert chunked(Decoder(payload=payload), stream, cuts) == expected
