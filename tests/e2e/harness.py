"""Run things as a user does: the installed CLI as subprocesses, a real pty, real HTTP.

Every wait polls with a deadline; every process is stopped in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests import support
from tests.support import CLI, Key, cli_env, close_pipes, free_port, key, samples, stop
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, step: float = 0.05) -> T:
    """:func:`tests.support.wait_for`, with HTTP errors (the exporter not serving yet) retried."""
    retry = (httpx.HTTPError, OSError, ValueError)
    return support.wait_for(what, probe, timeout, step, retry=retry)


@contextlib.contextmanager
def simulator(
    tmp: Path, model: str, *extra: str
) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    link = tmp / f"tty-{model}"
    state = tmp / f"sim-{model}.json"
    argv = [*CLI, "simulate", "--model", model, "--link", str(link), "--state-json", str(state)]
    proc = subprocess.Popen(
        [*argv, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "pty: ..." or "device: ..."
        wait_for("the simulator's pty", lambda: link.exists() or None, 10)
        assert line, proc.stderr.read() if proc.stderr else "simulator printed nothing"
        yield link, state, proc
    finally:
        stop(proc)
        close_pipes(proc)


@contextlib.contextmanager
def exporter(
    *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = port if port is not None else free_port()
    creds = {"SMARTMETER_ID": DEMO_RBID, "SMARTMETER_PASSWORD": DEMO_PASSWORD}
    proc = subprocess.Popen(
        [*CLI, "-port", str(port), "-listen-address", "127.0.0.1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(creds | (env or {})),
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop(proc, sig=signal.SIGKILL)
        close_pipes(proc)


def metrics(base: str) -> dict[Key, float]:
    # urllib, closing every answer: a 503 "starting" (the early listener) or a refused
    # connection must not leave a socket to the garbage collector (a ResourceWarning)
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=2) as r:
            return samples(r.read().decode())
    except urllib.error.HTTPError as exc:
        exc.close()
        raise OSError(f"/metrics answered {exc.code}") from None


def first_reading(base: str, timeout: float = 30) -> dict[Key, float]:
    def probe() -> dict[Key, float] | None:
        m = metrics(base)
        return m if key("smartmeter_power_watts") in m else None

    return wait_for("the first reading on /metrics", probe, timeout)


def sim_truth(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))
