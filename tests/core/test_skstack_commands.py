"""Command builders (exact wire bytes, protocol.md §2), redaction and dialect detection."""

from __future__ import annotations

import pytest

from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.skstack import (
    Command,
    Completion,
    Dialect,
    Fail,
    Info,
    Ok,
    PayloadFormat,
    channel_mask,
    dialect_from_info,
    dialect_from_scan_failure,
    format_ipv6,
    is_j11,
    mac_to_link_local,
    mask_line,
    payload_from_ropt,
    ropt,
    rssi_from_lqi,
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

METER = "FE80:0000:0000:0000:021C:6400:030C:12A4"
GET_E7 = bytes.fromhex("1081000105FF010288016201E700")


@pytest.mark.parametrize(
    ("cmd", "wire", "completion"),
    [
        (sk_reset(), b"SKRESET\r\n", Completion.OK),
        (sk_ver(), b"SKVER\r\n", Completion.OK),
        (sk_appver(), b"SKAPPVER\r\n", Completion.OK),
        (sk_info(), b"SKINFO\r\n", Completion.OK),
        (sk_term(), b"SKTERM\r\n", Completion.OK),
        (sk_sreg("SFE", "0"), b"SKSREG SFE 0\r\n", Completion.OK),
        (sk_sreg("S2", "21"), b"SKSREG S2 21\r\n", Completion.OK),
        (sk_sreg("SFE"), b"SKSREG SFE\r\n", Completion.OK),
        # transcripts.md T01 / T12
        (sk_scan(Dialect.SINGLE_HOP, duration=6), b"SKSCAN 2 FFFFFFFF 6\r\n", Completion.OK),
        (sk_scan(Dialect.DUAL_STACK, duration=6), b"SKSCAN 2 FFFFFFFF 6 0\r\n", Completion.OK),
        (
            sk_scan(Dialect.SINGLE_HOP, mode=0, channel=0x3C, duration=14),
            b"SKSCAN 0 08000000 E\r\n",
            Completion.OK,
        ),
        (
            sk_scan(Dialect.DUAL_STACK, mode=3, channel=0x21, duration=0, side=1),
            b"SKSCAN 3 00000001 0 1\r\n",
            Completion.OK,
        ),
        (sk_ll64("001c640003dd6393"), b"SKLL64 001C640003DD6393\r\n", Completion.ADDRESS),
        (sk_join(METER.lower()), f"SKJOIN {METER}\r\n".encode(), Completion.OK),
        (ropt(), b"ROPT\r", Completion.OK),
        (wopt(1), b"WOPT 01\r", Completion.OK),
        (wopt(0), b"WOPT 00\r", Completion.OK),
    ],
)
def test_wire_bytes(cmd: Command, wire: bytes, completion: Completion) -> None:
    assert cmd.wire == wire
    assert cmd.completion is completion
    assert cmd.name == wire.split()[0].decode()
    assert str(cmd) == cmd.redacted == wire.decode().rstrip("\r\n")
    assert repr(cmd) == f"Command({cmd.redacted!r})"


def test_sendto_single_hop_matches_t14_echo_form() -> None:
    cmd = sk_sendto(Dialect.SINGLE_HOP, "fe80::21c:6400:30c:12a4", GET_E7)
    assert cmd.wire == f"SKSENDTO 1 {METER} 0E1A 1 000E ".encode() + GET_E7
    assert cmd.redacted == f"SKSENDTO 1 {METER} 0E1A 1 000E <14 bytes>"
    assert "\\x" not in repr(cmd)
    assert cmd.completion is Completion.OK


def test_sendto_dual_stack_puts_side_before_datalen() -> None:
    cmd = sk_sendto(Dialect.DUAL_STACK, METER, GET_E7, handle=2, port=0x02CC, sec=2, side=1)
    assert cmd.wire == f"SKSENDTO 2 {METER} 02CC 2 1 000E ".encode() + GET_E7
    assert str(cmd) == f"SKSENDTO 2 {METER} 02CC 2 1 000E <14 bytes>"


def test_sendto_payload_may_contain_anything() -> None:
    payload = b"\r\n \x00\xff"
    cmd = sk_sendto(Dialect.SINGLE_HOP, METER, payload)
    assert cmd.wire.endswith(b"0005 " + payload)
    assert not cmd.wire.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"payload": b""},
        {"payload": b"x" * 0x04D1},
        {"handle": 0},
        {"handle": 7},
        {"port": 0x10000},
        {"sec": 3},
        {"side": 2, "dialect": Dialect.DUAL_STACK},
        {"ip": "fe80::1%eth0"},
        {"ip": "192.168.0.1"},
        {"ip": "FE80:0000:0000:0000:02XX:XXXX:XXXX:XXXX"},
    ],
)
def test_sendto_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"dialect": Dialect.SINGLE_HOP, "ip": METER, "payload": GET_E7}
    args.update(kwargs)
    with pytest.raises(ValueError):
        sk_sendto(**args)  # type: ignore[arg-type]


