"""The messages a user acts on, in the locale's language, from the installed command.

Each case runs ``trio-smartmeter`` as a process under ``LANG=ja_JP.UTF-8`` and ``LANG=C``
and expects the catalog's Japanese or the English source, naming the same fix
(``SMARTMETER_ID``, ``-device``...), with the documented exit status.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.i18n import ROOT, read_catalog
from tests.support import CLI, cli_env, free_port
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID

from .harness import simulator

JA_PO = ROOT / "trio_smartmeter" / "locale" / "ja" / "LC_MESSAGES" / "trio_smartmeter.po"
CREDS = {"SMARTMETER_ID": DEMO_RBID, "SMARTMETER_PASSWORD": DEMO_PASSWORD}
JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
LANGS = ("ja_JP.UTF-8", "C")


def in_language(lang: str) -> Callable[[str], str]:
    """The ``_()`` the process should use under ``lang``: the catalog's, or the source."""
    if lang == "C":
        return lambda msgid: msgid
    catalog = read_catalog(JA_PO)

    def translated(msgid: str) -> str:
        entry = catalog.get(msgid)
        assert entry is not None and entry.string, f"not in the catalog: {msgid!r}"
        return str(entry.string)

    return translated


def run(
    lang: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in cli_env(env).items() if not k.startswith(("LC_", "LANG"))}
    return subprocess.run(
        [*CLI, *args],
        env=base | {"LANG": lang},
        capture_output=True,
        text=True,
        timeout=30,
    )


def assert_language(lang: str, text: str) -> None:
    assert bool(JAPANESE.search(text)) is (lang != "C"), text


@pytest.mark.parametrize("lang", LANGS)
def test_a_too_short_interval(lang: str) -> None:
    _ = in_language(lang)
    done = run(lang, "-interval", "5", env=CREDS)
    assert done.returncode == 2, done.stderr
    where = _("flag -{flag} ({env})").format(flag="interval", env="SMARTMETER_INTERVAL")
    expected = _("a whole number of seconds >= {minimum}").format(minimum=10)
    line = _("{where}: invalid value {shown}; expected {expected}").format(
        where=where, shown="'5'", expected=expected
    )
    assert done.stderr.splitlines() == [
        f"trio-smartmeter: {line}",
        _("{prog}: see --help for every option").format(prog="trio-smartmeter"),
    ]
    assert_language(lang, done.stderr)
    assert "SMARTMETER_INTERVAL" in done.stderr and "-interval" in done.stderr


@pytest.mark.parametrize("lang", LANGS)
def test_a_missing_id(lang: str) -> None:
    _ = in_language(lang)
    done = run(lang, env={"SMARTMETER_PASSWORD": DEMO_PASSWORD})
    assert done.returncode == 2, done.stderr
    line = _(
        "{where}: required but not set; expected the {what} ({length} printable ASCII characters)"
    ).format(
        where=_("{env} (flag -{flag})").format(env="SMARTMETER_ID", flag="id"),
        what=_("B-route ID"),
        length=32,
    )
    assert f"trio-smartmeter: {line}" in done.stderr.splitlines()
    assert_language(lang, done.stderr)
    assert "SMARTMETER_ID" in line


@pytest.mark.parametrize("lang", LANGS)
def test_an_unknown_variable(lang: str) -> None:
    _ = in_language(lang)
    done = run(lang, env=CREDS | {"SMARTMETER_INTERVALL": "30"})
    assert done.returncode == 2, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "SMARTMETER_INTERVALL" in x]
    prefix = _("unknown variable {key}: known variables are {known}").split("{known}")[0]
    assert line.startswith("trio-smartmeter: " + prefix.format(key="SMARTMETER_INTERVALL"))
    assert "SMARTMETER_INTERVAL," in line  # the spelling it meant, among the known ones
    assert_language(lang, line)


@pytest.mark.parametrize("lang", LANGS)
def test_help(lang: str) -> None:
    _ = in_language(lang)
    done = run(lang, "--help")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == _("usage: {prog} [command] [options]").format(prog="trio-smartmeter")
    assert _("show this help and exit") in done.stdout
    assert "SMARTMETER_ID" in done.stdout and "-web-config-file" in done.stdout
    assert_language(lang, done.stdout)


@pytest.mark.parametrize("lang", LANGS)
def test_a_subcommand_help_and_argparse_own_words(lang: str) -> None:
    """argparse's "usage:", "options:" and errors come from our catalog too."""
    _ = in_language(lang)
    done = run(lang, "history", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(_("usage: ") + "trio-smartmeter history")
    assert _("options") + ":" in done.stdout.splitlines()
    assert _("RFC 3339 or Unix time (default: now)") in done.stdout
    bad = run(lang, "history", "--format", "xml")
    assert bad.returncode == 2
    assert bad.stderr.startswith(
        "trio-smartmeter history: " + _("argument %(argument_name)s: %(message)s").split("%")[0]
    )
    assert_language(lang, bad.stderr)


@pytest.mark.parametrize("lang", LANGS)
def test_a_missing_device(lang: str, tmp_path: Path) -> None:
    _ = in_language(lang)
    device = tmp_path / "ttyUSB9"
    done = run(lang, "read", "-device", str(device), env=CREDS)
    assert done.returncode == 1, done.stderr
    reason = _(
        "{device} does not exist: is the Wi-SUN stick plugged in? (try /dev/serial/by-id/...)"
    ).format(device=device)
    read_failed = _("read failed: {error}").format(error=reason)
    assert f"{read_failed}" in done.stderr.splitlines(), done.stderr
    assert_language(lang, read_failed)


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_a_device_another_process_holds(lang: str, tmp_path: Path) -> None:
    """The set-up of test_exporter_pty's device-in-use test: exit 1, one line, the fix."""
    _ = in_language(lang)
    with simulator(tmp_path, "bp35a1") as (link, _truth, _sim):
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what the first exporter holds
            done = run(lang, "-device", str(link), "-port", str(free_port()), env=CREDS)
        finally:
            os.close(fd)
    assert done.returncode == 1, done.stderr
    line = _(
        "{device} is in use by {holder} (it holds the exclusive lock):"
        " stop that program, or point -device at another stick"
    ).format(device=link, holder=f"pid {os.getpid()}")
    assert f"trio-smartmeter: {line}" in done.stderr.splitlines(), done.stderr
    assert_language(lang, line)
