"""Configuration: environment variables and flags -> a validated, frozen :class:`Config`.

Pure (stdlib + attrs): no I/O, no clock, no logging; the caller passes ``argv`` and
``environ`` in. The contract is design.md §2 (drop-in with the Go seed):

* every option has an environment variable ``SMARTMETER_<NAME>`` and a flag; the flag wins;
* flags are accepted Go-style (``-interval 30``, ``-interval=30``) and GNU-style
  (``--interval 30``, ``--interval=30``); a repeated flag: the last one wins (Go's rule);
* an invalid value is never replaced by a default: :func:`load_config` collects **all**
  problems and raises :class:`ConfigError`, one line per problem, naming the variable or
  flag, the value given and what is accepted. The B-route ID and password are never
  echoed, only their length;
* an empty environment variable counts as unset (``SMARTMETER_CHANNEL=`` in a ``.env``
  file, as in the seed's README); unknown ``SMARTMETER_*`` variables are errors (typos);
* booleans accept ``true/false/1/0/yes/no`` in any case; unset ``SMARTMETER_DSE`` is
  ``auto`` (the Go seed turned it into true; we do not).

Validation is written by hand rather than with cattrs: the messages are the requirement,
and every one of them needs the variable, the flag and (except for secrets) the value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

import attrs

from trio_smartmeter.core.secret import Secret

__all__ = [
    "DEFAULT_DEVICE",
    "DEFAULT_INTERVAL",
    "DEFAULT_PORT",
    "ENV_PREFIX",
    "MIN_INTERVAL",
    "OPTIONS",
    "SIM_MODELS",
    "Config",
    "ConfigError",
    "HelpRequested",
    "VersionRequested",
    "default_state_file",
    "help_text",
    "load_config",
]

ENV_PREFIX: Final = "SMARTMETER_"
DEFAULT_DEVICE: Final = "/dev/ttyACM0"
DEFAULT_INTERVAL: Final = 60
MIN_INTERVAL: Final = 10
DEFAULT_PORT: Final = 9102
DEFAULT_LISTEN_ADDRESS: Final = "::"  # all interfaces; "[::]" is dual-stack on Linux
#: ``sim:MODEL`` device names (the built-in simulator).
SIM_MODELS: Final = ("bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss")
#: ``--demo`` without a device selects this simulator.
DEMO_DEVICE: Final = "sim:bp35a1"
#: The built-in simulator's B-route ID and password (public, not a secret); a ``sim:``
#: device uses them unless others are given. Kept here, not in ``sim``, so that parsing a
#: configuration never imports the simulator.
DEMO_RBID: Final = "00112233445566778899AABBCCDDEEFF"
DEMO_PASSWORD: Final = "DEMOPASSWORD"
ID_LENGTH: Final = 32
PASSWORD_LENGTH: Final = 12
CHANNEL_MIN: Final = 0x21
CHANNEL_MAX: Final = 0x3C

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@attrs.frozen
class _Option:
    name: str  # attribute name and key of ``defaults``
    flag: str  # flag name without dashes
    default: str  # for the help text
    help: str
    takes_value: bool = True

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


#: Every option, in help order. ``flag`` is also accepted with ``_`` instead of ``-``.
OPTIONS: Final[tuple[_Option, ...]] = (
    _Option("id", "id", "required", f"B-route ID ({ID_LENGTH} characters)"),
    _Option("password", "password", "required", f"B-route password ({PASSWORD_LENGTH} characters)"),
    _Option(
        "device",
        "device",
        DEFAULT_DEVICE,
        "serial device path; sim:MODEL = built-in simulator (" + ", ".join(SIM_MODELS) + ")",
    ),
    _Option(
        "interval",
        "interval",
        str(DEFAULT_INTERVAL),
        f"seconds between meter reads, minimum {MIN_INTERVAL}",
    ),
    _Option("port", "port", str(DEFAULT_PORT), "HTTP port (1-65535)"),
    _Option(
        "channel", "channel", "empty", "Wi-SUN channel, hex 21-3C; with -ipaddr, skips the scan"
    ),
    _Option(
        "ipaddr",
        "ipaddr",
        "empty",
        "meter IPv6 link-local address (FE80::...); with -channel, skips the scan",
    ),
    _Option(
        "dse",
        "dse",
        "auto",
        "true/false force the dual-stack / single-hop dialect; auto detects it",
    ),
    _Option(
        "verbosity",
        "verbosity",
        "1",
        "0 errors only, 1 normal, 2 debug, 3 debug + every serial line (secrets masked)",
    ),
    _Option("log_format", "log-format", "text", "text or json (one JSON object per line)"),
    _Option(
        "listen_address",
        "listen-address",
        "all interfaces",
        "address to bind: IPv4 or IPv6 literal or host name",
    ),
    _Option(
        "state_file",
        "state-file",
        "$XDG_STATE_HOME/trio-smartmeter/state.json",
        "cache of the discovered channel / PAN ID / meter address (sim: devices use state-sim.json)",
    ),
    _Option(
        "demo",
        "demo",
        "false",
        f"run against the built-in simulator ({DEMO_DEVICE} unless -device is sim:MODEL)",
        takes_value=False,
    ),
)
_BY_FLAG: Final = {o.flag: o for o in OPTIONS} | {o.flag.replace("-", "_"): o for o in OPTIONS}
_BY_ENV: Final = {o.env: o for o in OPTIONS}
_SECRET_NAMES: Final = frozenset({"id", "password"})


class ConfigError(Exception):
    """The configuration is invalid. ``problems``: one line each, never a secret's value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


