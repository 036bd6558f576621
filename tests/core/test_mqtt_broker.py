"""The broker URL as a value (the password a ``Secret``), and the broker's backoff row."""

from __future__ import annotations

import random

import pytest

from trio_smartmeter.core.mqtt_broker import BrokerUrlError, parse_broker_url
from trio_smartmeter.core.recovery import MQTT_RECONNECT
from trio_smartmeter.core.secret import Secret

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


def test_the_brokers_backoff_row() -> None:
    rng = random.Random(1)
    for attempt, base in enumerate([1, 2, 4, 8, 16, 32, 60, 60]):
        assert MQTT_RECONNECT.delay(attempt, rng) == pytest.approx(base, rel=0.1)
    assert MQTT_RECONNECT.worst(100) == 60.0


def test_port_zero_and_a_password_from_a_file() -> None:
    with pytest.raises(BrokerUrlError, match="port"):
        parse_broker_url("mqtt://h:0")
    with pytest.raises(BrokerUrlError, match="no path"):
        parse_broker_url("mqtt://h?x=1")
    b = parse_broker_url("mqtt://ha@h:1884").with_password(Secret(PASSWORD))
    assert b.password == Secret(PASSWORD) and str(b) == "mqtt://ha@h:1884"
