"""Every fault kind is observable from the host side (virtual time)."""

from __future__ import annotations

import json

import pytest
import trio

from trio_smartmeter.sim import Fault, FaultSpec, Scenario, open_in_process, timing

from .host import Host, connect, sendto_header

ALL = ["bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss"]
GET_E7 = bytes.fromhex("1081000105FF010288016201E700")


async def joined(nursery, model="bp35a1", **kw):
    stream, module = await open_in_process(nursery, model, **kw)
    host = Host(stream)
    ip = await connect(host, module)
    return host, module, ip


async def get(host, module, ip):
    await host.send(sendto_header(module.spec.dse, ip, GET_E7) + GET_E7)
    return await host.lines(2)


async def test_response_faults(autojump_clock, watchdog, nursery):
    host, module, ip = await joined(nursery)
    module.inject(Fault.DROP_RESPONSE, count=1)
    await get(host, module, ip)
    await trio.sleep(5)
    await host.quiet()
    module.inject(Fault.DELAY_RESPONSE, count=1, delay=4.0)
    await get(host, module, ip)
    t0 = trio.current_time()
    await host.erxudp(hex_mode=True)
    assert trio.current_time() - t0 == pytest.approx(4.3)
    module.inject(Fault.DUPLICATE_RESPONSE, count=1)
    await get(host, module, ip)
    first = await host.erxudp(hex_mode=True)
    assert await host.erxudp(hex_mode=True) == first
    module.inject(Fault.GET_SNA, epcs=["E7"])
    await get(host, module, ip)
    _, data = await host.erxudp(hex_mode=True)
    assert data[10] == 0x52 and data[12:] == b"\xe7\x00"


async def test_event_storm_26_29_and_transmit_limit(autojump_clock, watchdog, nursery):
    host, module, ip = await joined(nursery)
    module.inject(Fault.EVENT21_STORM, count=2)
    assert await get(host, module, ip) == [f"EVENT 21 {ip} 01", "OK"]
    assert await get(host, module, ip) == [f"EVENT 21 {ip} 02", "OK"]
    module.inject(Fault.TRANSMIT_LIMIT, duration=30)
    assert await host.line() == f"EVENT 32 {module.ip}"
    assert await get(host, module, ip) == [f"EVENT 21 {ip} 01", "OK"]
    assert await host.line() == f"EVENT 33 {module.ip}"
    module.inject(Fault.EVENT_26)
    assert await host.line() == f"EVENT 26 {ip}"
    await host.send(sendto_header(False, ip, GET_E7) + GET_E7)
    assert await host.line() == "FAIL ER10"
    await host.cmd(f"SKJOIN {ip}")
    await host.until("EVENT 25")
    module.inject(Fault.EVENT_29)
    assert await host.line() == f"EVENT 29 {ip}"


async def test_no_reauth_ends_in_event_29(autojump_clock, watchdog, nursery):
    host, module, ip = await joined(nursery, session_lifetime=100.0)
    module.inject(Fault.NO_REAUTH)
    assert await host.line() == f"EVENT 29 {ip}"


async def test_noise_faults(autojump_clock, watchdog, nursery):
    host, module, ip = await joined(nursery)
    module.inject(Fault.GARBAGE)
    raw = await host.raw_line()
    with pytest.raises(UnicodeDecodeError):
        raw.decode()
    module.inject(Fault.STRAY_FRAMES)
    tokens = [(await host.erxudp(hex_mode=True))[0] for _ in range(3)]
    assert tokens[0][1] != ip and tokens[1][1] == ip and tokens[2][3] == "4D4C"
    module.inject(Fault.SPLIT_WRITES, duration=60)
    await host.cmd("SKVER")
    assert await host.lines(2) == ["EVER 1.2.10", "OK"]


async def test_scan_and_join_faults(autojump_clock, watchdog, nursery):
    stream, module = await open_in_process(nursery, "bp35a1", hex_output=True)
    host = Host(stream)
    module.inject(Fault.NO_BEACON, count=None, duration=100)
    await host.cmd(f"SKSETRBID {module.rbid}")
    await host.cmd("SKSCAN 2 FFFFFFFF 2")
    lines = await host.until("EVENT 22")
    assert "EPANDESC" not in lines
    module.inject(Fault.WRONG_PASSWORD)
    await host.cmd(f"SKSETPWD C {module.password}")
    await host.cmd("SKSREG S2 33")
    await host.cmd("SKSREG S3 12A4")
    await host.cmd(f"SKJOIN {module.meter_ip}")
    lines = await host.until("EVENT 2")
    lines = await host.until("EVENT 24")
    assert not any("EVENT 25" in line for line in lines)


async def test_hang_until_skreset_and_j11(autojump_clock, watchdog, nursery):
    stream, module = await open_in_process(nursery, "bp35c2")
    host = Host(stream)
    module.inject(Fault.HANG)
    await host.cmd("SKVER")
    await host.cmd("SKINFO")
    await trio.sleep(10)
    await host.quiet()
    await host.cmd("SKRESET")
    assert await host.lines(2) == ["SKRESET", "OK"]
    await host.cmd("SKVER")
    assert await host.lines(3) == ["SKVER", "EVER 1.5.2", "OK"]
    module.inject(Fault.J11, duration=10)
    await host.cmd("SKVER")
    assert (await host.exact(4)) == b"\xd0\xea\x83\xfc"


async def test_unplug_in_process_is_eof(autojump_clock, watchdog, nursery):
    stream, module = await open_in_process(nursery, "bp35a1")
    module.inject(Fault.UNPLUG, duration=5)
    assert await stream.receive_some(100) == b""
    assert module.unplugged_for == 5


