"""exporter-toolkit's web configuration file -> a validated :class:`WebConfig`.

The file node_exporter and every exporter built on exporter-toolkit read
(``--web.config.file``), so one file protects them all alike::

    tls_server_config:
      cert_file: server.crt            # relative paths: to the file's own directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # default NoClientCert (or, with
      client_ca_file: clients-ca.crt                 # client_ca_file, RequireAndVerify...)
      min_version: TLS12               # or TLS13; max_version likewise
    http_server_config:
      http2: true
      headers: {Strict-Transport-Security: max-age=31536000}
    basic_auth_users:
      prometheus: $2y$10$...           # bcrypt: htpasswd -nBC 10 USER, or bcrypt.hashpw
    rate_limit:
      interval: 1s                     # a Go duration; 0 (the default): no limit
      burst: 20

:func:`parse_web_config` is pure (text in, value out). :func:`read_web_config` reads the
file and checks what only the machine can tell: the certificates load, bcrypt is installed.
Every problem is one line starting with the key it is about; a password hash is never part
of a message, nor of the value's ``repr``.
"""

from __future__ import annotations

import importlib.util
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, cast

import attrs
import yaml

from trio_smartmeter.core.errors import InvalidInput

__all__ = [
    "ClientAuth",
    "RateLimit",
    "TLSConfig",
    "WebConfig",
    "WebConfigError",
    "bcrypt_cost",
    "parse_web_config",
    "read_web_config",
]

