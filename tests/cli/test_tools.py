"""``scan`` and ``read`` in process, on the built-in simulator under the mock clock: what a
user reads, the session's own steps, and the cached address (used by ``read`` only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio.testing

from trio_smartmeter.cli.entry import parse
from trio_smartmeter.cli.tools import READ_GROUPS, read_main, scan_main
from trio_smartmeter.core.address import MeterAddress, encode_state
from trio_smartmeter.core.config import Config
from trio_smartmeter.sim import link_local

#: The demo meter's channel (sim/device.py).
DEMO_CHANNEL = 0x3B


def demo(tmp_path: Path) -> Config:
    return parse(["-demo", "-state-file", str(tmp_path / "state.json")], {})


def stale_cache(tmp_path: Path) -> None:
    """A meter that is not there any more: another channel, another PAN."""
    mac = "001D129012345678"
    address = MeterAddress(0x21, 0x1234, mac, link_local(mac))
    (tmp_path / "state.json").write_bytes(encode_state(address, None))


async def test_scan_shows_the_meter_and_how_to_pin_it(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale_cache(tmp_path)  # scan is asked to look: the cache plays no part
    assert await scan_main(demo(tmp_path)) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.endswith("ours")]
    assert row.split()[0] == f"{DEMO_CHANNEL:X}"
    assert f"SMARTMETER_CHANNEL={DEMO_CHANNEL:02X}" in out
    assert "SMARTMETER_IPADDR=FE80:" in out
    assert "dBm" in row and ".0000" not in row


async def test_read_json_gives_numbers_for_every_property_asked(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await read_main(demo(tmp_path), json_out=True) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["epc"] for r in rows] == [f"0x{c:02X}" for g in READ_GROUPS for c in g]
    by_epc = {r["epc"]: r for r in rows}
    assert isinstance(by_epc["0xE7"]["power_watts"], int)
    assert isinstance(by_epc["0xE0"]["energy_raw"], int)
    assert by_epc["0xE1"]["unit_kwh"] in (1, 0.1, 0.01, 0.001, 0.0001, 10, 100, 1000, 10000)
    assert set(by_epc["0xEA"]) == {"epc", "name", "available", "at", "energy_raw"}
    assert all("0x" in e for e in by_epc["0x9F"]["epcs"])
    assert all(isinstance(r["available"], bool) for r in rows)


async def test_read_rescans_when_the_cached_address_is_stale(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale_cache(tmp_path)
    assert await read_main(demo(tmp_path), json_out=False) == 0
    captured = capsys.readouterr()
    assert "join failed; scanning for the meter" in captured.err
    assert "0xE7" in captured.out and " W" in captured.out
