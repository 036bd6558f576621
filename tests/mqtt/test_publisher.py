"""MqttPublisher in process against a real Mosquitto: staleness, birth, outage, refusal.

Trio's real clock (the broker is a real process); short intervals keep each test within a
few seconds. Waits poll with deadlines.
"""

from __future__ import annotations

import gc
import json
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from loguru import logger

from tests.mqtt.broker import Subscriber, mosquitto, needs_mosquitto, subscriber
from tests.web.tls_certs import make_pki
from trio_smartmeter.core.ha_discovery import Topics
from trio_smartmeter.core.model import Reading
from trio_smartmeter.core.mqtt_broker import parse_broker_url
from trio_smartmeter.core.recovery import Backoff
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.service.mqtt import MqttPublisher, MqttSettings

pytestmark = [needs_mosquitto, pytest.mark.slow]
TOPICS = Topics()
FAST = Backoff(initial=0.1, factor=2.0, cap=0.4)


async def until(what: str, probe: Callable[[], object], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not probe():
            await trio.sleep(0.02)


def reading(watts: int) -> Reading:
    return Reading(
        power_watts=watts,
        current_r_amperes=Decimal("1.5"),
        current_t_amperes=None,
        energy_forward_joules=Decimal(3_600_000 * 10),
        energy_reverse_joules=None,
        received_monotonic=trio.current_time(),
        received_unix=time.time(),
    )


def publisher(
    url: str, state: ExporterState, password: str | None = None, ca_file: Path | None = None
) -> MqttPublisher:
    broker = parse_broker_url(url)
    if password is not None:
        broker = broker.with_password(Secret(password))
    settings = MqttSettings(broker, TOPICS, "test", ca_file=ca_file)
    p = MqttPublisher(settings, state, backoff=FAST)
    state.reading_sinks.append(p.reading_taken)
    return p


def states(sub: Subscriber) -> list[int]:
    return [json.loads(m.payload)["power"] for m in sub.on(TOPICS.state)]


def last(sub: Subscriber, topic: str) -> str | None:
    m = sub.last(topic)
    return None if m is None else m.payload


async def test_stale_readings_make_the_meter_offline_and_a_fresh_one_online(
    tmp_path: Path,
) -> None:
    state = ExporterState(interval=0.3)  # stale after 0.9 s
    with mosquitto(tmp_path) as broker, subscriber(broker) as sub:
        p = publisher(broker.url, state)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(p.run)
            await until("online", lambda: last(sub, TOPICS.status) == "online")
            state.record_reading(reading(100), 0.1)
            await until("a state", lambda: states(sub) == [100])
            assert last(sub, TOPICS.meter) == "online"
            went_fresh = time.monotonic()
            await until("offline", lambda: last(sub, TOPICS.meter) == "offline", 3)
            assert time.monotonic() - went_fresh == pytest.approx(0.9, abs=0.3)
            assert states(sub) == [100]  # nothing stale published as fresh
            state.record_reading(reading(200), 0.1)
            await until("online again", lambda: last(sub, TOPICS.meter) == "online")
            await until("the new state", lambda: states(sub) == [100, 200])
            nursery.cancel_scope.cancel()
        await until("offline at the stop", lambda: last(sub, TOPICS.status) == "offline")


async def test_home_assistants_birth_brings_the_configs_again(tmp_path: Path) -> None:
    state = ExporterState(interval=10)
    with mosquitto(tmp_path) as broker, subscriber(broker) as sub:
        p = publisher(broker.url, state)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(p.run)
            state.record_reading(reading(100), 0.1)
            power = TOPICS.config("power")
            await until("the configs", lambda: len(sub.on(power)) == 1)
            await trio.to_thread.run_sync(sub.publish, TOPICS.birth, "online")
            await until("the configs again", lambda: len(sub.on(power)) == 2)
            assert json.loads(sub.on(power)[-1].payload)["unique_id"] == "trio_smartmeter_power"
            nursery.cancel_scope.cancel()


async def test_an_outage_never_blocks_the_sink_and_only_the_newest_goes_out_after(
    tmp_path: Path,
) -> None:
    state = ExporterState(interval=10)
    with mosquitto(tmp_path) as broker, subscriber(broker) as sub:
        p = publisher(broker.url, state)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(p.run)
            state.record_reading(reading(1), 0.1)
            await until("the first state", lambda: states(sub) == [1])
            await trio.to_thread.run_sync(broker.stop)
            await until("the loss seen", lambda: not p.connected)
            slowest = 0.0
            for watts in (2, 3, 4):
                started = time.perf_counter()
                state.record_reading(reading(watts), 0.1)
                slowest = max(slowest, time.perf_counter() - started)
                await trio.sleep(0.2)
            assert slowest < 0.01
            await trio.to_thread.run_sync(broker.start)
            await until("the newest state", lambda: states(sub)[-1:] == [4])
            # newest wins: 2 and 3 were never queued (the broker's own session may deliver
            # its unacknowledged 1 again after its restart: a duplicate, not a new state)
            assert set(states(sub)) == {1, 4}
            nursery.cancel_scope.cancel()


async def test_wrong_credentials_are_one_line_and_retried_with_backoff(tmp_path: Path) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{level} {message}")
    state = ExporterState(interval=10)
    try:
        with mosquitto(tmp_path, users={"ha": "right-one"}) as broker:
            p = publisher(f"mqtt://ha@127.0.0.1:{broker.port}", state, password="wrong-one")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(p.run)
                await until("three attempts", lambda: p.failures >= 3)
                nursery.cancel_scope.cancel()
    finally:
        logger.remove(sink)
    warnings = [line for line in lines if line.startswith("WARNING")]
    assert len(warnings) == 1, lines
    assert "refused" in warnings[0] and "mqtt://ha@127.0.0.1" in warnings[0]
    assert "retrying in" in warnings[0]
    assert not any("wrong-one" in line for line in lines)
    assert sum("refused" in line for line in lines) >= 3  # the repeats, as debug lines


async def test_mqtts_with_a_private_ca_and_without_it(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    state = ExporterState(interval=10)
    try:
        with mosquitto(tmp_path, tls=(pki.server_cert, pki.server_key)) as broker:
            url = f"mqtts://localhost:{broker.tls_port}"
            with subscriber(broker) as sub:
                p = publisher(url, state, ca_file=pki.ca)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(p.run)
                    state.record_reading(reading(7), 0.1)
                    await until("a state over TLS", lambda: states(sub) == [7])
                    nursery.cancel_scope.cancel()
            gc.collect()  # our own sockets are closed: no ResourceWarning (an error here)
            untrusted = publisher(url, ExporterState(interval=10))  # the system CAs only
            async with trio.open_nursery() as nursery:
                nursery.start_soon(untrusted.run)
                await until("a refusal", lambda: untrusted.failures >= 1)
                nursery.cancel_scope.cancel()
            # paho leaves the socket of a failed TLS handshake to the garbage collector
            # (_ssl_wrap_socket does not close it): collect it here, its ResourceWarning
            # is paho's, not ours
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
    finally:
        logger.remove(sink)
    assert any("TLS failed" in line and "SMARTMETER_MQTT_CA_FILE" in line for line in lines), lines