class HelpRequested(Exception):
    """``-h``/``--help`` was given; ``text`` is :func:`help_text`. The CLI prints it, exit 0."""

    def __init__(self, text: str) -> None:
        super().__init__("help requested")
        self.text = text


class VersionRequested(Exception):
    """``--version`` was given. The CLI prints the version, exit 0."""


def default_state_file(environ: Mapping[str, str], *, simulated: bool = False) -> Path:
    """``$XDG_STATE_HOME/trio-smartmeter/state.json``, else ``~/.local/state/...``.

    Without ``HOME`` (some containers), ``/var/lib/trio-smartmeter/state.json``. The
    simulator's meter is cached in ``state-sim.json``: a demo run must not leave its
    address for the real stick to try first.
    """
    name = "state-sim.json" if simulated else "state.json"
    xdg = environ.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: relative paths are to be ignored
        return Path(xdg) / "trio-smartmeter" / name
    home = environ.get("HOME", "")
    if home:
        return Path(home) / ".local" / "state" / "trio-smartmeter" / name
    return Path("/var/lib/trio-smartmeter") / name


@attrs.frozen(kw_only=True)
class Config:
    """The validated configuration. Field names are the option names of design.md §2."""

    id: Secret
    password: Secret
    device: str = DEFAULT_DEVICE
    interval: int = DEFAULT_INTERVAL
    port: int = DEFAULT_PORT
    channel: int | None = None
    #: Fully expanded, upper case, 8 groups: ``FE80:0000:0000:0000:021C:6400:03DD:6393``.
    ipaddr: str | None = None
    dse: bool | Literal["auto"] = "auto"
    verbosity: int = 1
    log_format: Literal["text", "json"] = "text"
    #: Host to bind, without brackets; ``"::"`` = all interfaces (dual-stack).
    listen_address: str = DEFAULT_LISTEN_ADDRESS
    state_file: Path = attrs.field(factory=lambda: default_state_file({}))
    demo: bool = False

    @property
    def sim_model(self) -> str | None:
        """``"bp35c2"`` for device ``sim:bp35c2``; ``None`` for a real serial device."""
        return self.device[4:] if self.device.startswith("sim:") else None

    @property
    def bind(self) -> str:
        """Hypercorn bind string: ``[::]:9102``, ``127.0.0.1:9102``, ``host:9102``."""
        host = self.listen_address
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def skip_scan(self) -> bool:
        """Channel and meter address both known: the scan can be skipped."""
        return self.channel is not None and self.ipaddr is not None


