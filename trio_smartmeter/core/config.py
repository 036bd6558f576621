"""The validated configuration: a frozen value, its defaults and the limits it is checked against.

Pure (stdlib + attrs): no I/O, no clock, no logging. Turning flags and environment variables
into a :class:`Config` is the command line's job (``trio_smartmeter.cli.options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

import attrs

from trio_smartmeter.core.mqtt_broker import MqttBroker
from trio_smartmeter.core.secret import Secret

__all__ = [
    "DEFAULT_DEVICE",
    "DEFAULT_INTERVAL",
    "DEFAULT_LISTEN_ADDRESS",
    "DEFAULT_PORT",
    "DEFAULT_WEB_MAX_REQUESTS",
    "ID_LENGTH",
    "MIN_INTERVAL",
    "PASSWORD_LENGTH",
    "SIM_PREFIX",
    "Config",
    "Device",
    "ListenAddress",
    "SerialDevice",
    "SimulatedDevice",
    "default_state_file",
    "parse_device",
]

DEFAULT_INTERVAL: Final = 60
MIN_INTERVAL: Final = 10
DEFAULT_PORT: Final = 9102
#: HTTP requests answered at once, beyond them 503 (node_exporter's --web.max-requests).
DEFAULT_WEB_MAX_REQUESTS: Final = 40
DEFAULT_LISTEN_ADDRESS: Final = "::"  # all interfaces; "[::]" is dual-stack on Linux
ID_LENGTH: Final = 32
PASSWORD_LENGTH: Final = 12
#: How a device names the built-in simulator: ``sim:MODEL`` (its models are the simulator's).
SIM_PREFIX: Final = "sim:"


@attrs.frozen
class SerialDevice:
    """A Wi-SUN module on a serial port (a tty path such as ``/dev/ttyUSB0``)."""

    path: str

    def __str__(self) -> str:
        return self.path


@attrs.frozen
class SimulatedDevice:
    """The built-in simulator, emulating ``model`` (lower case, one of ``sim.MODELS``)."""

    model: str

    def __str__(self) -> str:
        return SIM_PREFIX + self.model


#: What ``-device`` names: parsed once, from text, by :func:`parse_device`.
Device = SerialDevice | SimulatedDevice

DEFAULT_DEVICE: Final = SerialDevice("/dev/ttyACM0")


def parse_device(text: str) -> Device:
    """``sim:MODEL`` or a path. Raises ValueError for an empty path or one with a NUL; the
    model is checked against the simulator's list by whoever knows it (the CLI)."""
    value = text.strip()
    if value.startswith(SIM_PREFIX):
        return SimulatedDevice(value[len(SIM_PREFIX) :].lower())
    if "\0" in value or not value:
        raise ValueError(value)
    return SerialDevice(value)


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


@attrs.frozen
class ListenAddress:
    """One ``-listen-address``: a host, and a port of its own or ``None`` (then ``-port``)."""

    #: Without brackets; ``"::"`` = all interfaces (dual-stack).
    host: str
    port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@attrs.frozen(kw_only=True)
class Config:
    """The validated configuration. Field names are the option names of design.md §2."""

    id: Secret
    password: Secret
    device: Device = DEFAULT_DEVICE
    interval: int = DEFAULT_INTERVAL
    port: int = DEFAULT_PORT
    channel: int | None = None
    #: Fully expanded, upper case, 8 groups: ``FE80:0000:0000:0000:021C:6400:03DD:6393``.
    ipaddr: str | None = None
    dse: bool | Literal["auto"] = "auto"
    verbosity: int = 1
    log_format: Literal["text", "json"] = "text"
    #: Where to listen, each bound (``-listen-address`` repeated: IPv4 and IPv6 at once).
    listen_address: tuple[ListenAddress, ...] = (ListenAddress(DEFAULT_LISTEN_ADDRESS),)
    #: Serve on the sockets systemd passed (LISTEN_FDS) instead of binding listen_address.
    web_systemd_socket: bool = False
    state_file: Path = attrs.field(factory=lambda: default_state_file({}))
    demo: bool = False
    #: exporter-toolkit's web configuration file (TLS, basic auth), read by the CLI.
    web_config_file: Path | None = None
    #: The electricity bill's tariff (issue 21): no bill while None.
    tariff_file: Path | None = None
    #: MQTT for Home Assistant (issue 23): off while None; the password file is merged in.
    mqtt_url: MqttBroker | None = None
    mqtt_ca_file: Path | None = None
    mqtt_password_file: Path | None = None
    mqtt_discovery_prefix: str = "homeassistant"
    #: HTTP requests answered at once; beyond, 503. ``0``: no bound.
    web_max_requests: int = DEFAULT_WEB_MAX_REQUESTS

    def listen_binds(self) -> list[tuple[str, int]]:
        """Every ``(host, port)`` to bind, an address without its own port on ``port``."""
        return [(a.host, self.port if a.port is None else a.port) for a in self.listen_address]
