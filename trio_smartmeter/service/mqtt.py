"""``MqttPublisher``: the readings to an MQTT broker for Home Assistant, beside Prometheus.

The meter accepts one B-route session, so the exporter that owns it feeds Home Assistant
too. paho-mqtt (the reference client; the optional ``mqtt`` extra) speaks the protocol
and Trio drives its socket: ``wait_readable`` → ``loop_read``, ``wait_writable`` →
``loop_write`` while paho has bytes queued, ``loop_misc`` every few seconds for the
keep-alive. No second event loop and no free-running thread: only paho's blocking
connect (DNS, TCP, TLS handshake) runs in a worker thread, under a deadline, as aiomqtt
does for asyncio. This module is imported only when ``SMARTMETER_MQTT_URL`` is set.

Readings come in through :meth:`MqttPublisher.reading_taken` (a :class:`ReadingSink`),
which only keeps the newest sample in a slot and wakes the publisher task: a broker that
is down, slow or refusing never delays a poll or a scrape, and after an outage only the
newest reading is sent, and only while it is fresh. Connection attempts back off by
``core/recovery.py``'s ``MQTT_RECONNECT`` row; the first failure of a kind is one
warning line, repeats are debug lines, a recovery is one info line.
"""

from __future__ import annotations

import math
import random
import ssl
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import attrs
import paho.mqtt.client as paho
import trio
from loguru import logger
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from trio_smartmeter.core.config import Config
from trio_smartmeter.core.ha_discovery import (
    BIRTH_PAYLOAD,
    OFFLINE,
    ONLINE,
    MeterIdentity,
    MeterSample,
    Topics,
    discovery_configs,
    state_payload,
)
from trio_smartmeter.core.model import Reading
from trio_smartmeter.core.mqtt_broker import MqttBroker
from trio_smartmeter.core.recovery import MQTT_RECONNECT, Backoff
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.timing import Timing

__all__ = ["MqttPublisher", "MqttSettings", "ReadingSink", "settings_from_config"]

KEEPALIVE = 60
#: paho's keep-alive bookkeeping (PINGREQ, a missing PINGRESP) is looked at this often:
#: a quarter of the keep-alive, so an idle hour costs 240 wake-ups, not 720.
MISC_EVERY = 15.0


class ReadingSink(Protocol):
    """Told of every successful reading, right after it is recorded; must not block."""

    def reading_taken(self, reading: Reading) -> None: ...


class BrokerProblem(Exception):
    """One connection attempt failed; the message is one line and holds no password."""


@attrs.frozen
class MqttSettings:
    broker: MqttBroker
    topics: Topics
    version: str
    ca_file: Path | None = None
    timing: Timing = attrs.field(factory=Timing)


def settings_from_config(cfg: Config, version: str) -> MqttSettings | None:
    """None when MQTT is off (no ``SMARTMETER_MQTT_URL``)."""
    if cfg.mqtt_url is None:
        return None
    return MqttSettings(
        broker=cfg.mqtt_url,
        topics=Topics(prefix=cfg.mqtt_discovery_prefix),
        version=version,
        ca_file=cfg.mqtt_ca_file,
    )


def sample_of(state: ExporterState, reading: Reading, now: float) -> MeterSample:
    """The state message of ``reading``: the one place that reads ``ExporterState`` here."""
    forward = state.fresh_fixed(state.fixed_forward, now)
    reverse = state.fresh_fixed(state.fixed_reverse, now)
    return MeterSample(
        power_watts=reading.power_watts,
        current_r_amperes=reading.current_r_amperes,
        current_t_amperes=reading.current_t_amperes,
        energy_bought_joules=reading.energy_forward_joules,
        energy_sold_joules=reading.energy_reverse_joules,
        fixed_bought_joules=None if forward is None else forward.joules,
        fixed_sold_joules=None if reverse is None else reverse.joules,
        rssi_dbm=state.rssi_dbm,
        session_state=state.session_state,
        bill_yen=None if state.bills is None else Decimal(state.bills.current.charges.total),
        price_yen_per_kwh=None if state.bills is None else state.bills.price.total,
    )


