"""Serving the ASGI app with ``hypercorn.trio.serve``, with deliberate limits.

A busy or unusable listen address must come out as one plain :class:`BindError` (the CLI
prints it and exits), not as hypercorn's nested exception groups; see :func:`serve`.
TLS (the web configuration file's ``tls_server_config``) is hypercorn's own: its
certfile/keyfile/ca_certs/verify_mode options, plus the minimum protocol version.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import hypercorn.config
import hypercorn.trio
import hypercorn.trio.run
import trio
from hypercorn.trio.tcp_server import TCPServer

from trio_smartmeter.web.listener import BindError, PortInUseError, bind_address, effective_host
from trio_smartmeter.web.router import ASGIApp
from trio_smartmeter.web.tls_files import ReloadingContext

if TYPE_CHECKING:
    from trio_smartmeter.web.web_config import TLSConfig

__all__ = ["BindError", "PortInUseError", "hypercorn_config", "serve"]


_VERIFY_MODES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


class _Config(hypercorn.config.Config):
    """Hypercorn's configuration with ``min_version`` and ``max_version`` (hypercorn fixes
    TLS 1.2 and up) and the TLS files read again when they change
    (:mod:`trio_smartmeter.web.tls_files`)."""

    minimum_version = ssl.TLSVersion.TLSv1_2
    maximum_version = ssl.TLSVersion.TLSv1_3

    def create_ssl_context(self) -> ssl.SSLContext | None:
        if not self.ssl_enabled:
            return None
        files = {
            "cert_file": self.certfile,
            "key_file": self.keyfile,
            "client_ca_file": self.ca_certs,
        }
        paths = {key: Path(path) for key, path in files.items() if path is not None}
        return ReloadingContext(self._context_from_files, paths).context

    def _context_from_files(self) -> ssl.SSLContext:
        context = super().create_ssl_context()
        assert context is not None  # ssl_enabled
        context.minimum_version = self.minimum_version
        context.maximum_version = self.maximum_version
        return context


class _ReleasingTCPServer(TCPServer):
    """Hypercorn's connection, let go as soon as the client has closed it.

    Hypercorn 0.17-0.18 keeps a connection that closed before its first request (or
    between two) until ``keep_alive_timeout``: its idle timer is still running in the
    connection's task group. 2 000 connects and closes held 2 000 sockets for 30 s and
    grew RSS by 27 MB (tests/e2e/test_flood.py); now each goes at its EOF.
    """

    async def _read_data(self) -> None:
        await super()._read_data()
        await self.idle_task.stop()


hypercorn.trio.run.TCPServer = _ReleasingTCPServer  # type: ignore[attr-defined]


def hypercorn_config(
    host: str, port: int, *, tls: TLSConfig | None = None, http2: bool = True
) -> hypercorn.config.Config:
    """Deliberate limits for a small, long-running metrics endpoint."""
    cfg = _Config()
    cfg.bind = [bind_address(host, port)]  # "[::]:P" alone serves IPv4 too (dual-stack)
    cfg.backlog = 64
    cfg.h11_max_incomplete_size = 16 * 1024  # request line + headers; bounds header count too
    cfg.h2_max_header_list_size = 16 * 1024
    cfg.h2_max_concurrent_streams = 16
    cfg.keep_alive_timeout = 30.0  # > Prometheus' 15 s default scrape interval
    cfg.keep_alive_max_requests = 10_000
    cfg.read_timeout = 30  # slow clients cannot hold a connection forever
    cfg.graceful_timeout = 1.0
    cfg.max_app_queue_size = 10
    cfg.wsgi_max_body_size = 64 * 1024
    cfg.websocket_max_message_size = 64 * 1024
    cfg.include_server_header = False
    cfg.ssl_handshake_timeout = 10  # a client that connects and says nothing gives up its slot
    if tls is not None:
        cfg.certfile = str(tls.cert_file)
        cfg.keyfile = str(tls.key_file)
        cfg.ca_certs = None if tls.client_ca_file is None else str(tls.client_ca_file)
        cfg.verify_mode = _VERIFY_MODES[tls.client_auth_type]
        cfg.minimum_version = _VERSIONS[tls.min_version]
        cfg.maximum_version = _VERSIONS[tls.max_version]
    if not http2:
        cfg.alpn_protocols = ["http/1.1"]
    # Logger objects, never "-": hypercorn would otherwise attach its own StreamHandler to
    # the global loggers and every line would appear twice (stack.md §4).
    cfg.errorlog = logging.getLogger("hypercorn.error")
    access = logging.getLogger("hypercorn.access")
    # No access logger when its lines are not shown (verbosity < 2, see log.setup_logging):
    # hypercorn would still format every request's atoms (incl. the whole environment).
    cfg.accesslog = access if access.isEnabledFor(logging.INFO) else None
    return cfg


def _precheck(host: str, port: int) -> None:
    """Bind a throwaway socket as hypercorn will, to report a busy port cleanly.

    Hypercorn reports bind errors wrapped in nested ExceptionGroups and leaks the
    listening sockets in that path; this check catches the common case first. The
    race with another process remains and is handled in :func:`serve` with ``except*``.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise BindError(host, port, f"cannot resolve the address: {exc}", exc.errno) from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port, host) from None
            raise BindError(host, port, exc.strerror or str(exc), exc.errno) from None


