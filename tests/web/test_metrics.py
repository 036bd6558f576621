"""Exposition of ExporterState (design.md §3, style.md §3): golden files + staleness + cache.

Regenerate the golden files with ``UPDATE_GOLDEN=1 pytest tests/web/test_metrics.py``.
The build_info labels (version, Python version) are normalised so that the files do not
depend on the interpreter.
"""

from __future__ import annotations

import datetime as dt
import doctest
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from trio_smartmeter.core.bill import Bills, compute_bills
from trio_smartmeter.core.jst import meter_time_to_unix
from trio_smartmeter.core.model import (
    FixedTimeEnergy,
    HalfHour,
    MeterInfo,
    MinuteEnergy,
    ModuleInfo,
    Reading,
    SessionState,
)
from trio_smartmeter.core.state import ERROR_TYPES, Counter, ErrorType, ExporterState
from trio_smartmeter.core.tariff import load_tariff
from trio_smartmeter.web import metrics
from trio_smartmeter.web.metrics import build_registry, render

GOLDEN = Path(__file__).parent.parent / "data" / "metrics"
T0 = 1000.0  # monotonic time of the reading
UNIX = 1_764_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reading(**kw: object) -> Reading:
    base: dict[str, object] = {
        "power_watts": 1234,
        "current_r_amperes": Decimal("12.3"),
        "current_t_amperes": Decimal("4.5"),
        "energy_forward_joules": Decimal("45296640000"),  # 12582.4 kWh
        "energy_reverse_joules": Decimal("360000000"),  # 100 kWh
        "received_monotonic": T0,
        "received_unix": UNIX,
    }
    base.update(kw)
    return Reading(**base)  # type: ignore[arg-type]


def connected_state(**kw: object) -> ExporterState:
    s = ExporterState(interval=60.0)
    s.set_module_info(
        ModuleInfo(
            model="bp35c2",
            firmware="1.2.10",
            app_version="rev26e",
            dialect="dual-stack",
            payload_format="binary",
        )
    )
    s.set_meter_info(MeterInfo(manufacturer="000016", standard_version="F"))
    s.set_session_state(SessionState.READY)
    s.set_session_up(True)
    s.set_rssi(-62.0)
    s.bump(Counter.SCANS)
    s.bump(Counter.JOINS, 2)
    s.bump(Counter.JOIN_FAILURES)
    s.count_module_event(0x22)
    s.count_module_event(0x25)
    s.count_module_event(0x25)
    s.count_module_event(0x99)
    s.record_failed_poll(ErrorType.QUERY, 12.5)
    s.record_reading(reading(**kw), 2.4)
    s.set_fixed(
        forward=FixedTimeEnergy(
            joules=Decimal("45288000000"), meter_timestamp_unix=UNIX - 900, received_monotonic=T0
        )
    )
    return s


def fresh() -> tuple[ExporterState, float]:
    s = connected_state()
    s.set_minute_energy(
        MinuteEnergy(
            forward_joules=Decimal("45296400000"),
            reverse_joules=Decimal(0),
            meter_timestamp_unix=UNIX - 60,
            received_monotonic=T0,
        )
    )
    s.set_history(slots=4752, missing=10)
    s.bills = example_bills()
    return s, T0 + 10


def example_bills() -> Bills:
    """A tiered plan with a sell price, two stored half-hours into the period of 12-15
    (and one register missing in the previous one)."""
    tariff = load_tariff(
        "billing_day: 15\nbasic: {monthly: 1247.00}\n"
        "energy: {tiers: [{up_to_kwh: 120, price: 29.80}, {price: 36.40}]}\n"
        "surcharges:\n  fuel_cost_adjustment: [{from: 2026-11-01, price: -1.98}]\n"
        "  renewable_energy: [{from: 2026-05-01, price: 3.98}]\nsell: {price: 16.00}\n"
    )
    start = dt.datetime(2026, 12, 15)
    rows = [
        HalfHour(
            int(meter_time_to_unix(start + k * dt.timedelta(minutes=30))),
            None,
            None,
            Decimal(1000 + k) * 3_600_000,
            Decimal(10 + k) * 1_800_000,
        )
        for k in range(3)
    ]
    return compute_bills(tariff, rows, dt.datetime(2026, 12, 15, 1, 10))


def two_wire() -> tuple[ExporterState, float]:
    return connected_state(current_t_amperes=None, energy_reverse_joules=None), T0 + 10