def identity_of(state: ExporterState, reading: Reading, three_wire: bool) -> MeterIdentity:
    meter, module, scaling = state.meter_info, state.module_info, state.scaling
    has_reverse = (
        scaling.has_reverse if scaling is not None else reading.energy_reverse_joules is not None
    )
    return MeterIdentity(
        manufacturer=None if meter is None else meter.manufacturer,
        standard_version=(meter.standard_version or None) if meter is not None else None,
        identification=None if meter is None else meter.production_number,
        stick_model=None if module is None else module.model,
        stick_firmware=None if module is None else module.firmware,
        has_reverse=has_reverse,
        three_wire=three_wire,
        bill=state.bills is not None,  # the bill keeper's (issue 21): with a tariff
    )


class _Connection:
    """One paho client on one socket, driven by three Trio tasks; raises when it is lost."""

    def __init__(self, client: paho.Client) -> None:
        self.client = client
        sock = client.socket()
        if sock is None:
            raise BrokerProblem("the connection closed during the handshake")
        self.sock: Any = sock
        self.connack = trio.Event()
        self.refusal: str | None = None
        self._write_wanted = trio.Event()
        client.on_socket_register_write = lambda *_: self._write_wanted.set()
        client.on_connect = self._on_connect

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refusal = str(reason)
        self.connack.set()

    def _check(self, rc: MQTTErrorCode) -> None:
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            if self.refusal is not None:
                raise BrokerProblem(f"the broker refused the connection: {self.refusal}")
            raise BrokerProblem(f"connection lost ({paho.error_string(rc)})")

    async def read(self) -> None:
        while True:
            await trio.lowlevel.wait_readable(self.sock)
            self._check(self.client.loop_read())
            while isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                self._check(self.client.loop_read())  # TLS bytes already decrypted

    async def write(self) -> None:
        while True:
            if not self.client.want_write():
                self._write_wanted = trio.Event()
                await self._write_wanted.wait()
                continue
            await trio.lowlevel.wait_writable(self.sock)
            self._check(self.client.loop_write())

    async def misc(self) -> None:
        while True:
            await trio.sleep(MISC_EVERY)
            self._check(self.client.loop_misc())

    async def goodbye(self, status_topic: str, limit: float) -> None:
        """ "offline" and DISCONNECT written out (shielded, within ``limit``): no last will then."""
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + limit
            self.client.publish(status_topic, OFFLINE, qos=1, retain=True)
            self.client.disconnect()
            while self.client.socket() is not None and self.client.want_write():
                await trio.lowlevel.wait_writable(self.sock)
                if self.client.loop_write() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break


