"""One demo exporter subprocess for the whole session (``python -m trio_smartmeter --demo``).

Loopback only. Every wait polls with a deadline; the subprocess is killed in a ``finally``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import CLI, cli_env, free_port, stop, value, wait_for

from .helpers import DemoExporter, http_get

DEMO_START_DEADLINE = 45.0


@pytest.fixture(scope="session")
def demo_exporter() -> Iterator[DemoExporter]:
    """``python -m trio_smartmeter --demo`` on a free loopback port, with a first reading.

    Skips (with the exporter's last output) when the demo cannot run at all: the process
    exits before it serves. Fails when it serves but gives no power reading in time.
    """
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="smartmeter-demo-"))
    log = tmp / "exporter.log"
    env = cli_env({"SMARTMETER_STATE_FILE": str(tmp / "state.json")})
    argv = [
        *CLI,
        "--demo",
        "--port",
        str(port),
        "--interval",
        "10",
        "--listen-address",
        "127.0.0.1",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp,
            start_new_session=True,
        )
    exporter = DemoExporter(port, proc, log)
    served: list[bool] = []

    def reading() -> bool | None:
        if proc.poll() is not None:
            msg = (
                f"`trio-smartmeter --demo` cannot run yet (exit {proc.returncode}): "
                + exporter.log_tail(3).replace("\n", " | ")
            )
            print(f"SKIP: {msg}")
            pytest.skip(msg)
        status, body = http_get(exporter.base + "/metrics")
        if status != 200:  # 503 "starting" from the early listener
            return None
        served[:] = [True]
        return True if value(body, "smartmeter_power_watts") is not None else None

    try:
        try:
            wait_for("the demo's first reading", reading, DEMO_START_DEADLINE, step=0.2)
        except AssertionError:
            pytest.fail(
                f"demo exporter gave no smartmeter_power_watts within {DEMO_START_DEADLINE:.0f} s "
                f"(HTTP served: {bool(served)}); log:\n{exporter.log_tail()}"
            )
        yield exporter
    finally:
        stop(proc, group=True)
        shutil.rmtree(tmp, ignore_errors=True)
