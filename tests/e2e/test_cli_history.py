"""``trio-smartmeter history`` against a live ``--demo`` exporter, as a user runs it.

With ``--url`` it must print what ``/api/history`` answers (JSON as it is, CSV made from
it, OpenMetrics passed through); without, it reads the running exporter's store file from
another process and must see the same slots.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import CLI, cli_env, free_port, stop, value, wait_for

pytestmark = pytest.mark.slow

START_DEADLINE = 45.0


class Demo:
    def __init__(self, port: int, state_file: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.state_file = state_file

    def get(self, path: str) -> str:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as answer:
                return str(answer.read().decode())
        except urllib.error.HTTPError as exc:  # e.g. 503 "starting": close it, retry later
            exc.close()
            raise OSError(f"{path} answered {exc.code}") from None


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    tmp = Path(tempfile.mkdtemp(prefix="smartmeter-history-"))
    port = free_port()
    env = cli_env({"SMARTMETER_STATE_FILE": str(tmp / "state.json")})
    argv = [*CLI, "--demo", "-port", str(port), "-listen-address", "127.0.0.1"]
    with (tmp / "exporter.log").open("wb") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    d = Demo(port, tmp / "state.json")
    try:

        def stored() -> bool | None:
            assert proc.poll() is None, (tmp / "exporter.log").read_text()[-2000:]
            slots = value(d.get("/metrics"), "smartmeter_history_slots")
            return True if slots else None

        wait_for("a half-hour in the demo's store", stored, START_DEADLINE, step=0.2)
        yield d
    finally:
        stop(proc, group=True)
        shutil.rmtree(tmp, ignore_errors=True)


def history(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "history", *args], capture_output=True, text=True, timeout=30, env=cli_env(env)
    )


def agreed(direct: Callable[[], str], cli: Callable[[], str]) -> tuple[str, str]:
    """(exporter's answer, CLI's output) of one state of the store: the exporter keeps
    filling it, so both are taken between two answers that agree."""
    for _ in range(5):
        before = direct()
        out = cli()
        if direct() == before:
            return before, out
    raise AssertionError("the store changed during every attempt")


def window() -> tuple[str, str, str]:
    until = time.time()
    since = until - 2 * 86400
    query = f"?since={since!r}&until={until!r}"
    return str(since), str(until), query


def cli_out(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return p.stdout


def test_url_json_is_the_exporters_answer(demo: Demo) -> None:
    since, until, query = window()
    direct, out = agreed(
        lambda: demo.get(f"/api/history{query}"),
        lambda: cli_out(history("--url", demo.base, "--since", since, "--until", until)),
    )
    doc: dict[str, Any] = json.loads(out)
    assert doc == json.loads(direct)
    assert doc["slots"], "the demo stored no half-hour"
    assert all(s["forward_raw"] is not None for s in doc["slots"])


def test_url_csv_and_openmetrics(demo: Demo) -> None:
    since, until, query = window()
    direct, out = agreed(
        lambda: demo.get(f"/api/history{query}"),
        lambda: cli_out(
            history("--url", demo.base, "--since", since, "--until", until, "--format", "csv")
        ),
    )
    slots = json.loads(direct)["slots"]
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["end_unix"]) for r in rows] == [s["end_unix"] for s in slots]
    assert [int(r["forward_raw"]) for r in rows] == [s["forward_raw"] for s in slots]

    direct, out = agreed(
        lambda: demo.get(f"/api/history{query}&format=openmetrics"),
        lambda: cli_out(
            history(
                "--url", demo.base, "--since", since, "--until", until, "--format", "openmetrics"
            )
        ),
    )
    assert out == direct
    assert out.endswith("# EOF\n")


def test_the_store_file_is_read_while_the_exporter_runs(demo: Demo) -> None:
    since, until, query = window()
    env = {"SMARTMETER_STATE_FILE": str(demo.state_file)}
    direct, out = agreed(
        lambda: demo.get(f"/api/history{query}"),
        lambda: cli_out(history("-demo", "--since", since, "--until", until, env=env)),
    )
    assert json.loads(out) == json.loads(direct)


def test_a_bad_since_is_exit_2_and_asks_nothing(demo: Demo) -> None:
    p = history("--url", demo.base, "--since", "last tuesday")
    assert p.returncode == 2
    assert p.stdout == ""
    assert "since" in p.stderr.splitlines()[0]
