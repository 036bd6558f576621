"""Home Assistant's side of MQTT: discovery configs, the state payload and the topics; pure.

Home Assistant learns the meter from retained configs under
``<prefix>/sensor/<node>/<object>/config`` (its MQTT discovery) and reads every sensor's
value from one JSON state message per reading. Two availability topics say what can be
trusted: ``<base>/status`` is the exporter itself (``online`` at connect, ``offline`` at
a stop or as the broker's last will when the process dies) and ``<base>/meter`` is the
meter data (``offline`` once the latest reading is older than 3 × the interval, as
``smartmeter_up`` is 0 then). Meter sensors need both (``availability_mode: all``); the
diagnostics (link quality, session state) need only the exporter, so a latched or
rate-limited session stays visible while the readings are stale.

Values are those of ``/metrics`` for the same reading: watts and amperes as they are,
energy in kWh (joules / 3.6e6, so the Energy dashboard takes them without a unit
conversion). An absent value is JSON ``null``, which the ``value_template`` renders as
``None``, Home Assistant's "unknown" payload: never a zero.

The keys and values follow Home Assistant's MQTT sensor schema
(``homeassistant/components/mqtt/sensor.py``, ``schemas.py``, ``config.py``) and the
sensor's device-class rules; ``tests/mqtt/test_ha_discovery.py`` checks them as data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

import attrs

from trio_smartmeter.core.model import SessionState

__all__ = [
    "BIRTH_PAYLOAD",
    "DEFAULT_PREFIX",
    "OFFLINE",
    "ONLINE",
    "SENSORS",
    "MeterIdentity",
    "MeterSample",
    "Sensor",
    "Topics",
    "discovery_configs",
    "kwh",
    "state_payload",
]

DEFAULT_PREFIX: Final = "homeassistant"
ONLINE: Final = "online"
OFFLINE: Final = "offline"
#: Home Assistant publishes this on ``<prefix>/status`` when it (re)starts: republish then.
BIRTH_PAYLOAD: Final = "online"
_JOULES_PER_KWH: Final = Decimal(3_600_000)
_TOPIC_WORD: Final = re.compile(r"[A-Za-z0-9_-]+")


def kwh(joules: Decimal) -> Decimal:
    """Joules as kWh, exactly (the meter's registers are kWh × 3.6e6 on ``/metrics``)."""
    return joules / _JOULES_PER_KWH


@attrs.frozen
class Topics:
    """Where everything goes. ``node`` names this exporter in unique IDs and config topics."""

    prefix: str = DEFAULT_PREFIX
    node: str = "trio_smartmeter"
    base: str = "trio-smartmeter"

    def __attrs_post_init__(self) -> None:
        for name in ("prefix", "base"):
            value = getattr(self, name)
            if not value or any(c in value for c in "#+\0") or value.startswith("/"):
                raise ValueError(f"{name}: a topic without # + or a leading /, got {value!r}")
        if not _TOPIC_WORD.fullmatch(self.node):
            raise ValueError(f"node: letters, digits, _ and - only, got {self.node!r}")

    @property
    def status(self) -> str:
        """The exporter's availability; the last will says ``offline`` here."""
        return f"{self.base}/status"

    @property
    def meter(self) -> str:
        """The meter data's availability: ``offline`` while readings are stale."""
        return f"{self.base}/meter"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def birth(self) -> str:
        return f"{self.prefix}/status"

    def config(self, key: str) -> str:
        return f"{self.prefix}/sensor/{self.node}/{key}/config"


@attrs.frozen
class MeterIdentity:
    """What is known of the meter and the stick; it shapes the configs, not the states."""

    manufacturer: str | None = None  # ECHONET maker code (EPC 0x8A), 6 hex digits
    standard_version: str | None = None  # Appendix release letter (EPC 0x82)
    identification: str | None = None  # the production number (EPC 0x8D), when the meter answers it
    stick_model: str | None = None
    stick_firmware: str | None = None
    has_reverse: bool = True  # EPC 0xE3 in the Get map: energy sold exists
    three_wire: bool = True  # phase T current seen (two-wire meters have none)
    bill: bool = False  # the bill and the price exist (a later step fills them)


@attrs.frozen
class MeterSample:
    """One state message: a reading and what the exporter knew beside it."""

    power_watts: int | None
    current_r_amperes: Decimal | None
    current_t_amperes: Decimal | None
    energy_bought_joules: Decimal | None
    energy_sold_joules: Decimal | None
    fixed_bought_joules: Decimal | None = None  # the meter's 30-minute value, when fresh
    fixed_sold_joules: Decimal | None = None
    rssi_dbm: float | None = None
    session_state: SessionState = SessionState.READY
    bill_yen: Decimal | None = None
    price_yen_per_kwh: Decimal | None = None


@attrs.frozen
class Sensor:
    """One entity: its JSON key (also its object ID), name, unit and classes."""

    key: str
    name: str
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    diagnostic: bool = False  # entity_category diagnostic, on the stick, exporter availability
    precision: int | None = None
    options: tuple[str, ...] | None = None
    icon: str | None = None


def _energy_sensor(key: str, name: str) -> Sensor:
    """kWh, total_increasing: what the Energy dashboard takes as grid consumption or return."""
    return Sensor(key, name, "kWh", "energy", "total_increasing", precision=3)


#: Every sensor the exporter can announce, in the order Home Assistant lists them.
SENSORS: Final = (
    Sensor("power", "Power", "W", "power", "measurement", precision=0),
    Sensor("current_r", "Current R", "A", "current", "measurement", precision=1),
    Sensor("current_t", "Current T", "A", "current", "measurement", precision=1),
    _energy_sensor("energy_bought", "Energy bought"),
    _energy_sensor("energy_sold", "Energy sold"),
    _energy_sensor("energy_bought_30min", "Energy bought (30-minute value)"),
    _energy_sensor("energy_sold_30min", "Energy sold (30-minute value)"),
    Sensor("bill", "Bill this period", "JPY", "monetary", "total", precision=0),
    Sensor("price", "Price now", "JPY/kWh", None, "measurement", precision=2, icon="mdi:cash"),
    Sensor(
        "link_quality", "Link quality", "dBm", "signal_strength", "measurement", True, precision=0
    ),
    Sensor(
        "session_state",
        "Session state",
        device_class="enum",
        diagnostic=True,
        options=tuple(s.value for s in SessionState),
    ),
)


def _applies(sensor: Sensor, identity: MeterIdentity) -> bool:
    if sensor.key == "current_t":
        return identity.three_wire
    if sensor.key.startswith("energy_sold"):
        return identity.has_reverse
    if sensor.key in ("bill", "price"):
        return identity.bill
    return True


def _devices(topics: Topics, identity: MeterIdentity) -> tuple[dict[str, Any], dict[str, Any]]:
    """The meter, reached through the stick (``via_device``), and the stick."""
    stick_id = f"{topics.node}_stick"
    stick: dict[str, Any] = {
        "identifiers": [stick_id],
        "name": f"Wi-SUN stick ({identity.stick_model})"
        if identity.stick_model
        else "Wi-SUN stick",
    }
    if identity.stick_model:
        stick["model"] = identity.stick_model
    if identity.stick_firmware:
        stick["sw_version"] = identity.stick_firmware
    model = "Low-voltage smart electricity meter (ECHONET Lite 0x0288)"
    if identity.standard_version:
        model += f", Appendix release {identity.standard_version}"
    meter: dict[str, Any] = {
        "identifiers": [f"{topics.node}_meter"],
        "name": "Smart meter",
        "model": model,
        "via_device": stick_id,
    }
    if identity.manufacturer:
        meter["manufacturer"] = f"ECHONET maker {identity.manufacturer}"
    if identity.identification:
        meter["serial_number"] = identity.identification
    return meter, stick


def _availability(topics: Topics, sensor: Sensor) -> list[dict[str, str]]:
    topics_needed = [topics.status] if sensor.diagnostic else [topics.status, topics.meter]
    return [
        {"topic": t, "payload_available": ONLINE, "payload_not_available": OFFLINE}
        for t in topics_needed
    ]


def _config(
    topics: Topics, sensor: Sensor, device: dict[str, Any], origin: dict[str, str]
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": sensor.name,
        "unique_id": f"{topics.node}_{sensor.key}",
        "state_topic": topics.state,
        "value_template": f"{{{{ value_json.{sensor.key} }}}}",
        "qos": 1,
        "availability": _availability(topics, sensor),
        "availability_mode": "all",
        "device": device,
        "origin": origin,
    }
    optional = {
        "unit_of_measurement": sensor.unit,
        "device_class": sensor.device_class,
        "state_class": sensor.state_class,
        "suggested_display_precision": sensor.precision,
        "icon": sensor.icon,
        "options": None if sensor.options is None else list(sensor.options),
        "entity_category": "diagnostic" if sensor.diagnostic else None,
    }
    config.update((k, v) for k, v in optional.items() if v is not None)
    return config


def discovery_configs(
    topics: Topics, identity: MeterIdentity, *, version: str
) -> Iterator[tuple[str, str]]:
    """``(topic, retained JSON payload)`` for every sensor this meter has.

    A sensor the meter lacks (phase T on a two-wire meter, energy sold without EPC 0xE3,
    the bill before it exists) gets an empty retained payload: Home Assistant removes an
    entity announced earlier, and the topic holds nothing.
    """
    meter, stick = _devices(topics, identity)
    origin = {"name": "trio-smartmeter", "sw_version": version}
    for sensor in SENSORS:
        if not _applies(sensor, identity):
            yield topics.config(sensor.key), ""
            continue
        device = stick if sensor.diagnostic else meter
        config = _config(topics, sensor, device, origin)
        yield topics.config(sensor.key), json.dumps(config, sort_keys=True)


def _number(value: Decimal | float | int | None) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return float(value)


def _energy(joules: Decimal | None) -> float | None:
    return None if joules is None else float(kwh(joules))


def state_payload(sample: MeterSample) -> str:
    """The JSON state of one reading: every key of :data:`SENSORS`, ``null`` when absent."""
    values: dict[str, Any] = {
        "power": sample.power_watts,
        "current_r": _number(sample.current_r_amperes),
        "current_t": _number(sample.current_t_amperes),
        "energy_bought": _energy(sample.energy_bought_joules),
        "energy_sold": _energy(sample.energy_sold_joules),
        "energy_bought_30min": _energy(sample.fixed_bought_joules),
        "energy_sold_30min": _energy(sample.fixed_sold_joules),
        "bill": _number(sample.bill_yen),
        "price": _number(sample.price_yen_per_kwh),
        "link_quality": _number(sample.rssi_dbm),
        "session_state": sample.session_state.value,
    }
    return json.dumps(values, sort_keys=True)
