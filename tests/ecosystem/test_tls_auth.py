"""The web configuration file for real: the demo exporter (a subprocess) behind TLS and
basic auth, scraped by a real Prometheus (Debian's), by httpx with and without a client
certificate, by plain HTTP on the TLS port, and by the container's healthcheck.

Certificates are made per run (tests/web/tls_certs.py). Loopback only; every wait polls
with a deadline; every process is stopped in a ``finally``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import bcrypt
import httpx
import pytest

from tests.support import CLI, cli_env, free_port, stop, value, wait_for
from tests.web.tls_certs import Pki, make_pki

from .helpers import DemoExporter, running_prometheus, which

pytestmark = pytest.mark.slow

DEADLINE = 45.0
PASSWORD = "correct horse battery"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()


@attrs.frozen
class Exporter:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    web_config: Path

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="smartmeter-tls-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(workdir: Path) -> Pki:
    (workdir / "pki").mkdir()
    return make_pki(workdir / "pki")


def trusting(pki: Pki, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A client context that trusts the test CA and presents ``cert`` (certificate, key)."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def start_exporter(workdir: Path, name: str, web_config: str, client: httpx.Client) -> Exporter:
    """The demo exporter with ``web_config``; returns once ``client`` reads a power value."""
    port = free_port()
    home = workdir / name
    home.mkdir()
    config = home / "web.yml"
    config.write_text(web_config)
    log = home / "exporter.log"
    env = cli_env(
        {
            "SMARTMETER_STATE_FILE": str(home / "state.json"),
            "SMARTMETER_WEB_CONFIG_FILE": str(config),
        }
    )
    argv = [*CLI, "--demo", "--port", str(port), "--interval", "10"]
    argv += ["--listen-address", "127.0.0.1", "--verbosity", "2"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=home, start_new_session=True,
        )  # fmt: skip
    exporter = Exporter(port, proc, log, config)

    def reading() -> Exporter | None:
        assert proc.poll() is None, f"exporter exited {proc.returncode}: {exporter.log_text()}"
        resp = client.get(exporter.base + "/metrics")
        if resp.status_code == 200 and value(resp.text, "smartmeter_power_watts") is not None:
            return exporter
        return None

    try:
        return wait_for("a reading over TLS", reading, DEADLINE, step=0.3, retry=(httpx.HTTPError,))
    except AssertionError:
        stop(proc, group=True)
        raise AssertionError(f"no reading over TLS: {exporter.log_text()[-2000:]}") from None


@pytest.fixture(scope="module")
def authed(pki: Pki) -> Iterator[httpx.Client]:
    with httpx.Client(verify=trusting(pki), auth=("prometheus", PASSWORD), timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def tls_exporter(workdir: Path, pki: Pki, authed: httpx.Client) -> Iterator[Exporter]:
    """TLS and basic auth; no client certificate asked."""
    web = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        "http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=600\n"
        f"basic_auth_users:\n  prometheus: {HASH}\n"
    )
    exporter = start_exporter(workdir, "tls", web, authed)
    try:
        yield exporter
    finally:
        stop(exporter.proc, group=True)


@pytest.fixture(scope="module")
def mtls_exporter(workdir: Path, pki: Pki) -> Iterator[Exporter]:
    """TLS with RequireAndVerifyClientCert, no basic auth."""
    web = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
    )
    client_cert = (pki.client_cert, pki.client_key)
    with httpx.Client(verify=trusting(pki, client_cert), timeout=5) as client:
        exporter = start_exporter(workdir, "mtls", web, client)
    try:
        yield exporter
    finally:
        stop(exporter.proc, group=True)


def test_prometheus_scrapes_over_tls_with_basic_auth(
    workdir: Path, pki: Pki, tls_exporter: Exporter
) -> None:
    home = workdir / "prometheus"
    home.mkdir()
    target = {"targets": [f"127.0.0.1:{tls_exporter.port}"]}
    job = {"scheme": "https", "tls_config": {"ca_file": str(pki.ca)}, "static_configs": [target]}
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": "right", **job, "basic_auth": {"username": "prometheus", "password": PASSWORD}},
            {"job_name": "wrong", **job, "basic_auth": {"username": "prometheus", "password": "nope"}},
            {"job_name": "nobody", **job, "basic_auth": {"username": "mallory", "password": PASSWORD}},
        ],
    }  # fmt: skip
    (home / "check.yml").write_text(json.dumps(config))
    check = subprocess.run(
        [which("promtool"), "check", "config", str(home / "check.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    with running_prometheus(home, config) as prom:

        def scraped() -> tuple[dict[str, str], list[dict[str, Any]]] | None:
            prom.alive()
            ups = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}
            power = prom.query('smartmeter_power_watts{job="right"}')
            return (ups, power) if len(ups) == 3 and power else None

        ups, power = wait_for(
            "three jobs scraped", scraped, DEADLINE, step=0.3, retry=(OSError, ValueError, AssertionError, KeyError)
        )  # fmt: skip
        assert ups == {"right": "1", "wrong": "0", "nobody": "0"}
        assert float(power[0]["value"][1]) > 0
        targets = prom.api("targets")["activeTargets"]
        errors = {t["labels"]["job"]: t["lastError"] for t in targets}
        assert errors["right"] == ""
        assert "401" in errors["wrong"] and "401" in errors["nobody"], errors
    text = tls_exporter.log_text()
    assert PASSWORD not in text and HASH not in text and HASH[7:29] not in text


def test_wrong_credentials_get_401_with_the_challenge(pki: Pki, tls_exporter: Exporter) -> None:
    with httpx.Client(verify=trusting(pki), timeout=5) as client:
        for path in ("/metrics", "/-/healthy", "/api/status", "/", "/nowhere"):
            for auth in (None, ("prometheus", "wrong"), ("nobody", PASSWORD)):
                resp = client.get(tls_exporter.base + path, auth=auth)
                assert resp.status_code == 401, (path, auth)
                assert resp.headers["www-authenticate"].startswith("Basic ")
                assert resp.headers["strict-transport-security"] == "max-age=600"


def test_a_client_certificate_is_required(pki: Pki, mtls_exporter: Exporter) -> None:
    url = mtls_exporter.base + "/-/healthy"
    with httpx.Client(verify=trusting(pki, (pki.client_cert, pki.client_key)), timeout=5) as good:
        assert good.get(url).status_code == 200
    for cert in (None, (pki.stranger_cert, pki.stranger_key)):
        with (
            httpx.Client(verify=trusting(pki, cert), timeout=5) as untrusted,
            pytest.raises(httpx.TransportError),
        ):
            untrusted.get(url)
    curl = shutil.which("curl")
    if curl is not None:  # the same with curl, the way a user would try it
        base = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(pki.ca)]
        argv = [*base, "--cert", str(pki.client_cert), "--key", str(pki.client_key), url]
        ok = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        assert ok.stdout == "200", ok.stderr
        refused = subprocess.run(
            [*base, url], capture_output=True, text=True, timeout=10, check=False
        )
        assert refused.returncode != 0 and refused.stdout != "200"


def test_plain_http_to_the_tls_port_does_not_hang_the_server(
    authed: httpx.Client, tls_exporter: Exporter
) -> None:
    with socket.create_connection(("127.0.0.1", tls_exporter.port), timeout=5) as plain:
        plain.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        with socket.create_connection(("127.0.0.1", tls_exporter.port), timeout=5) as silent:
            start = time.monotonic()
            resp = authed.get(tls_exporter.base + "/-/healthy")
            took = time.monotonic() - start
            assert resp.status_code == 200 and took < 1.0, took
            silent.settimeout(0.2)
            with pytest.raises(TimeoutError):
                silent.recv(1)  # still open: its handshake may yet come (until 10 s)
        answer = plain.recv(4096)  # the server closes it; it never answers plain HTTP
        assert not answer.startswith(b"HTTP/")


def healthcheck(port: int, web_config: Path | None) -> int:
    env = cli_env({"SMARTMETER_PORT": str(port)})
    if web_config is not None:
        env["SMARTMETER_WEB_CONFIG_FILE"] = str(web_config)
    probe = [sys.executable, "-m", "trio_smartmeter.cli.healthcheck"]
    return subprocess.run(probe, env=env, timeout=15, check=False, capture_output=True).returncode


def test_the_container_healthcheck_works_behind_tls_and_auth(
    tls_exporter: Exporter, mtls_exporter: Exporter, demo_exporter: DemoExporter
) -> None:
    assert healthcheck(demo_exporter.port, None) == 0
    assert healthcheck(tls_exporter.port, tls_exporter.web_config) == 0
    assert healthcheck(mtls_exporter.port, mtls_exporter.web_config) == 0
    assert healthcheck(free_port(), tls_exporter.web_config) == 1  # nobody listens
    assert healthcheck(tls_exporter.port, None) == 1  # plain HTTP to the TLS port


def test_the_containerfile_uses_the_healthcheck() -> None:
    containerfile = (Path(__file__).resolve().parents[2] / "Containerfile").read_text()
    assert '"-m", "trio_smartmeter.cli.healthcheck"' in containerfile
    compose = (
        Path(__file__).resolve().parents[2] / "trio_smartmeter/deploy/compose.yaml"
    ).read_text()
    assert '"-m", "trio_smartmeter.cli.healthcheck"' in compose


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("tls_server_config: [", "not valid YAML"),
        ("basic_auth_users: {alice: hunter2}", "basic_auth_users.alice: not a bcrypt hash"),
        ("tls_server_config: {cert_file: /nonexistent.crt, key_file: /etc/hostname}", "tls_server_config.cert_file: cannot read"),
        ("tls_server_config: {cert_file: c, key_file: k, min_version: TLS10}", "tls_server_config.min_version"),
        ("web: {}", "web: unknown key"),
        (None, "cannot read the file"),
    ],
)  # fmt: skip
def test_an_invalid_web_config_file_is_exit_2_naming_the_key(
    tmp_path: Path, content: str | None, key: str
) -> None:
    path = tmp_path / "web.yml"
    if content is not None:
        path.write_text(content)
    env = cli_env({"SMARTMETER_WEB_CONFIG_FILE": str(path)})
    proc = subprocess.run(
        [*CLI, "--demo", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    problems = [line for line in lines if "SMARTMETER_WEB_CONFIG_FILE" in line]
    assert len(problems) == 1, lines
    assert key in problems[0] and str(path) in problems[0]
    assert "hunter2" not in proc.stderr


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def test_scrape_latency_tls_and_auth_against_plain_http(
    authed: httpx.Client, tls_exporter: Exporter, demo_exporter: DemoExporter
) -> None:
    """200 sequential keep-alive scrapes of each, interleaved so both see the same load."""
    plain_times: list[float] = []
    tls_times: list[float] = []
    with httpx.Client(timeout=5) as plain:
        for client, url in ((plain, demo_exporter.base), (authed, tls_exporter.base)):
            client.get(url + "/metrics")  # connect (and, for TLS, remember the credentials)
        for _ in range(200):
            for client, url, times in (
                (plain, demo_exporter.base, plain_times),
                (authed, tls_exporter.base, tls_times),
            ):
                start = time.perf_counter()
                resp = client.get(url + "/metrics")
                times.append(time.perf_counter() - start)
                assert resp.status_code == 200
    (pm, p99), (tm, t99) = percentiles(plain_times), percentiles(tls_times)
    print(
        f"\n/metrics, 200 keep-alive requests each: plain HTTP median {pm:.2f} ms p99 {p99:.2f} ms;"
        f" TLS + basic auth median {tm:.2f} ms p99 {t99:.2f} ms"
    )
    assert tm < 50.0  # a bcrypt check per scrape would be ~50 ms at cost 10


def test_history_reaches_the_exporter_behind_tls_and_basic_auth(
    tmp_path: Path, pki: Pki, tls_exporter: Exporter
) -> None:
    """The README's TLS + basic-auth set-up, asked as curl users would (issue 19 item 4)."""

    def history(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "history", "--url", tls_exporter.base, *args],
            env=cli_env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip

    trusted = ("--cacert", str(pki.ca), "--user", "prometheus")
    by_env = history(*trusted, env={"SMARTMETER_WEB_PASSWORD": PASSWORD})
    assert by_env.returncode == 0, by_env.stderr
    assert isinstance(json.loads(by_env.stdout)["slots"], list)
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    go_style = ("-cacert", str(pki.ca), "-user", "prometheus", "-password-file", str(secret))
    by_file = history(*go_style, "-format", "csv")
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout.startswith("end,end_unix,")

    wrong = history(*trusted, env={"SMARTMETER_WEB_PASSWORD": "not it"})
    assert wrong.returncode == 1 and "401" in wrong.stderr and "--user" in wrong.stderr
    untrusted = history("--user", "prometheus", env={"SMARTMETER_WEB_PASSWORD": PASSWORD})
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    nowhere = history(*trusted)  # no password and no terminal to ask on
    assert nowhere.returncode == 2 and "SMARTMETER_WEB_PASSWORD" in nowhere.stderr
    for p in (by_env, by_file, wrong, untrusted, nowhere):
        assert PASSWORD not in p.stdout + p.stderr and "not it" not in p.stderr


