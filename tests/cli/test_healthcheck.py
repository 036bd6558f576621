"""The container's probe is configured as the exporter is: the same variables, parsed alike."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from trio_smartmeter.cli import healthcheck


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/-/healthy" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[int]:
    """A stand-in answering /-/healthy on the loopback; its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("SMARTMETER_")]:
        monkeypatch.delenv(name)


def test_the_probe_asks_the_port_the_exporter_was_given(
    exporter: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTMETER_PORT", str(exporter))
    assert healthcheck.main() == 0
    monkeypatch.setenv("SMARTMETER_LISTEN_ADDRESS", "127.0.0.1")
    assert healthcheck.main() == 0


def test_an_invalid_configuration_is_unhealthy_and_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTMETER_PORT", "nine")  # the exporter refuses it too
    assert healthcheck.main() == 1
    assert "SMARTMETER_PORT" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("listen", "host"),
    [("::", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("192.0.2.7", "192.0.2.7"), ("::1", "::1")],
)
def test_the_probe_asks_where_the_exporter_listens(listen: str, host: str) -> None:
    assert healthcheck.probe_host(listen) == host


class _RateLimited(_Healthy):
    def do_GET(self) -> None:
        self.send_response(429)
        self.send_header("Retry-After", "1")
        self.end_headers()


def test_a_spent_rate_limit_is_alive() -> None:
    """The web configuration's rate_limit counts the probe too: a 429 is an answer."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RateLimited)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert healthcheck.alive("127.0.0.1", server.server_address[1], None)
    finally:
        server.shutdown()
        server.server_close()
