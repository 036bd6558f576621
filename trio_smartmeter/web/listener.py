"""The HTTP port: bound as hypercorn binds (``[::]`` dual-stack), with the standard library only.

Standard library only, so the start-up (:mod:`trio_smartmeter.app.startup`) can bind the
port before trio and the HTTP stack load. A port that cannot be had is one plain
:class:`BindError` (or :class:`PortInUseError`) with a way forward.
"""

from __future__ import annotations

import errno
import socket

__all__ = [
    "BindError",
    "PortInUseError",
    "bind_address",
    "effective_host",
    "listening_socket",
]

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
