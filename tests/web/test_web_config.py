"""The web configuration file: what exporter-toolkit accepts is read; every invalid file is
one problem per line, naming the key, never repeating a hash."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

import attrs
import bcrypt
import pytest

from trio_smartmeter.web import web_config
from trio_smartmeter.web.server import hypercorn_config
from trio_smartmeter.web.web_config import (
    ClientAuth,
    RateLimit,
    TLSConfig,
    WebConfig,
    WebConfigError,
    parse_web_config,
    read_web_config,
)

from .tls_certs import Pki, make_pki

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
HTPASSWD_HASH = "$2y$" + HASH[4:]  # htpasswd -nB writes $2y$


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def problems(text: str, base: Path = Path("/etc/x")) -> list[str]:
    with pytest.raises(WebConfigError) as info:
        parse_web_config(text, base_dir=base)
    return info.value.problems


def test_an_empty_file_protects_nothing() -> None:
    assert parse_web_config("", base_dir=Path("/")) == WebConfig()
    assert parse_web_config("{}\n", base_dir=Path("/")) == WebConfig()


def test_a_full_file() -> None:
    text = f"""
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_ca_file: ca.crt
  min_version: TLS13
http_server_config:
  http2: false
  headers:
    strict-transport-security: max-age=31536000
    X-Frame-Options: deny
basic_auth_users:
  prometheus: {HASH}
  grafana: '{HTPASSWD_HASH}'
  1234: {HASH}
