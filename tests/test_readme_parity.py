"""README.md and README.ja.md say the same things, and say all of them.

Both name the same ``SMARTMETER_*`` variables, flags, metric names, subcommands and
endpoints, and put the same two set-up commands on their first screen; both tables list
every variable the option table accepts and every metric the exporter can expose.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from trio_smartmeter.cli.options import OPTIONS
from trio_smartmeter.web.history import FAMILIES
from trio_smartmeter.web.metrics import METRICS

ROOT = Path(__file__).resolve().parent.parent
READMES = ("README.md", "README.ja.md")
SETUP_COMMANDS = ["scripts/demo", "scripts/test"]


def variables(text: str) -> set[str]:
    return set(re.findall(r"\bSMARTMETER_[A-Z0-9_]*[A-Z0-9]\b", text))


def flags(text: str) -> set[str]:
    """``-interval``, ``--demo``, ``--storage.tsdb.path``: a dash after a space, a backtick
    or an opening bracket (not inside a word, a path or a URL)."""
    return set(re.findall(r"(?:(?<=[\s`(\[])|^)--?[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)*", text, re.M))


def metrics(text: str) -> set[str]:
    return set(re.findall(r"\bsmartmeter_[a-z0-9_]*[a-z0-9]\b", text))


def subcommands(text: str) -> set[str]:
    return set(re.findall(r"\btrio-smartmeter ([a-z][a-z-]*[a-z])\b", text))


def endpoints(text: str) -> set[str]:
    return set(re.findall(r"(/metrics|/-/[a-z]+|/api/[a-z]+)\b", text))


def first_screen_commands(text: str) -> list[str]:
    """The commands of the code blocks before the first ``##`` section."""
    screen = text.split("\n## ", 1)[0]
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", screen, re.M | re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


EXTRACTORS: dict[str, Callable[[str], set[str]]] = {
    "variables": variables,
    "flags": flags,
    "metrics": metrics,
    "subcommands": subcommands,
    "endpoints": endpoints,
}


def read(name: str, root: Path = ROOT) -> str:
    return (root / name).read_text(encoding="utf-8")


def differences(english: str, japanese: str) -> dict[str, tuple[list[str], list[str]]]:
    """What each README names that the other does not, per kind."""
    out = {}
    for kind, extract in EXTRACTORS.items():
        en, ja = extract(english), extract(japanese)
        if en != ja:
            out[kind] = (sorted(en - ja), sorted(ja - en))
    return out


def test_the_extractors_find_what_the_readme_names() -> None:
    text = read("README.md")
    assert {"SMARTMETER_ID", "SMARTMETER_WEB_CONFIG_FILE"} <= variables(text)
    assert {"-interval", "--demo", "-web-config-file", "--since"} <= flags(text)
    assert {"smartmeter_power_watts", "smartmeter_up"} <= metrics(text)
    assert {"scan", "read", "history", "deploy-files"} <= subcommands(text)
    assert {"/metrics", "/-/healthy", "/-/ready", "/api/status", "/api/history"} <= endpoints(text)


def test_both_readmes_name_the_same_things() -> None:
    assert differences(read("README.md"), read("README.ja.md")) == {}, (
        "(only in README.md, only in README.ja.md) per kind"
    )


@pytest.mark.parametrize("name", READMES)
def test_the_first_screen_has_the_two_setup_commands(name: str) -> None:
    assert first_screen_commands(read(name)) == SETUP_COMMANDS


@pytest.mark.parametrize("name", READMES)
def test_each_readme_links_the_other_on_its_first_line(name: str) -> None:
    other = READMES[1 - READMES.index(name)]
    assert f"]({other})" in read(name).splitlines()[0]


def test_a_variable_removed_from_the_japanese_readme_fails_parity(tmp_path: Path) -> None:
    japanese = read("README.ja.md")
    row = next(line for line in japanese.splitlines() if "`SMARTMETER_DEMO`" in line)
    copy = tmp_path / "README.ja.md"
    copy.write_text(japanese.replace(row + "\n", ""), encoding="utf-8")
    found = differences(read("README.md"), read("README.ja.md", tmp_path))
    assert found["variables"] == (["SMARTMETER_DEMO"], [])


def test_a_setup_command_added_to_one_first_screen_fails(tmp_path: Path) -> None:
    text = read("README.ja.md").replace("scripts/test ", "scripts/bench\nscripts/test ", 1)
    assert first_screen_commands(text) != SETUP_COMMANDS


def exposed_metrics() -> set[str]:
    """Every family name the exporter can serve: /metrics (METRICS, with the suffixes the
    exposition adds) and /api/history?format=openmetrics."""
    suffix = {"counter": "_total", "info": "_info"}
    names = {d.name + suffix.get(d.type, "") for d in METRICS}
    return names | {family for family, *_ in FAMILIES}


@pytest.mark.parametrize("name", READMES)
def test_the_readme_lists_every_metric_and_variable(name: str) -> None:
    text = read(name)
    assert sorted(exposed_metrics() - metrics(text)) == [], "missing from the metric table"
    assert sorted({o.env for o in OPTIONS} - variables(text)) == [], "missing from the table"
