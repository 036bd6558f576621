"""The layers of docs/architecture.md, enforced on the code's own imports.

The import rules are read from the page's drawing (``diagram_edges``), so the drawing and
the rules cannot drift apart: every import between folders is an arrow (or goes to the
core), every arrow an import that exists.
The core is sans-IO (no trio, no I/O, no logging, no clock) and its two protocol packages
never import each other; ``web.metrics`` renders at scrape time without trio; nothing
but the ``sim:`` device opener (and the ``simulate`` command) imports the simulator; no
EVENT number is written outside the core; no function is over 80 lines, no class over 400.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Final

import pytest

from trio_smartmeter.core.session import Event

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


LAYERS: Final = ("core", "link", "web", "service", "app", "cli", "sim")
LAYER: Final = r"\b(?:" + "|".join(LAYERS) + r")\b"
DOC = PACKAGE.parent / "docs" / "architecture.md"


def diagram_edges(drawing: str) -> set[tuple[str, str]]:
    """The arrows of the layer drawing: ``a ──> b`` (``──> b, c`` for several); a row that
    starts with ``├``/``└`` leaves from the layer named above that column in the first
    row, and a ``┘`` arrives at the layer above its column."""
    rows = drawing.splitlines()
    above = {m.start() + i: m[0] for m in re.finditer(LAYER, rows[0]) for i in range(len(m[0]))}
    edges: set[tuple[str, str]] = set()
    for row in rows:
        for arrow in re.finditer(r"─+>\s*((?:\w+)(?:,\s*\w+)*)", row):
            before = row[: arrow.start()]
            named = re.findall(LAYER, before)
            fork = max(before.rfind("└"), before.rfind("├"))
            source = named[-1] if named else above[fork]
            edges.update((source, target.strip()) for target in arrow[1].split(","))
        for corner in re.finditer("┘", row):
            edges.add((re.findall(LAYER, row[: corner.start()])[-1], above[corner.start()]))
    return edges


def layer_drawing() -> str:
    """The first code block under the page's "## The layers"."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## The layers") :]
    return section.split("```")[1].strip("\n")