def stale() -> tuple[ExporterState, float]:
    s = connected_state()
    s.set_session_up(False)
    s.set_session_state(SessionState.SCANNING)
    s.set_rssi(None)
    return s, T0 + 3 * 60 + 1  # > max_age (3 x interval)


def never_polled() -> tuple[ExporterState, float]:
    return ExporterState(interval=60.0), 5.0


def negative_power() -> tuple[ExporterState, float]:
    return (
        connected_state(
            power_watts=-850, current_r_amperes=Decimal("-4.2"), current_t_amperes=Decimal("-4.3")
        ),
        T0 + 10,
    )


def rate_limited() -> tuple[ExporterState, float]:
    s = connected_state()
    s.count_module_event(0x32)
    s.set_rate_limited(True)
    s.set_session_state(SessionState.RATE_LIMITED)
    s.record_failed_poll(ErrorType.RATE_LIMIT)
    return s, T0 + 70


def latched() -> tuple[ExporterState, float]:
    s = ExporterState(interval=60.0)
    s.set_session_state(SessionState.LATCHED)
    s.set_credentials_latched(True)
    for _ in range(3):
        s.bump(Counter.JOINS)
        s.bump(Counter.JOIN_FAILURES)
        s.count_module_event(0x24)
        s.count_error(ErrorType.AUTH)
    return s, 500.0


CASES: dict[str, Callable[[], tuple[ExporterState, float]]] = {
    "fresh": fresh,
    "two_wire": two_wire,
    "stale": stale,
    "never_polled": never_polled,
    "negative_power": negative_power,
    "rate_limited": rate_limited,
    "latched": latched,
}

_BUILD_RE = re.compile(r'smartmeter_exporter_build_info\{python_version="[^"]*",version="[^"]*"\}')


def smartmeter_part(body: bytes) -> str:
    """The ``smartmeter_*`` lines of an exposition, build_info labels normalised."""
    out = []
    for line in body.decode().splitlines():
        name = line.split(" ")[2] if line.startswith("# ") else line
        if name.startswith("smartmeter_"):
            out.append(line)
    text = "\n".join(out) + "\n"
    return _BUILD_RE.sub(
        'smartmeter_exporter_build_info{python_version="PYTHON",version="VERSION"}', text
    )


def exposition(case: str) -> str:
    state, now = CASES[case]()
    body, ctype = render(build_registry(state, Clock(now)), "")
    assert ctype.startswith("text/plain; version=0.0.4")
    return smartmeter_part(body)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    got = exposition(case)
    path = GOLDEN / f"{case}.prom"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
    assert got == path.read_text(), f"{path} differs; UPDATE_GOLDEN=1 regenerates it"


