"""The container's liveness probe: ``python3 -m trio_smartmeter.web.healthcheck``, exit 0/1.

It asks ``/-/healthy`` on the loopback, on ``SMARTMETER_PORT``, over HTTPS when the web
configuration file (``SMARTMETER_WEB_CONFIG_FILE``) has ``tls_server_config``. It knows no
password (the file holds only hashes), so a 401 counts as alive: the answer came from the
exporter's event loop. Nor has it a client certificate: when one is required, a completed
TLS handshake (also done in that loop) is the answer. The server's certificate is not
verified: the probe checks liveness on 127.0.0.1, whose name a certificate need not carry.
Nothing is ever printed about the file's content.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from trio_smartmeter.core.config import DEFAULT_PORT

TIMEOUT = 4.0


def alive(port: int, web_config_file: str | None) -> bool:
    tls = None
    if web_config_file:
        from trio_smartmeter.web.web_config import WebConfigError, read_web_config

        try:
            tls = read_web_config(Path(web_config_file)).tls
        except WebConfigError:
            return False
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        if tls is not None and tls.client_auth_type == "RequireAndVerifyClientCert":
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                context.wrap_socket(sock).close()  # wrapping does the handshake
            return True
        url = f"{'http' if tls is None else 'https'}://127.0.0.1:{port}/-/healthy"
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=context) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code == 401
    except OSError:  # URLError, ssl.SSLError, timeouts, refused
        return False


def main() -> int:
    port = int(os.environ.get("SMARTMETER_PORT") or DEFAULT_PORT)
    return 0 if alive(port, os.environ.get("SMARTMETER_WEB_CONFIG_FILE")) else 1


if __name__ == "__main__":
    sys.exit(main())
