"""Where the exporter listens: several addresses at once, or the sockets systemd passes.

node_exporter users repeat ``--web.listen-address`` (IPv4 and IPv6) and run it with
``--web.systemd-socket``; both are met here as a user meets them: the CLI as a process,
real sockets on the loopback, a real ``systemd-socket-activate`` where installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import metrics, wait_for
from tests.support import CLI, cli_env, close_pipes, free_port, stop
from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID

CREDS = {"SMARTMETER_ID": DEMO_RBID, "SMARTMETER_PASSWORD": DEMO_PASSWORD}

#: What systemd does, for a test that needs it done wrong: fd ``argv[1]`` becomes fd 3,
#: LISTEN_FDS=1, LISTEN_PID this process (``self``) or the one given; then the exporter.
WRAPPER = """
import os, sys
fd, pid = int(sys.argv[1]), sys.argv[2]
if fd != 3:
    os.dup2(fd, 3)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid()) if pid == "self" else pid
os.execv(sys.executable, [sys.executable, "-m", "trio_smartmeter", *sys.argv[3:]])
"""


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def serving_metrics(base: str, timeout: float = 30) -> bool:
    """``/metrics`` answered by the app (200, the exporter's families), not the stand-in's 503."""
    found = wait_for(f"{base}/metrics", lambda: metrics(base) or None, timeout)
    return any(name.startswith("smartmeter_") for name, _labels in found)


def healthy(base: str) -> bytes | None:
    with urllib.request.urlopen(f"{base}/-/healthy", timeout=2) as r:
        return bytes(r.read()) if r.status == 200 else None


@contextlib.contextmanager
def running(argv: list[str], **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(  # type: ignore[call-overload]
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    try:
        yield proc
    finally:
        stop(proc, sig=signal.SIGKILL)
        close_pipes(proc)


def test_ipv4_and_ipv6_at_once_each_serve_metrics() -> None:
    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this host")
    port = free_port()
    argv = [*CLI, "--demo", "-port", str(port)]
    argv += ["-listen-address", "127.0.0.1", "-listen-address", f"[::1]:{port}"]
    with running(argv, env=cli_env(CREDS)):
        assert serving_metrics(f"http://127.0.0.1:{port}")
        assert serving_metrics(f"http://[::1]:{port}", timeout=5)


def test_the_variable_lists_addresses_comma_separated() -> None:
    port, other = free_port(), free_port()
    env = cli_env(CREDS | {"SMARTMETER_LISTEN_ADDRESS": f"127.0.0.1, 127.0.0.1:{other}"})
    with running([*CLI, "--demo", "-port", str(port)], env=env):
        assert serving_metrics(f"http://127.0.0.1:{port}")
        assert serving_metrics(f"http://127.0.0.1:{other}", timeout=5)


def _activated_env(tmp: Path) -> dict[str, str]:
    """What systemd-socket-activate passes on (it passes nothing it is not told to)."""
    return CREDS | {"XDG_STATE_HOME": str(tmp), "HOME": str(tmp), "SMARTMETER_DEMO": "true"}


def test_socket_activation_serves_metrics_and_healthy(tmp_path: Path) -> None:
    tool = shutil.which("systemd-socket-activate")
    port = free_port()
    env = _activated_env(tmp_path) | {"SMARTMETER_WEB_SYSTEMD_SOCKET": "true"}
    if tool is not None:  # it waits for the first connection, then execs the exporter
        setenv = [f"--setenv={k}={v}" for k, v in env.items()]
        argv = [tool, "-l", f"127.0.0.1:{port}", *setenv, *CLI]
        ctx = running(argv, env={"PATH": os.environ.get("PATH", "")})
    else:  # the same by hand: fd 3, LISTEN_FDS, LISTEN_PID
        listener = socket.create_server(("127.0.0.1", port))
        fd = listener.fileno()
        argv = [sys.executable, "-c", WRAPPER, str(fd), "self"]
        ctx = running(argv, env=cli_env(env), pass_fds=(fd,))
    with ctx:
        base = f"http://127.0.0.1:{port}"
        assert wait_for("/-/healthy", lambda: healthy(base), 30) == b"Healthy\n"
        assert serving_metrics(base)


def test_a_listen_pid_of_another_process_is_ignored(tmp_path: Path) -> None:
    """The variables a parent was given are not this process's sockets: it binds its own."""
    with socket.create_server(("127.0.0.1", 0)) as theirs:
        port = free_port()
        fd = theirs.fileno()
        argv = [sys.executable, "-c", WRAPPER, str(fd), "1", "-web-systemd-socket"]
        argv += ["-port", str(port), "-listen-address", "127.0.0.1"]
        with running(argv, env=cli_env(_activated_env(tmp_path)), pass_fds=(fd,)) as proc:
            assert serving_metrics(f"http://127.0.0.1:{port}")
            theirs.settimeout(0)
            with pytest.raises(BlockingIOError):
                theirs.accept()  # nobody answered on the other process's socket
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
    assert "LISTEN_PID is another process's" in err


@pytest.mark.parametrize(
    ("passed", "says"),
    [
        ("file", "socket activation: fd 3 is not a socket"),
        ("unset", "socket activation: no sockets passed (LISTEN_FDS unset)"),
    ],
)
def test_no_usable_socket_is_one_line_and_exit_2(tmp_path: Path, passed: str, says: str) -> None:
    env = cli_env(_activated_env(tmp_path))
    if passed == "file":
        with (tmp_path / "not-a-socket").open("w") as f:
            argv = [sys.executable, "-c", WRAPPER, str(f.fileno()), "self", "-web-systemd-socket"]
            done = subprocess.run(
                argv, env=env, pass_fds=(f.fileno(),), capture_output=True, text=True, timeout=60
            )
    else:
        argv = [*CLI, "-web-systemd-socket"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"trio-smartmeter: {says}")
