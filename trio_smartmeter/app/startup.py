"""The start-up latency trick, whole: the port answers before trio and the HTTP stack load.

On a Pi Zero, importing trio and hypercorn takes seconds; a service manager or a container
health check asking ``/-/healthy`` meanwhile would see a refused connection. So:

1. the CLI binds the listening sockets first (every ``-listen-address``), with the standard
   library only, or takes the ones systemd passed (``-web-systemd-socket``), into an
   :class:`EarlyListener`; a small thread answers ``/-/healthy`` and everything else
   (503, retry in a second) until hypercorn takes the same sockets over (``fd://``);
2. the root starts the link stack first (the module's reset and join take seconds on the
   radio) and meanwhile imports the HTTP stack (hypercorn, prometheus_client) in a worker
   thread (:func:`import_http_stack`).

Socket activation opens the port before the interpreter starts (the kernel queues the
connections), but an answer still has to wait for the app: the stand-in gives one as soon
as this module is imported, with socket activation or without (a container, ``pipx run``).

The stand-in's ``/-/healthy`` is 200 only while the start-up progresses: each step the
root takes is a :meth:`EarlyListener.progress`; one that has not moved on within
:data:`STEP_DEADLINE` (a state path that is a FIFO blocks its open for good) turns it into
503 with the step it is stuck at, so a container's HEALTHCHECK or systemd sees a service
that will never read the meter. Nothing is parsed beyond the request line; a connection
gets one answer and is closed.

No stand-in with a web configuration file (``stand_in=False``): its TLS and its users
protect ``/-/healthy`` too; the sockets are still held, connections wait in the backlog.
Standard library (and attrs) only: this module is imported before trio.
"""

from __future__ import annotations

import importlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Final

from trio_smartmeter.link.timing import Timing
from trio_smartmeter.web.listener import listening_socket

__all__ = ["STEP_DEADLINE", "EarlyListener", "import_http_stack"]

#: Longest a start-up step may take before the stand-in stops calling the process healthy.
STEP_DEADLINE: Final = Timing().startup_step


class EarlyListener:
    """The bound socket and its stand-in answerer, until :meth:`hand_over`."""

    def __init__(
        self,
        socks: list[socket.socket],
        *,
        stand_in: bool = True,
        step_deadline: float = STEP_DEADLINE,
    ) -> None:
        self.socks = socks
        self.step_deadline = step_deadline
        self._step = ("loading trio and the link stack", time.monotonic())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._answer, name="early-http", daemon=True)
        if stand_in:
            self._thread.start()

    @classmethod
    def bind(cls, addresses: Iterable[tuple[str, int]], *, stand_in: bool = True) -> EarlyListener:
        """Every ``(host, port)`` bound; none left open if one fails (BindError)."""
        socks: list[socket.socket] = []
        try:
            for host, port in addresses:
                socks.append(listening_socket(host, port))
        except OSError:
            for sock in socks:
                sock.close()
            raise
        return cls(socks, stand_in=stand_in)

    def progress(self, step: str) -> None:
        """The start-up moved on to ``step`` (its deadline starts now)."""
        self._step = (step, time.monotonic())

    def stuck(self) -> str | None:
        """Why the start-up is not healthy; ``None`` while its current step is on time."""
        step, since = self._step
        waited = time.monotonic() - since
        if waited <= self.step_deadline:
            return None
        return f"start-up stuck for {waited:.0f} s at: {step}"

    def hand_over(self) -> list[int]:
        """Stop answering; the sockets' file descriptors, now hypercorn's (``fd://``)."""
        self._stop_answering()
        for sock in self.socks:
            sock.setblocking(False)
        return [sock.detach() for sock in self.socks]

    def close(self) -> None:
        """Stop answering and close the sockets, unless they were handed over."""
        self._stop_answering()
        for sock in self.socks:
            sock.close()

    def _stop_answering(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _answer(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select(self.socks, [], [], 0.05)
            for sock in ready:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                with conn:
                    _reply(conn, self.stuck)


def _reply(conn: socket.socket, stuck: Callable[[], str | None]) -> None:
    conn.settimeout(1.0)
    try:
        head = b""
        while b"\r\n" not in head and len(head) < 4096:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        path = parts[1] if len(parts) >= 2 else b""
        reason = stuck() if path == b"/-/healthy" else None
        if path == b"/-/healthy" and reason is None:
            status, body, extra = b"200 OK", b"Healthy\n", b""
        elif path == b"/-/healthy":
            status, body, extra = b"503 Service Unavailable", f"{reason}\n".encode(), b""
        else:
            status, body, extra = b"503 Service Unavailable", b"starting\n", b"Retry-After: 1\r\n"
        conn.sendall(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            + body
        )  # fmt: skip
    except OSError:
        pass


def import_http_stack() -> tuple[ModuleType, ModuleType, ModuleType]:
    """hypercorn (via ``web.server``), prometheus_client (via ``web.metrics``) and the router.

    Run in a worker thread while the link stack already talks to the module.
    """
    return (
        importlib.import_module("trio_smartmeter.web.server"),
        importlib.import_module("trio_smartmeter.web.metrics"),
        importlib.import_module("trio_smartmeter.web.router"),
    )
