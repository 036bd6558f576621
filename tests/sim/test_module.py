"""SKSTACK IP behaviour of every model, on Trio's MockClock (virtual time)."""

from __future__ import annotations

import pytest
import trio

from trio_smartmeter.sim import (
    DEMO_PASSWORD,
    DEMO_RBID,
    MeterConfig,
    SimulatedModule,
    open_in_process,
    timing,
)

from .host import Host, connect, sendto_header

ALL = ["bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss"]
DSE = {"bp35c2", "rl7023-dss"}
GET_E7 = bytes.fromhex("1081000105FF010288016201E700")


async def start(nursery: trio.Nursery, model: str, **kw: object) -> tuple[Host, SimulatedModule]:
    stream, module = await open_in_process(nursery, model, **kw)
    return Host(stream), module


@pytest.mark.parametrize("model", ALL)
async def test_echo_on_by_default_and_sfe_0_is_itself_echoed(
    autojump_clock, watchdog, nursery, model
):
    host, module = await start(nursery, model)
    await host.cmd("SKVER")
    assert await host.lines(3) == ["SKVER", f"EVER {module.spec.ever}", "OK"]
    await host.cmd("SKSREG SFE 0")
    assert await host.lines(2) == ["SKSREG SFE 0", "OK"]
    await host.cmd("SKAPPVER")
    assert await host.lines(2) == [f"EAPPVER {module.spec.eappver}", "OK"]
    await host.cmd("SKSREG SFE")
    assert await host.lines(2) == ["ESREG 0", "OK"]
    await host.cmd("SKRESET")
    assert await host.line() == "OK"
    await host.cmd("SKSREG SFE")
    assert await host.lines(3) == ["SKSREG SFE", "ESREG 1", "OK"]


@pytest.mark.parametrize("model", ALL)
async def test_ropt_wopt_cr_only_and_persist_across_reset(autojump_clock, watchdog, nursery, model):
    host, module = await start(nursery, model)
    await host.send("ROPT\r")
    assert await host.raw_line(cr_only=True) == b"ROPT\r"  # echo mirrors the CR
    if not module.spec.rohm:
        assert await host.line() == "FAIL ER04"
        await host.send("WOPT 01\r")
        await host.raw_line(cr_only=True)
        assert await host.line() == "FAIL ER04"
        assert module.hex_output
        return
    assert await host.raw_line(cr_only=True) == b"OK 00\r"
    await host.send("WOPT 01\r")
    assert await host.raw_line(cr_only=True) == b"WOPT 01\r"
    assert await host.raw_line(cr_only=True) == b"OK\r"
    await host.cmd("SKRESET")
    assert await host.lines(2) == ["SKRESET", "OK"]
    await host.send("ROPT\r\n")  # a LF after the CR is swallowed, not an empty line
    assert await host.raw_line(cr_only=True) == b"ROPT\r"
    assert await host.raw_line(cr_only=True) == b"OK 01\r"
    await host.cmd("SKVER")
    assert await host.line() == "SKVER"


@pytest.mark.parametrize("model", ALL)
async def test_error_codes(autojump_clock, watchdog, nursery, model):
    host, module = await start(nursery, model)
    dse = model in DSE
    await host.cmd("SKSREG SFE 0")
    await host.lines(2)
    other_scan = "SKSCAN 2 FFFFFFFF 6" + ("" if dse else " 0")
    cases = {
        "SKFOO": "FAIL ER04",
        "skver": "FAIL ER04",
        other_scan: "FAIL ER05",
        "SKVER 1": "FAIL ER05",
        "SKSREG S2 99": "FAIL ER06",
        "SKSREG S2 ZZ": "FAIL ER06",
        "SKSREG SXYZ": "FAIL ER06",
        "SKLL64 001C64": "FAIL ER06",
        "SKJOIN fe80::1": "FAIL ER06",
        "SKSCAN 2 FFFFFFFF F" + (" 0" if dse else ""): "FAIL ER06",
        "SKSETPWD C SHORT": "FAIL ER06",
        "SKTERM": "FAIL ER10",
        "SKSENDTO 1 FE80:0000:0000:0000:021C:6400:030C:12A4 0E1A 1": "FAIL ER05",
    }
    for command, expected in cases.items():
        await host.cmd(command)
        assert await host.line() == expected, command
    ip = module.meter_ip
    # SEC=1 without a PANA session: the send cannot be made
    await host.send(sendto_header(dse, ip, GET_E7) + GET_E7)
    assert await host.line() == "FAIL ER10"
    # the other dialect's SKSENDTO: ER05, and its payload is consumed, not parsed as commands
    await host.send(sendto_header(not dse, ip, GET_E7) + GET_E7)
    assert await host.line() == "FAIL ER05"
    await host.cmd("SKVER")
    assert (await host.line()).startswith("EVER ")


