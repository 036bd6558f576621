"""Run things as a user does: the installed CLI as subprocesses, a real pty, real HTTP.

Every wait polls with a deadline; every process is killed in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID

T = TypeVar("T")
CLI = [sys.executable, "-m", "trio_smartmeter"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, step: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.HTTPError, OSError, ValueError) as exc:
            last_exc = exc
            value = None
        if value is not None:
            return value
        time.sleep(step)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last error: {last_exc!r})"
    )


def parse_metrics(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` for every sample line."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


@contextlib.contextmanager
def simulator(
    tmp: Path, model: str, *extra: str
) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    link = tmp / f"tty-{model}"
    state = tmp / f"sim-{model}.json"
    proc = subprocess.Popen(
        [
            *CLI,
            "simulate",
            "--model",
            model,
            "--link",
            str(link),
            "--state-json",
            str(state),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "pty: ..." or "device: ..."
        wait_for("the simulator's pty", lambda: link.exists() or None, 10)
        assert line, proc.stderr.read() if proc.stderr else "simulator printed nothing"
        yield link, state, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def exporter(
    *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = port if port is not None else free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMETER_")} | {
        "SMARTMETER_ID": DEMO_RBID,
        "SMARTMETER_PASSWORD": DEMO_PASSWORD,
        # never read or write the user's own state file
        "XDG_STATE_HOME": tempfile.mkdtemp(prefix="smartmeter-state-"),
    }
    full_env |= env or {}
    proc = subprocess.Popen(
        [*CLI, "-port", str(port), "-listen-address", "127.0.0.1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def metrics(base: str) -> dict[str, float]:
    r = httpx.get(f"{base}/metrics", timeout=2)
    r.raise_for_status()
    return parse_metrics(r.text)


def first_reading(base: str, timeout: float = 30) -> dict[str, float]:
    def probe() -> dict[str, float] | None:
        m = metrics(base)
        return m if "smartmeter_power_watts" in m else None

    return wait_for("the first reading on /metrics", probe, timeout)


def sim_truth(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))