ClientAuth = Literal["NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]
TLSVersion = Literal["TLS12", "TLS13"]

#: ``$2a$``/``$2b$``/``$2y$``, a two-digit cost 04-31, 22 characters of salt + 31 of hash.
_BCRYPT_RE: Final = re.compile(rb"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_CLIENT_AUTH: Final[tuple[ClientAuth, ...]] = (
    "NoClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
_VERSIONS: Final[tuple[TLSVersion, ...]] = ("TLS12", "TLS13")
#: exporter-toolkit's keys that have no counterpart here: an error, never silently ignored.
_UNSUPPORTED: Final = {
    "tls_server_config": {
        "cert": "give the certificate as cert_file",
        "key": "give the key as key_file",
        "client_ca": "give the client CA as client_ca_file",
        "client_allowed_sans": (
            "not supported (Python's ssl cannot check a client certificate's names during "
            "the handshake, and hypercorn does not hand the certificate to the app)"
        ),
        "cipher_suites": (
            "not supported (Python's ssl takes OpenSSL's cipher names, not Go's; its "
            "defaults, without weak suites, apply)"
        ),
        "curve_preferences": (
            "not supported (Python's ssl sets a single curve at most; its defaults apply)"
        ),
    },
}
_KNOWN: Final = {
    "": ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"),
    "tls_server_config": (
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "min_version",
        "max_version",
        # Go ignores it since 1.18 (crypto/tls orders the suites itself); so is it here
        "prefer_server_cipher_suites",
    ),
    "http_server_config": ("http2", "headers"),
    "rate_limit": ("interval", "burst"),
}
#: Go's ``time.ParseDuration`` units, in seconds (``µs`` in both of Go's spellings).
_DURATION_UNITS: Final = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip
_DURATION_RE: Final = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
#: The response headers exporter-toolkit lets a web config set, by lower-case name.
_HEADERS: Final = {
    name.lower(): name
    for name in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "X-XSS-Protection",
        "Content-Security-Policy",
    )
}
_HEADER_VALUES: Final = {
    "x-content-type-options": ("nosniff",),
    "x-frame-options": ("deny", "sameorigin"),
}
BCRYPT_MISSING: Final = (
    "basic_auth_users: needs the bcrypt package, which is not installed (PyPI has bcrypt "
    "wheels for x86_64, aarch64 and armv7l with glibc >= 2.28, none for ARMv6: there use "
    "piwheels' wheel or Debian's python3-bcrypt)"
)


class WebConfigError(InvalidInput):
    """The web configuration file is invalid."""

    what = "web configuration file"


@attrs.frozen
class TLSConfig:
    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: TLSVersion = "TLS12"
    max_version: TLSVersion = "TLS13"


@attrs.frozen
class RateLimit:
    """exporter-toolkit's ``rate_limit``: ``burst`` requests at once, then one per ``interval``."""

    #: Seconds, > 0 (an interval of 0 is no limit: :attr:`WebConfig.rate_limit` is None).
    interval: float
    #: >= 1 (exporter-toolkit's 0 would refuse every request; the file is refused instead).
    burst: int


@attrs.frozen
class WebConfig:
    tls: TLSConfig | None = None
    http2: bool = True
    #: ``(name, value)`` added to every response.
    headers: tuple[tuple[str, str], ...] = ()
    #: user -> bcrypt hash (ASCII bytes). Empty: no authentication.
    users: Mapping[str, bytes] = attrs.field(factory=dict, repr=False, hash=False)
    #: None: no limit.
    rate_limit: RateLimit | None = None


def bcrypt_cost(hashed: bytes) -> int:
    """The cost (log2 rounds) of a hash :class:`WebConfig` accepted."""
    return int(hashed[4:6])


def read_web_config(path: Path) -> WebConfig:
    """Read, parse and check ``path``; raises :class:`WebConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WebConfigError([f"cannot read the file: {reason}"]) from None
    web = parse_web_config(text, base_dir=path.parent)
    problems = _tls_problems(web.tls) if web.tls is not None else []
    if web.users and importlib.util.find_spec("bcrypt") is None:
        problems.append(BCRYPT_MISSING)
    if problems:
        raise WebConfigError(problems)
    return web


def parse_web_config(text: str, *, base_dir: Path) -> WebConfig:
    """The value of the file's ``text``; relative paths are taken from ``base_dir``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise WebConfigError([f"not valid YAML{where}: {what}"]) from None
    problems: list[str] = []
    top = _mapping(data if data is not None else {}, "", problems)
    tls = None
    if (raw := top.get("tls_server_config")) is not None:
        tls = _tls(_mapping(raw, "tls_server_config", problems), base_dir, problems)
    http = _mapping(top.get("http_server_config") or {}, "http_server_config", problems)
    http2 = http.get("http2", True)
    if not isinstance(http2, bool):
        problems.append(
            f"http_server_config.http2: {http2!r} is not accepted; expected true or false"
        )
    headers = _headers(http.get("headers") or {}, problems)
    users = _users(top.get("basic_auth_users") or {}, problems)
    rate_limit = _rate_limit(top.get("rate_limit") or {}, problems)
    if problems:
        raise WebConfigError(problems)
    return WebConfig(
        tls=tls, http2=http2 is not False, headers=headers, users=users, rate_limit=rate_limit
    )


def _mapping(raw: Any, key: str, problems: list[str]) -> dict[str, Any]:
    where = key or "the file"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
        return {}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        full = f"{key}.{name}" if key else str(name)
        if key in _KNOWN and name not in _KNOWN[key]:
            hint = _UNSUPPORTED.get(key, {}).get(str(name))
            if hint is not None:
                problems.append(f"{full}: {hint}")
            else:
                problems.append(f"{full}: unknown key; expected one of {', '.join(_KNOWN[key])}")
            continue
        out[str(name)] = value
    return out


def _tls(raw: dict[str, Any], base_dir: Path, problems: list[str]) -> TLSConfig | None:
    def path(name: str) -> Path | None:
        value = raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            problems.append(f"tls_server_config.{name}: expected a file path")
            return None
        return base_dir / Path(value).expanduser()

    cert, key, ca = path("cert_file"), path("key_file"), path("client_ca_file")
    for name in ("cert_file", "key_file"):
        if raw.get(name) in (None, ""):
            problems.append(f"tls_server_config.{name}: required (a PEM file)")
    auth = raw.get("client_auth_type", "RequireAndVerifyClientCert" if ca else "NoClientCert")
    if auth in ("RequestClientCert", "RequireAnyClientCert"):
        problems.append(
            f"tls_server_config.client_auth_type: {auth} is not supported (Python's ssl "
            "verifies every client certificate it asks for); expected " + ", ".join(_CLIENT_AUTH)
        )
    elif auth not in _CLIENT_AUTH:
        problems.append(
            f"tls_server_config.client_auth_type: {auth!r} is not accepted; expected "
            + ", ".join(_CLIENT_AUTH)
        )
    elif auth != "NoClientCert" and ca is None:
        problems.append(f"tls_server_config.client_ca_file: required by client_auth_type {auth}")
    low = _version(raw, "min_version", "TLS12", problems)
    high = _version(raw, "max_version", "TLS13", problems)
    if low == "TLS13" and high == "TLS12":
        problems.append("tls_server_config.max_version: TLS12 is below min_version TLS13")
        return None
    if cert is None or key is None or auth not in _CLIENT_AUTH or low is None or high is None:
        return None
    return TLSConfig(cert, key, auth, ca, low, high)


def _version(
    raw: dict[str, Any], name: str, default: str, problems: list[str]
) -> TLSVersion | None:
    version = raw.get(name, default)
    if version in ("TLS10", "TLS11"):
        problems.append(
            f"tls_server_config.{name}: {version} is not supported (TLS 1.2 is the "
            "minimum served); expected TLS12 or TLS13"
        )
    elif version not in _VERSIONS:
        problems.append(
            f"tls_server_config.{name}: {version!r} is not accepted; expected TLS12 or TLS13"
        )
    else:
        return cast(TLSVersion, version)
    return None


def _headers(raw: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, value in _mapping(raw, "http_server_config.headers", problems).items():
        key = f"http_server_config.headers.{name}"
        canonical = _HEADERS.get(name.lower())
        if canonical is None:
            problems.append(
                f"{key}: this header cannot be set; expected one of {', '.join(_HEADERS.values())}"
            )
        elif not isinstance(value, str) or not value or any(c in value for c in "\r\n\0"):
            problems.append(f"{key}: expected a one-line text value")
        elif name.lower() in _HEADER_VALUES and value.lower() not in _HEADER_VALUES[name.lower()]:
            problems.append(
                f"{key}: {value!r} is not accepted; expected {' or '.join(_HEADER_VALUES[name.lower()])}"
            )
        else:
            out.append((canonical, value))
    return tuple(out)


def _users(raw: Any, problems: list[str]) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for name, hashed in _mapping(raw, "basic_auth_users", problems).items():
        key = f"basic_auth_users.{name}"
        if not name or ":" in name or not name.isprintable():
            problems.append(f"{key}: a user name must be printable, not empty and without ':'")
        elif not isinstance(hashed, str) or not _BCRYPT_RE.fullmatch(hashed.encode("utf-8")):
            # the value is never repeated: it may be a password pasted by mistake
            problems.append(
                f"{key}: not a bcrypt hash; expected $2a$, $2b$ or $2y$ with a cost of 04-31, "
                "as `htpasswd -nBC 10 USER` or bcrypt.hashpw make it"
            )
        else:
            users[name] = hashed.encode("ascii")
    return users


def go_duration(text: str) -> float | None:
    """Seconds of a Go duration (``1s``, ``1m30s``, ``250ms``, ``-2s``, ``0``); None: not one."""
    sign, body = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    if body == "0":
        return 0.0
    if not body or _DURATION_RE.sub("", body):
        return None
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_RE.findall(body))
    return -seconds if sign == "-" else seconds


def _rate_limit(raw: Any, problems: list[str]) -> RateLimit | None:
    """As exporter-toolkit reads it: no interval (or 0) is no limit, the burst then unused."""
    given = _mapping(raw, "rate_limit", problems)
    interval = given.get("interval", 0)
    if isinstance(interval, (int, float)) and not isinstance(interval, bool) and interval != 0:
        problems.append(
            f"rate_limit.interval: {interval!r} has no unit (exporter-toolkit would read "
            f"{interval!r} nanoseconds); write a Go duration such as 1s or 250ms"
        )
        return None
    seconds = go_duration(interval) if isinstance(interval, str) else 0.0
    if seconds is None or isinstance(interval, bool) or not isinstance(interval, (int, str)):
        problems.append(
            f"rate_limit.interval: {interval!r} is not a Go duration; expected e.g. 1s, "
            "250ms or 1m30s (0: no limit)"
        )
        return None
    if seconds < 0:
        problems.append(
            f"rate_limit.interval: {interval} is negative (exporter-toolkit would not limit "
            "at all); expected a positive duration, or 0 for no limit"
        )
        return None
    burst = given.get("burst", 0)
    if isinstance(burst, bool) or not isinstance(burst, int):
        problems.append(f"rate_limit.burst: {burst!r} is not accepted; expected a whole number")
        return None
    if seconds == 0:
        return None
    if burst < 1:
        problems.append(
            f"rate_limit.burst: {burst} refuses every request (exporter-toolkit would answer "
            "429 to all); expected 1 or more: how many requests may come at once"
        )
        return None
    return RateLimit(seconds, burst)


def _tls_problems(tls: TLSConfig) -> list[str]:
    """Load the files as the server will; each failure named by its key."""
    problems: list[str] = []
    for name in ("cert_file", "key_file", "client_ca_file"):
        path: Path | None = getattr(tls, name)
        if path is None:
            continue
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            problems.append(f"tls_server_config.{name}: cannot read {path}: {exc.strerror or exc}")
    if problems:
        return problems
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(tls.cert_file)
    except ssl.SSLError as exc:
        return [f"tls_server_config.cert_file: not a PEM certificate ({exc.reason or exc})"]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except ssl.SSLError as exc:
        problems.append(
            "tls_server_config.key_file: not the PEM private key of cert_file "
            f"({exc.reason or exc})"
        )
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(tls.client_ca_file)
        except ssl.SSLError as exc:
            problems.append(
                f"tls_server_config.client_ca_file: not a PEM CA certificate ({exc.reason or exc})"
            )
    return problems