async def test_scenario_file_triggers_at_time_and_after_nth_request(
    autojump_clock, watchdog, nursery, tmp_path
):
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "faults": [
                    {"kind": "event_26", "after_request": 2},
                    {"kind": "garbage", "at": 3600},
                ]
            }
        )
    )
    scenario = Scenario.load(path)
    assert scenario.faults[0] == FaultSpec(Fault.EVENT_26, after_request=2)
    toml = tmp_path / "s.toml"
    toml.write_text('[[faults]]\nkind = "get_sna"\nepcs = ["D3", "E7"]\n')
    assert Scenario.load(toml).faults[0].epcs == (0xD3, 0xE7)
    host, module, ip = await joined(nursery, scenario=scenario)
    await get(host, module, ip)
    await host.erxudp(hex_mode=True)
    await host.send(sendto_header(False, ip, GET_E7) + GET_E7)
    while not (raw := await host.raw_line()).startswith(b"EVENT 26"):
        pass
    assert raw.decode() == f"EVENT 26 {ip}\r\n"
    assert module.session_peer is None
    while (await host.raw_line()).isascii():  # OK, 30-minute INFs ... then the garbage
        pass
    assert trio.current_time() >= 3600


async def echoed(host, line):
    """Send ``line``; return its replies after checking the echo is on."""
    await host.cmd(line)
    assert await host.line() == line
    return await host.until("OK")


@pytest.mark.parametrize("model", ALL)
async def test_restart_in_place_forgets_the_module_not_the_meter(
    autojump_clock, watchdog, nursery, model
):
    host, module, ip = await joined(nursery, model)
    dse, cfg = module.spec.dse, module.meter.config
    module.inject(Fault.RESTART_IN_PLACE, nul=True)
    assert await host.exact(1) == b"\x00"  # the break, before anything else
    await host.quiet()  # no power-on banner
    assert module.stats.restarts == 1 and module.stats.resets == 0
    assert module.session_peer is None
    assert await echoed(host, "SKSREG SFE") == ["ESREG 1", "OK"]
    assert await echoed(host, "SKSREG S2") == ["ESREG 21", "OK"]
    assert await echoed(host, "SKSREG S3") == ["ESREG FFFF", "OK"]
    header = sendto_header(dse, ip, GET_E7)
    await host.send(header + GET_E7)
    assert await host.lines(2) == [header.decode(), "FAIL ER10"]
    if module.spec.rohm:  # WOPT lives in flash
        await host.send("ROPT\r")
        assert await host.raw_line(cr_only=True) == b"ROPT\r"
        assert await host.raw_line(cr_only=True) == b"OK 01\r"
    assert module.hex_output

    # the meter still knows us; the module has no PSK: rejected after PANA's retries
    await echoed(host, f"SKSREG S2 {cfg.channel:02X}")
    await echoed(host, f"SKSREG S3 {cfg.pan_id:04X}")
    await echoed(host, f"SKJOIN {ip}")
    t0 = trio.current_time()
    lines = await host.until("EVENT 24")
    assert trio.current_time() - t0 == pytest.approx(timing.PANA_FAILURE_S, abs=0.01)
    assert any(line.startswith("EVENT 02") for line in lines)
    assert any(line.startswith("ERXUDP") and " 02CC 02CC " in line for line in lines)
    assert not any(line.startswith("EVENT 25") for line in lines)

    # the full initialisation brings the session back
    assert await echoed(host, "SKRESET") == ["OK"]
    assert await echoed(host, "SKSREG SFE 0") == ["OK"]
    for line in (
        f"SKSETPWD {len(module.password):X} {module.password}",
        f"SKSETRBID {module.rbid}",
        f"SKSREG S2 {cfg.channel:02X}",
        f"SKSREG S3 {cfg.pan_id:04X}",
        f"SKJOIN {ip}",
    ):
        await host.cmd(line)
        assert await host.line() == "OK"
    lines = await host.until("EVENT 25")
    assert not any(line.startswith("EVENT 24") for line in lines)
    await host.erxudp(hex_mode=True)  # the D5 instance-list INF
    side = " 0" if dse else ""
    assert await get(host, module, ip) == [f"EVENT 21 {ip}{side} 00", "OK"]
    _, data = await host.erxudp(hex_mode=True)
    assert data[10] == 0x72 and data[12] == 0xE7


async def test_restart_in_place_from_a_scenario_after_nth_request_and_at_a_time(
    autojump_clock, watchdog, nursery, tmp_path
):
    path = tmp_path / "s.toml"
    path.write_text(
        '[[faults]]\nkind = "restart_in_place"\nafter_request = 2\nnul = true\n'
        '[[faults]]\nkind = "restart_in_place"\nat = 3600\n'
    )
    scenario = Scenario.load(path)
    assert scenario.faults[0] == FaultSpec(Fault.RESTART_IN_PLACE, after_request=2, nul=True)
    host, module, ip = await joined(nursery, scenario=scenario)
    second = trio.Event()
    module.on_answer.append(lambda m: second.set() if m.stats.restarts == 2 else None)
    assert await get(host, module, ip) == [f"EVENT 21 {ip} 00", "OK"]
    await host.erxudp(hex_mode=True)
    await host.send(sendto_header(False, ip, GET_E7) + GET_E7)
    assert await host.exact(1) == b"\x00"  # the 2nd request dies with the old state
    assert module.stats.restarts == 1
    await trio.sleep(module.floor_get() + 1)  # past the dead request's round trip
    await host.quiet()  # no EVENT 21, no OK, no answer from the meter
    await second.wait()
    assert trio.current_time() >= 3600
    await host.quiet()  # without nul: nothing at all
    await host.cmd("SKVER")
    assert await host.lines(3) == ["SKVER", "EVER 1.2.10", "OK"]