@pytest.mark.parametrize("model", ALL)
async def test_skinfo(autojump_clock, watchdog, nursery, model):
    host, module = await start(nursery, model)
    await host.cmd("SKINFO")
    assert await host.line() == "SKINFO"
    tokens = (await host.line()).split(" ")
    assert await host.line() == "OK"
    assert tokens[0] == "EINFO" and tokens[1] == module.ip and tokens[2] == module.mac
    assert tokens[3:5] == ["21", "FFFF"]
    assert tokens[5] == ("0" if model in DSE else "FFFE")
    prefix = {
        "bp35a1": "FE80:0000:0000:0000:021D:1290:",
        "bp35c2": "FE80:0000:0000:0000:021D:1291:",
        "rl7023-ips": "FE80:0000:0000:0000:1207:23FF:FEA0:",
        "rl7023-dss": "FE80:0000:0000:0000:1207:23FF:FEA0:",
    }[model]
    assert tokens[1].startswith(prefix)


@pytest.mark.parametrize("model", ALL)
@pytest.mark.parametrize("duration", [3, 6])
async def test_scan_timing_and_epandesc(autojump_clock, watchdog, nursery, model, duration):
    host, module = await start(nursery, model, meter=MeterConfig(channel=0x2A))
    dse = model in DSE
    await host.cmd(f"SKSETRBID {DEMO_RBID}")
    await host.lines(2)
    side = " 0" if dse else ""
    t0 = trio.current_time()
    await host.cmd(f"SKSCAN 2 FFFFFFFF {duration}{side}")
    assert await host.lines(2) == [f"SKSCAN 2 FFFFFFFF {duration}{side}", "OK"]
    assert await host.line() == f"EVENT 20 {module.ip}{side}"
    dwell = 0.0096 * (2**duration + 1)
    assert trio.current_time() - t0 == pytest.approx(dwell * (0x2A - 0x21 + 1))
    block = await host.lines(7 if dse else 6)
    expected = [
        "EPANDESC",
        "  Channel:2A",
        "  Channel Page:09",
        "  Pan ID:12A4",
        "  Addr:001C6400030C12A4",
        "  LQI:B2",
    ]
    expected += ["  Side:0"] if dse else []
    assert block == expected
    assert await host.line() == f"  PairID:{DEMO_RBID[-8:]}"
    assert await host.line() == f"EVENT 22 {module.ip}{side}"
    assert trio.current_time() - t0 == pytest.approx(dwell * 28)
    assert trio.current_time() - t0 == pytest.approx(
        timing.scan_duration(duration=duration) * module.time_scale
    )


async def test_scan_without_meter_channel_or_with_wrong_id_finds_nothing(
    autojump_clock, watchdog, nursery
):
    host, module = await start(nursery, "bp35a1")
    await host.cmd("SKSREG SFE 0")
    await host.lines(2)
    await host.cmd(f"SKSETRBID {DEMO_RBID}")
    await host.line()
    t0 = trio.current_time()
    await host.cmd("SKSCAN 2 00000001 4")  # channel 0x21 only; the meter is on 0x33
    assert await host.lines(2) == ["OK", f"EVENT 22 {module.ip}"]
    assert trio.current_time() - t0 == pytest.approx(0.0096 * 17)
    await host.cmd("SKSETRBID 0123456789ABCDEF0123456789ABCDEF")  # pairing ID mismatch
    await host.cmd("SKSCAN 2 FFFFFFFF 2")
    assert await host.lines(3) == ["OK", "OK", f"EVENT 22 {module.ip}"]
    await host.cmd("SKSCAN 3 FFFFFFFF 2")  # active scan without IE ignores the pairing ID
    lines = await host.until("EVENT 22")
    assert "EPANDESC" in lines and not any("PairID" in line for line in lines)


