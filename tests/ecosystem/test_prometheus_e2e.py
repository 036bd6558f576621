"""A real Prometheus (Debian package) scrapes the demo exporter every second.

Checks that Prometheus stores the same power value the exporter serves, that the packaged
alert rules load and evaluate cleanly (and stay quiet on a healthy demo), and that every
expression of the dashboard and of the rules evaluates without error.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import value, wait_for

from .helpers import RULES, DemoExporter, Prometheus, dashboard_exprs, running_prometheus

pytestmark = pytest.mark.slow

DEADLINE = 30.0
#: What a query may meet while Prometheus starts or has no sample yet.
NOT_YET = (OSError, ValueError, AssertionError)


@pytest.fixture(scope="module")
def prometheus(demo_exporter: DemoExporter) -> Iterator[Prometheus]:
    tmp = Path(tempfile.mkdtemp(prefix="smartmeter-prom-"))
    (tmp / "smartmeter.rules.yml").write_text(RULES.read_text())
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["smartmeter.rules.yml"],
        "scrape_configs": [
            {
                "job_name": "smartmeter",
                "static_configs": [{"targets": [f"127.0.0.1:{demo_exporter.port}"]}],
            }
        ],
    }
    try:
        with running_prometheus(tmp, config) as prom:

            def scraped() -> bool | None:
                prom.alive()
                return True if prom.query("smartmeter_power_watts") else None

            wait_for("smartmeter_power_watts in Prometheus", scraped, DEADLINE, retry=NOT_YET)
            yield prom
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _one(prom: Prometheus, expr: str) -> float:
    result = prom.query(expr)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def test_prometheus_stores_the_exporters_power(
    prometheus: Prometheus, demo_exporter: DemoExporter
) -> None:
    # The reading changes once per poll interval (10 s); compare when Prometheus and the
    # exporter are at the same reading (same last-scrape timestamp).
    def same_reading() -> tuple[str, dict[str, Any], float, float | None] | None:
        body = demo_exporter.metrics()
        status = demo_exporter.status()
        prom_power = _one(prometheus, 'smartmeter_power_watts{job="smartmeter"}')
        prom_stamp = _one(prometheus, "smartmeter_last_scrape_timestamp_seconds")
        stamp = value(body, "smartmeter_last_scrape_timestamp_seconds")
        again = demo_exporter.metrics()
        steady = value(again, "smartmeter_last_scrape_timestamp_seconds") == stamp
        return (body, status, prom_power, stamp) if stamp == prom_stamp and steady else None

    body, status, prom_power, stamp = wait_for(
        "Prometheus at the exporter's reading", same_reading, DEADLINE, step=0.2
    )
    power = value(body, "smartmeter_power_watts")
    assert power is not None
    assert prom_power == power
    reading = status["reading"]
    if reading is not None and reading["received_unix"] == stamp:
        assert reading["power_watts"] == power  # what the status page and JSON show
    assert _one(prometheus, 'up{job="smartmeter"}') == 1.0
    assert _one(prometheus, "smartmeter_up") == 1.0
    assert _one(prometheus, 'smartmeter_session_state{state="ready"}') == 1.0
    errors = prometheus.query("smartmeter_scrape_errors_total")
    assert {r["metric"]["type"] for r in errors} == {
        "ip_resolve",
        "auth",
        "query",
        "parse",
        "serial",
        "rate_limit",
    }


def test_every_dashboard_and_rule_expression_evaluates(prometheus: Prometheus) -> None:
    # increase()/rate() need two samples in their window: wait for a few scrapes.
    wait_for(
        "3 scrapes stored",
        lambda: prometheus.query("count_over_time(smartmeter_polls_total[1m]) >= 3") or None,
        DEADLINE,
        step=0.25,
    )
    rule_exprs = [
        (f"rule {r['name']}", r["query"])
        for g in prometheus.api("rules")["groups"]
        for r in g["rules"]
    ]
    assert len(rule_exprs) >= 8
    empty = []
    for where, expr in [*dashboard_exprs(), *rule_exprs]:
        try:
            result = prometheus.query(expr)
        except AssertionError as exc:
            pytest.fail(f"{where}: {expr!r} does not evaluate: {exc}")
        if not result:
            empty.append(where)
    print(f"expressions without data on a fresh demo: {empty}")
    # The core panels must show data on a healthy demo.
    for expr in (
        'smartmeter_power_watts{job="smartmeter",instance=~".*"}',
        'smartmeter_current_amperes{job="smartmeter",instance=~".*"}',
        'smartmeter_session_state{job="smartmeter",instance=~".*"} == 1',
        'up{job="smartmeter",instance=~".*"}',
        'increase(smartmeter_energy_forward_joules_total{job="smartmeter",instance=~".*"}[1h])'
        " / 3.6e6",
        'sum by (type) (increase(smartmeter_scrape_errors_total{job="smartmeter",instance=~".*"}[1m]))',
    ):
        assert prometheus.query(expr), expr


def test_alert_rules_load_and_stay_quiet_on_a_healthy_demo(prometheus: Prometheus) -> None:
    seen: list[object] = []

    def quiet() -> bool | None:
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
        assert not bad, bad
        alerts = prometheus.api("alerts")["alerts"]
        seen[:] = alerts
        evaluated = all(r["health"] == "ok" for r in rules)
        # absent(up{job="smartmeter"}) may be pending from before the first scrape; it
        # resolves at the next evaluation.
        return True if evaluated and not alerts else None

    try:
        wait_for("no alert on a healthy demo", quiet, DEADLINE, step=0.25)
    except AssertionError as exc:
        raise AssertionError(f"alerts on a healthy demo: {seen}") from exc
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} >= {
        "SmartmeterExporterDown",
        "SmartmeterExporterAbsent",
        "SmartmeterDataStale",
        "SmartmeterNoPowerData",
        "SmartmeterCredentialsRejected",
        "SmartmeterRateLimited",
        "SmartmeterSerialDeviceMissing",
        "SmartmeterSerialErrors",
    }
