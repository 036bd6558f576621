"""The HTTP ports: bound as hypercorn binds (``[::]`` dual-stack), or handed in by systemd.

Standard library only, so the start-up (:mod:`trio_smartmeter.app.startup`) can bind the
ports before trio and the HTTP stack load. A port that cannot be had is one plain
:class:`BindError` (or :class:`PortInUseError`) with a way forward.

Socket activation (``-web-systemd-socket``, node_exporter's ``--web.systemd-socket``) is
``sd_listen_fds(3)`` done by hand: the sockets are fds 3, 4, ... when ``LISTEN_PID`` is this
process; no python-systemd. systemd then holds the port open before the interpreter
starts, and across restarts.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import MutableMapping

__all__ = [
    "LISTEN_FDS_START",
    "ActivationError",
    "BindError",
    "PortInUseError",
    "activated_sockets",
    "bind_address",
    "effective_host",
    "listening_socket",
]

#: The first file descriptor systemd passes (``SD_LISTEN_FDS_START``).
LISTEN_FDS_START = 3

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


class ActivationError(OSError):
    """``-web-systemd-socket`` was asked for, but the process was not given usable sockets."""


def activated_sockets(environ: MutableMapping[str, str]) -> list[socket.socket] | None:
    """The listening sockets systemd passed; ``None`` when the variables are another
    process's (``LISTEN_PID`` is not ours: inherited from a parent, as ``sd_listen_fds``
    ignores them). The variables are removed, so no child takes the sockets for its own.

    Raises :class:`ActivationError` when no sockets were passed or one is not a listening
    TCP socket.
    """
    pid, count = environ.pop("LISTEN_PID", ""), environ.pop("LISTEN_FDS", "")
    environ.pop("LISTEN_FDNAMES", None)
    hint = "start the exporter through trio-smartmeter.socket, or drop -web-systemd-socket"
    if not count:
        raise ActivationError(f"socket activation: no sockets passed (LISTEN_FDS unset); {hint}")
    if pid.strip() != str(os.getpid()):
        return None
    if not count.isdigit() or int(count) < 1:
        raise ActivationError(
            f"socket activation: LISTEN_FDS={count!r} is not a number of sockets; {hint}"
        )
    return [_activated(fd) for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + int(count))]


def _activated(fd: int) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ActivationError(
            f"socket activation: fd {fd} is not a socket ({exc.strerror or exc});"
            " check LISTEN_FDS and the unit's .socket file"
        ) from None
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()  # not ours to close
        raise ActivationError(
            f"socket activation: fd {fd} is not a listening TCP socket;"
            " the .socket file needs ListenStream= (not ListenDatagram=, not Accept=yes)"
        )
    sock.set_inheritable(False)
    return sock
