"""The CLI as a user types it: --version, --help, scan, read, deploy-files, bad configuration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import CLI, cli_env
from trio_smartmeter import __version__
from trio_smartmeter.core.address import MeterAddress, encode_state
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID, link_local

from .harness import sim_truth, simulator

pytestmark = pytest.mark.slow


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=cli_env(env)
    )


CREDS = {"SMARTMETER_ID": DEMO_RBID, "SMARTMETER_PASSWORD": DEMO_PASSWORD}


def test_version_and_help() -> None:
    v = run("--version")
    assert v.returncode == 0
    assert v.stdout.strip() == f"trio-smartmeter {__version__}"
    h = run("--help")
    assert h.returncode == 0
    for var in (
        "SMARTMETER_ID",
        "SMARTMETER_PASSWORD",
        "SMARTMETER_DEVICE",
        "SMARTMETER_INTERVAL",
        "SMARTMETER_PORT",
        "SMARTMETER_CHANNEL",
        "SMARTMETER_IPADDR",
        "SMARTMETER_DSE",
        "SMARTMETER_VERBOSITY",
        "SMARTMETER_LOG_FORMAT",
        "SMARTMETER_LISTEN_ADDRESS",
        "SMARTMETER_STATE_FILE",
    ):
        assert var in h.stdout


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({}, [], "SMARTMETER_ID"),
        (CREDS | {"SMARTMETER_INTERVAL": "5"}, [], "SMARTMETER_INTERVAL"),
        (CREDS, ["-port", "70000"], "-port"),
        (CREDS | {"SMARTMETER_DSE": "maybe"}, [], "SMARTMETER_DSE"),
        (CREDS | {"SMARTMETER_CHANNEL": "3D"}, [], "SMARTMETER_CHANNEL"),
        (CREDS | {"SMARTMETER_FOO": "1"}, [], "SMARTMETER_FOO"),
        (CREDS, ["--no-such-flag"], "no-such-flag"),
    ],
)
def test_invalid_configuration_exits_2_naming_the_field(
    env: dict[str, str], args: list[str], named: str
) -> None:
    p = run(*args, env=env, timeout=20)
    assert p.returncode == 2
    assert named in p.stderr
    assert DEMO_RBID not in p.stderr
    assert DEMO_PASSWORD not in p.stderr


def test_deploy_files_are_reachable_from_the_package() -> None:
    listing = run("deploy-files")
    assert listing.returncode == 0
    assert "trio-smartmeter.service" in listing.stdout
    unit = run("deploy-files", "trio-smartmeter.service")
    assert unit.returncode == 0
    assert "[Service]" in unit.stdout
    assert run("deploy-files", "nope").returncode == 2


@pytest.mark.parametrize("command", ["scan", "read", "history", "deploy-files"])
def test_each_subcommand_has_its_own_help(command: str) -> None:
    """Each subcommand's --help (Go-style -help and -h too) is its own, not the exporter's."""
    for flag in ("--help", "-help", "-h"):
        p = run(command, flag, timeout=20)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(f"usage: trio-smartmeter {command}"), p.stdout
        assert "SMARTMETER_INTERVAL" not in p.stdout  # the exporter's table is not repeated
    assert "--json" in run("read", "--help").stdout
    assert "--cacert" in run("history", "--help").stdout


def test_scan_prints_the_meter_and_the_lines_to_pin_it(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    stale = MeterAddress(0x21, 0x1234, "001D129012345678", link_local("001D129012345678"))
    state.write_bytes(encode_state(stale, None))
    with simulator(tmp_path, "bp35c2", "--time-scale", "0.05") as (link, _truth, _sim):
        p = run("scan", "-device", str(link), "-state-file", str(state), env=CREDS)
    assert p.returncode == 0, p.stderr
    # scan is asked to look: a cached address is neither announced nor used
    assert "skipping the scan" not in p.stderr
    assert "SMARTMETER_CHANNEL=33" in p.stdout
    assert "SMARTMETER_IPADDR=FE80:0000:0000:0000:021C:6400:030C:12A4" in p.stdout
    assert "ours" in p.stdout
    assert DEMO_PASSWORD not in p.stdout + p.stderr


def test_read_dumps_every_property_as_json(tmp_path: Path) -> None:
    extra = ["--time-scale", "0.05", "--no-coefficient"]
    with simulator(tmp_path, "rl7023-ips", *extra) as (link, truth_file, sim):
        p = run("read", "-json", "-device", str(link), env=CREDS)  # Go-style, as every flag
        truth = sim_truth(truth_file)
    assert p.returncode == 0, p.stderr
    rows = {row["epc"]: row for row in json.loads(p.stdout)}
    # numbers, with the unit in the key: no display strings to parse
    assert rows["0xE7"]["power_watts"] == truth["power_watts"]
    assert rows["0xE0"]["energy_raw"] == truth["energy_forward_raw"]
    assert rows["0xE1"]["unit_kwh"] == float(truth["unit_kwh"])
    assert rows["0xD7"]["digits"] == truth["digits"]
    assert isinstance(rows["0xE8"]["current_r_amperes"], float | int)
    assert rows["0xD3"] == {"epc": "0xD3", "name": rows["0xD3"]["name"], "available": False}
    assert "(raw units)" not in p.stdout
    assert truth["skterm_seen"] is True or sim.poll() is None
