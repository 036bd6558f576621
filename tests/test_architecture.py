"""Import-direction rules for the pure layers (docs/architecture.md, style.md §2.1).

Layer 0/1 modules are sans-IO: they never import trio, I/O, logging or the clock, and the
two protocol packages (skstack, echonet) never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "trio_smartmeter"

FORBIDDEN = frozenset(
    {
        "trio",
        "trio_serial",
        "hypercorn",
        "prometheus_client",
        "loguru",
        "logging",
        "socket",
        "time",
        "asyncio",
        "os",
    }
)


def pure_files() -> list[Path]:
    files = sorted((PACKAGE / "core" / "skstack").glob("*.py")) + sorted(
        (PACKAGE / "core" / "echonet").glob("*.py")
    )
    for name in ("secret.py", "recovery.py", "model.py", "state.py"):
        path = PACKAGE / "core" / name
        if path.exists():
            files.append(path)
    return files


def imported_modules(path: Path) -> set[str]:
    """Absolute dotted names of everything ``path`` imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from (also for __init__)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_pure_files_exist() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in pure_files()}
    assert "core/skstack/__init__.py" in names
    assert "core/secret.py" in names


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_pure_layers_import_no_io(path: Path) -> None:
    bad = {name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_skstack_and_echonet_do_not_import_each_other(path: Path) -> None:
    rel = path.relative_to(PACKAGE / "core").parts
    if rel[0] not in ("skstack", "echonet"):
        return
    other = "echonet" if rel[0] == "skstack" else "skstack"
    bad = {
        name
        for name in imported_modules(path)
        if name == f"trio_smartmeter.core.{other}"
        or name.startswith(f"trio_smartmeter.core.{other}.")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_import_walker_resolves_relative_imports() -> None:
    names = imported_modules(PACKAGE / "core" / "skstack" / "_commands.py")
    assert "trio_smartmeter.core.secret" in names
    assert "trio_smartmeter.core.skstack._dialect" in names


def test_the_service_on_a_real_device_imports_neither_the_simulator_nor_pytest() -> None:
    """trio.testing imports pytest wherever it is installed: +8 MB RSS and ~0.1 s per start."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trio_smartmeter.cli import entry as cli; from trio_smartmeter.service import app, settings; from trio_smartmeter.cli import log; from trio_smartmeter.web import router\n"
        "cfg = cli.parse(['-device', '/dev/ttyACM0'], {'SMARTMETER_ID': '0' * 32,"
        " 'SMARTMETER_PASSWORD': 'x' * 12})\n"
        "settings.settings_from_config(cfg)\n"
        "bad = sorted(m for m in ('pytest', 'trio.testing', 'trio_smartmeter.sim') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