async def test_second_scan_before_event_22_keeps_the_first_scans_event_22(
    autojump_clock, watchdog, nursery
):
    host, module = await start(nursery, "bp35a1", meter=MeterConfig(channel=0x3C))
    await host.cmd("SKSREG SFE 0")
    await host.lines(2)
    await host.cmd(f"SKSETRBID {DEMO_RBID}")
    await host.line()
    t0 = trio.current_time()
    await host.cmd("SKSCAN 2 FFFFFFFF 4")
    assert await host.line() == "OK"
    await trio.sleep(1.0)
    await host.cmd("SKSCAN 2 FFFFFFFF 5")
    assert await host.line() == "OK"
    assert await host.line() == f"EVENT 20 {module.ip}"  # first scan reaches 0x3C last
    await host.lines(7)
    assert await host.line() == f"EVENT 22 {module.ip}"
    assert trio.current_time() - t0 == pytest.approx(timing.scan_duration(duration=4))
    assert await host.line() == f"EVENT 20 {module.ip}"


async def test_energy_detect_scan(autojump_clock, watchdog, nursery):
    host, module = await start(nursery, "bp35a1")
    await host.cmd("SKSCAN 0 FFFFFFFF 1")
    assert await host.lines(2) == ["SKSCAN 0 FFFFFFFF 1", "OK"]
    assert await host.line() == f"EVENT 1F {module.ip}"
    assert await host.line() == "EEDSCAN"
    pairs = (await host.line()).split(" ")
    assert len(pairs) == 56 and pairs[0] == "21"
    assert await host.line() == ""  # fw 1.2.10's extra empty line


@pytest.mark.parametrize("model", ["bp35a1", "bp35c2"])
async def test_skll64_answers_the_address_without_ok(autojump_clock, watchdog, nursery, model):
    host, _ = await start(nursery, model)
    await host.cmd("SKLL64 001C640003DD6393")
    assert await host.lines(2) == [
        "SKLL64 001C640003DD6393",
        "FE80:0000:0000:0000:021C:6400:03DD:6393",
    ]
    await host.cmd("SKVER")
    assert await host.line() == "SKVER"  # no OK came before the next echo


@pytest.mark.parametrize("model", ALL)
async def test_join_pana_lines_then_instance_list(autojump_clock, watchdog, nursery, model):
    host, module = await start(nursery, model)
    dse = model in DSE
    side = " 0" if dse else ""
    await host.cmd("SKSREG SFE 0")
    await host.lines(2)
    if module.spec.rohm:
        await host.send("WOPT 01\r")
        await host.raw_line(cr_only=True)
    await host.cmd(f"SKSETRBID {DEMO_RBID}")
    await host.cmd(f"SKSETPWD C {DEMO_PASSWORD}")
    await host.cmd("SKSREG S2 33")
    await host.cmd("SKSREG S3 12A4")
    assert await host.lines(4) == ["OK"] * 4
    m = module.meter_ip
    t0 = trio.current_time()
    await host.cmd(f"SKJOIN {m}")
    lines = await host.until("EVENT 25")
    assert trio.current_time() - t0 == pytest.approx(module.floor_join())
    assert 2.0 <= module.floor_join() <= 3.0
    assert lines[:3] == ["OK", f"EVENT 21 {m}{side} 02", f"EVENT 02 {m}{side}"]
    pana = [line.split(" ") for line in lines if line.startswith("ERXUDP")]
    assert len(pana) == 3
    for tokens in pana:
        assert tokens[1:6] == [m, module.ip, "02CC", "02CC", "001C6400030C12A4"]
        assert tokens[6] == "0"  # SECURED 0 for PANA
        assert len(tokens) == (10 if dse else 9)
    assert pana[-1][-1].startswith("00000058A0000002")  # the real Complete with 86400 s
    assert lines[-2:] == [f"EVENT 21 {m}{side} 00", f"EVENT 25 {m}{side}"]
    _, data = await host.erxudp(hex_mode=True)
    assert data[4:] == bytes.fromhex("0EF0010EF0017301D50401028801")


