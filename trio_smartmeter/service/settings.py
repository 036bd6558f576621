"""What the session needs from the configuration, as the service's own value type."""

from __future__ import annotations

from pathlib import Path

import attrs

from trio_smartmeter.core.config import DEFAULT_INTERVAL, Config, Device, SimulatedDevice
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.skstack import Dialect
from trio_smartmeter.link.timing import Timing


@attrs.frozen
class SessionSettings:
    rbid: Secret
    password: Secret
    device: Device
    interval: float = float(DEFAULT_INTERVAL)
    channel: int | None = None
    ipaddr: str | None = None
    dialect: Dialect | None = None  # None = detect
    state_file: Path | None = None
    timing: Timing = attrs.field(factory=Timing)
    #: the half-hour store, beside the state file (None: kept in memory)
    history_file: Path | None = None


def settings_from_config(cfg: Config, *, timing: Timing | None = None) -> SessionSettings:
    dialect = None if cfg.dse == "auto" else Dialect.DUAL_STACK if cfg.dse else Dialect.SINGLE_HOP
    return SessionSettings(
        rbid=cfg.id,
        password=cfg.password,
        device=cfg.device,
        interval=float(cfg.interval),
        channel=cfg.channel,
        ipaddr=cfg.ipaddr,
        dialect=dialect,
        state_file=Path(cfg.state_file) if cfg.state_file else None,
        timing=timing if timing is not None else Timing(),
        history_file=history_file(cfg),
    )


def history_file(cfg: Config) -> Path | None:
    """``history.sqlite`` beside the state file (``history-sim.sqlite`` for a ``sim:``
    device, so a demo never mixes its meter's half-hours into the real one's)."""
    if not cfg.state_file:
        return None
    name = "history-sim.sqlite" if isinstance(cfg.device, SimulatedDevice) else "history.sqlite"
    return Path(cfg.state_file).with_name(name)
