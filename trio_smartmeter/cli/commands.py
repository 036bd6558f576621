"""The subcommands' own grammar and help: one argparse subparser each.

Every user-facing text of the subcommands is a literal here (the exporter's options and
their help are :data:`~trio_smartmeter.cli.options.OPTIONS`). Flags are Go-style as
everywhere (``-json`` = ``--json``): :func:`~trio_smartmeter.cli.options.go_style`
writes every known flag ``--name`` before argparse sees it, and the parsers know only
that spelling, so argparse never abbreviates one. What a subcommand does not know is left
over for the exporter's options (:func:`~trio_smartmeter.cli.options.load_config`).
``simulate`` has its own parser in ``sim/cli.py`` (the simulator is loaded only for it).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Final, NoReturn

from trio_smartmeter.cli.options import go_style
from trio_smartmeter.i18n import N_, _

PROG: Final = "trio-smartmeter"
HISTORY_FORMATS: Final = ("json", "csv", "openmetrics")

#: The exporter's options a device-using subcommand accepts, for its help's epilog.
_DEVICE_EPILOG: Final = N_(
    "The exporter's options choose the stick and the meter (flag or SMARTMETER_* variable): "
    "-id, -password, -device (sim:MODEL = the built-in simulator), -demo, -channel, -ipaddr, "
    "-dse, -verbosity, -log-format, -state-file. See trio-smartmeter --help for each."
)


class Usage(Exception):
    """A bad argument of a subcommand (exit status 2); the message names it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Usage(message)


def _add_help(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--help", action="store_true", help=_("show this help and exit"))


def command_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """``trio-smartmeter COMMAND ...`` for every subcommand but ``simulate``, and each
    subcommand's own parser (for its ``--help``)."""
    top = _Parser(prog=PROG, add_help=False, allow_abbrev=False)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    scan = commands.add_parser(
        "scan",
        add_help=False,
        allow_abbrev=False,
        help=_("find meters"),
        description=_(
            "Scan for smart meters; print each one's channel, PAN ID, address, "
            "LQI/RSSI and whether it answers our B-route ID, then the settings that skip the scan."
        ),
        epilog=_(_DEVICE_EPILOG),
    )
    _add_help(scan)
    read = commands.add_parser(
        "read",
        add_help=False,
        allow_abbrev=False,
        help=_("join once and print every readable property"),
        description=_("Join the meter once and print every property it answers."),
        epilog=_(_DEVICE_EPILOG),
    )
    read.add_argument(
        "--json",
        action="store_true",
        help=_("one JSON object per property: numbers, with the unit in the key (power_watts)"),
    )
    _add_help(read)
    history = commands.add_parser(
        "history",
        add_help=False,
        allow_abbrev=False,
        help=_("the stored half-hours (json, csv, openmetrics)"),
        description=_("Print the stored half-hour registers (forward/reverse, raw and joules)."),
        epilog=_(
            "Without --url the store beside the state file is read; the exporter's options "
            "that choose it (-state-file, -device sim:MODEL, -demo; SMARTMETER_*) apply. With "
            "--url over TLS with basic auth, as curl: --cacert for a private CA, --user NAME "
            "(the password from SMARTMETER_WEB_PASSWORD, --password-file, or a prompt)."
        ),
    )
    _history_arguments(history)
    deploy = commands.add_parser(
        "deploy-files",
        add_help=False,
        allow_abbrev=False,
        help=_("list or print the packaged deployment files"),
        description=_(
            "Without NAME, list the packaged deployment files (systemd unit, "
            "Prometheus and Grafana configuration, ...); with NAME, print that file."
        ),
    )
    deploy.add_argument("name", nargs="?", metavar="NAME", help=_("the file to print"))
    _add_help(deploy)
    return top, {"scan": scan, "read": read, "history": history, "deploy-files": deploy}


def _history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="T", help=_("RFC 3339 or Unix time (default: until - 1 day)"))
    p.add_argument("--until", metavar="T", help=_("RFC 3339 or Unix time (default: now)"))
    p.add_argument("--format", choices=HISTORY_FORMATS, default="json")
    add_url_arguments(p)
    _add_help(p)


def add_url_arguments(p: argparse.ArgumentParser) -> None:
    """``--url`` and what reaching a running exporter takes, as curl spells it (``history``
    and ``bill``: :func:`trio_smartmeter.cli.history.fetch`)."""
    p.add_argument("--url", metavar="URL", help=_("a running exporter, http(s)://HOST:9102"))
    p.add_argument(
        "--cacert",
        metavar="FILE",
        help=_("with --url: trust the server certificate this CA signed"),
    )
    p.add_argument("--user", metavar="NAME", help=_("with --url: basic auth user"))
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help=_("with --user: read the password from FILE (its first line)"),
    )


#: The subcommands' own flags (without dashes), for :func:`go_style`.
_OWN_FLAGS: Final = (
    *("help", "json", "since", "until", "format", "url", "cacert", "user", "password-file"),
)


def parse_command(args: Sequence[str]) -> tuple[argparse.Namespace, list[str], str]:
    """(the subcommand's own values, the words left for the exporter's options, its help).

    ``args[0]`` is the subcommand. Raises :class:`Usage`."""
    top, subcommands = command_parser()
    words = go_style(args[1:], own=_OWN_FLAGS)
    ours, rest = top.parse_known_args([args[0], *words])
    return ours, rest, subcommands[args[0]].format_help()
