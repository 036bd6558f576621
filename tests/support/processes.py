"""Running the installed CLI as a user does: a clean environment, polling with a deadline,
and a stop that always leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
CLI = [sys.executable, "-m", "trio_smartmeter"]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the user's ``SMARTMETER_*`` settings, with a fresh state
    directory (a test never reads or writes the user's own state file), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMETER_")}
    env["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="smartmeter-state-")
    return env | (extra or {})


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    step: float = 0.05,
    retry: tuple[type[BaseException], ...] = (OSError, ValueError),
) -> T:
    """Call ``probe`` until it returns something other than None (``retry`` errors count
    as None: a server not listening yet); fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except retry as exc:
            last_exc = exc
            result = None
        if result is not None:
            return result
        time.sleep(step)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last error: {last_exc!r})"
    )


def stop(proc: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, group: bool = False) -> None:
    """End ``proc`` if it still runs: ``sig``, then SIGKILL after 5 s.

    ``group`` signals its whole process group (for ``start_new_session=True``, so the
    children of a shell or of prometheus go too).
    """
    if proc.poll() is not None:
        return

    def send(s: int) -> None:
        try:
            if group:
                os.killpg(proc.pid, s)
            else:
                proc.send_signal(s)
        except ProcessLookupError:
            pass

    send(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(timeout=5)


def close_pipes(proc: subprocess.Popen[Any]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