"""
    web = parse_web_config(text, base_dir=Path("/etc/smartmeter"))
    # a client CA alone means RequireAndVerifyClientCert, as in exporter-toolkit
    assert web.tls == TLSConfig(
        Path("/etc/smartmeter/server.crt"),
        Path("/abs/server.key"),
        "RequireAndVerifyClientCert",
        Path("/etc/smartmeter/ca.crt"),
        "TLS13",
    )
    assert web.http2 is False
    assert web.headers == (
        ("Strict-Transport-Security", "max-age=31536000"),
        ("X-Frame-Options", "deny"),
    )
    assert set(web.users) == {"prometheus", "grafana", "1234"}
    assert web.users["grafana"] == HTPASSWD_HASH.encode()
    assert HASH not in repr(web) and "$2" not in repr(web)


def test_tls_defaults() -> None:
    web = parse_web_config("tls_server_config: {cert_file: c, key_file: k}", base_dir=Path("/d"))
    assert web.tls == TLSConfig(Path("/d/c"), Path("/d/k"), "NoClientCert", None, "TLS12", "TLS13")
    assert web.users == {}


def test_max_version_and_the_key_go_ignores() -> None:
    text = (
        "tls_server_config: {cert_file: c, key_file: k, max_version: TLS12,"
        " prefer_server_cipher_suites: false}"
    )
    tls = parse_web_config(text, base_dir=Path("/d")).tls
    assert tls is not None and (tls.min_version, tls.max_version) == ("TLS12", "TLS12")


@pytest.mark.parametrize(
    ("text", "key", "what"),
    [
        ("tls_server_config: [1", "not valid YAML", "line 1"),
        ("- a list", "the file", "expected a mapping"),
        ("tls_config: {}", "tls_config", "unknown key"),
        (
            "tls_server_config: {cert_file: c, key_file: k, ciphers: x}",
            "tls_server_config.ciphers",
            "unknown key",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, cipher_suites: [x]}",
            "tls_server_config.cipher_suites",
            "not supported",
        ),
        (
            "tls_server_config: {cert: PEM, cert_file: c, key_file: k}",
            "tls_server_config.cert:",
            "cert_file",
        ),
        ("tls_server_config: {key_file: k}", "tls_server_config.cert_file", "required"),
        ("tls_server_config: {cert_file: c}", "tls_server_config.key_file", "required"),
        (
            "tls_server_config: {cert_file: [c], key_file: k}",
            "tls_server_config.cert_file",
            "expected a file path",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, client_auth_type: Always}",
            "tls_server_config.client_auth_type",
            "RequireAndVerifyClientCert",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAnyClientCert}",
            "tls_server_config.client_auth_type",
            "not supported",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAndVerifyClientCert}",
            "tls_server_config.client_ca_file",
            "required by client_auth_type",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, min_version: TLS11}",
            "tls_server_config.min_version",
            "not supported",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, min_version: 1.2}",
            "tls_server_config.min_version",
            "TLS12 or TLS13",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, max_version: TLS11}",
            "tls_server_config.max_version",
            "minimum served",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, min_version: TLS13, max_version: TLS12}",
            "tls_server_config.max_version",
            "below min_version",
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, client_allowed_sans: [a]}",
            "tls_server_config.client_allowed_sans",
            "hypercorn does not hand",
        ),
        ("http_server_config: {http2: maybe}", "http_server_config.http2", "true or false"),
        ("http_server_config: {gzip: true}", "http_server_config.gzip", "unknown key"),
        (
            "http_server_config: {headers: {Set-Cookie: a}}",
            "http_server_config.headers.Set-Cookie",
            "cannot be set",
        ),
        (
            "http_server_config: {headers: {X-Frame-Options: allow}}",
            "http_server_config.headers.X-Frame-Options",
            "deny or sameorigin",
        ),
        (
            "http_server_config: {headers: {X-Content-Type-Options: [nosniff]}}",
            "http_server_config.headers.X-Content-Type-Options",
            "one-line",
        ),
        ("basic_auth_users: [alice]", "basic_auth_users", "expected a mapping"),
        (
            "basic_auth_users: {alice: hunter2hunter2}",
            "basic_auth_users.alice",
            "not a bcrypt hash",
        ),
        (
            "basic_auth_users: {alice: '$1$abc$0123456789'}",
            "basic_auth_users.alice",
            "not a bcrypt hash",
        ),
        (
            f"basic_auth_users: {{alice: '{HASH[:-1]}'}}",
            "basic_auth_users.alice",
            "not a bcrypt hash",
        ),
        (
            f"basic_auth_users: {{alice: '$2b$03{HASH[6:]}'}}",
            "basic_auth_users.alice",
            "cost of 04-31",
        ),
        (f"basic_auth_users: {{'a:b': '{HASH}'}}", "basic_auth_users.a:b", "without ':'"),
        ("rate_limit: 1s", "rate_limit", "expected a mapping"),
        ("rate_limit: {interval: 1s, burst: 2, period: 3}", "rate_limit.period", "unknown key"),
        ("rate_limit: {interval: 5, burst: 2}", "rate_limit.interval", "5 nanoseconds"),
        ("rate_limit: {interval: 1.5, burst: 2}", "rate_limit.interval", "has no unit"),
        ("rate_limit: {interval: 1d, burst: 2}", "rate_limit.interval", "not a Go duration"),
        ("rate_limit: {interval: [1s], burst: 2}", "rate_limit.interval", "not a Go duration"),
        ("rate_limit: {interval: -1s, burst: 2}", "rate_limit.interval", "negative"),
        ("rate_limit: {interval: 1s, burst: 0}", "rate_limit.burst", "refuses every request"),
        ("rate_limit: {interval: 1s}", "rate_limit.burst", "1 or more"),
        ("rate_limit: {interval: 1s, burst: many}", "rate_limit.burst", "whole number"),
        ("rate_limit: {interval: 0, burst: 1.5}", "rate_limit.burst", "whole number"),
    ],
)
def test_an_invalid_file_names_the_key(text: str, key: str, what: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(key), found
    assert what in found[0], found
    assert "hunter2" not in found[0] and HASH[7:] not in found[0]


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        # exporter-toolkit's docs/web-config.yml
        ('rate_limit:\n  interval: "1s"\n  burst: 20\n', RateLimit(1.0, 20)),
        ("rate_limit: {interval: 1m30s, burst: 1}", RateLimit(90.0, 1)),
        ("rate_limit: {interval: 250ms, burst: 5}", RateLimit(0.25, 5)),
        # no interval, or 0, is no limit (the burst is then unused), as in exporter-toolkit
        ("rate_limit: {interval: 0, burst: 0}", None),
        ("rate_limit: {interval: 0s, burst: 3}", None),
        ("rate_limit: {burst: 20}", None),
        ("rate_limit: {}", None),
        ("rate_limit:", None),
    ],
)
def test_rate_limit(text: str, limit: RateLimit | None) -> None:
    assert parse_web_config(text, base_dir=Path("/")).rate_limit == limit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("1s", 1.0),
        ("+1s", 1.0),
        ("-2s", -2.0),
        ("1h2m3.5s", 3723.5),
        ("300ms", 0.3),
        ("1.5us", 1.5e-6),
        ("2µs", 2e-6),
        ("2μs", 2e-6),
        ("10ns", 1e-8),
        (".5s", 0.5),
        ("1.m", 60.0),
        ("", None),
        ("1", None),
        ("s", None),
        (".s", None),
        ("1d", None),
        ("1 s", None),
        ("1s ", None),
        ("1h-2m", None),
    ],
)
def test_go_durations(text: str, seconds: float | None) -> None:
    found = web_config.go_duration(text)
    assert found == (None if seconds is None else pytest.approx(seconds))


def test_every_problem_at_once() -> None:
    found = problems("tls_server_config: {}\nbasic_auth_users: {a: x, b: y}\nextra: 1")
    assert [p.split(":")[0] for p in found] == [
        "extra",
        "tls_server_config.cert_file",
        "tls_server_config.key_file",
        "basic_auth_users.a",
        "basic_auth_users.b",
    ]


def test_reading_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError) as info:
        read_web_config(tmp_path / "nope.yml")
    assert info.value.problems == ["cannot read the file: No such file or directory"]


def test_reading_checks_the_certificates(tmp_path: Path, pki: Pki) -> None:
    def read(tls: str) -> list[str]:
        path = tmp_path / "web.yml"
        path.write_text(f"tls_server_config: {{{tls}}}\n")
        try:
            read_web_config(path)
        except WebConfigError as exc:
            return exc.problems
        return []

    good = f"cert_file: {pki.server_cert}, key_file: {pki.server_key}"
    assert read(good) == []
    assert read(f"{good}, client_ca_file: {pki.ca}") == []
    missing = read(f"cert_file: {tmp_path / 'no.crt'}, key_file: {pki.server_key}")
    assert len(missing) == 1
    assert missing[0].startswith("tls_server_config.cert_file: cannot read ")
    assert "No such file" in missing[0]
    not_a_cert = read(f"cert_file: {pki.server_key}, key_file: {pki.server_key}")
    assert len(not_a_cert) == 1
    assert not_a_cert[0].startswith("tls_server_config.cert_file: not a PEM certificate")
    wrong_key = read(f"cert_file: {pki.server_cert}, key_file: {pki.client_key}")
    assert len(wrong_key) == 1
    assert wrong_key[0].startswith("tls_server_config.key_file: not the PEM private key")
    bad_ca = read(f"{good}, client_ca_file: {pki.server_key}")
    assert len(bad_ca) == 1
    assert bad_ca[0].startswith("tls_server_config.client_ca_file: not a PEM CA certificate")


def test_relative_paths_are_taken_from_the_file(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "web.yml").write_text(
        f"tls_server_config: {{cert_file: {pki.server_cert.name}, key_file: {pki.server_key.name}}}"
    )
    with pytest.raises(WebConfigError):
        read_web_config(tmp_path / "web.yml")  # pki lives in another directory
    (pki.server_cert.parent / "web.yml").write_text((tmp_path / "web.yml").read_text())
    web = read_web_config(pki.server_cert.parent / "web.yml")
    assert web.tls is not None and web.tls.cert_file == pki.server_cert


def test_without_bcrypt_the_users_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users: {{alice: '{HASH}'}}\n")
    monkeypatch.setattr(web_config.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WebConfigError) as info:
        read_web_config(path)
    assert info.value.problems == [web_config.BCRYPT_MISSING]
    assert "ARMv6" in web_config.BCRYPT_MISSING


def test_the_packaged_example_refuses_to_start_until_a_hash_is_given() -> None:
    example = Path(web_config.__file__).parent.parent / "deploy" / "web-config.example.yml"
    text = example.read_text()
    assert problems(text) == [
        "basic_auth_users.prometheus: not a bcrypt hash; expected $2a$, $2b$ or $2y$ with "
        "a cost of 04-31, as `htpasswd -nBC 10 USER` or bcrypt.hashpw make it"
    ]
    web = parse_web_config(
        text.replace("REPLACE-WITH-A-BCRYPT-HASH", HTPASSWD_HASH), base_dir=Path("/etc/sm")
    )
    assert web.tls == TLSConfig(Path("/etc/sm/server.crt"), Path("/etc/sm/server.key"))
    assert [name for name, _ in web.headers] == [
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
    ]
    assert set(web.users) == {"prometheus"}


@pytest.mark.parametrize(
    ("client_auth", "min_version", "mode", "version"),
    [
        ("NoClientCert", "TLS12", ssl.CERT_NONE, ssl.TLSVersion.TLSv1_2),
        ("VerifyClientCertIfGiven", "TLS13", ssl.CERT_OPTIONAL, ssl.TLSVersion.TLSv1_3),
        ("RequireAndVerifyClientCert", "TLS12", ssl.CERT_REQUIRED, ssl.TLSVersion.TLSv1_2),
    ],
)
def test_what_hypercorn_serves(
    pki: Pki,
    client_auth: ClientAuth,
    min_version: Literal["TLS12", "TLS13"],
    mode: ssl.VerifyMode,
    version: ssl.TLSVersion,
) -> None:
    ca = None if client_auth == "NoClientCert" else pki.ca
    tls = TLSConfig(pki.server_cert, pki.server_key, client_auth, ca, min_version)
    context = hypercorn_config("127.0.0.1", 9102, tls=tls).create_ssl_context()
    assert context is not None
    assert context.verify_mode == mode
    assert context.minimum_version == version
    assert context.maximum_version == ssl.TLSVersion.TLSv1_3
    capped = attrs.evolve(tls, min_version="TLS12", max_version="TLS12")
    context = hypercorn_config("127.0.0.1", 9102, tls=capped).create_ssl_context()
    assert context is not None and context.maximum_version == ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == (0 if ca is None else 1)  # no system CAs for clients
    assert hypercorn_config("127.0.0.1", 9102).create_ssl_context() is None
    assert hypercorn_config("127.0.0.1", 9102, tls=tls, http2=False).alpn_protocols == ["http/1.1"]
