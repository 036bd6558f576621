"""Home Assistant through MQTT, as a user runs it: the CLI, a pty simulator, a real Mosquitto.

* start: "online" (retained), the discovery configs (retained, valid for Home Assistant's
  sensor schema), one state message per reading whose values equal /metrics' for the
  same reading; SIGTERM: "offline" (retained) and exit 0; SIGKILL: "offline" by the
  broker's last will;
* the broker stopped for ``OUTAGE`` s (two polls) and started again: no poll later than
  its phase by more than 0.1 s (poll times from the verbosity-2 log lines), /metrics
  served meanwhile, the configs and the newest state published again after;
* wrong broker credentials: one warning line, retried with growing waits, /metrics served;
  right ones from the URL at verbosity 3: the password in no output, page or file.

The simulator runs at time scale 0.05 with ``-channel``/``-ipaddr`` (no scan): the first
reading comes about a second after the start.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.test_ha_discovery import check_against_home_assistant
from tests.mqtt.broker import Broker, Subscriber, mosquitto, needs_mosquitto, subscriber
from tests.support import Key, key

from .harness import exporter, first_reading, metrics, simulator, wait_for
from .test_shutdown import METER_CHANNEL, METER_IP, StderrLines

pytestmark = [needs_mosquitto, pytest.mark.slow]

STATUS, METER, STATE = "trio-smartmeter/status", "trio-smartmeter/meter", "trio-smartmeter/state"
CONFIG = re.compile(r"homeassistant/sensor/trio_smartmeter/\w+/config")
INTERVAL = 10
OUTAGE = 22.0  # two polls fall in it; the property does not change with a longer stop
MQTT_PASSWORD = "Wq8-nT3v!zR5"


@contextmanager
def exporter_on(
    tmp: Path, url: str, *extra: str, verbosity: str = "1"
) -> Iterator[tuple[str, Any, StderrLines]]:
    with (
        simulator(tmp, "bp35a1", "--time-scale", "0.05") as (link, _truth, _sim),
        exporter(
            "-device", str(link), "-channel", METER_CHANNEL, "-ipaddr", METER_IP,
            "-interval", str(INTERVAL), "-state-file", str(tmp / "state.json"),
            "-verbosity", verbosity, "-mqtt-url", url, *extra,
        ) as (base, proc),
    ):  # fmt: skip
        yield base, proc, StderrLines(proc)


def payload(sub: Subscriber, topic: str) -> str | None:
    m = sub.last(topic)
    return None if m is None else m.payload


def retained(broker: Broker, topic: str, want: str) -> None:
    """The broker hands ``want`` on ``topic`` to a new subscriber as a retained message."""

    def held() -> str | None:
        with subscriber(broker) as fresh:
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                found = [m for m in fresh.on(topic) if m.retain]
                if found:
                    return found[0].payload
                time.sleep(0.02)
        return None

    wait_for(f"{topic} = {want} (retained)", lambda: held() == want or None, 8)


def metric(m: dict[Key, float], name: str, **labels: str) -> float | None:
    return m.get(key(name, **labels))


def same(published: float | None, exposed: float | None, per: float = 1.0) -> bool:
    """Absent on both, or equal (energy: kWh on MQTT, joules on /metrics)."""
    if exposed is None:
        return published is None
    return published is not None and published == pytest.approx(exposed / per, rel=1e-12)


def assert_state_equals_metrics(state: dict[str, Any], m: dict[Key, float]) -> None:
    kwh = 3.6e6
    pairs = {
        "power": (metric(m, "smartmeter_power_watts"), 1.0),
        "current_r": (metric(m, "smartmeter_current_amperes", phase="r"), 1.0),
        "current_t": (metric(m, "smartmeter_current_amperes", phase="t"), 1.0),
        "energy_bought": (metric(m, "smartmeter_energy_forward_joules_total"), kwh),
        "energy_sold": (metric(m, "smartmeter_energy_reverse_joules_total"), kwh),
        "energy_bought_30min": (metric(m, "smartmeter_fixed_time_energy_forward_joules"), kwh),
        "energy_sold_30min": (metric(m, "smartmeter_fixed_time_energy_reverse_joules"), kwh),
        "link_quality": (metric(m, "smartmeter_rssi_dbm"), 1.0),
    }
    for name, (exposed, per) in pairs.items():
        assert same(state[name], exposed, per), (name, state[name], exposed)
    assert state["power"] is not None and state["energy_bought"] is not None
    assert metric(m, "smartmeter_session_state", state=state["session_state"]) == 1.0


def test_start_states_equal_metrics_and_sigterm_says_offline(tmp_path: Path) -> None:
    with (
        mosquitto(tmp_path) as broker,
        subscriber(broker) as sub,
        exporter_on(tmp_path, broker.url) as (base, proc, _log),
    ):
        wait_for("online", lambda: payload(sub, STATUS) == "online" or None, 10)
        first_reading(base)
        wait_for("a state message", lambda: sub.on(STATE) or None, 5)
        m = metrics(base)  # the same reading: the next poll is ~10 s away
        states = sub.on(STATE)
        assert len(states) == metric(m, "smartmeter_polls_total") == 1
        assert not states[0].retain
        assert_state_equals_metrics(json.loads(states[0].payload), m)
        assert payload(sub, METER) == "online"

        with subscriber(broker) as fresh:  # the configs are retained, and valid
            wait_for("the configs", lambda: len(configs(fresh)) >= 7 or None, 5)
            found = configs(fresh)
            for topic, config in found.items():
                check_against_home_assistant(config)
                assert config["state_topic"] == STATE, topic
            keys = {t.split("/")[-2] for t in found}
            assert {"power", "current_r", "energy_bought", "link_quality"} <= keys
            meter = next(c["device"] for t, c in found.items() if t.endswith("/power/config"))
            assert meter["serial_number"] == "SIM000000001"  # the meter's EPC 0x8D

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(6) == 0
        retained(broker, STATUS, "offline")


def configs(sub: Subscriber) -> dict[str, dict[str, Any]]:
    with sub._lock:
        found = {m.topic: m for m in sub.messages if CONFIG.fullmatch(m.topic)}
    assert all(m.retain for m in found.values())
    return {t: json.loads(m.payload) for t, m in found.items() if m.payload}


def test_a_killed_exporter_is_offline_by_its_last_will(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker, exporter_on(tmp_path, broker.url) as (_b, proc, _l):
        retained(broker, STATUS, "online")
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        retained(broker, STATUS, "offline")


READING = re.compile(r"^(\S+) DEBUG .*poller.*reading: ")


def reading_times(log: StderrLines) -> list[float]:
    with log._lock:
        lines = list(log.lines)
    found = (READING.match(line) for line in lines)
    return [datetime.fromisoformat(m.group(1)).timestamp() for m in found if m]


def test_a_broker_outage_delays_no_poll_and_everything_is_published_again(
    tmp_path: Path,
) -> None:
    with (
        mosquitto(tmp_path) as broker,
        subscriber(broker) as sub,
        exporter_on(tmp_path, broker.url, verbosity="2") as (base, _proc, log),
    ):
        wait_for("a state message", lambda: sub.on(STATE) or None, 15)
        broker.stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < OUTAGE:  # scrapes answer throughout
            assert metric(metrics(base), "smartmeter_up") == 1.0
            time.sleep(1.0)
        restarted = time.monotonic()
        broker.start()

        def after_restart(topic: str | re.Pattern[str]) -> list[Any]:
            match = topic.fullmatch if isinstance(topic, re.Pattern) else topic.__eq__
            with sub._lock:
                return [m for m in sub.messages if m.at > restarted and match(m.topic)]

        # the broker's persistent session for ``sub`` may hand it the unacknowledged old
        # state again at once: what counts is what follows the exporter's "online"
        online = wait_for(
            "the exporter online again",
            lambda: next((m for m in after_restart(STATUS) if m.payload == "online"), None),
            70,
        )
        wait_for(
            "the newest state published again",
            lambda: [m for m in after_restart(STATE) if m.at >= online.at] or None,
            5,
        )
        assert len([m for m in after_restart(CONFIG) if m.at >= online.at]) >= 7  # discovery
        # (the broker, stopping, sent the exporter's last will: "offline" stayed retained
        # until the exporter was back)
        retained(broker, STATUS, "online")
        times = reading_times(log)
        assert len(times) >= 3, times  # polls before and during the outage
        steps = [b - a for a, b in itertools.pairwise(times)]
        print(f"poll steps {[round(s, 3) for s in steps]}; reconnected "
              f"{online.at - restarted:.1f} s after the restart")  # fmt: skip
        assert all(abs(s - INTERVAL) <= 0.1 for s in steps), steps


def test_wrong_credentials_then_right_ones_never_show_the_password(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("Not-the-one-42\n")
    with mosquitto(tmp_path, users={"ha": MQTT_PASSWORD}) as broker:
        url = f"mqtt://ha@127.0.0.1:{broker.port}"
        wrong_file = ("-mqtt-password-file", str(wrong))
        with exporter_on(tmp_path, url, *wrong_file, verbosity="3") as (base, proc, log):
            first_reading(base)  # Prometheus is served meanwhile
            wait_for("three refusals", lambda: len(refusals(log)) >= 3 or None, 15)
            proc.send_signal(signal.SIGTERM)
            proc.wait(6)
            text = log.text()
        warnings = [line for line in text.splitlines() if "WARNING" in line and "MQTT" in line]
        assert len(warnings) == 1 and "refused the connection" in warnings[0], warnings
        assert "mqtt://ha@127.0.0.1" in warnings[0] and "retrying in" in warnings[0]
        waits = [float(w) for w in re.findall(r"retrying in ([0-9.]+) s", text)]
        assert waits[:3] == pytest.approx([1.0, 2.0, 4.0], rel=0.11)  # MQTT_RECONNECT's row
        assert "Not-the-one-42" not in text

        secret_url = f"mqtt://ha:{MQTT_PASSWORD}@127.0.0.1:{broker.port}"
        with subscriber(broker, ("ha", MQTT_PASSWORD)) as sub:
            with exporter_on(tmp_path, secret_url, verbosity="3") as (base, proc, log):
                first_reading(base)
                wait_for("a state message", lambda: sub.on(STATE) or None, 10)
                pages = [httpx.get(f"{base}{p}", timeout=5).text
                         for p in ("/metrics", "/", "/api/status")]  # fmt: skip
                proc.send_signal(signal.SIGTERM)
                proc.wait(6)
                assert proc.stdout is not None
                outputs = [log.text(), proc.stdout.read(), *pages]
            state_file = (tmp_path / "state.json").read_text()
        assert "MQTT connected to mqtt://ha@127.0.0.1" in outputs[0]
        for text in [*outputs, state_file]:
            assert MQTT_PASSWORD not in text
            assert MQTT_PASSWORD.encode().hex() not in text.lower()


def refusals(log: StderrLines) -> list[str]:
    with log._lock:
        return [line for line in log.lines if "refused the connection" in line]