def _errno_in(*codes: int) -> Callable[[BaseException], bool]:
    """An exception-group predicate: an ``OSError`` with one of ``codes``."""
    return lambda exc: isinstance(exc, OSError) and exc.errno in codes


def _bind_failure(group: BaseExceptionGroup[OSError], host: str, port: int) -> BindError | None:
    """The :class:`BindError` that hypercorn's ``group`` amounts to; ``None``: not a bind error."""
    if group.subgroup(_errno_in(errno.EADDRINUSE)) is not None:
        return PortInUseError(port, host)
    _, other = group.split(_errno_in(errno.EADDRNOTAVAIL, errno.EACCES))
    if other is not None:
        return None
    unavailable = group.subgroup(_errno_in(errno.EADDRNOTAVAIL))
    code = errno.EACCES if unavailable is None else errno.EADDRNOTAVAIL
    return BindError(host, port, os.strerror(code), code)


async def serve(
    app: ASGIApp,
    *,
    host: str = "::",
    port: int = 0,
    shutdown_trigger: Callable[[], Awaitable[None]],
    tls: TLSConfig | None = None,
    http2: bool = True,
    addresses: Sequence[tuple[str, int]] = (),
    fds: Sequence[int] = (),
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns; ``task_status.started(binds)``.

    ``addresses``: every ``(host, port)`` to bind (``-listen-address`` repeated); without
    them, ``host``/``port``. ``fds``: already listening sockets to serve on instead of
    binding (bound before trio loaded, or passed by systemd: app/startup.py).
    With ``tls``, every connection is HTTPS (binds are reported as ``https://...``).

    A host is a literal or host name without brackets; ``"::"`` means all interfaces,
    IPv4 included (one dual-stack socket; never ``0.0.0.0`` and ``[::]`` together).
    Raises :class:`PortInUseError` or :class:`BindError` (plain, not in a group).
    """
    binds = [(effective_host(h), p) for h, p in addresses or [(host, port)]]
    host, port = binds[0]
    if not fds:
        for each in binds:
            _precheck(*each)
    cfg = hypercorn_config(host, port, tls=tls, http2=http2)
    cfg.bind = [f"fd://{fd}" for fd in fds] or [bind_address(h, p) for h, p in binds]
    failure: BindError | None = None
    try:
        await hypercorn.trio.serve(
            cast(Any, app), cfg, shutdown_trigger=shutdown_trigger, task_status=task_status
        )
    except* OSError as group:
        failure = _bind_failure(group, host, port)
        if failure is None:
            raise
    if failure is not None:
        raise failure  # outside ``except*``, which would wrap it in a group again
