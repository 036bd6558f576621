"""compose.yaml does what .env says, as ``podman-compose config`` (and ``docker compose
config`` where the docker CLI has its compose plugin) resolve it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .systemd_container import ROOT

DEPLOY = ROOT / "trio_smartmeter" / "deploy"


def compose_commands() -> list[list[str]]:
    found = []
    here = Path(sys.executable).parent / "podman-compose"  # the test extra, in the venv
    podman_compose = str(here) if here.exists() else shutil.which("podman-compose")
    if podman_compose:
        found.append([podman_compose])
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            found.append([docker, "compose"])
    return found


def project(tmp_path: Path, **settings: str) -> Path:
    """compose.yaml and a .env from env.example with ``settings`` filled in."""
    (tmp_path / "compose.yaml").write_text((DEPLOY / "compose.yaml").read_text())
    lines = []
    for line in (DEPLOY / "env.example").read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={settings.pop(name)}" if name in settings else line)
    assert not settings, f"not in env.example: {settings}"
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    return tmp_path


def resolved(command: list[str], where: Path) -> dict[str, object]:
    proc = subprocess.run(
        [*command, "config"], cwd=where, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = yaml.safe_load(proc.stdout)
    service: dict[str, object] = config["services"]["trio-smartmeter"]
    return service


def test_no_environment_block_overrides_the_env_file() -> None:
    service = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["trio-smartmeter"]
    assert "environment" not in service
    assert service["env_file"] == ".env"
    assert service["image"].startswith("ghcr.io/trio-smartmeter/trio-smartmeter:")
    assert "build" not in service  # commented: a pipx user printing it has no Containerfile


@pytest.mark.parametrize(
    ("settings", "device", "port"),
    [
        ({"SMARTMETER_DEVICE": "/dev/ttyUSB0", "SMARTMETER_PORT": "9200"}, "/dev/ttyUSB0", "9200"),
        ({}, "/dev/ttyACM0", "9102"),
    ],
    ids=["from-env", "defaults"],
)
def test_compose_takes_the_device_and_port_from_env(
    tmp_path: Path, settings: dict[str, str], device: str, port: str
) -> None:
    commands = compose_commands()
    if not commands:
        pytest.skip("neither podman-compose nor docker compose is installed")
    where = project(tmp_path, **settings)
    for command in commands:
        service = resolved(command, where)
        devices = mappings(service["devices"], "source", "target")
        assert devices == [f"{device}:{device}"], (command, service)
        ports = [
            p.removeprefix("0.0.0.0:") for p in mappings(service["ports"], "published", "target")
        ]
        assert ports == [f"{port}:{port}"], (command, service)
        assert service["group_add"] == ["dialout"], command


def mappings(items: object, outside: str, inside: str) -> list[str]:
    """``outside:inside`` from compose's short (string) or long (mapping) syntax."""
    assert isinstance(items, list)
    return [i if isinstance(i, str) else f"{i[outside]}:{i[inside]}" for i in items]
