"""A real Mosquitto on a free loopback port, and a subscriber that records what it gets.

The broker runs from a generated configuration (no persistence, so a restart forgets the
retained messages unless asked to keep them); credentials come from ``mosquitto_passwd``.
Tests that need the binaries skip with a reason when ``scripts/system-deps`` could not
install them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import close_pipes, free_port, stop, wait_for

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None or shutil.which("mosquitto_passwd") is None,
    reason="mosquitto is not installed (scripts/system-deps installs it)",
)


@attrs.define
class Broker:
    """One Mosquitto; :meth:`stop` and :meth:`start` again on the same port."""

    directory: Path
    port: int = attrs.field(factory=free_port)
    users: dict[str, str] = attrs.field(factory=dict)
    #: (certificate, key): a second listener on ``tls_port`` speaks TLS with them
    tls: tuple[Path, Path] | None = None
    tls_port: int = attrs.field(factory=free_port)
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        # as root, mosquitto would switch to its own user, who cannot write the test's directory
        lines = [f"listener {self.port} 127.0.0.1", "persistence true",
                 f"persistence_location {self.directory}/", "log_dest stderr",
                 f"user {pwd.getpwuid(os.getuid()).pw_name}"]  # fmt: skip
        if self.users:
            passwd = self.directory / "passwd"
            passwd.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [f"listener {self.tls_port} 127.0.0.1", f"certfile {self.tls[0]}",
                      f"keyfile {self.tls[1]}"]  # fmt: skip
        path = self.directory / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        assert MOSQUITTO is not None
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self._config())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for("mosquitto to listen", self._listening, 10)

    def _listening(self) -> bool | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"mosquitto exited: {self.proc.stderr and self.proc.stderr.read()}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
            return True
        return None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            close_pipes(self.proc)
            self.proc = None


@contextlib.contextmanager
def mosquitto(
    directory: Path, users: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[Broker]:
    broker = Broker(directory, users=users or {}, tls=tls)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@attrs.define
class Message:
    topic: str
    payload: str
    retain: bool
    at: float  # time.monotonic() when it arrived


class Subscriber:
    """paho in its own thread (a test tool, not the exporter): every message on ``#``."""

    def __init__(self, broker: Broker, user: tuple[str, str] | None = None) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        # a persistent session: what is published while a broker restart separates us is
        # queued for us (QoS 1), so an outage test sees every message the exporter sent
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-{free_port()}", clean_session=False
        )
        self.client.reconnect_delay_set(1, 1)
        if user is not None:
            self.client.username_pw_set(*user)
        self.client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Message(msg.topic, msg.payload.decode(), bool(msg.retain), time.monotonic())
            )

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Message | None:
        found = self.on(topic)
        return found[-1] if found else None

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def subscriber(broker: Broker, user: tuple[str, str] | None = None) -> Iterator[Subscriber]:
    sub = Subscriber(broker, user)
    try:
        wait_for("the subscriber to connect", lambda: sub.client.is_connected() or None, 10)
        yield sub
    finally:
        sub.close()
