"""The TLS files read again when they change, so a renewed certificate needs no restart.

exporter-toolkit reads the certificate, key and client CA at every TLS handshake
(``GetConfigForClient``), so certbot or step-ca can renew them under a running
node_exporter. Here the server keeps one :class:`ssl.SSLContext`; its ``sni_callback``,
which OpenSSL calls at every ClientHello (with or without a server name), compares the
files' identity (device, inode, size, mtime: three ``stat`` calls, microseconds) with the
last seen and, when one changed, builds a fresh context from the files. The handshake then
goes on with the newest good context (``SSLObject.context``, OpenSSL's
``SSL_set_SSL_CTX``): its certificate and key, and its client CA for verifying. The
verify mode, protocol versions and ALPN stay those of the web configuration file, which is
not read again. Files that do not load (a half-written renewal, a key that does not match)
keep the previous context in service and log one line until they change again.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path

from loguru import logger

__all__ = ["FileIdentity", "ReloadingContext", "file_identity"]

#: ``(st_dev, st_ino, st_size, st_mtime_ns)``, or why the file cannot be looked at.
FileIdentity = tuple[int, int, int, int] | str


def file_identity(path: Path) -> FileIdentity:
    """What changes when a file is rewritten, replaced or re-linked (``stat`` follows links)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, ssl.SSLError):
        if exc.reason:
            return str(exc.reason)  # KEY_VALUES_MISMATCH, ...
        if "PEM lib" in str(exc):
            return "no PEM certificate or key where expected: cut short, or the wrong file?"
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


class ReloadingContext:
    """:attr:`context` for the server; each handshake gets the newest context that loaded.

    ``build`` makes a context from the files (it raises ``OSError`` or ``ssl.SSLError``
    when they do not load); ``files`` maps each file's key in the web configuration file
    (``cert_file``...) to its path.
    """

    def __init__(self, build: Callable[[], ssl.SSLContext], files: Mapping[str, Path]) -> None:
        self._build = build
        self._files = dict(files)
        self._seen = self._identities()  # before reading: a change meanwhile is seen later
        self.context = build()
        self._newest = self.context
        self.context.sni_callback = self._on_client_hello

    def _identities(self) -> dict[str, FileIdentity]:
        return {key: file_identity(path) for key, path in self._files.items()}

    def newest(self) -> ssl.SSLContext:
        """The context of the files as they are now, or the last one that loaded."""
        now = self._identities()
        if now == self._seen:
            return self._newest
        changed = ", ".join(key for key in now if now[key] != self._seen[key])
        self._seen = now
        try:
            self._newest = self._build()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            logger.warning(
                "tls_server_config: the changed {} did not load ({}); still serving the "
                "previous certificate until the files change again",
                changed,
                _reason(exc),
            )
        else:
            logger.info("tls_server_config: {} changed; new connections use them", changed)
        return self._newest

    def _on_client_hello(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object
    ) -> None:
        newest = self.newest()
        if newest is not connection.context:
            connection.context = newest
