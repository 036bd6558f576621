"""The CLI as a user types it: --version, --help, scan, read, deploy-files, bad configuration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import CLI, cli_env
from trio_smartmeter import __version__
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID

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


def test_scan_prints_the_meter_and_the_lines_to_pin_it(tmp_path: Path) -> None:
    with simulator(tmp_path, "bp35c2", "--time-scale", "0.05") as (link, _truth, _sim):
        p = run("scan", "-device", str(link), env=CREDS)
    assert p.returncode == 0, p.stderr
    assert "SMARTMETER_CHANNEL=33" in p.stdout
    assert "SMARTMETER_IPADDR=FE80:0000:0000:0000:021C:6400:030C:12A4" in p.stdout
    assert "ours" in p.stdout
    assert DEMO_PASSWORD not in p.stdout + p.stderr


def test_read_dumps_every_property_as_json(tmp_path: Path) -> None:
    extra = ["--time-scale", "0.05", "--no-coefficient"]
    with simulator(tmp_path, "rl7023-ips", *extra) as (link, truth_file, sim):
        p = run("read", "--json", "-device", str(link), env=CREDS)
        truth = sim_truth(truth_file)
    assert p.returncode == 0, p.stderr
    rows = {row["epc"]: row for row in json.loads(p.stdout)}
    assert rows["0xE7"]["value"].startswith(str(truth["power_watts"]))
    assert rows["0xD3"]["value"] == "(not available)"  # Get_SNA: coefficient 1
    assert "0xE1" in rows
    assert truth["skterm_seen"] is True or sim.poll() is None
