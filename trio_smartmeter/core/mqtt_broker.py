"""The MQTT broker to publish to, as a value: ``mqtt://[user[:password]@]host[:port]``.

Pure. The password is a :class:`Secret` from the moment the URL is read, so the value can
be logged (``str`` shows ``mqtt://user@host:1883``), put in an exception or a status
page without showing it; a problem with the URL names the part, never the text.
"""

from __future__ import annotations

import urllib.parse

import attrs

from trio_smartmeter.core.secret import Secret

__all__ = ["DEFAULT_PORTS", "BrokerUrlError", "MqttBroker", "parse_broker_url"]

#: The IANA ports of MQTT and MQTT over TLS.
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerUrlError(ValueError):
    """The URL is not ``mqtt[s]://[user[:password]@]host[:port]``; says what is wrong."""


@attrs.frozen
class MqttBroker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: Secret | None = attrs.field(default=None, repr=False)

    def with_password(self, password: Secret) -> MqttBroker:
        """The same broker with the password from a file (``SMARTMETER_MQTT_PASSWORD_FILE``)."""
        return attrs.evolve(self, password=password)

    def __str__(self) -> str:
        """Safe to log: the user, never the password."""
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"


def parse_broker_url(text: str) -> MqttBroker:
    """Raises :class:`BrokerUrlError`; the message never repeats the URL (it may hold a password)."""
    try:
        url = urllib.parse.urlsplit(text.strip())
        port = url.port
    except ValueError:
        raise BrokerUrlError("a port number 1-65535 after the host") from None
    if url.scheme not in DEFAULT_PORTS:
        raise BrokerUrlError("mqtt:// or mqtts:// followed by [user[:password]@]host[:port]")
    if not url.hostname:
        raise BrokerUrlError("a broker host name or address after mqtt://")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise BrokerUrlError("no path, query or fragment after host[:port]")
    if port == 0:
        raise BrokerUrlError("a port number 1-65535 after the host")
    username = urllib.parse.unquote(url.username) if url.username else None
    password = urllib.parse.unquote(url.password) if url.password is not None else None
    return MqttBroker(
        host=url.hostname,
        port=port or DEFAULT_PORTS[url.scheme],
        tls=url.scheme == "mqtts",
        username=username,
        password=None if password is None else Secret(password),
    )