@pytest.mark.parametrize("model", ["bp35a1", "bp35c2"])
async def test_wrong_password_event_24_after_pana_retransmissions(
    autojump_clock, watchdog, nursery, model
):
    host, module = await start(nursery, model, password="RIGHTPASSWD0")
    side = " 0" if model in DSE else ""
    await host.cmd("SKSREG SFE 0")
    await host.lines(2)
    await host.send("WOPT 01\r")
    await host.raw_line(cr_only=True)
    await host.cmd(f"SKSETRBID {DEMO_RBID}")
    await host.cmd("SKSETPWD C WRONGPASSWD0")
    await host.cmd("SKSREG S2 33")
    await host.cmd("SKSREG S3 12A4")
    await host.lines(4)
    t0 = trio.current_time()
    await host.cmd(f"SKJOIN {module.meter_ip}")
    lines = await host.until("EVENT 2")  # EVENT 21 02
    lines += await host.until("EVENT 24")
    assert trio.current_time() - t0 == pytest.approx(timing.PANA_FAILURE_S)
    assert not any(line.startswith("EVENT 25") for line in lines)
    assert lines[-1] == f"EVENT 24 {module.meter_ip}{side}"
    assert module.session_peer is None


@pytest.mark.parametrize("model", ALL)
async def test_sendto_reads_exactly_datalen_and_answers_like_the_captures(
    autojump_clock, watchdog, nursery, model
):
    host, module = await start(nursery, model)
    dse = model in DSE
    side = " 0" if dse else ""
    ip = await connect(host, module)
    await host.cmd("SKSREG SFE 1")
    await host.lines(2)
    # a valid Get whose TID contains CR LF and space bytes
    get = bytes.fromhex("10810D0A05FF010288016201E700")
    assert b"\r\n" in get
    header = sendto_header(dse, ip, get)
    await host.send(header + get + b"\r\n")
    assert await host.raw_line() == header + b"\r\n"  # echo: header only, with its space
    assert await host.lines(3) == [f"EVENT 21 {ip}{side} 00", "OK", ""]
    t0 = trio.current_time()
    tokens, data = await host.erxudp(hex_mode=True)
    assert trio.current_time() - t0 == pytest.approx(0.3)
    assert len(tokens) == (10 if dse else 9) - 1  # DATA token split off
    assert data[2:4] == b"\r\n" and data[10] == 0x72
    assert module.stats.sendto_count == 1 and module.stats.payload_bytes == 14
    # payload split in tiny writes, with spaces in it
    body = bytes.fromhex("1081202005FF010288016201E700")
    for byte in sendto_header(dse, ip, body) + body:
        await host.send(bytes([byte]))
    assert (await host.line()).startswith("SKSENDTO ")
    assert await host.lines(2) == [f"EVENT 21 {ip}{side} 00", "OK"]
    _, data = await host.erxudp(hex_mode=True)
    assert data[2:4] == b"  "


@pytest.mark.parametrize("model", ["bp35a1", "bp35c2"])
async def test_binary_erxudp(autojump_clock, watchdog, nursery, model):
    host, module = await start(nursery, model)
    ip = await connect(host, module, hex_mode=False)
    await host.send(sendto_header(module.spec.dse, ip, GET_E7) + GET_E7)
    await host.lines(2)
    tokens, data = await host.erxudp(hex_mode=False)
    assert tokens[-1] == "0012" and len(data) == 18
    assert int.from_bytes(data[14:18], "big", signed=True) == module.meter.last_power_watts


async def test_sa2_rssi_token_on_dse_only(autojump_clock, watchdog, nursery):
    host, module = await start(nursery, "bp35c2")
    ip = await connect(host, module)
    await host.cmd("SKSREG SA2 1")
    assert await host.line() == "OK"
    await host.send(sendto_header(True, ip, GET_E7) + GET_E7)
    await host.lines(2)
    line = await host.line()
    assert len(line.split(" ")) == 11 and line.split(" ")[6] == "B2"
    await host.cmd("SKSREG SA2 0")
    await host.line()
    await host.send(sendto_header(True, ip, GET_E7) + GET_E7)
    await host.lines(2)
    assert len((await host.line()).split(" ")) == 10
    # single-hop: SA2 is stored but never changes ERXUDP (9 tokens)
    host2, module2 = await start(nursery, "bp35a1")
    ip2 = await connect(host2, module2)
    await host2.cmd("SKSREG SA2 1")
    assert await host2.line() == "OK"
    await host2.send(sendto_header(False, ip2, GET_E7) + GET_E7)
    await host2.lines(2)
    assert len((await host2.line()).split(" ")) == 9