def test_setpwd_and_setrbid_never_show_the_secret() -> None:
    pwd = sk_setpwd(Secret("0123456789AB"))
    assert pwd.wire == b"SKSETPWD C 0123456789AB\r\n"
    assert pwd.redacted == "SKSETPWD C ********"
    rbid_value = "0123456789ABCDEF0123456789ABCDEF"
    rbid = sk_setrbid(Secret(rbid_value))
    assert rbid.wire == f"SKSETRBID {rbid_value}\r\n".encode()
    assert rbid.redacted == "SKSETRBID ********"
    for cmd in (pwd, rbid):
        for text in (str(cmd), repr(cmd), f"{cmd}", cmd.redacted):
            assert "0123456789AB" not in text
    assert sk_setpwd(Secret("x" * 32)).wire.startswith(b"SKSETPWD 20 ")
    assert sk_setpwd(Secret("x")).wire == b"SKSETPWD 1 x\r\n"


@pytest.mark.parametrize("value", ["", "x" * 33, "has space", "tab\t", "crlf\r\n", "ü"])
def test_setpwd_rejects_bad_passwords_without_echoing_them(value: str) -> None:
    with pytest.raises(ValueError) as info:
        sk_setpwd(Secret(value))
    assert value not in str(info.value) or not value


@pytest.mark.parametrize("value", ["", "has space", "id\r\nSKRESET"])
def test_setrbid_rejects_bad_ids(value: str) -> None:
    with pytest.raises(ValueError) as info:
        sk_setrbid(Secret(value))
    assert value not in str(info.value) or not value


@pytest.mark.parametrize(
    ("register", "value"), [("", None), ("S 2", None), ("S2", ""), ("S2", "1\r\nSKRESET")]
)
def test_sreg_rejects_injection(register: str, value: str | None) -> None:
    with pytest.raises(ValueError):
        sk_sreg(register, value)


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": 1}, {"duration": 15}, {"duration": -1}, {"channel": 0x20}, {"channel": 0x3D}],
)
def test_scan_rejects_bad_arguments(kwargs: dict[str, int]) -> None:
    args = {"duration": 6, **kwargs}
    with pytest.raises(ValueError):
        sk_scan(Dialect.SINGLE_HOP, **args)


def test_scan_dse_rejects_bad_side() -> None:
    with pytest.raises(ValueError):
        sk_scan(Dialect.DUAL_STACK, duration=4, side=2)


def test_wopt_rejects_bad_mode() -> None:
    with pytest.raises(ValueError):
        wopt(2)


def test_channel_mask() -> None:
    assert channel_mask(None) == "FFFFFFFF"
    assert channel_mask(0x21) == "00000001"
    assert channel_mask(0x33) == "00040000"
    assert channel_mask(0x3C) == "08000000"