@pytest.mark.parametrize("case", sorted(CASES))
def test_promtool_check_metrics(case: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not on PATH (Debian: apt install prometheus)")
    data = (GOLDEN / f"{case}.prom").read_bytes()
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=data, capture_output=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == b""
    assert proc.stderr.strip() == b""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
            assert s.timestamp is None  # never attach sample timestamps
    return out


def test_fresh_values() -> None:
    got = samples(exposition("fresh"))
    assert got[("smartmeter_up", ())] == 1
    assert got[("smartmeter_power_watts", ())] == 1234
    assert got[("smartmeter_current_amperes", (("phase", "r"),))] == 12.3
    assert got[("smartmeter_current_amperes", (("phase", "t"),))] == 4.5
    assert got[("smartmeter_energy_forward_joules_total", ())] == 45296640000
    assert got[("smartmeter_energy_reverse_joules_total", ())] == 360000000
    assert got[("smartmeter_last_scrape_timestamp_seconds", ())] == UNIX
    assert got[("smartmeter_scrape_duration_seconds_count", ())] == 2
    assert got[("smartmeter_scrape_errors_total", (("type", "query"),))] == 1
    assert got[("smartmeter_module_events_total", (("event", "25"),))] == 2
    assert got[("smartmeter_module_events_total", (("event", "other"),))] == 1
    assert got[("smartmeter_session_state", (("state", "ready"),))] == 1
    assert sum(v for (n, _), v in got.items() if n == "smartmeter_session_state") == 1
    assert got[("smartmeter_rssi_dbm", ())] == -62
    assert got[("smartmeter_fixed_time_energy_forward_joules", ())] == 45288000000
    assert got[("smartmeter_fixed_time_energy_forward_timestamp_seconds", ())] == UNIX - 900


def test_two_wire_has_no_t_phase() -> None:
    got = samples(exposition("two_wire"))
    assert ("smartmeter_current_amperes", (("phase", "r"),)) in got
    assert ("smartmeter_current_amperes", (("phase", "t"),)) not in got
    assert ("smartmeter_energy_reverse_joules_total", ()) not in got


def test_stale_readings_are_omitted() -> None:
    text = exposition("stale")
    got = samples(text)
    assert got[("smartmeter_up", ())] == 0
    for name in (
        "smartmeter_power_watts",
        "smartmeter_current_amperes",
        "smartmeter_energy_forward_joules",
        "smartmeter_energy_reverse_joules",
        "smartmeter_rssi_dbm",
    ):
        assert name not in text
    # a fact about the past: kept
    assert got[("smartmeter_last_scrape_timestamp_seconds", ())] == UNIX


def test_never_polled() -> None:
    text = exposition("never_polled")
    got = samples(text)
    assert got[("smartmeter_up", ())] == 0
    assert "smartmeter_last_scrape_timestamp_seconds" not in text
    for t in ERROR_TYPES:  # every label value present from start at 0
        assert got[("smartmeter_scrape_errors_total", (("type", t),))] == 0
    assert got[("smartmeter_scrape_duration_seconds_count", ())] == 0
    assert "smartmeter_exporter_build_info" in text


def test_freshness_boundary() -> None:
    state = connected_state()
    clock = Clock(T0 + state.max_age)
    reg = build_registry(state, clock)
    assert b"smartmeter_power_watts 1234.0" in render(reg, "")[0]
    clock.now = T0 + state.max_age + 0.001  # nothing changed but the clock
    body = render(reg, "")[0]
    assert b"smartmeter_power_watts" not in body
    assert b"smartmeter_up 0.0" in body


def test_runtime_collectors_and_own_registry() -> None:
    state, now = fresh()
    reg = build_registry(state, Clock(now))
    body = render(reg, "")[0].decode()
    assert "process_cpu_seconds_total" in body or "python_info" in body
    assert "python_gc_objects_collected_total" in body
    assert "_created" not in body
    from prometheus_client import REGISTRY

    assert reg is not REGISTRY
    # two registries side by side do not clash (tests stay isolated)
    build_registry(ExporterState(), Clock(0.0))


def test_openmetrics_negotiation() -> None:
    state, now = fresh()
    reg = build_registry(state, Clock(now))
    body, ctype = render(reg, "application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert ctype.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert text.count("# EOF") == 1
    assert "# TYPE smartmeter_meter info" in text
    assert "smartmeter_energy_forward_joules_total 4.529664e+010" in text or (
        "smartmeter_energy_forward_joules_total" in text
    )
    # text after OpenMetrics from the same cache: separate entries
    body2, ctype2 = render(reg, "text/plain")
    assert ctype2.startswith("text/plain")
    assert b"# EOF" not in body2


def test_every_scrape_sees_the_state_as_it_is_now() -> None:
    state, now = fresh()
    reg = build_registry(state, Clock(now))
    first = render(reg, "")[0]
    state.record_reading(reading(power_watts=99, received_monotonic=now), 1.0)
    second = render(reg, "")[0]
    assert b"smartmeter_power_watts 99.0" in second
    assert second != first


def test_render_plain_registry() -> None:
    reg = CollectorRegistry()
    Gauge("x_value", "x", registry=reg).set(2)
    body, ctype = render(reg, None)
    assert b"x_value 2.0" in body
    assert ctype.startswith("text/plain")


def test_the_collector_docstring_shows_its_exact_exposition() -> None:
    (test,) = doctest.DocTestFinder(recurse=False).find(metrics.SmartmeterCollector)
    assert len(test.examples) > 5
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_one_table_row_per_family_in_exposition_order() -> None:
    names = [m.name for m in metrics.METRICS]
    assert len(names) == len(set(names))
    text = (GOLDEN / "fresh.prom").read_text()
    shown = [line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    suffix = {"counter": "_total", "info": "_info"}
    expected = [m.name + suffix.get(m.type, "") for m in metrics.METRICS]
    assert shown == [n for n in expected if n in shown]
    # fresh.prom has every family but the reverse fixed-time pair (never pushed there)
    assert set(expected) - set(shown) == {
        "smartmeter_fixed_time_energy_reverse_joules",
        "smartmeter_fixed_time_energy_reverse_timestamp_seconds",
    }
