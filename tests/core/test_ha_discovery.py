"""The discovery configs checked against Home Assistant's MQTT sensor schema, as data.

The tables below are copied from Home Assistant core (``components/mqtt/config.py``
MQTT_RO_SCHEMA, ``sensor.py`` _PLATFORM_SCHEMA_BASE and its validator, ``schemas.py``
MQTT_ENTITY_COMMON_SCHEMA / device / origin / availability, ``sensor/const.py``
DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES for the classes used here): a key Home
Assistant does not know is dropped by its discovery schema, a wrong unit or state class
keeps the Energy dashboard from offering the sensor.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from trio_smartmeter.core.ha_discovery import (
    SENSORS,
    MeterIdentity,
    MeterSample,
    Topics,
    discovery_configs,
    kwh,
    state_payload,
)
from trio_smartmeter.core.model import SessionState

RO_KEYS = {"state_topic", "value_template", "qos", "encoding"}
SENSOR_KEYS = {
    "device_class", "expire_after", "force_update", "last_reset_value_template", "name",
    "options", "suggested_display_precision", "state_class", "unit_of_measurement",
}  # fmt: skip
COMMON_KEYS = {
    "availability_topic", "availability_template", "payload_available",
    "payload_not_available", "availability_mode", "availability", "device", "origin",
    "enabled_by_default", "entity_category", "icon", "json_attributes_topic",
    "json_attributes_template", "object_id", "unique_id",
}  # fmt: skip
REQUIRED = {"state_topic"}
DEVICE_KEYS = {
    "identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version",
    "serial_number", "sw_version", "via_device", "suggested_area", "configuration_url",
}  # fmt: skip
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
AVAILABILITY_MODES = {"all", "any", "latest"}
#: sensor/const.py, for the device classes this exporter uses
UNITS = {
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "current": {"A", "mA"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal"},
    "signal_strength": {"dB", "dBm"},
}
STATE_CLASSES = {
    "power": {"measurement"},
    "current": {"measurement"},
    "energy": {"total", "total_increasing"},
    "signal_strength": {"measurement"},
    "monetary": {"total"},
    "enum": set(),
}
#: entity.py: a sensor may not be a "config" entity
SENSOR_ENTITY_CATEGORIES = {"diagnostic"}
#: energy/validate.py: what the Energy dashboard takes for grid consumption and return
ENERGY_DASHBOARD = {"device_class": "energy", "state_class": {"total", "total_increasing"},
                    "unit": {"Wh", "kWh", "MWh", "GJ", "MJ"}}  # fmt: skip

TOPICS = Topics()
FULL = MeterIdentity(
    manufacturer="000016",
    standard_version="F",
    identification="FE00000000000000000000000000000000",
    stick_model="ROHM BP35A1",
    stick_firmware="1.2.10",
    bill=True,
)


def configs(identity: MeterIdentity) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for topic, payload in discovery_configs(TOPICS, identity, version="9.9"):
        out[topic] = json.loads(payload) if payload else None
    return out


def check_against_home_assistant(config: dict[str, Any]) -> None:
    assert config.keys() >= REQUIRED
    assert config.keys() <= RO_KEYS | SENSOR_KEYS | COMMON_KEYS, config.keys() - (
        RO_KEYS | SENSOR_KEYS | COMMON_KEYS
    )
    assert not re.search(r"[#+]", config["state_topic"])
    assert config["qos"] in (0, 1, 2)
    device = config["device"]
    assert device.keys() <= DEVICE_KEYS and (device.get("identifiers") or device.get("connections"))
    assert all(isinstance(i, str) for i in device["identifiers"])
    assert config["origin"].keys() <= ORIGIN_KEYS and "name" in config["origin"]
    assert config["availability_mode"] in AVAILABILITY_MODES
    for item in config["availability"]:
        assert item.keys() <= AVAILABILITY_KEYS and "topic" in item
    assert "availability_topic" not in config  # exclusive with "availability"
    cls, unit, state_class = (
        config.get(k) for k in ("device_class", "unit_of_measurement", "state_class")
    )
    if cls in UNITS:
        assert unit in UNITS[cls], (cls, unit)
    if cls == "monetary":
        assert re.fullmatch(r"[A-Z]{3}", str(unit))  # an ISO 4217 currency
    if state_class is not None and cls is not None:
        assert state_class in STATE_CLASSES[cls], (cls, state_class)
    if "options" in config:  # sensor.py's validator
        assert cls == "enum" and config["options"] and not state_class and not unit
    if "entity_category" in config:
        assert config["entity_category"] in SENSOR_ENTITY_CATEGORIES
    if "suggested_display_precision" in config:
        assert isinstance(config["suggested_display_precision"], int)
        assert config["suggested_display_precision"] >= 0


def test_every_config_is_valid_for_home_assistants_sensor_schema() -> None:
    found = configs(FULL)
    assert len(found) == len(SENSORS)
    for topic, config in found.items():
        assert re.fullmatch(r"homeassistant/sensor/trio_smartmeter/[a-z0-9_]+/config", topic)
        assert config is not None
        check_against_home_assistant(config)
    unique = [c["unique_id"] for c in found.values() if c]
    assert len(set(unique)) == len(unique)


def test_the_energy_dashboard_takes_bought_and_sold() -> None:
    found = configs(FULL)
    for key in ("energy_bought", "energy_sold"):
        c = found[TOPICS.config(key)]
        assert c is not None
        assert c["device_class"] == ENERGY_DASHBOARD["device_class"]
        assert c["state_class"] in ENERGY_DASHBOARD["state_class"]
        assert c["unit_of_measurement"] in ENERGY_DASHBOARD["unit"]


def test_one_meter_device_through_the_stick() -> None:
    found = configs(FULL)
    power = found[TOPICS.config("power")]
    rssi = found[TOPICS.config("link_quality")]
    assert power is not None and rssi is not None
    meter, stick = power["device"], rssi["device"]
    assert meter["via_device"] in stick["identifiers"]
    assert meter["manufacturer"] == "ECHONET maker 000016"
    assert meter["serial_number"] == FULL.identification
    assert "release F" in meter["model"]
    assert stick["sw_version"] == "1.2.10"
    assert rssi["entity_category"] == "diagnostic"
    assert rssi["device_class"] == "signal_strength" and rssi["unit_of_measurement"] == "dBm"
    session = found[TOPICS.config("session_state")]
    assert session is not None and session["entity_category"] == "diagnostic"
    assert set(session["options"]) == {s.value for s in SessionState}


def test_meter_sensors_need_fresh_readings_and_diagnostics_only_the_exporter() -> None:
    found = configs(FULL)
    power, rssi = found[TOPICS.config("power")], found[TOPICS.config("link_quality")]
    assert power is not None and rssi is not None
    assert [a["topic"] for a in power["availability"]] == [TOPICS.status, TOPICS.meter]
    assert power["availability_mode"] == "all"
    assert [a["topic"] for a in rssi["availability"]] == [TOPICS.status]


def test_a_two_wire_meter_without_reverse_and_without_a_bill_announces_less() -> None:
    found = configs(MeterIdentity(three_wire=False, has_reverse=False, bill=False))
    removed = {t for t, c in found.items() if c is None}
    assert removed == {
        TOPICS.config(k) for k in ("current_t", "energy_sold", "energy_sold_30min", "bill", "price")
    }
    power = found[TOPICS.config("power")]
    assert power is not None and "manufacturer" not in power["device"]


def test_the_bill_is_monetary_in_yen_and_the_price_per_kwh() -> None:
    found = configs(FULL)
    bill, price = found[TOPICS.config("bill")], found[TOPICS.config("price")]
    assert bill is not None and price is not None
    assert (bill["device_class"], bill["unit_of_measurement"], bill["state_class"]) == (
        "monetary", "JPY", "total",
    )  # fmt: skip
    assert price["unit_of_measurement"] == "JPY/kWh"


def test_the_prefix_is_configurable() -> None:
    topics = Topics(prefix="ha")
    assert {t.split("/")[0] for t, _ in discovery_configs(topics, FULL, version="1")} == {"ha"}
    assert topics.birth == "ha/status"
    with pytest.raises(ValueError, match="prefix"):
        Topics(prefix="a/#")


SAMPLE = MeterSample(
    power_watts=-512,
    current_r_amperes=Decimal("12.3"),
    current_t_amperes=None,
    energy_bought_joules=Decimal("44444160000"),
    energy_sold_joules=Decimal("3600"),
    fixed_bought_joules=None,
    rssi_dbm=-55.32,
    session_state=SessionState.READY,
)


def test_the_state_payload_has_every_templated_key_and_null_for_absent() -> None:
    state = json.loads(state_payload(SAMPLE))
    for config in configs(FULL).values():
        assert config is not None
        key = re.fullmatch(r"\{\{ value_json\.(\w+) \}\}", config["value_template"])
        assert key is not None and key.group(1) in state
    assert state["power"] == -512
    assert state["current_r"] == 12.3
    assert state["current_t"] is None  # unknown in Home Assistant, never 0
    assert state["energy_bought_30min"] is None
    assert state["energy_bought"] == 12345.6
    assert state["energy_sold"] == 0.001
    assert state["session_state"] == "ready"


def test_kwh_is_joules_over_3_6e6_exactly() -> None:
    assert kwh(Decimal("3600000")) == 1
    assert kwh(Decimal("44444160000")) == Decimal("12345.6")


@pytest.mark.parametrize(
    ("field", "value"), [("prefix", ""), ("prefix", "/ha"), ("base", "a+b"), ("node", "a b")]
)
def test_topics_refuse_what_mqtt_or_home_assistant_would_not_take(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        Topics(**{field: value})