def test_format_ipv6() -> None:
    assert format_ipv6("fe80::21c:6400:30c:12a4") == METER
    assert format_ipv6(METER.lower()) == METER
    assert format_ipv6("ff02::1") == "FF02:0000:0000:0000:0000:0000:0000:0001"
    for bad in ("", "fe80::1::2", "fe80::g", "1.2.3.4", "fe80::1%1"):
        with pytest.raises(ValueError):
            format_ipv6(bad)


def test_mac_to_link_local() -> None:
    # transcripts.md: 001C640003DD6393 -> ...:021C:6400:03DD:6393 (bit 0x02 flipped)
    assert mac_to_link_local("001C640003DD6393") == "FE80:0000:0000:0000:021C:6400:03DD:6393"
    assert mac_to_link_local("021d129012345678") == "FE80:0000:0000:0000:001D:1290:1234:5678"
    for bad in ("001C640003DD639", "001C640003DD639X", "001C640003DD63930"):
        with pytest.raises(ValueError):
            mac_to_link_local(bad)
        with pytest.raises(ValueError):
            sk_ll64(bad)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("SKSETPWD C 0123456789AB", "SKSETPWD C ********"),
        ("SKSETPWD c 1234567890ab", "SKSETPWD c ********"),
        ("SKSETPWD 0123456789AB", "SKSETPWD ********"),
        ("SKSETPWD C", "SKSETPWD ********"),
        ("SKSETPWD", "SKSETPWD"),
        ("[SEND] SKSETPWD C 000000000000", "[SEND] SKSETPWD C ********"),
        ("SKSETRBID 00112233445566778899AABBCCDDEEFF", "SKSETRBID ********"),
        ("skSetRbid abc def", "skSetRbid ********"),
        ("SKSREG S2 21", "SKSREG S2 21"),
        ("a SKSETRBID x\nb SKSETPWD C y", "a SKSETRBID ********\nb SKSETPWD C ********"),
    ],
)
def test_mask_line(text: str, masked: str) -> None:
    assert mask_line(text) == masked


def info(tail: str) -> Info:
    return Info("FE80:0000:0000:0000:021D:1290:1234:5678", "001D129012345678", 0x21, 0x8888, tail)


def test_dialect_detection() -> None:
    assert dialect_from_info(info("FFFE")) is Dialect.SINGLE_HOP
    assert dialect_from_info(info("1234")) is Dialect.SINGLE_HOP
    assert dialect_from_info(info("0")) is Dialect.DUAL_STACK
    assert dialect_from_info(info("1")) is Dialect.DUAL_STACK
    assert dialect_from_info(info("zz")) is Dialect.SINGLE_HOP
    assert dialect_from_scan_failure(Fail(5), Dialect.SINGLE_HOP) is Dialect.DUAL_STACK
    assert dialect_from_scan_failure(Fail(5), Dialect.DUAL_STACK) is Dialect.SINGLE_HOP
    assert dialect_from_scan_failure(Fail(10), Dialect.SINGLE_HOP) is None
    assert Dialect("single-hop") is Dialect.SINGLE_HOP
    assert PayloadFormat("hex") is PayloadFormat.HEX


def test_payload_from_ropt() -> None:
    assert payload_from_ropt(Ok("00")) is PayloadFormat.BINARY
    assert payload_from_ropt(Ok("01")) is PayloadFormat.HEX
    assert payload_from_ropt(Fail(4)) is PayloadFormat.HEX
    for bad in (Ok(None), Ok("zz")):
        with pytest.raises(ValueError):
            payload_from_ropt(bad)


def test_j11_and_rssi() -> None:
    assert is_j11(b"\x00\xd0\xea\x83\xfc\x60\x19")
    assert not is_j11(b"\xd0\xea\x83")
    assert rssi_from_lqi(0) == -104.3
    assert rssi_from_lqi(0xB2) == -55.3  # 0.275 * 178 - 104.27 is -55.31999999999999 in floats
    # to the module's resolution: no float noise, and every LQI step still tells apart
    assert all(len(repr(rssi_from_lqi(lqi)).partition(".")[2]) == 1 for lqi in range(256))
    assert len({rssi_from_lqi(lqi) for lqi in range(256)}) == 256
