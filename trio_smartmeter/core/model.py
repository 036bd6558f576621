"""Application value types: what the exporter knows about the meter, the module and the link.

Values are in SI units (watts, amperes, joules) so that nothing above this layer needs to
know ECHONET Lite's raw encodings. Absent data is ``None``, never a sentinel number.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs


class SessionState(enum.Enum):
    """Where the session supervisor is. One-hot in ``smartmeter_session_state``."""

    STARTING = "starting"
    NO_DEVICE = "no_device"  # the serial device is missing or cannot be opened
    INITIALISING = "initialising"  # reset, identify, credentials
    SCANNING = "scanning"
    JOINING = "joining"
    READY = "ready"  # PANA session up; polling
    REAUTH = "reauth"  # EVENT 29 seen; waiting for the module's own re-authentication
    RATE_LIMITED = "rate_limited"  # EVENT 32 until EVENT 33
    BACKOFF = "backoff"  # waiting before the next rung of the recovery ladder
    LATCHED = "latched"  # repeated EVENT 24: wrong ID/password, slow retry
    UNSUPPORTED = "unsupported"  # e.g. a J11 binary-protocol stick
    STOPPING = "stopping"


@attrs.frozen
class Reading:
    """One successful poll: everything the single Get frame returned, already scaled."""

    power_watts: int | None
    current_r_amperes: Decimal | None
    current_t_amperes: Decimal | None
    energy_forward_joules: Decimal | None
    energy_reverse_joules: Decimal | None
    received_monotonic: float
    received_unix: float


@attrs.frozen
class FixedTimeEnergy:
    """The meter's own 30-minute cumulative value (EPC 0xEA/0xEB) and when it was taken."""

    joules: Decimal
    meter_timestamp_unix: float  # the meter's local clock, interpreted as JST (UTC+9)
    received_monotonic: float


@attrs.frozen
class MeterInfo:
    manufacturer: str  # 6 hex digits (EPC 0x8A)
    standard_version: str  # ECHONET Appendix release letter (EPC 0x82), "" when unknown
    production_number: str | None = None  # EPC 0x8D, when the meter answers it


@attrs.frozen
class ModuleInfo:
    model: str  # "bp35a1-family", "dse" ... as detected, or the simulator's model name
    firmware: str  # EVER
    app_version: str  # EAPPVER, "" when unknown
    dialect: str  # "single-hop" | "dual-stack"
    payload_format: str  # "binary" | "hex"


@attrs.frozen
class MeterScaling:
    """Static properties read once per session: how raw cumulative values become energy."""

    coefficient: int  # EPC 0xD3 (absent => 1)
    unit_kwh: Decimal  # EPC 0xE1
    digits: int | None  # EPC 0xD7
    has_reverse: bool  # EPC 0xE3 is in the meter's Get property map
    history2: bool = False  # EC in the Get map and ED in the Set map (history 2)
    minute_energy: bool = False  # D0 in the Get map (Release R)


@attrs.frozen
class HalfHour:
    """The cumulative registers at the end of one half-hour slot, by the meter's clock.

    ``end_unix`` is the slot's end (the meter's JST boundary as Unix time) and its key.
    Raw values are as the meter gives them; joules are raw × coefficient × unit.
    """

    end_unix: int
    forward_raw: int | None = None
    reverse_raw: int | None = None
    forward_joules: Decimal | None = None
    reverse_joules: Decimal | None = None


@attrs.frozen
class MinuteEnergy:
    """EPC 0xD0 of a Release R meter: the latest one-minute cumulative values."""

    forward_joules: Decimal | None
    reverse_joules: Decimal | None
    meter_timestamp_unix: float
    received_monotonic: float
