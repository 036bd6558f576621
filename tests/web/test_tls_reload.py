"""Renewed TLS files are served without a restart, as exporter-toolkit does: a real HTTPS
server (hypercorn on loopback, the exporter's app) under a running scrape, its certificate,
key and client CA replaced; the next handshake presents the new certificate (compared by
fingerprint); files that do not load keep the previous ones and log one line."""

from __future__ import annotations

import hashlib
import os
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.rig import capture_logs
from trio_smartmeter.web.server import serve
from trio_smartmeter.web.tls_files import ReloadingContext, file_identity
from trio_smartmeter.web.web_config import TLSConfig

from .helpers import setup
from .tls_certs import Pki, make_pki

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, Pki]:
    """Two CAs, each with a server and a client certificate: "before" and "renewed"."""
    return make_pki(tmp_path_factory.mktemp("one")), make_pki(tmp_path_factory.mktemp("two"))


def replace(path: Path, content: bytes) -> None:
    """As a renewal writes it: a new file renamed over the old one."""
    tmp = path.with_suffix(".new")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def install(live: Path, pki: Pki) -> None:
    replace(live / "server.crt", pki.server_cert.read_bytes())
    replace(live / "server.key", pki.server_key.read_bytes())


def fingerprint(cert: Path) -> str:
    der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def trusting(*pkis: Pki, cert: Pki | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pkis[0].ca))
    for pki in pkis[1:]:
        context.load_verify_locations(pki.ca)
    if cert is not None:
        context.load_cert_chain(cert.client_cert, cert.client_key)
    return context


async def presented(port: int, client: ssl.SSLContext) -> str:
    """SHA-256 of the certificate a new handshake gets (over a new connection)."""
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=client)
    try:
        await stream.do_handshake()
        der = stream.getpeercert(binary_form=True)
    finally:
        await stream.aclose()
    assert der is not None
    return hashlib.sha256(der).hexdigest()


@asynccontextmanager
async def https_server(tls: TLSConfig) -> AsyncIterator[int]:
    _, _, _, app = setup()
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: serve(
                app,
                host="127.0.0.1",
                port=0,
                shutdown_trigger=stop.wait,
                tls=tls,
                task_status=task_status,
            )
        )
        assert binds[0].startswith("https://")
        try:
            yield int(binds[0].rsplit(":", 1)[1])
        finally:
            stop.set()


async def scrape_until(
    stop: trio.Event, url: str, client: ssl.SSLContext, statuses: list[int]
) -> None:
    """Prometheus' part: scrape over one kept-alive connection until ``stop``."""
    async with httpx.AsyncClient(verify=client, timeout=5) as scraper:
        while not stop.is_set():
            statuses.append((await scraper.get(url)).status_code)
            await trio.sleep(0.02)


async def another_scrape(statuses: list[int]) -> None:
    """Until the scraper answers once more (the caller's ``fail_after`` bounds it)."""
    seen = len(statuses)
    while len(statuses) <= seen:
        await trio.sleep(0.01)


async def test_a_renewed_certificate_is_presented_at_the_next_handshake(
    tmp_path: Path, pkis: tuple[Pki, Pki]
) -> None:
    before, renewed = pkis
    install(tmp_path, before)
    tls = TLSConfig(tmp_path / "server.crt", tmp_path / "server.key")
    client = trusting(before, renewed)
    statuses: list[int] = []
    with trio.fail_after(20):
        async with https_server(tls) as port, capture_logs() as logs, trio.open_nursery() as n:
            done = trio.Event()
            n.start_soon(scrape_until, done, f"https://127.0.0.1:{port}/metrics", client, statuses)
            assert await presented(port, client) == fingerprint(before.server_cert)

            await another_scrape(statuses)
            install(tmp_path, renewed)
            assert await presented(port, client) == fingerprint(renewed.server_cert)
            await another_scrape(statuses)
            assert [m for _, m in logs.records if "tls_server_config" in m] == [
                "tls_server_config: cert_file, key_file changed; new connections use them"
            ]

            logs.clear()
            replace(tmp_path / "server.crt", b"-----BEGIN CERTIFICATE-----\ngarbage\n")
            for _ in range(3):  # broken: the renewed certificate stays, one line in all
                assert await presented(port, client) == fingerprint(renewed.server_cert)
            warnings = logs.at_least("WARNING")
            assert len(warnings) == 1, logs.records
            assert warnings[0][1].startswith("tls_server_config: the changed cert_file did not")
            assert "no PEM certificate or key where expected" in warnings[0][1]
            assert "\n" not in warnings[0][1]

            replace(tmp_path / "server.crt", before.server_cert.read_bytes())  # key: renewed's
            assert await presented(port, client) == fingerprint(renewed.server_cert)
            assert "KEY_VALUES_MISMATCH" in logs.at_least("WARNING")[-1][1]

            await another_scrape(statuses)
            install(tmp_path, before)  # the key follows: both load again
            assert await presented(port, client) == fingerprint(before.server_cert)
            await another_scrape(statuses)
            assert len(logs.at_least("WARNING")) == 2
            done.set()
    assert len(statuses) >= 3 and set(statuses) == {200}, statuses


async def test_a_renewed_client_ca_verifies_the_next_clients(
    tmp_path: Path, pkis: tuple[Pki, Pki]
) -> None:
    before, renewed = pkis
    install(tmp_path, before)
    replace(tmp_path / "ca.crt", before.ca.read_bytes())
    tls = TLSConfig(
        tmp_path / "server.crt", tmp_path / "server.key", "RequireAndVerifyClientCert",
        tmp_path / "ca.crt",
    )  # fmt: skip

    async def status(port: int, cert: Pki) -> int | None:
        async with httpx.AsyncClient(verify=trusting(before, cert=cert), timeout=5) as client:
            try:
                return (await client.get(f"https://127.0.0.1:{port}/-/healthy")).status_code
            except httpx.TransportError:
                return None

    with trio.fail_after(20):
        async with https_server(tls) as port:
            assert (await status(port, before), await status(port, renewed)) == (200, None)
            replace(tmp_path / "ca.crt", renewed.ca.read_bytes())
            assert (await status(port, before), await status(port, renewed)) == (None, 200)


def test_a_file_is_identified_by_inode_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"one")
    first = file_identity(path)
    replace(path, b"one")  # same content, new file
    assert file_identity(path) != first
    assert file_identity(tmp_path / "missing") == "No such file or directory"


def test_unchanged_files_are_not_read_again(tmp_path: Path, pkis: tuple[Pki, Pki]) -> None:
    before, renewed = pkis
    install(tmp_path, before)
    builds: list[ssl.SSLContext] = []

    def build() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
        builds.append(context)
        return context

    files = {"cert_file": tmp_path / "server.crt", "key_file": tmp_path / "server.key"}
    reloading = ReloadingContext(build, files)
    newest: Callable[[], ssl.SSLContext] = reloading.newest
    assert [newest() for _ in range(100)] == [reloading.context] * 100
    assert len(builds) == 1
    install(tmp_path, renewed)
    assert newest() is builds[-1] is not reloading.context
    assert newest() is builds[-1] and len(builds) == 2