DRAWN: Final = diagram_edges(layer_drawing())
#: Which folders each folder may import: itself, the core, and what the drawing shows.
ALLOWED: Final = {
    layer: {layer, "core"} | {b for a, b in DRAWN if a == layer and b != "sim"} for layer in LAYERS
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


def import_edges() -> dict[tuple[str, str], list[str]]:
    """Every folder → folder import there is, with the modules that make it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in package_files():
        rel = path.relative_to(PACKAGE).as_posix()
        folder = rel.split("/")[0]
        for name in imported_modules(path):
            parts = name.split(".")
            inside = parts[0] == "trio_smartmeter" and len(parts) > 1
            if inside and parts[1] in LAYERS and parts[1] != folder:
                edges.setdefault((folder, parts[1]), []).append(rel)
    return edges


def test_the_drawing_is_read_as_drawn() -> None:
    drawing = """\
cli  ──>  app  ──>  link
 │         └──> web, core
 └──> link ─────────┘"""
    assert diagram_edges(drawing) == {
        ("cli", "app"),
        ("app", "link"),
        ("app", "web"),
        ("app", "core"),
        ("cli", "link"),
        ("link", "link"),
    }


def test_every_arrow_drawn_is_an_import_that_exists() -> None:
    """The other half (every import is drawn) is ``test_dependencies_point_inward``."""
    assert DRAWN - set(import_edges()) == set()
    assert {edge for edge in import_edges() if edge[1] != "core"} - DRAWN == set()


#: What an EVENT number looks like in code that acts on one: an EVENT's value (0x29, or
#: 29 misread as decimal) compared with, indexing or passed with something named for
#: events or a message's ``.code`` (``m.code == 0x29``, ``module_events[0x24]``,
#: ``count_module_event(36)``), or a protocol line (``"EVENT 29"``). Prose that names an
#: EVENT for a reader (docstrings, comments, messages, HELP texts) is not matched, nor
#: other codes (``exc.code == 401``, a FAIL ER10).
EVENTISH: Final = re.compile(r"event|\.code\b", re.IGNORECASE)
EVENT_VALUES: Final = frozenset(e.value for e in Event) | {int(f"{e.value:X}") for e in Event}
EVENT_LINE: Final = re.compile(r"^EVENT ?[0-9A-F]{1,2}\b")


def _ints(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in EVENT_VALUES and not isinstance(node.value, bool)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_ints(e) for e in node.elts)
    return False


def event_numbers(source: str) -> list[int]:
    """Lines of ``source`` that write an EVENT number (see ``EVENTISH``)."""
    tree = ast.parse(source)
    found = set()

    def eventish(node: ast.AST) -> bool:
        return bool(EVENTISH.search(ast.unparse(node)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_ints(a) and any(eventish(b) for b in sides if b is not a) for a in sides):
                found.add(node.lineno)
        elif isinstance(node, ast.Subscript):
            if _ints(node.slice) and eventish(node.value):
                found.add(node.lineno)
        elif isinstance(node, ast.Call):
            if eventish(node.func) and any(_ints(a) for a in node.args):
                found.add(node.lineno)
        elif isinstance(node, ast.Assign):
            if _ints(node.value) and any(eventish(t) for t in node.targets):
                found.add(node.lineno)
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            codes = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(codes) == len(node.elts) >= 2 and set(codes) <= set(Event):
                found.add(node.lineno)  # a set of EVENTs kept beside core/session's
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update([node.lineno] if EVENT_LINE.match(node.value) else [])
    return sorted(found)


def test_the_event_number_finder_finds_what_it_should() -> None:
    code = """\
if m.code == 0x29: pass
if event.code in (0x26, 0x27): pass
state.module_events[0x24] += 1
state.count_module_event(36)
if line.startswith("EVENT 25"): pass
if m.code == Event.EXPIRED: pass
raise JoinFailed(f"the meter rejected it (EVENT {m.code:02X})")
x = "the session expired (EVENT 29)"
if len(found) == 0x29: pass
if exc.code == 10: pass
events = (0x24, 0x25)
_ENDS = frozenset({0x26, 0x27})
CHANNELS = (0x21, 0x3C)
"""
    assert event_numbers(code) == [1, 2, 3, 4, 5, 11, 12]


@pytest.mark.parametrize(
    "path",
    [p for p in package_files() if p.relative_to(PACKAGE).parts[0] not in ("core", "sim")],
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_event_numbers_are_written_only_in_the_core(path: Path) -> None:
    """``core/session.Event`` names them; the simulator is the module and speaks them."""
    assert event_numbers(path.read_text(encoding="utf-8")) == []


#: The two classes the size rule exempts: the simulated meter (its whole object model) and
#: the SKSTACK decoder (one state machine).
LARGE_CLASSES: Final = {("sim/meter.py", "Meter"), ("core/skstack/_decoder.py", "Decoder")}


def test_no_function_over_80_lines_and_no_class_over_400() -> None:
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            assert node.end_lineno is not None if isinstance(node, ast.stmt) else True
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                limit = 80
            elif isinstance(node, ast.ClassDef) and (rel, node.name) not in LARGE_CLASSES:
                limit = 400
            else:
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                too_long.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    assert too_long == []


#: Waits that are periods, not deadlines: paho's keep-alive bookkeeping (a quarter of
#: MQTT's keep-alive).
PERIODS: Final = {("service/mqtt.py", "MISC_EVERY")}
WAITS: Final = ("move_on_after", "fail_after", "sleep", "move_on_at", "fail_at", "sleep_until")


def test_every_wait_takes_its_seconds_from_timing_or_the_ladder() -> None:
    """No number and no module constant of its own in a trio wait: its seconds come from
    ``Timing`` (link/timing.py), the ladder (core/recovery.py) or the poll schedule. The
    simulator's waits are the simulated module's own time."""
    own = []
    for path in package_files():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("sim/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func).endswith(WAITS)):
                continue
            for arg in node.args:
                for leaf in ast.walk(arg):
                    number = isinstance(leaf, ast.Constant) and isinstance(leaf.value, int | float)
                    constant = isinstance(leaf, ast.Name) and leaf.id.isupper()
                    if (number or constant) and (rel, getattr(leaf, "id", None)) not in PERIODS:
                        own.append(f"{rel}:{node.lineno} {ast.unparse(node)}")
    assert own == []