def renew(live: Path, pki: Pki) -> None:
    """certbot's and step-ca's way: new files renamed over the old ones."""
    for source, name in ((pki.server_cert, "server.crt"), (pki.server_key, "server.key")):
        write_replacing(live / name, source.read_bytes())


def write_replacing(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def certificate_fingerprint(pem: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read_text())).hexdigest()


def presented(port: int, cafile: Path) -> str:
    """SHA-256 of the certificate a new handshake gets."""
    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


@attrs.frozen
class Renewal:
    exporter: Exporter
    live: Path  # the directory of the served certificate and key
    renewed: Pki  # another CA's: the certificate renewed
    either: Path  # both CAs


@pytest.fixture(scope="module")
def renewal(workdir: Path, pki: Pki) -> Iterator[Renewal]:
    """TLS from files that will be renewed, and exporter-toolkit's rate limit.

    The limit (10 requests at once, then 10 a second) is far above what the start-up's
    polling and Prometheus' two jobs ask.
    """
    (workdir / "pki-renewed").mkdir()
    renewed = make_pki(workdir / "pki-renewed")
    live = workdir / "renewal-live"
    live.mkdir()
    renew(live, pki)
    either = live / "either-ca.crt"
    either.write_bytes(pki.ca.read_bytes() + renewed.ca.read_bytes())
    web = (
        f"tls_server_config:\n  cert_file: {live / 'server.crt'}\n"
        f"  key_file: {live / 'server.key'}\n"
        'rate_limit:\n  interval: "100ms"\n  burst: 10\n'
    )
    with httpx.Client(verify=trusting(pki), timeout=5) as client:
        exporter = start_exporter(workdir, "renewal", web, client)
    try:
        yield Renewal(exporter, live, renewed, either)
    finally:
        stop(exporter.proc, group=True)


