"""The process boundary: arguments and environment → Config → logging → trio.run; exit codes.

```
trio-smartmeter [options]            run the exporter (--demo: on the built-in simulator)
trio-smartmeter scan [options]       find meters; print channel, PAN ID, address, LQI/RSSI
trio-smartmeter read [options]       join once and print every readable property (--json)
trio-smartmeter history [options]    the stored half-hours (json, csv, openmetrics)
trio-smartmeter bill [options]       the electricity bill in yen (--check FILE: a tariff file)
trio-smartmeter simulate [options]   serve a simulated Wi-SUN module on a pseudo-terminal
trio-smartmeter deploy-files [NAME]  list or print the packaged deployment files
```

Each subcommand has its own ``--help`` (``cli/commands.py``).

Exit status: 0 on a clean stop, 2 for invalid configuration (one line per problem), 1 for
a runtime failure that ends the process (port already in use, the device held by another
process at start).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

from trio_smartmeter import __version__
from trio_smartmeter.cli.argparse_i18n import localize_argparse
from trio_smartmeter.cli.options import ConfigError, HelpRequested, VersionRequested, load_config
from trio_smartmeter.cli.simulator import opener_for, simulator
from trio_smartmeter.core.config import Config
from trio_smartmeter.i18n import _

if TYPE_CHECKING:
    from trio_smartmeter.app.startup import EarlyListener
    from trio_smartmeter.web.web_config import WebConfig

SUBCOMMANDS = ("scan", "read", "history", "bill", "simulate", "deploy-files")


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Config from flags and environment; a ``sim:`` device gets the simulator's demo credentials."""
    return load_config(list(argv), environ, simulator=simulator)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    localize_argparse()
    if args and args[0] in SUBCOMMANDS:
        return _subcommand(args[0], args[1:])
    cfg = _config_or_exit_status(args, "trio-smartmeter")
    return cfg if isinstance(cfg, int) else run(cfg)


def _config_or_exit_status(args: list[str], prog: str) -> Config | int:
    """The configuration, or the exit status after printing help, version or problems."""
    try:
        return parse(args, os.environ)
    except HelpRequested as req:
        print(req.text)
        return 0
    except VersionRequested:
        print(f"trio-smartmeter {__version__}")
        return 0
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{prog}: {line}", file=sys.stderr)
        print(_("{prog}: see --help for every option").format(prog=prog), file=sys.stderr)
        return 2


def run(cfg: Config, web: WebConfig | None = None) -> int:
    """``web``: the parsed web configuration file; by default ``cfg.web_config_file``'s."""
    # The ports are bound first (or taken from systemd), with the standard library only:
    # /-/healthy answers while trio and the HTTP stack load (seconds on a Pi Zero). No
    # stand-in with a web configuration file, whose TLS and users protect /-/healthy too.
    from trio_smartmeter.web.listener import ActivationError, BindError, PortInUseError

    try:
        early = _early_listener(cfg, stand_in=web is None and cfg.web_config_file is None)
    except ActivationError as exc:
        print(f"trio-smartmeter: {exc}", file=sys.stderr)
        return 2
    except PortInUseError as exc:
        print(f"trio-smartmeter: {_port_in_use(exc.port)}", file=sys.stderr)
        return 1
    except BindError as exc:
        print(f"trio-smartmeter: {exc}", file=sys.stderr)
        return 1

    import trio

    from trio_smartmeter.app.root import run_exporter
    from trio_smartmeter.cli.log import setup_logging
    from trio_smartmeter.core.errors import DeviceBusy, first_failure

    if web is None and cfg.web_config_file is not None:
        from trio_smartmeter.web.web_config import WebConfigError, read_web_config

        try:  # checked by parse() already: this fails only if the file changed since
            web = read_web_config(cfg.web_config_file)
        except WebConfigError as exc:
            for line in exc.problems:
                print(f"trio-smartmeter: {cfg.web_config_file}: {line}", file=sys.stderr)
            early.close()
            return 2
    mqtt_password = cfg.mqtt_url.password if cfg.mqtt_url is not None else None
    secrets = (cfg.id, cfg.password) + ((mqtt_password,) if mqtt_password else ())
    setup_logging(cfg.verbosity, cfg.log_format, secrets=secrets)
    try:
        trio.run(partial(run_exporter, web=web, early=early, sim_opener=opener_for(cfg)), cfg)
    except BaseException as exc:  # a Ctrl-C inside a nursery is a BaseExceptionGroup
        # searched at any depth of the nurseries' groups; the port first: it is the message
        group = BaseExceptionGroup("exporter stopped", [exc])
        if group.subgroup(PortInUseError) is not None:
            print(f"trio-smartmeter: {_port_in_use(cfg.port)}", file=sys.stderr)
            return 1
        if (busy := group.subgroup(DeviceBusy)) is not None:
            print(f"trio-smartmeter: {first_failure(busy)}", file=sys.stderr)
            return 1
        if group.subgroup(KeyboardInterrupt) is not None:
            return 0
        raise
    finally:
        early.close()
    return 0


def _early_listener(cfg: Config, *, stand_in: bool) -> EarlyListener:
    """The sockets systemd passed (``-web-systemd-socket``), else every listen address bound."""
    from trio_smartmeter.app.startup import EarlyListener
    from trio_smartmeter.web.listener import activated_sockets

    if cfg.web_systemd_socket:
        socks = activated_sockets(os.environ)
        if socks is not None:
            return EarlyListener(socks, stand_in=stand_in)
        print(
            "trio-smartmeter: socket activation: LISTEN_PID is another process's,"
            " its sockets are not ours; binding -listen-address instead",
            file=sys.stderr,
        )
    return EarlyListener.bind(cfg.listen_binds(), stand_in=stand_in)


def _port_in_use(port: int) -> str:
    return _(
        "port {port} is already in use (another exporter running?); choose another with -port"
    ).format(port=port)


def _subcommand(name: str, args: list[str]) -> int:
    if name == "simulate":
        from trio_smartmeter.sim.cli import simulate_main

        return simulate_main(args)
    if name == "bill":  # its own parser and help (cli/bill.py)
        from trio_smartmeter.cli.bill import bill_main

        return bill_main(args)
    from trio_smartmeter.cli.commands import Usage, parse_command

    prog = f"trio-smartmeter {name}"
    try:
        ours, rest, help_text = parse_command([name, *args])
        if not ours.help and name == "deploy-files" and rest:
            raise Usage(
                _("unexpected {arguments}: one NAME at most").format(arguments=" ".join(rest))
            )
    except Usage as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        print(_("{prog}: see {prog} --help").format(prog=prog), file=sys.stderr)
        return 2
    if ours.help:
        print(help_text, end="")
        return 0
    if name == "deploy-files":
        from trio_smartmeter.cli.deploy_files import deploy_files_main

        return deploy_files_main(ours.name)
    if name == "history":
        from trio_smartmeter.cli.history import history_main

        return history_main(ours, rest)
    cfg = _config_or_exit_status(rest, prog)
    if isinstance(cfg, int):
        return cfg
    from trio_smartmeter.cli.log import setup_logging
    from trio_smartmeter.cli.tools import read_main, scan_main

    setup_logging(cfg.verbosity, cfg.log_format, secrets=(cfg.id, cfg.password))
    import trio

    if name == "scan":
        return trio.run(scan_main, cfg)
    return trio.run(read_main, cfg, ours.json)
