"""Every fault kind is observable from the host side (virtual time)."""

from __future__ import annotations

import json

import pytest
import trio

from trio_smartmeter.sim import Fault, FaultSpec, Scenario, open_in_process

from .host import Host, connect, sendto_header

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
