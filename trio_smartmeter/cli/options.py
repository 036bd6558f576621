"""Flags and environment variables -> a validated :class:`Config`, with every problem at once.

The contract is design.md §2 (drop-in with the Go seed):

* every option has an environment variable ``SMARTMETER_<NAME>`` and a flag; the flag wins;
* flags are accepted Go-style (``-interval 30``, ``-interval=30``) and GNU-style
  (``--interval 30``, ``--interval=30``), also with ``_`` for ``-`` (``-log_format``); a
  repeated flag: the last one wins (Go's rule);
* an invalid value is never replaced by a default: :func:`load_config` collects **all**
  problems and raises :class:`ConfigError`, one line per problem, naming the variable or
  flag, the value given and what is accepted. The B-route ID and password are never
  echoed, only their length;
* an empty environment variable counts as unset (``SMARTMETER_CHANNEL=`` in a ``.env``
  file, as in the seed's README); unknown ``SMARTMETER_*`` variables are errors (typos);
* booleans accept ``true/false/1/0/yes/no`` in any case; unset ``SMARTMETER_DSE`` is
  ``auto`` (the Go seed turned it into true; we do not).

argparse only splits the command line into strings: it validates nothing, so it cannot stop
at the first bad value. Every value, from a flag or from the environment, then goes through
the parser of its row in :data:`OPTIONS`. The parsers are written by hand rather than as a
cattrs schema: the messages are the requirement, and each one needs the variable, the flag
and (except for secrets) the value.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

import attrs

from trio_smartmeter.core.config import (
    DEFAULT_DEVICE,
    DEFAULT_INTERVAL,
    DEFAULT_PORT,
    DEFAULT_WEB_MAX_REQUESTS,
    ID_LENGTH,
    MIN_INTERVAL,
    PASSWORD_LENGTH,
    Config,
    Device,
    ListenAddress,
    SimulatedDevice,
    default_state_file,
    parse_device,
)
from trio_smartmeter.core.errors import InvalidInput
from trio_smartmeter.core.mqtt_broker import BrokerUrlError, MqttBroker, parse_broker_url
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.skstack import CHANNELS
from trio_smartmeter.i18n import N_, _

__all__ = [
    "ENV_PREFIX",
    "OPTIONS",
    "WEB_PASSWORD_ENV",
    "ConfigError",
    "HelpRequested",
    "Option",
    "Rejected",
    "Simulator",
    "VersionRequested",
    "go_style",
    "help_text",
    "load_config",
    "option_help",
]

ENV_PREFIX: Final = "SMARTMETER_"
#: The basic-auth password ``history --url`` sends (a client's, not an exporter option:
#: accepted in the environment the exporter shares, never read by it).
WEB_PASSWORD_ENV: Final = ENV_PREFIX + "WEB_PASSWORD"


class ConfigError(InvalidInput):
    """The configuration is invalid."""

    what = "configuration"


class HelpRequested(Exception):
    """``-h``/``--help`` was given; ``text`` is :func:`help_text`. The CLI prints it, exit 0."""

    def __init__(self, text: str) -> None:
        super().__init__("help requested")
        self.text = text


class VersionRequested(Exception):
    """``--version`` was given. The CLI prints the version, exit 0."""


class Rejected(ValueError):
    """A value is not accepted; the message says what is (``"0, 1, 2 or 3"``)."""


# -- the value parsers: text -> value, or Rejected("what is accepted") -------------------

_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})
_INT_RE: Final = re.compile(r"\+?[0-9]+")
_HEX_RE: Final = re.compile(r"(?:0[xX])?[0-9A-Fa-f]{1,4}")
_HOST_LABEL_RE: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise Rejected(_("true/false/1/0/yes/no"))


def _dse(text: str) -> bool | Literal["auto"]:
    word = text.strip().lower()
    if word == "auto":
        return "auto"
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise Rejected(_("auto, true/false/1/0/yes/no"))


def _whole_number(expected: str, low: int, high: float = float("inf")) -> Callable[[str], int]:
    """``expected``: a message marked with N_, translated when a value is rejected."""

    def parse(text: str) -> int:
        digits = text.strip()
        if _INT_RE.fullmatch(digits) and low <= int(digits) <= high:
            return int(digits)
        raise Rejected(_(expected).format(minimum=low))

    return parse


def _secret(length: int) -> Callable[[str], Secret]:
    def parse(text: str) -> Secret:
        if len(text) != length or not all("!" <= ch <= "~" for ch in text):
            raise Rejected(
                _("exactly {length} printable ASCII characters without spaces").format(
                    length=length
                )
            )
        return Secret(text)

    return parse


def _device(text: str) -> Device:
    try:
        return parse_device(text)
    except ValueError:
        raise Rejected(_("a serial device path such as /dev/ttyUSB0")) from None


def _channel(text: str) -> int:
    digits = text.strip()
    if _HEX_RE.fullmatch(digits) and int(digits, 16) in CHANNELS:
        return int(digits, 16)
    raise Rejected(
        _("a hex channel number {first}-{last} (e.g. 3B or 0x3B)").format(
            first=f"{CHANNELS[0]:02X}", last=f"{CHANNELS[-1]:02X}"
        )
    )


def _ipaddr(text: str) -> str:
    value = text.strip()
    try:
        addr = ipaddress.IPv6Address(value) if "%" not in value else None
    except ValueError:
        addr = None
    if addr is None or not addr.is_link_local:
        raise Rejected(_("the meter's IPv6 link-local address (FE80::..., no %zone)"))
    return addr.exploded.upper()


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in ("text", "json"):
        raise Rejected(_("text or json"))
    return value


def _listen_addresses(text: str) -> tuple[ListenAddress, ...]:
    """A comma-separated list (the variable; a repeated flag is joined so too)."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise Rejected(_listen_expected())
    return tuple(dict.fromkeys(_listen_address(item) for item in items))


