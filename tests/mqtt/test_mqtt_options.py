"""``-mqtt-url`` and friends: parsed, checked, the password never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from trio_smartmeter.cli.options import ConfigError, load_config
from trio_smartmeter.core.mqtt_broker import BrokerUrlError, parse_broker_url
from trio_smartmeter.core.secret import Secret

CREDS = {"SMARTMETER_ID": "0" * 32, "SMARTMETER_PASSWORD": "x" * 12}
PASSWORD = "s3cr3t-Pa55"


def test_urls() -> None:
    b = parse_broker_url(f"mqtt://ha:{PASSWORD}@broker.lan")
    assert (b.host, b.port, b.tls, b.username) == ("broker.lan", 1883, False, "ha")
    assert b.password == Secret(PASSWORD)
    assert str(b) == "mqtt://ha@broker.lan:1883"
    assert PASSWORD not in repr(b)
    t = parse_broker_url("mqtts://[::1]:8884")
    assert (t.host, t.port, t.tls, t.username, t.password) == ("::1", 8884, True, None, None)
    assert str(t) == "mqtts://[::1]:8884"
    assert parse_broker_url("mqtt://u%40x:p%3Aw@h").password == Secret("p:w")


@pytest.mark.parametrize(
    "url", ["http://h", "mqtt://", f"mqtt://u:{PASSWORD}@h:99999", "mqtt://h/topic", "h:1883"]
)
def test_bad_urls_say_what_is_wrong_without_the_url(url: str) -> None:
    with pytest.raises(BrokerUrlError) as info:
        parse_broker_url(url)
    assert str(info.value) and PASSWORD not in str(info.value)


def test_off_by_default() -> None:
    cfg = load_config([], CREDS)
    assert cfg.mqtt_url is None and cfg.mqtt_discovery_prefix == "homeassistant"


def test_flags_and_variables(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    cfg = load_config(
        ["-mqtt-url", "mqtts://ha@broker:8883", "-mqtt-discovery-prefix", "hass"],
        CREDS
        | {
            "SMARTMETER_MQTT_PASSWORD_FILE": str(secret),
            "SMARTMETER_MQTT_CA_FILE": str(tmp_path / "ca.pem"),
        },
    )
    assert cfg.mqtt_url is not None and cfg.mqtt_url.password == Secret(PASSWORD)
    assert cfg.mqtt_url.tls and cfg.mqtt_ca_file == tmp_path / "ca.pem"
    assert cfg.mqtt_discovery_prefix == "hass"
    assert PASSWORD not in repr(cfg)


def test_problems_never_show_the_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["-mqtt-url", f"mqtp://ha:{PASSWORD}@broker"], CREDS)
    text = str(info.value)
    assert "flag -mqtt-url" in text and "hidden" in text and PASSWORD not in text


def test_file_and_prefix_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            ["-mqtt-url", "mqtt://broker", "-mqtt-password-file", str(tmp_path / "missing")],
            CREDS,
        )
    assert "needs a user" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(
            ["-mqtt-url", "mqtt://u@broker", "-mqtt-password-file", str(tmp_path / "missing")],
            CREDS,
        )
    assert "cannot be read" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(["-mqtt-discovery-prefix", "a/#"], CREDS)
    assert "without # or +" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(["-mqtt-ca-file", "/x.pem"], CREDS)
    assert "needs SMARTMETER_MQTT_URL" in str(info.value)


def test_nothing_of_mqtt_is_imported_when_it_is_off() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trio_smartmeter.cli import entry; from trio_smartmeter.service import app, settings\n"
        "cfg = entry.parse(['-device', '/dev/ttyACM0'], {'SMARTMETER_ID': '0' * 32,"
        " 'SMARTMETER_PASSWORD': 'x' * 12})\n"
        "settings.settings_from_config(cfg)\n"
        "print(','.join(sorted(m for m in sys.modules if 'paho' in m or m.endswith('.mqtt'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_brokers_backoff_row() -> None:
    import random

    from trio_smartmeter.core.recovery import MQTT_RECONNECT

    rng = random.Random(1)
    for attempt, base in enumerate([1, 2, 4, 8, 16, 32, 60, 60]):
        assert MQTT_RECONNECT.delay(attempt, rng) == pytest.approx(base, rel=0.1)
    assert MQTT_RECONNECT.worst(100) == 60.0
