"""The release artefacts as the release workflow makes them: ``python -m build`` (the sdist,
then the wheel built from it) and ``twine check``; the wheel carries every packaged data
file (the deployment files, the status page, the gettext catalogs once there are any)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from .systemd_container import ROOT

pytestmark = pytest.mark.slow


def package_data_files() -> set[str]:
    """Every file of the checkout that pyproject.toml's package-data globs name."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["trio_smartmeter"]
    package = ROOT / "trio_smartmeter"
    found = {str(p.relative_to(ROOT)) for g in globs for p in package.glob(g) if p.is_file()}
    return {f for f in found if "__pycache__" not in f}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("build", "twine"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_twine_check_passes(dist: Path) -> None:
    artefacts = sorted(str(p) for p in dist.iterdir())
    assert len(artefacts) == 2, artefacts
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *artefacts],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_wheel_carries_every_data_file(dist: Path) -> None:
    (wheel,) = dist.glob("trio_smartmeter-*-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = package_data_files()
    assert "trio_smartmeter/deploy/trio-smartmeter.service" in data
    assert "trio_smartmeter/deploy/compose.yaml" in data
    assert data <= names, sorted(data - names)
    catalogs = {f for f in data if f.endswith(".po")}
    assert catalogs, "no gettext catalog under trio_smartmeter/locale"
    assert {f.removesuffix(".po") + ".mo" for f in catalogs} <= names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text


def test_the_sdist_carries_the_tests_and_the_containerfile(dist: Path) -> None:
    (sdist,) = dist.glob("trio_smartmeter-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.partition("/")[2] for n in tar.getnames()}
    for wanted in (
        "Containerfile",
        "scripts/test",
        "tests/install/test_systemd_unit.py",
        "LICENSE",
    ):
        assert wanted in names, wanted
    assert not [n for n in names if "__pycache__" in n]