def _listen_expected() -> str:
    return _(
        "a host or host:port, comma-separated or the flag repeated: an IPv4 address,"
        " an IPv6 address ([::1]:9102 with a port), a host name, :PORT (all interfaces);"
        " :: = all"
    )


def _listen_address(text: str) -> ListenAddress:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or ``:port`` (node_exporter's ``:9100``)."""
    host, port, has_port = text, "", False
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or rest[:1] not in ("", ":"):
            raise Rejected(_listen_expected())
        port, has_port = rest[1:], bool(rest)
    elif text.count(":") == 1:  # one colon: host:port; more: an IPv6 address alone
        host, _colon, port = text.partition(":")
        host, has_port = host or "::", True
    if not _valid_host(host) or (has_port and not _is_port(port)):
        raise Rejected(_listen_expected())
    return ListenAddress(host, int(port) if has_port else None)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        return 0 < len(host) <= 253 and all(_HOST_LABEL_RE.fullmatch(x) for x in labels)
    return "%" not in host


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= 65535


def _file_path(text: str) -> Path:
    value = text.strip()
    if "\0" in value or value.endswith("/"):
        raise Rejected(_("a file path"))
    return Path(value)


def _mqtt_url(text: str) -> MqttBroker:
    try:
        return parse_broker_url(text)
    except BrokerUrlError as exc:
        raise Rejected(str(exc)) from None


def _topic_prefix(text: str) -> str:
    value = text.strip()
    if not value or value.startswith("/") or any(c in value for c in "#+\0"):
        raise Rejected(_("an MQTT topic prefix without # or + (Home Assistant's is homeassistant)"))
    return value


# -- the table --------------------------------------------------------------------------


@attrs.frozen
class Simulator:
    """What the built-in simulator offers a configuration. The CLI reads it from
    ``trio_smartmeter.sim`` and injects it, only when a ``sim:`` device or ``-demo`` asks
    for it, so that parsing a configuration for a real stick never imports the simulator."""

    models: tuple[str, ...]
    demo_model: str
    rbid: str  # the simulated meter's B-route ID and password: public, not secrets
    password: str


#: Load the simulator's facts (called at most once, only when needed).
SimulatorLoader = Callable[[], Simulator]


@attrs.frozen
class Option:
    """One option: its :class:`Config` field, help and the parser of its value."""

    name: str  # the Config field, key of ``defaults``, SMARTMETER_<NAME>, flag -<na-me>
    default: str  # as the help shows it (a word is marked with N_, translated when shown)
    help: str  # marked with N_; its {fields} are filled when shown (:func:`option_help`)
    parse: Callable[[str], Any]
    #: Which next word the flag takes as its value: ``any`` (Go's rule for a value flag,
    #: even a word starting with "-"); a Go bool flag is true alone and takes ``none``
    #: (-demo; -demo=false works) or only a ``valid`` one (-dse false).
    next_word: Literal["any", "none", "valid"] = "any"
    secret: bool = False  # never echo the value, only its length
    #: The flag may be given more than once; its values are joined with "," (as the
    #: variable lists them), not the last one winning.
    repeatable: bool = False

    @property
    def flag(self) -> str:
        """Without dashes; ``_`` is accepted for ``-`` too (``-log_format``)."""
        return self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def spellings(self) -> list[str]:
        names = dict.fromkeys((self.flag, self.flag.replace("-", "_")))
        return [dashes + name for name in names for dashes in ("-", "--")]


#: ``(what it is, length)`` of the B-route credentials, for the "required" problem.
_CREDENTIALS: Final = {
    "id": (N_("B-route ID"), ID_LENGTH),
    "password": (N_("B-route password"), PASSWORD_LENGTH),
}

#: Every option, in help order.
OPTIONS: Final[tuple[Option, ...]] = (
    *(
        Option(name, N_("required"), N_("{what} ({length} characters)"), _secret(n), secret=True)
        for name, (what, n) in _CREDENTIALS.items()
    ),
    Option(
        "device",
        str(DEFAULT_DEVICE),
        N_("serial device path; sim:MODEL = built-in simulator ({models})"),
        _device,
    ),
    Option(
        "interval",
        str(DEFAULT_INTERVAL),
        N_("seconds between meter reads, minimum {minimum}"),
        _whole_number(N_("a whole number of seconds >= {minimum}"), MIN_INTERVAL),
    ),
    Option(
        "port",
        str(DEFAULT_PORT),
        N_("HTTP port (1-65535)"),
        _whole_number(N_("a TCP port number 1-65535"), 1, 65535),
    ),
    Option(
        "channel",
        N_("empty"),
        N_("Wi-SUN channel, hex 21-3C; with -ipaddr, skips the scan"),
        _channel,
    ),
    Option(
        "ipaddr",
        N_("empty"),
        N_("meter IPv6 link-local address (FE80::...); with -channel, skips the scan"),
        _ipaddr,
    ),
    Option(
        "dse",
        "auto",
        N_("true/false force the dual-stack / single-hop dialect; auto detects it"),
        _dse,
        next_word="valid",
    ),
    Option(
        "verbosity",
        "1",
        N_(
            "0 errors only, 1 normal, 2 debug, 3 or more: debug + every serial line (secrets masked)"
        ),
        _whole_number(N_("a whole number: 0, 1, 2 or more"), 0),
    ),
    Option("log_format", "text", N_("text or json (one JSON object per line)"), _log_format),
    Option(
        "listen_address",
        N_("all interfaces"),
        N_(
            "where to listen: host or host:port ([::1]:9102, :9102), the flag repeated"
            " or the variable comma-separated (IPv4 and IPv6 at once)"
        ),
        _listen_addresses,
        repeatable=True,
    ),
    Option(
        "web_systemd_socket",
        "false",
        N_(
            "serve on the sockets systemd passes (LISTEN_FDS, trio-smartmeter.socket)"
            " instead of binding -listen-address (as --web.systemd-socket)"
        ),
        _boolean,
        next_word="none",
    ),
    Option(
        "state_file",
        "$XDG_STATE_HOME/trio-smartmeter/state.json",
        N_(
            "cache of the discovered channel / PAN ID / meter address"
            " (sim: devices use state-sim.json)"
        ),
        _file_path,
    ),
    Option(
        "demo",
        "false",
        N_("run against the built-in simulator ({device} unless -device is sim:MODEL)"),
        _boolean,
        next_word="none",
    ),
    Option(
        "web_config_file",
        N_("none"),
        N_("TLS and basic auth: a web configuration file as node_exporter's --web.config.file"),
        _file_path,
    ),
    Option(
        "tariff_file",
        N_("none (no bill)"),
        N_("the electricity bill in yen: a tariff file (YAML, see bill --check)"),
        _file_path,
    ),
    Option(
        "web_max_requests",
        str(DEFAULT_WEB_MAX_REQUESTS),
        N_("HTTP requests answered at once, 503 beyond; 0 = no limit (as --web.max-requests)"),
        _whole_number("a whole number >= 0", 0),
    ),
    # MQTT for Home Assistant (issue 23)
    Option(
        "mqtt_url",
        N_("none (MQTT off)"),
        N_("publish to Home Assistant: mqtt://[user[:password]@]host[:port] or mqtts://"),
        _mqtt_url,
        secret=True,
    ),
    Option(
        "mqtt_ca_file", N_("system CAs"), N_("CA bundle (PEM) for an mqtts:// broker"), _file_path
    ),
    Option(
        "mqtt_password_file",
        N_("none"),
        N_("the MQTT password from this file (systemd credentials, container secrets)"),
        _file_path,
    ),
    Option(
        "mqtt_discovery_prefix",
        "homeassistant",
        N_("Home Assistant's MQTT discovery prefix"),
        _topic_prefix,
    ),
)
_BY_NAME: Final = {o.name: o for o in OPTIONS}
_BY_ENV: Final = {o.env: o for o in OPTIONS}
_KNOWN_FLAGS: Final = ", ".join("-" + o.flag for o in OPTIONS)


def option_help(o: Option, simulator: Simulator | None = None) -> str:
    """``o``'s help line in the user's language, its fields filled in."""
    facts = {
        "models": ", ".join(simulator.models) if simulator else _("see simulate --help"),
        "device": f"sim:{simulator.demo_model}" if simulator else "sim:MODEL",
        "minimum": MIN_INTERVAL,
        "what": _(_CREDENTIALS[o.name][0]) if o.name in _CREDENTIALS else "",
        "length": _CREDENTIALS[o.name][1] if o.name in _CREDENTIALS else "",
    }
    return _(o.help).format(**facts)


def help_text(simulator: Simulator | None = None, prog: str = "trio-smartmeter") -> str:
    """The ``--help`` text: every option with its flag, environment variable and default."""
    lines = [
        _("usage: {prog} [command] [options]").format(prog=prog),
        "",
        _("Prometheus exporter for Japanese smart electricity meters (Wi-SUN B-route)."),
        "",
        _("commands: (none) run the exporter; scan; read; history; bill; simulate; deploy-files"),
        "",
        _(
            "options (flag / environment variable, default; a flag wins over the variable;\n"
            "         -flag value, -flag=value, --flag value and --flag=value are all accepted):"
        ),
    ]
    for o in OPTIONS:
        arg = "" if o.next_word == "none" else " VALUE"
        lines.append(f"  -{o.flag}{arg}")
        lines.append(f"      {o.env}   " + _("(default: {default})").format(default=_(o.default)))
        lines.append(f"      {option_help(o, simulator)}")
    lines += [
        "  -h, --help        " + _("show this help and exit"),
        "  --version         " + _("show the version and exit"),
        "",
        _(
            "Booleans accept true/false/1/0/yes/no in any case. Unknown {prefix}* variables are\n"
            "errors. Invalid values stop the program with exit status 2."
        ).format(prefix=ENV_PREFIX),
    ]
    return "\n".join(lines) + "\n"


# -- reading argv and the environment ----------------------------------------------------


class _FlagParser(argparse.ArgumentParser):
    """Reports instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


_NO_VALUE: Final = object()  # the value of a flag given last on the line without one


def _flag_parser() -> argparse.ArgumentParser:
    """Knows each flag by its one canonical ``--name`` (:func:`go_style` writes them so).

    Only double-dash names, with ``allow_abbrev=False``: Python 3.11's argparse still
    abbreviates single-dash long flags (-int for -interval) and reads -hxyz as -h xyz,
    neither of which Go does; a parser without single-dash names does neither.
    """
    parser = _FlagParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    for o in OPTIONS:
        action = "append" if o.repeatable else "store"
        parser.add_argument("--" + o.flag, dest=o.name, nargs="?", const=_NO_VALUE, action=action)
    parser.add_argument("--help", dest="help", action="store_true")
    parser.add_argument("--version", dest="version", action="store_true")
    return parser


_PARSER: Final = _flag_parser()
_BY_SPELLING: Final = {spelling: o for o in OPTIONS for spelling in o.spellings}
_CANONICAL: Final = {
    **{spelling: "--" + o.flag for spelling, o in _BY_SPELLING.items()},
    **dict.fromkeys(("-h", "--h", "-help", "--help"), "--help"),
    **dict.fromkeys(("-version", "--version"), "--version"),
}


def go_style(args: Sequence[str], own: Sequence[str] = ()) -> list[str]:
    """The words with every known flag (an option's, help, version and ``own``) written
    ``--name[=value]``, the way Go's flag package reads them and argparse then can.

    Go gives a value flag the next word whatever it looks like (argparse would read a
    password starting with "-" as an unknown flag and echo it); a bool flag given alone
    is true, and takes no next word (-demo) or only one it accepts (-dse false). Unknown
    words are left as they are.
    """
    canonical = _CANONICAL | {f"{d}{name}": f"--{name}" for name in own for d in ("-", "--")}
    out: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            return out + list(args[i - 1 :])
        head, eq, value = word.partition("=")
        if head not in canonical:
            out.append(word)
            continue
        o = _BY_SPELLING.get(head)
        if o is not None and not eq and i < len(args) and _takes(o, args[i]):
            eq, value = "=", args[i]
            i += 1
        if o is not None and o.next_word != "any" and not eq:
            eq, value = "=", "true"
        out.append(canonical[head] + eq + value)
    return out


def _takes(o: Option, word: str) -> bool:
    if o.next_word != "valid":
        return o.next_word == "any"
    try:
        o.parse(word)
    except Rejected:
        return False
    return True


@attrs.frozen
class _Given:
    text: str
    from_flag: bool


def _from_argv(
    argv: Sequence[str], problems: list[str], simulator: SimulatorLoader | None
) -> dict[str, _Given]:
    """The flags' values; raises HelpRequested/VersionRequested, ConfigError if unreadable."""
    args = go_style(argv)
    try:
        parsed, extras = _PARSER.parse_known_args(args)
    except argparse.ArgumentError as exc:  # only "--help=x": a bare flag given a value
        raise ConfigError([_("{error}; expected the flag alone").format(error=exc)]) from None
    if parsed.help:
        raise HelpRequested(help_text(simulator() if simulator else None))
    if parsed.version:
        raise VersionRequested()
    given: dict[str, _Given] = {}
    for o in OPTIONS:
        value = getattr(parsed, o.name)
        if isinstance(value, list):  # a repeatable flag
            value = _NO_VALUE if _NO_VALUE in value else ",".join(value)
        if value is _NO_VALUE:
            problems.append(
                _("flag -{flag}: needs a value ({help})").format(flag=o.flag, help=option_help(o))
            )
        elif value is not None:
            given[o.name] = _Given(value, from_flag=True)
    problems += _leftover_problems(args, extras)
    return given


def _leftover_problems(args: list[str], extras: list[str]) -> list[str]:
    """Unknown flags and stray arguments. A word right after an unknown flag is taken as
    its value: one problem, not two."""
    problems: list[str] = []
    index = -1
    value_of_unknown = -1
    options_ended = False
    for extra in extras:  # argparse keeps them in order: find each one's place in args
        index = args.index(extra, index + 1)
        if extra == "--" and not options_ended:
            options_ended = True
        elif options_ended or extra == "-" or not extra.startswith("-"):
            if options_ended or index != value_of_unknown or extra == "-":
                problems.append(
                    _("unexpected argument {argument}: options only (see --help)").format(
                        argument=repr(extra)
                    )
                )
        else:
            name, eq, _value = (extra[2:] if extra.startswith("--") else extra[1:]).partition("=")
            problems.append(
                _("unknown flag -{name}: known flags are {known}, -h/--help, --version").format(
                    name=name, known=_KNOWN_FLAGS
                )
            )
            value_of_unknown = -1 if eq else index + 1
    return problems


def _from_environ(environ: Mapping[str, str], problems: list[str]) -> dict[str, _Given]:
    given: dict[str, _Given] = {}
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX) or key == WEB_PASSWORD_ENV:
            continue
        if (o := _BY_ENV.get(key)) is None:
            known = ", ".join(option.env for option in OPTIONS)
            problems.append(
                _("unknown variable {key}: known variables are {known}").format(
                    key=key, known=known
                )
            )
        elif environ[key] != "":  # an empty variable counts as unset (seed .env files do this)
            given[o.name] = _Given(environ[key], from_flag=False)
    return given


def _where(o: Option, given: _Given) -> str:
    if given.from_flag:
        return _("flag -{flag} ({env})").format(flag=o.flag, env=o.env)
    return _("{env} (flag -{flag})").format(env=o.env, flag=o.flag)


def _parse(o: Option, given: _Given, values: dict[str, Any], problems: list[str]) -> None:
    try:
        values[o.name] = o.parse(given.text)
    except Rejected as exc:
        hidden = _("(hidden, {length} characters)").format(length=len(given.text))
        shown = hidden if o.secret else repr(given.text)
        problems.append(_invalid(_where(o, given), shown, str(exc)))


def _invalid(where: str, shown: str, expected: str) -> str:
    return _("{where}: invalid value {shown}; expected {expected}").format(
        where=where, shown=shown, expected=expected
    )


def _expand_home(path: Path, home: str) -> Path:
    """``~`` and ``~/...`` (not ``~user``): a systemd unit or .env file may write them."""
    return Path(home, *path.parts[1:]) if home and path.parts[:1] == ("~",) else path


def _web_config_problems(given: _Given, path: Path) -> list[str]:
    """The file's problems, each prefixed with where the path came from."""
    from trio_smartmeter.web.web_config import WebConfigError, read_web_config

    try:
        read_web_config(path)
    except WebConfigError as exc:
        return [f"{_where(_BY_NAME['web_config_file'], given)} {path}: {p}" for p in exc.problems]
    return []


def _tariff_problems(given: _Given, path: Path) -> list[str]:
    """The tariff file's problems (issue 21), each naming its key."""
    from trio_smartmeter.core.tariff import TariffError
    from trio_smartmeter.service.tariff_file import read_tariff

    try:
        read_tariff(path)
    except TariffError as exc:
        return [f"{_where(_BY_NAME['tariff_file'], given)} {p}" for p in exc.problems]
    return []


def _mqtt_problems(given: dict[str, _Given], values: dict[str, Any], home: str) -> list[str]:
    """The password file read into the broker URL; options that need the URL without it."""
    problems: list[str] = []
    url = "mqtt_url"
    for name in ("mqtt_ca_file", "mqtt_password_file", "mqtt_discovery_prefix"):
        if name in given and url not in given:
            o, u = _BY_NAME[name], _BY_NAME[url]
            problems.append(
                _("{where}: needs {env} (flag -{flag}) too").format(
                    where=_where(o, given[name]), env=u.env, flag=u.flag
                )
            )
    for name in ("mqtt_ca_file", "mqtt_password_file"):
        if name in values:
            values[name] = _expand_home(values[name], home)
    broker = values.get(url)
    path = values.get("mqtt_password_file")
    if broker is None or path is None:
        return problems
    where = _where(_BY_NAME["mqtt_password_file"], given["mqtt_password_file"])
    if broker.username is None:
        return [
            *problems,
            _("{where}: the URL needs a user (mqtt://user@host) for a password").format(
                where=where
            ),
        ]
    try:
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        return [
            *problems,
            _("{where} {path}: cannot be read ({reason})").format(
                where=where, path=path, reason=reason
            ),
        ]
    values[url] = broker.with_password(Secret(password))
    return problems


def _listen_overlaps(given: dict[str, _Given], values: dict[str, Any]) -> list[str]:
    """An address that another one on its port already covers: ``::`` is every address,
    IPv4 included, and ``0.0.0.0`` every IPv4 one. The second bind would fail as "port in
    use", which names the wrong cause."""
    if "listen_address" not in values:
        return []
    port = values.get("port", DEFAULT_PORT)
    binds = [(a.host, port if a.port is None else a.port) for a in values["listen_address"]]
    for host, p in binds:
        if host not in ("::", "0.0.0.0"):
            continue
        covered = [h for h, q in binds if q == p and h != host and (host == "::" or _is_ipv4(h))]
        if covered:
            where = _where(_BY_NAME["listen_address"], given["listen_address"])
            return [
                _(
                    "{where}: {all} already listens on {covered} (port {port}); list it alone"
                ).format(where=where, all=host, covered=", ".join(covered), port=p)
            ]
    return []


def _is_ipv4(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False  # a host name: resolved when bound


def load_config(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    simulator: SimulatorLoader | None = None,
    require_credentials: bool = True,
) -> Config:
    """Build the :class:`Config` from flags (``argv`` without the program name and
    without a subcommand) and the environment.

    ``simulator`` gives the built-in simulator's models, demo model and credentials; it is
    called only for a ``sim:`` device or ``-demo`` (without it those are problems), and a
    ``sim:`` device uses the demo credentials unless others are given.
    ``require_credentials=False`` (e.g. for ``history``) turns missing ID/password into
    empty secrets instead of problems.

    Raises :class:`ConfigError` (all problems at once), :class:`HelpRequested`, or
    :class:`VersionRequested`.
    """
    problems: list[str] = []
    flags = _from_argv(argv, problems, simulator)
    given = _from_environ(environ, problems) | flags  # flags win
    values: dict[str, Any] = {}
    for o in OPTIONS:
        if o.name in given:
            _parse(o, given[o.name], values, problems)
    sim = _simulated_device(given, values, problems, simulator)
    _credentials(given, values, problems, sim, require_credentials=require_credentials)

    if "state_file" not in given:
        values["state_file"] = default_state_file(environ, simulated=sim is not None)
    elif "state_file" in values:
        values["state_file"] = _expand_home(values["state_file"], environ.get("HOME", ""))
    if "web_config_file" in values:
        path = _expand_home(values["web_config_file"], environ.get("HOME", ""))
        values["web_config_file"] = path
        problems += _web_config_problems(given["web_config_file"], path)
    if "tariff_file" in values:
        path = _expand_home(values["tariff_file"], environ.get("HOME", ""))
        values["tariff_file"] = path
        problems += _tariff_problems(given["tariff_file"], path)
    problems += _mqtt_problems(given, values, environ.get("HOME", ""))
    problems += _listen_overlaps(given, values)

    if problems:
        raise ConfigError(problems)
    return Config(**values)


def _simulated_device(
    given: dict[str, _Given],
    values: dict[str, Any],
    problems: list[str],
    simulator: SimulatorLoader | None,
) -> Simulator | None:
    """The simulator's facts when the device is (or -demo makes it) a ``sim:`` one, also an
    invalid one (its credentials still apply); its model checked against the simulator's."""
    demo = values.get("demo", False)
    device = values.get("device")
    simulated = isinstance(device, SimulatedDevice) or (demo and "device" not in given)
    if not simulated:
        if demo and device is not None:
            problems.append(
                _(
                    "{where}: -demo runs the simulator, but the device is {device};"
                    " expected no device or sim:MODEL"
                ).format(
                    where=_where(_BY_NAME["device"], given["device"]), device=repr(str(device))
                )
            )
        return None
    if simulator is None:
        problems.append(_("the built-in simulator is not available to this command"))
        return None
    sim = simulator()
    if device is None:
        values["device"] = SimulatedDevice(sim.demo_model)
    elif isinstance(device, SimulatedDevice) and device.model not in sim.models:
        where = _where(_BY_NAME["device"], given["device"])
        expected = _("a serial device path or sim:MODEL with MODEL one of {models}")
        problems.append(
            _invalid(
                where, repr(given["device"].text), expected.format(models=", ".join(sim.models))
            )
        )
    return sim


def _credentials(
    given: dict[str, _Given],
    values: dict[str, Any],
    problems: list[str],
    sim: Simulator | None,
    *,
    require_credentials: bool,
) -> None:
    demo = {"id": sim.rbid, "password": sim.password} if sim is not None else {}
    for name, (what, length) in _CREDENTIALS.items():
        if name in given:
            continue
        o = _BY_NAME[name]
        if name in demo:
            _parse(o, _Given(demo[name], from_flag=False), values, problems)
        elif require_credentials:
            problems.append(
                _(
                    "{where}: required but not set;"
                    " expected the {what} ({length} printable ASCII characters)"
                ).format(where=_where(o, _Given("", from_flag=False)), what=_(what), length=length)
            )
        else:
            values[name] = Secret("")
