"""The container's liveness probe: ``python3 -m trio_smartmeter.cli.healthcheck``, exit 0/1.

A client of the exporter, configured as the exporter is: the same ``SMARTMETER_*``
variables through the same option table (``cli/options.py``), so a port, listen address
or web configuration file the exporter accepts is the one the probe asks. It asks
``/-/healthy`` on the loopback (or the one address the exporter listens on), over HTTPS
when the web configuration file has ``tls_server_config``. It knows no
password (the file holds only hashes), so a 401 counts as alive: the answer came from the
exporter's event loop. Nor has it a client certificate: when one is required, a completed
TLS handshake (also done in that loop) is the answer. The server's certificate is not
verified: the probe checks liveness on 127.0.0.1, whose name a certificate need not carry.
Nothing is ever printed about the file's content.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from trio_smartmeter.cli.options import ConfigError, HelpRequested, VersionRequested, load_config
from trio_smartmeter.cli.simulator import simulator

#: Below Docker's default health-check timeout (30 s) and podman's.
TIMEOUT = 4.0


def alive(host: str, port: int, web_config_file: Path | None) -> bool:
    tls = None
    if web_config_file is not None:
        from trio_smartmeter.web.web_config import WebConfigError, read_web_config

        try:
            tls = read_web_config(web_config_file).tls
        except WebConfigError:
            return False
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        if tls is not None and tls.client_auth_type == "RequireAndVerifyClientCert":
            with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
                context.wrap_socket(sock).close()  # wrapping does the handshake
            return True
        netloc = f"[{host}]" if ":" in host else host
        url = f"{'http' if tls is None else 'https'}://{netloc}:{port}/-/healthy"
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=context) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code in (401, 429)  # it answers: unknown password, or rate_limit spent
    except OSError:  # URLError, ssl.SSLError, timeouts, refused
        return False


def probe_host(listen_address: str) -> str:
    """Where to ask: the loopback when the exporter listens on every address."""
    try:
        if ipaddress.ip_address(listen_address).is_unspecified:
            return "127.0.0.1"
    except ValueError:
        pass  # a host name
    return listen_address


def main(argv: list[str] | None = None) -> int:
    """0 when the exporter answers; 1 when not, or when its configuration is invalid."""
    try:
        cfg = load_config(argv or [], os.environ, simulator=simulator, require_credentials=False)
    except (ConfigError, HelpRequested, VersionRequested) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    host, port = cfg.listen_binds()[0]  # the first listen address: each serves the same app
    return 0 if alive(probe_host(host), port, cfg.web_config_file) else 1


if __name__ == "__main__":
    sys.exit(main())