class MqttPublisher:
    """Publishes discovery, availability and one state message per reading; reconnects."""

    def __init__(
        self,
        settings: MqttSettings,
        state: ExporterState,
        *,
        rng: random.Random | None = None,
        backoff: Backoff = MQTT_RECONNECT,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.settings = settings
        self.state = state
        self._rng = rng if rng is not None else random.Random()
        self._backoff = backoff
        self._clock = clock
        self._wake = trio.Event()
        self._sample: MeterSample | None = None
        self._seq = 0
        self._fresh_until = -math.inf
        self._identity: MeterIdentity | None = None
        self._three_wire = False
        self._birth = False
        #: what this connection has published: state seq, configs, meter availability
        self._sent_seq = 0
        self._sent_configs: list[tuple[str, str]] | None = None
        self._sent_meter: str | None = None
        #: for tests and the status page: connected now, and the attempts since
        self.connected = False
        self.failures = 0

    # -- the sink: called by the poller's task, never blocks --------------------------------
    def reading_taken(self, reading: Reading) -> None:
        now = reading.received_monotonic
        self._three_wire |= reading.current_t_amperes is not None
        self._sample = sample_of(self.state, reading, now)
        self._identity = identity_of(self.state, reading, self._three_wire)
        self._seq += 1
        self._fresh_until = now + self.state.max_age
        self._wake.set()

    # -- the task ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Forever: connect, publish, and after a loss wait the backoff and connect again."""
        last_problem: str | None = None
        while True:
            problem = "the connection closed"
            try:
                await self._connection()
            except* BrokerProblem as group:  # raised in the connection's nursery
                problem = str(_first(group))
            if self.connected:  # it had worked: start the backoff again
                self.connected, self.failures = False, 0
            delay = self._backoff.delay(self.failures, self._rng)
            self.failures += 1
            line = "MQTT {}: {}; retrying in {:.1f} s"
            if problem != last_problem:
                logger.warning(line, self.settings.broker, problem, delay)
            else:
                logger.debug(line, self.settings.broker, problem, delay)
            last_problem = problem
            await trio.sleep(delay)

    async def _connection(self) -> None:
        timing = self.settings.timing
        client = await self._connect()
        conn = _Connection(client)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.read)
                nursery.start_soon(conn.write)
                nursery.start_soon(conn.misc)
                with trio.move_on_after(timing.mqtt_connect):
                    await conn.connack.wait()
                if conn.refusal is not None:
                    raise BrokerProblem(f"the broker refused the connection: {conn.refusal}")
                if not conn.connack.is_set():
                    raise BrokerProblem(f"no answer to CONNECT within {timing.mqtt_connect:g} s")
                self.connected = True
                logger.info("MQTT connected to {}", self.settings.broker)
                await self._publish(client)
        finally:
            if self.connected and client.socket() is not None:
                await conn.goodbye(self.settings.topics.status, timing.mqtt_goodbye)
            client.on_socket_register_write = None
            if client.socket() is not None:
                client.socket().close()  # type: ignore[union-attr]

    async def _connect(self) -> paho.Client:
        settings = self.settings

        def blocking() -> paho.Client:
            client = _new_client(settings)
            client.connect(settings.broker.host, settings.broker.port, keepalive=KEEPALIVE)
            return client

        try:
            with trio.fail_after(settings.timing.mqtt_connect + settings.timing.mqtt_thread_slack):
                return await trio.to_thread.run_sync(blocking, abandon_on_cancel=True)
        except trio.TooSlowError:
            raise BrokerProblem(
                f"no connection within {settings.timing.mqtt_connect:g} s"
            ) from None
        except ssl.SSLError as exc:
            raise BrokerProblem(
                f"TLS failed ({exc.reason or exc}); see SMARTMETER_MQTT_CA_FILE"
            ) from None
        except OSError as exc:
            raise BrokerProblem(f"cannot connect ({exc.strerror or type(exc).__name__})") from None
        except ValueError as exc:
            raise BrokerProblem(f"cannot connect ({exc})") from None

    async def _publish(self, client: paho.Client) -> None:
        topics = self.settings.topics
        client.on_message = self._on_message
        client.subscribe(topics.birth, qos=1)
        client.publish(topics.status, ONLINE, qos=1, retain=True)
        self._sent_configs, self._sent_meter = None, None
        self._sent_seq = 0
        while True:
            self._publish_news(client)
            deadline = self._fresh_until if self._sent_meter == ONLINE else math.inf
            with trio.move_on_at(deadline):
                await self._wake.wait()
            self._wake = trio.Event()

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        if (
            message.topic == self.settings.topics.birth
            and message.payload == BIRTH_PAYLOAD.encode()
        ):
            logger.info("MQTT: Home Assistant started; announcing the sensors again")
            self._birth = True
            self._wake.set()

    def _publish_news(self, client: paho.Client) -> None:
        """What changed since the last call: configs, the meter's availability, the state."""
        topics = self.settings.topics
        if self._identity is not None:
            configs = list(discovery_configs(topics, self._identity, version=self.settings.version))
            if self._birth or configs != self._sent_configs:
                for topic, payload in configs:
                    client.publish(topic, payload, qos=1, retain=True)
                if self._birth and self._sent_meter is not None:  # availability again too
                    client.publish(topics.meter, self._sent_meter, qos=1, retain=True)
                self._sent_configs, self._birth = configs, False
        fresh = self._clock() < self._fresh_until
        meter = ONLINE if fresh else OFFLINE
        if meter != self._sent_meter:
            client.publish(topics.meter, meter, qos=1, retain=True)
            self._sent_meter = meter
        if fresh and self._sample is not None and self._seq != self._sent_seq:
            client.publish(topics.state, state_payload(self._sample), qos=1, retain=False)
            self._sent_seq = self._seq


def _first(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _new_client(settings: MqttSettings) -> paho.Client:
    """A fresh client per attempt (an abandoned connect keeps its own); runs in a thread."""
    broker, topics = settings.broker, settings.topics
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=topics.node,
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=True,
    )
    client.connect_timeout = settings.timing.mqtt_connect
    client.will_set(topics.status, OFFLINE, qos=1, retain=True)
    if broker.username is not None:
        password = None if broker.password is None else broker.password.reveal()
        client.username_pw_set(broker.username, password)
    if broker.tls:
        cafile = None if settings.ca_file is None else str(settings.ca_file)
        client.tls_set_context(ssl.create_default_context(cafile=cafile))
    return client
