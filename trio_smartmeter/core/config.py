"""The validated configuration: a frozen value, its defaults and the limits it is checked against.

Pure (stdlib + attrs): no I/O, no clock, no logging. Turning flags and environment variables
into a :class:`Config` is the command line's job (``trio_smartmeter.cli.options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

import attrs

from trio_smartmeter.core.secret import Secret

__all__ = [
    "DEFAULT_DEVICE",
    "DEFAULT_INTERVAL",
    "DEFAULT_LISTEN_ADDRESS",
    "DEFAULT_PORT",
    "DEMO_DEVICE",
    "DEMO_PASSWORD",
    "DEMO_RBID",
    "ID_LENGTH",
    "MIN_INTERVAL",
    "PASSWORD_LENGTH",
    "SIM_MODELS",
    "Config",
    "default_state_file",
]

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
    #: exporter-toolkit's web configuration file (TLS, basic auth), read by the CLI.
    web_config_file: Path | None = None