def help_text(prog: str = "trio-smartmeter") -> str:
    """The ``--help`` text: every option with its flag, environment variable and default."""
    lines = [
        f"usage: {prog} [command] [options]",
        "",
        "Prometheus exporter for Japanese smart electricity meters (Wi-SUN B-route).",
        "",
        "commands: (none) run the exporter; scan; read; simulate",
        "",
        "options (flag / environment variable, default; a flag wins over the variable;",
        "         -flag value, -flag=value, --flag value and --flag=value are all accepted):",
    ]
    for o in OPTIONS:
        arg = "" if not o.takes_value else " VALUE"
        lines.append(f"  -{o.flag}{arg}")
        lines.append(f"      {o.env}   (default: {o.default})")
        lines.append(f"      {o.help}")
    lines += [
        "  -h, --help        show this help and exit",
        "  --version         show the version and exit",
        "",
        f"Booleans accept true/false/1/0/yes/no in any case. Unknown {ENV_PREFIX}* variables are",
        "errors. Invalid values stop the program with exit status 2.",
    ]
    return "\n".join(lines) + "\n"


# -- parsing ----------------------------------------------------------------------------


@attrs.define
class _Raw:
    value: str
    source: str  # "flag -interval" or "SMARTMETER_INTERVAL"


def _parse_argv(argv: Sequence[str], problems: list[str]) -> tuple[dict[str, _Raw], bool, bool]:
    """Flags -> raw strings. Returns (values, help, version)."""
    out: dict[str, _Raw] = {}
    want_help = want_version = False
    i = 0
    args = list(argv)
    while i < len(args):
        tok = args[i]
        i += 1
        if tok == "--":
            for extra in args[i:]:
                problems.append(f"unexpected argument {extra!r}: options only (see --help)")
            break
        if not tok.startswith("-") or tok == "-":
            problems.append(f"unexpected argument {tok!r}: options only (see --help)")
            continue
        body = tok[2:] if tok.startswith("--") else tok[1:]
        name, eq, inline = body.partition("=")
        if name in ("h", "help"):
            want_help = True
            continue
        if name == "version":
            want_version = True
            continue
        opt = _BY_FLAG.get(name)
        if opt is None:
            known = ", ".join("-" + o.flag for o in OPTIONS)
            problems.append(f"unknown flag -{name}: known flags are {known}, -h/--help, --version")
            if not eq and i < len(args) and not args[i].startswith("-"):
                i += 1  # its probable value: one problem, not two
            continue
        source = f"flag -{opt.flag}"
        if eq:
            value = inline
        elif not opt.takes_value:
            value = "true"
        elif opt.name == "dse":
            # Go's -dse is a bool flag: bare "-dse" means true. Take a following value
            # only if it is one (positional arguments are not accepted anyway).
            if i < len(args) and args[i].strip().lower() in (_TRUE | _FALSE | {"auto"}):
                value = args[i]
                i += 1
            else:
                value = "true"
        elif i < len(args):
            value = args[i]
            i += 1
        else:
            problems.append(f"{source}: needs a value ({opt.help})")
            continue
        out[opt.name] = _Raw(value, source)
    return out, want_help, want_version


def _parse_environ(environ: Mapping[str, str], problems: list[str]) -> dict[str, _Raw]:
    out: dict[str, _Raw] = {}
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX):
            continue
        opt = _BY_ENV.get(key)
        if opt is None:
            known = ", ".join(o.env for o in OPTIONS)
            problems.append(f"unknown variable {key}: known variables are {known}")
            continue
        value = environ[key]
        if value == "":  # an empty variable counts as unset (seed .env files do this)
            continue
        out[opt.name] = _Raw(value, key)
    return out