async def test_sendto_before_neighbour_known_is_not_sent(autojump_clock, watchdog, nursery):
    host, module = await start(nursery, "bp35a1")
    await host.cmd("SKSREG SFE 0")
    await host.lines(2)
    ip = module.meter_ip
    await host.send(sendto_header(False, ip, GET_E7, sec=0) + GET_E7)
    assert await host.lines(3) == [f"EVENT 21 {ip} 02", "OK", f"EVENT 02 {ip}"]
    await host.send(sendto_header(False, ip, GET_E7, sec=2) + GET_E7)
    assert await host.lines(2) == [f"EVENT 21 {ip} 00", "OK"]
    await trio.sleep(5)
    await host.quiet()  # no session: the meter ignores plaintext ECHONET


@pytest.mark.parametrize("model", ["bp35a1", "bp35c2"])
async def test_session_lifetime_reauth_then_event_29_without_reauth(
    autojump_clock, watchdog, nursery, model
):
    host, module = await start(nursery, model, session_lifetime=1000.0)
    side = " 0" if model in DSE else ""
    ip = await connect(host, module)
    t_join = trio.current_time()
    lines = await host.until("EVENT 25")
    assert trio.current_time() - t_join == pytest.approx(800 + 1.1 - timing.INSTANCE_LIST_DELAY_S)
    assert any(" 02CC 02CC " in line for line in lines)
    assert module.session_peer == ip
    await host.cmd("SKSREG S17 0")  # no automatic re-authentication
    assert await host.line() == "OK"
    lines = await host.until("EVENT 29")
    assert lines[-1] == f"EVENT 29 {ip}{side}"
    assert module.session_peer is None
    await host.send(sendto_header(model in DSE, ip, GET_E7) + GET_E7)
    assert await host.line() == "FAIL ER10"


async def test_transmit_budget_event_32_then_33(autojump_clock, watchdog, nursery):
    host, module = await start(nursery, "bp35a1", tx_budget_s=0.005)
    ip = await connect(host, module)
    await host.send(sendto_header(False, ip, GET_E7) + GET_E7)
    assert await host.lines(3) == [f"EVENT 21 {ip} 00", "OK", f"EVENT 32 {module.ip}"]
    assert module.rate_limited
    await host.erxudp(hex_mode=True)
    await host.send(sendto_header(False, ip, GET_E7) + GET_E7)
    assert await host.lines(2) == [f"EVENT 21 {ip} 01", "OK"]  # cancelled internally
    t0 = trio.current_time()
    lines = await host.until("EVENT 33")
    assert lines[-1] == f"EVENT 33 {module.ip}"
    assert any(" 1081036202880105FF017301EA0B" in line for line in lines)  # the :30 INF
    assert 3600 < trio.current_time() - t0 < 3800
    assert module.stats.airtime_s == pytest.approx(timing.airtime(14))


@pytest.mark.parametrize("model", ["bp35a1", "bp35c2"])
async def test_skterm_and_skreset(autojump_clock, watchdog, nursery, model):
    host, module = await start(nursery, model)
    side = " 0" if model in DSE else ""
    ip = await connect(host, module)
    await host.cmd("SKTERM")
    assert await host.line() == "OK"
    assert await host.line() == f"EVENT 27 {ip}{side}"
    assert module.stats.skterm_seen
    await host.cmd("SKTERM")
    assert await host.line() == "FAIL ER10"
    ip = await connect_again(host, module)
    await host.cmd("SKRESET")
    assert await host.line() == "OK"
    assert module.session_peer is None
    await host.cmd("SKSREG S2")
    assert await host.lines(3) == ["SKSREG S2", "ESREG 21", "OK"]  # defaults, echo back on
    await host.send("ROPT\r")
    await host.raw_line(cr_only=True)
    assert await host.raw_line(cr_only=True) == b"OK 01\r"  # WOPT survived
    await host.send(sendto_header(model in DSE, ip, GET_E7) + GET_E7)
    await host.raw_line()
    assert await host.line() == "FAIL ER10"


async def connect_again(host: Host, module: SimulatedModule) -> str:
    await host.cmd(f"SKJOIN {module.meter_ip}")
    await host.until("EVENT 25")
    await host.erxudp(hex_mode=True)
    return module.meter_ip