def test_prometheus_scrapes_across_a_certificate_renewal(
    workdir: Path, pki: Pki, renewal: Renewal
) -> None:
    """The files renewed under a running Prometheus; the exporter is never restarted.

    Job ``either`` trusts both CAs: it never misses a scrape. Job ``renewed`` trusts only
    the renewed certificate's CA: down before the renewal, up after it, so Prometheus
    itself shows which certificate new connections get.
    """
    exporter, either, renewed = renewal.exporter, renewal.either, renewal.renewed
    target = {"targets": [f"127.0.0.1:{exporter.port}"]}
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": name, "scheme": "https", "tls_config": {"ca_file": str(ca)},
             "static_configs": [target]}
            for name, ca in (("either", either), ("renewed", renewed.ca))
        ],
    }  # fmt: skip
    home = workdir / "prometheus-renewal"
    home.mkdir()
    with running_prometheus(home, config) as prom:

        def ups() -> dict[str, str]:
            prom.alive()
            return {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}

        retry = (OSError, ValueError, AssertionError, KeyError)
        before = {"either": "1", "renewed": "0"}
        wait_for("before", lambda: True if ups() == before else None, DEADLINE, 0.2, retry)
        started = time.monotonic()
        targets = prom.api("targets")["activeTargets"]
        assert any("x509" in t["lastError"] for t in targets), targets
        assert presented(exporter.port, either) == certificate_fingerprint(pki.server_cert)

        renew(renewal.live, renewed)
        assert presented(exporter.port, either) == certificate_fingerprint(renewed.server_cert)
        after = {"either": "1", "renewed": "1"}
        wait_for("after", lambda: True if ups() == after else None, DEADLINE, 0.2, retry)
        window = f"[{int(time.monotonic() - started) + 2}s]"
        for query, expected in (
            (f'min_over_time(up{{job="either"}}{window})', 1.0),
            (f'max_over_time(up{{job="renewed"}}{window})', 1.0),
            (f'min_over_time(up{{job="renewed"}}{window})', 0.0),
        ):
            result = prom.query(query)
            assert float(result[0]["value"][1]) == expected, (query, result)

    write_replacing(renewal.live / "server.crt", b"-----BEGIN CERTIFICATE-----\nhalf-written")
    for _ in range(3):  # files that do not load: the renewed certificate stays
        assert presented(exporter.port, either) == certificate_fingerprint(renewed.server_cert)
    wait_for("the one line", lambda: "did not load" in exporter.log_text() or None, DEADLINE)
    lines = exporter.log_text().splitlines()
    assert len([line for line in lines if "did not load" in line]) == 1, lines[-20:]
    assert any("cert_file, key_file changed; new connections use them" in x for x in lines)


def test_node_exporters_rate_limit_answers_429_with_retry_after(renewal: Renewal) -> None:
    """50 requests at once over one connection: the burst passes, most of the rest not."""
    with httpx.Client(verify=ssl.create_default_context(cafile=renewal.either), timeout=5) as c:
        answers = [c.get(renewal.exporter.base + "/-/healthy") for _ in range(50)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [200] * 5 and set(codes) == {200, 429}, codes
    assert codes.count(429) >= 10, codes
    assert answers[codes.index(429)].headers["retry-after"] == "1"