def _where(opt_name: str, raw: _Raw) -> str:
    opt = next(o for o in OPTIONS if o.name == opt_name)
    if raw.source.startswith("flag"):
        return f"{raw.source} ({opt.env})"
    return f"{raw.source} (flag -{opt.flag})"


def _bad(opt_name: str, raw: _Raw, accepted: str) -> str:
    if opt_name in _SECRET_NAMES:
        shown = f"(hidden, {len(raw.value)} characters)"
    else:
        shown = repr(raw.value)
    return f"{_where(opt_name, raw)}: invalid value {shown}; expected {accepted}"


_INT_RE = re.compile(r"\+?[0-9]+")
_HEX_RE = re.compile(r"(?:0[xX])?[0-9A-Fa-f]{1,4}")
_HOST_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if _INT_RE.fullmatch(text) else None


def _parse_bool(text: str) -> bool | None:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    return None


def _valid_hostname(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(_HOST_LABEL_RE.fullmatch(label) for label in labels)


def _secret(
    name: str, raw: _Raw | None, length: int, problems: list[str], what: str, required: bool
) -> Secret:
    opt = next(o for o in OPTIONS if o.name == name)
    if raw is None:
        if required:
            problems.append(
                f"{opt.env} (flag -{opt.flag}): required but not set; expected the {what} "
                f"({length} printable ASCII characters)"
            )
        return Secret("")
    value = raw.value
    if len(value) != length or not all("!" <= ch <= "~" for ch in value):
        problems.append(
            _bad(name, raw, f"exactly {length} printable ASCII characters without spaces")
        )
    return Secret(value)


def load_config(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    defaults: Mapping[str, str] | None = None,
    require_credentials: bool = True,
) -> Config:
    """Build the :class:`Config` from flags (``argv`` without the program name and
    without a subcommand) and the environment.

    ``defaults`` maps option names (``"id"``, ``"password"``) to values used only when the
    device is a ``sim:`` simulator and the option is not given: the CLI passes the
    simulator's demo credentials here, so this module stays free of ``trio_smartmeter.sim``.
    ``require_credentials=False`` (e.g. for ``simulate``) turns missing ID/password into
    empty secrets instead of problems.

    Raises :class:`ConfigError` (all problems at once), :class:`HelpRequested`, or
    :class:`VersionRequested`.
    """
    problems: list[str] = []
    flags, want_help, want_version = _parse_argv(argv, problems)
    if want_help:
        raise HelpRequested(help_text())
    if want_version:
        raise VersionRequested()
    env = _parse_environ(environ, problems)
    raw: dict[str, _Raw] = {**env, **flags}  # flags win
    kwargs: dict[str, object] = {}

    # demo
    demo = False
    if (r := raw.get("demo")) is not None:
        b = _parse_bool(r.value)
        if b is None:
            problems.append(_bad("demo", r, "true/false/1/0/yes/no"))
        else:
            demo = b
    kwargs["demo"] = demo

    # device
    device = DEFAULT_DEVICE
    if (r := raw.get("device")) is not None:
        value = r.value.strip()
        if value.startswith("sim:"):
            model = value[4:].lower()
            if model not in SIM_MODELS:
                problems.append(
                    _bad(
                        "device",
                        r,
                        "a serial device path or sim:MODEL with MODEL one of "
                        + ", ".join(SIM_MODELS),
                    )
                )
            value = "sim:" + model
        elif "\0" in value or not value:
            problems.append(_bad("device", r, "a serial device path such as /dev/ttyUSB0"))
        elif demo:
            problems.append(
                f"{_where('device', r)}: -demo runs the simulator, but the device is "
                f"{value!r}; expected no device or sim:MODEL"
            )
        device = value
    elif demo:
        device = DEMO_DEVICE
    kwargs["device"] = device

    # credentials (the simulator's demo credentials when a sim: device is used)
    is_sim = device.startswith("sim:")
    for name, length, what in (
        ("id", ID_LENGTH, "B-route ID"),
        ("password", PASSWORD_LENGTH, "B-route password"),
    ):
        r = raw.get(name)
        if r is None and is_sim and defaults and defaults.get(name):
            r = _Raw(defaults[name], f"{ENV_PREFIX}{name.upper()}")
        kwargs[name] = _secret(name, r, length, problems, what, require_credentials)

    # interval
    if (r := raw.get("interval")) is not None:
        n = _parse_int(r.value)
        if n is None or n < MIN_INTERVAL:
            problems.append(_bad("interval", r, f"a whole number of seconds >= {MIN_INTERVAL}"))
        else:
            kwargs["interval"] = n

    # port
    if (r := raw.get("port")) is not None:
        n = _parse_int(r.value)
        if n is None or not 1 <= n <= 65535:
            problems.append(_bad("port", r, "a TCP port number 1-65535"))
        else:
            kwargs["port"] = n

    # channel
    if (r := raw.get("channel")) is not None:
        text = r.value.strip()
        ch = int(text, 16) if _HEX_RE.fullmatch(text) else None
        if ch is None or not CHANNEL_MIN <= ch <= CHANNEL_MAX:
            problems.append(_bad("channel", r, "a hex channel number 21-3C (e.g. 3B or 0x3B)"))
        else:
            kwargs["channel"] = ch

    # ipaddr
    if (r := raw.get("ipaddr")) is not None:
        text = r.value.strip()
        try:
            addr = ipaddress.IPv6Address(text) if "%" not in text else None
        except ValueError:
            addr = None
        if addr is None or not addr.is_link_local:
            problems.append(
                _bad("ipaddr", r, "the meter's IPv6 link-local address (FE80::..., no %zone)")
            )
        else:
            kwargs["ipaddr"] = addr.exploded.upper()

    # dse
    if (r := raw.get("dse")) is not None:
        if r.value.strip().lower() == "auto":
            kwargs["dse"] = "auto"
        else:
            b = _parse_bool(r.value)
            if b is None:
                problems.append(_bad("dse", r, "auto, true/false/1/0/yes/no"))
            else:
                kwargs["dse"] = b

    # verbosity
    if (r := raw.get("verbosity")) is not None:
        n = _parse_int(r.value)
        if n is None or not 0 <= n <= 3:
            problems.append(_bad("verbosity", r, "0, 1, 2 or 3"))
        else:
            kwargs["verbosity"] = n

    # log format
    if (r := raw.get("log_format")) is not None:
        fmt = r.value.strip().lower()
        if fmt not in ("text", "json"):
            problems.append(_bad("log_format", r, "text or json"))
        else:
            kwargs["log_format"] = fmt

    # listen address
    if (r := raw.get("listen_address")) is not None:
        host = r.value.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        ok = False
        try:
            ipaddress.ip_address(host)
            ok = "%" not in host
        except ValueError:
            ok = _valid_hostname(host)
        if not ok:
            problems.append(
                _bad("listen_address", r, "an IPv4 or IPv6 address (:: = all) or a host name")
            )
        else:
            kwargs["listen_address"] = host

    # state file
    if (r := raw.get("state_file")) is not None:
        text = r.value.strip()
        if "\0" in text or text.endswith("/"):
            problems.append(_bad("state_file", r, "a file path"))
        else:
            home = environ.get("HOME", "")
            if home and (text == "~" or text.startswith("~/")):
                text = home + text[1:]
            kwargs["state_file"] = Path(text)
    else:
        simulated = str(kwargs.get("device", "")).startswith("sim:")
        kwargs["state_file"] = default_state_file(environ, simulated=simulated)

    if problems:
        raise ConfigError(problems)
    return Config(**kwargs)  # type: ignore[arg-type]
