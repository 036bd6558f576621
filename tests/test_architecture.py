"""The layers of docs/architecture.md, enforced on the code's own imports.

```
cli  ──>  app  ──>  service  ──>  link  ──>  core
 │         └──────> web ─────────────────────┘       sim ──> core
 └──> web, link (the CLI's option parsing and tools)
```
The core is sans-IO (no trio, no I/O, no logging, no clock) and its two protocol packages
never import each other; ``web.metrics`` renders at scrape time without trio; nothing
but the ``sim:`` device opener (and the ``simulate`` command) imports the simulator.
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
    return sorted((PACKAGE / "core").rglob("*.py"))


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
        "from trio_smartmeter.cli import entry as cli; from trio_smartmeter.app import root; from trio_smartmeter.service import settings; from trio_smartmeter.cli import log; from trio_smartmeter.web import router\n"
        "cfg = cli.parse(['-device', '/dev/ttyACM0'], {'SMARTMETER_ID': '0' * 32,"
        " 'SMARTMETER_PASSWORD': 'x' * 12})\n"
        "settings.settings_from_config(cfg)\n"
        "bad = sorted(m for m in ('pytest', 'trio.testing', 'trio_smartmeter.sim') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


#: Which folders each folder may import (besides itself and the standard library).
ALLOWED = {
    "core": {"core"},
    "link": {"core", "link"},
    "web": {"core", "web"},
    "service": {"core", "link", "service"},
    "app": {"core", "link", "service", "web", "app"},
    "cli": {"core", "link", "service", "web", "app", "cli"},
    "sim": {"core", "sim"},
}
#: The only modules that may import the simulator.
SIM_IMPORTERS = {"cli/simulator.py", "cli/entry.py"}


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def folders_imported(path: Path) -> set[str]:
    out = set()
    for name in imported_modules(path):
        parts = name.split(".")
        if parts[0] == "trio_smartmeter" and len(parts) > 1 and parts[1] in ALLOWED:
            out.add(parts[1])
    return out


@pytest.mark.parametrize("path", package_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_dependencies_point_inward(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    folder = rel.split("/")[0]
    allowed = ALLOWED[folder] | ({"sim"} if rel in SIM_IMPORTERS else set())
    bad = folders_imported(path) - allowed
    assert not bad, (
        f"{rel} imports {sorted(bad)}: docs/architecture.md says {folder} -> {sorted(ALLOWED[folder])}"
    )


def test_every_module_is_in_a_layer() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "_version.py", "i18n.py"]
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted({*ALLOWED, "deploy", "locale"})


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_core_marks_messages_and_never_translates(path: Path) -> None:
    """Looking up a catalog reads files and the locale: the edges translate what the core
    marks with ``core.translatable.N_``."""
    assert "trio_smartmeter.i18n" not in imported_modules(path)


def test_metrics_renders_without_trio() -> None:
    bad = {n for n in imported_modules(PACKAGE / "web" / "metrics.py") if n.split(".")[0] == "trio"}
    assert not bad


def test_the_architecture_page_names_every_module() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parent == Path(".") or rel.name == "__init__.py" or rel.name == "__main__.py":
            continue
        folder = rel.parts[0]
        name = rel.as_posix()
        # the protocol packages' private modules are named inside their package's row
        if folder == "core" and rel.parts[1] in ("skstack", "echonet"):
            name = rel.name
        if name not in doc:
            missing.append(rel.as_posix())
    assert not missing, f"docs/architecture.md does not name {missing}"
