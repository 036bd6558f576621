"""The HTTP port, bound before Trio and the HTTP stack have loaded.

On a Pi Zero, importing trio and hypercorn takes seconds; a service manager or a container
health check asking ``/-/healthy`` meanwhile would see a refused connection. So the CLI
binds the listening socket first, with the standard library only, and a small thread
answers ``/-/healthy`` (200: the process is alive) and everything else (503, retry in a
second) until hypercorn takes the same socket over (``fd://``). Nothing is parsed beyond
the request line; a connection gets one answer and is closed.

Not used with a web configuration file: its TLS and its users protect ``/-/healthy`` too.
"""

from __future__ import annotations

import errno
import select
import socket
import threading

__all__ = ["BindError", "EarlyListener", "PortInUseError", "bind_address", "effective_host"]

#: Pending connections the kernel keeps (hypercorn's own setting).
BACKLOG = 64


class BindError(OSError):
    """The HTTP listener could not be opened (address not available, permission, ...)."""

    def __init__(self, host: str, port: int, reason: str, err: int | None = None) -> None:
        super().__init__(err or 0, f"cannot listen on {bind_address(host, port)}: {reason}")
        self.host = host
        self.port = port


class PortInUseError(BindError):
    """The HTTP port is already in use by another process."""

    def __init__(self, port: int, host: str = "::") -> None:
        super().__init__(
            host,
            port,
            f"port {port} is already in use (another exporter running? set -port)",
            errno.EADDRINUSE,
        )


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def effective_host(host: str) -> str:
    """``::`` on a host without IPv6 (some containers) falls back to ``0.0.0.0``."""
    if host != "::":
        return host
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::", 0))
    except OSError:
        return "0.0.0.0"
    return host


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound and listening as hypercorn binds (``[::]`` is dual-stack)."""
    host = effective_host(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise BindError(host, port, f"cannot resolve the address: {exc}", exc.errno) from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(addr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(port, host) from None
        raise BindError(host, port, exc.strerror or str(exc), exc.errno) from None
    return sock


class EarlyListener:
    """The bound socket and its stand-in answerer, until :meth:`hand_over`."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock = listening_socket(host, port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._answer, name="early-http", daemon=True)
        self._thread.start()

    def hand_over(self) -> int:
        """Stop answering; the socket's file descriptor, now hypercorn's (``fd://``)."""
        self._stop_answering()
        self.sock.setblocking(False)
        return self.sock.detach()

    def close(self) -> None:
        """Stop answering and close the socket, unless it was handed over."""
        self._stop_answering()
        self.sock.close()

    def _stop_answering(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _answer(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                _reply(conn)


def _reply(conn: socket.socket) -> None:
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
        if path == b"/-/healthy":
            status, body, extra = b"200 OK", b"Healthy\n", b""
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
