"""The ports bound (or taken from systemd) before trio loads: /-/healthy answers at once,
then hypercorn takes over."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

from tests.support import free_port
from trio_smartmeter.app.startup import EarlyListener
from trio_smartmeter.web.listener import (
    ActivationError,
    PortInUseError,
    activated_sockets,
    listening_socket,
)


def ask(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data


def test_healthy_is_200_and_everything_else_503_starting() -> None:
    port = free_port()
    early = EarlyListener.bind([("127.0.0.1", port)])
    try:
        healthy = ask(port, "/-/healthy")
        assert healthy.startswith(b"HTTP/1.1 200 OK\r\n")
        assert healthy.endswith(b"\r\n\r\nHealthy\n")
        metrics = ask(port, "/metrics")
        assert metrics.startswith(b"HTTP/1.1 503 ")
        assert b"Retry-After: 1\r\n" in metrics
    finally:
        early.close()


def test_healthy_turns_503_with_the_step_when_a_step_overruns_its_deadline() -> None:
    """A start-up stuck (a FIFO as the state path blocks its open) is not called healthy."""
    port = free_port()
    early = EarlyListener([listening_socket("127.0.0.1", port)], step_deadline=0.3)
    try:
        early.progress("opening the history store")
        assert ask(port, "/-/healthy").startswith(b"HTTP/1.1 200 OK\r\n")
        limit = time.monotonic() + 5.0
        while (answer := ask(port, "/-/healthy")).startswith(b"HTTP/1.1 200"):
            assert time.monotonic() < limit, "still healthy long after the step's deadline"
            time.sleep(0.05)
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"start-up stuck for " in answer
        assert answer.endswith(b" s at: opening the history store\n")
        early.progress("importing the HTTP stack")  # progress again: healthy again
        assert ask(port, "/-/healthy").startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        early.close()


def test_the_socket_is_handed_over_listening() -> None:
    port = free_port()
    early = EarlyListener.bind([("127.0.0.1", port)])
    (fd,) = early.hand_over()
    sock = socket.socket(fileno=fd)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            conn, _ = sock.accept()  # nobody answered it: it waits for the new owner
            conn.close()
    finally:
        sock.close()
        early.close()  # a no-op on a handed-over socket


def test_a_busy_port_is_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(PortInUseError, match="already in use"):
            EarlyListener.bind([("127.0.0.1", busy.getsockname()[1])])


def test_the_stand_in_answers_on_every_socket() -> None:
    first, second = free_port(), free_port()
    early = EarlyListener.bind([("127.0.0.1", first), ("127.0.0.1", second)])
    try:
        for port in (first, second):
            assert ask(port, "/-/healthy").startswith(b"HTTP/1.1 200 OK\r\n")
        assert len(early.hand_over()) == 2
    finally:
        for sock in early.socks:
            sock.close()


def test_a_failed_second_bind_leaves_no_socket_open() -> None:
    free = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(PortInUseError):
            EarlyListener.bind([("127.0.0.1", free), ("127.0.0.1", busy.getsockname()[1])])
    with socket.socket() as again:  # the first address was let go
        again.bind(("127.0.0.1", free))


def test_no_stand_in_leaves_connections_waiting() -> None:
    """With a web configuration file: the port is held, nothing answers until hypercorn."""
    port = free_port()
    early = EarlyListener.bind([("127.0.0.1", port)], stand_in=False)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.settimeout(0.2)
            with pytest.raises(TimeoutError):
                conn.recv(1)
    finally:
        early.close()


def test_activation_variables_of_another_process_are_ignored_and_removed() -> None:
    environ = {"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x", "HOME": "/"}
    assert activated_sockets(environ) is None
    assert environ == {"HOME": "/"}  # no child of ours takes them for its own


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({}, "no sockets passed (LISTEN_FDS unset)"),
        ({"LISTEN_FDS": "two"}, "LISTEN_FDS='two' is not a number of sockets"),
        ({"LISTEN_FDS": "0"}, "LISTEN_FDS='0' is not a number of sockets"),
    ],
)
def test_unusable_activation_variables_say_what_is_wrong(
    environ: dict[str, str], says: str
) -> None:
    environ = environ | {"LISTEN_PID": str(os.getpid())}
    with pytest.raises(ActivationError, match=re.escape(says)):
        activated_sockets(environ)
