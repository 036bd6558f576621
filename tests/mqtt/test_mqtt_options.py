"""``-mqtt-url`` and friends: parsed, checked, the password never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from trio_smartmeter.cli.options import ConfigError, load_config
from trio_smartmeter.core.secret import Secret

CREDS = {"SMARTMETER_ID": "0" * 32, "SMARTMETER_PASSWORD": "x" * 12}
PASSWORD = "s3cr3t-Pa55"


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
        "from trio_smartmeter.cli import entry; from trio_smartmeter.app import root; from trio_smartmeter.service import settings\n"
        "cfg = entry.parse(['-device', '/dev/ttyACM0'], {'SMARTMETER_ID': '0' * 32,"
        " 'SMARTMETER_PASSWORD': 'x' * 12})\n"
        "settings.settings_from_config(cfg)\n"
        "print(','.join(sorted(m for m in sys.modules if 'paho' in m or m.endswith('.mqtt'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
