"""ExporterState -> Prometheus exposition, at scrape time (prometheus_client only, no trio).

Names follow design.md §3 and docs/architecture.md "Metrics contract"; conventions follow
style.md §3. Every ``smartmeter_*`` family is one row of :data:`METRICS` (name, type, HELP,
labels, how its samples come from the state), in exposition order. The rules that matter:

* one private :class:`~prometheus_client.CollectorRegistry` per state (never the global one);
* meter readings (power, currents, energy, fixed-time energy) are exported only while
  fresh (``ExporterState.max_age``, judged on the injected monotonic clock); past that they
  are omitted, ``smartmeter_up`` is 0, and ``smartmeter_last_scrape_timestamp_seconds``
  keeps its value (it is a fact about the past);
* a family with no sample is omitted (no lone ``# HELP``/``# TYPE``);
* no sample ever carries an explicit timestamp;
* every labelled counter has all its label values from start (``type``, ``event``).

:class:`SmartmeterCollector` shows the whole exposition of an example state.

Rendering is prometheus_client's own, once per scrape (about 0.5 ms on a laptop core: at
the 15-60 s scrape intervals users run, a cache would never hit; docs/performance.md).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal

import attrs
import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from trio_smartmeter._version import __version__
from trio_smartmeter.core.model import FixedTimeEnergy, MinuteEnergy, Reading, SessionState
from trio_smartmeter.core.session import COUNTED_EVENTS
from trio_smartmeter.core.state import ERROR_TYPES, Counter, ExporterState

if TYPE_CHECKING:
    from trio_smartmeter.core.bill import Charges

__all__ = ["METRICS", "MODULE_EVENTS", "SmartmeterCollector", "build_registry", "render"]


@attrs.frozen
class Scrape:
    """What one scrape sees: the state and, judged once on the clock, its fresh parts."""

    state: ExporterState
    reading: Reading | None
    fixed_forward: FixedTimeEnergy | None
    fixed_reverse: FixedTimeEnergy | None
    minute: MinuteEnergy | None = None

    @classmethod
    def at(cls, state: ExporterState, now_monotonic: float) -> Scrape:
        return cls(
            state,
            state.fresh_reading(now_monotonic),
            state.fresh_fixed(state.fixed_forward, now_monotonic),
            state.fresh_fixed(state.fixed_reverse, now_monotonic),
            state.fresh_minute(now_monotonic),
        )


#: Label values -> sample value; empty: the family is left out of the exposition.
Samples = Mapping[tuple[str, ...], float]


@attrs.frozen
class Desc:
    """A gauge or counter family (a counter's samples get ``_total``)."""

    name: str
    type: Literal["gauge", "counter"]
    help: str
    samples: Callable[[Scrape], Samples]
    labels: tuple[str, ...] = ()

    def family(self, scrape: Scrape) -> Metric | None:
        samples = self.samples(scrape)
        if not samples:
            return None
        kind = GaugeMetricFamily if self.type == "gauge" else CounterMetricFamily
        family = kind(self.name, self.help, labels=self.labels)
        for labels, value in samples.items():
            family.add_metric(labels, float(value))
        return family


@attrs.frozen
class HistogramDesc:
    """A histogram family without labels."""

    name: str
    help: str
    cumulative: Callable[[Scrape], tuple[list[tuple[str, int]], float]]
    type: Literal["histogram"] = "histogram"

    def family(self, scrape: Scrape) -> Metric:
        buckets, total = self.cumulative(scrape)
        return HistogramMetricFamily(
            self.name,
            self.help,
            buckets=[(le, float(count)) for le, count in buckets],
            sum_value=total,
        )


@attrs.frozen
class InfoDesc:
    """An info family (``<name>_info 1`` with the facts as labels), omitted while unknown."""

    name: str
    help: str
    info: Callable[[Scrape], Mapping[str, str] | None]
    type: Literal["info"] = "info"

    def family(self, scrape: Scrape) -> Metric | None:
        info = self.info(scrape)
        return None if info is None else InfoMetricFamily(self.name, self.help, value=dict(info))


def _value(get: Callable[[Scrape], Decimal | float | None]) -> Callable[[Scrape], Samples]:
    """Samples of an unlabelled family: one value, or none while ``get`` has no value."""

    def samples(scrape: Scrape) -> Samples:
        value = get(scrape)
        return {} if value is None else {(): float(value)}

    return samples


def _fresh(get: Callable[[Reading], Decimal | int | None]) -> Callable[[Scrape], Samples]:
    """A value of the meter reading, only while the reading is fresh."""
    return _value(lambda s: None if s.reading is None else get(s.reading))


def _count(counter: Counter) -> Callable[[Scrape], Samples]:
    return _value(lambda s: s.state.counters[counter])


#: ``smartmeter_module_events_total{event}`` label values, each from start at 0: the
#: counted EVENT numbers (core/session.py) as 2 hex digits, every other number as "other".
MODULE_EVENTS: Final = (*(f"{code:02X}" for code in COUNTED_EVENTS), "other")


def _module_events(scrape: Scrape) -> Samples:
    counts = dict.fromkeys(MODULE_EVENTS, 0)
    for code, n in scrape.state.module_events.items():
        label = f"{code:02X}"
        counts[label if label in counts else "other"] += n
    return {(label,): n for label, n in counts.items()}


def _currents(scrape: Scrape) -> Samples:
    r = scrape.reading
    if r is None:
        return {}
    phases = (("r", r.current_r_amperes), ("t", r.current_t_amperes))
    return {(phase,): float(amperes) for phase, amperes in phases if amperes is not None}


def _meter(scrape: Scrape) -> Mapping[str, str] | None:
    m = scrape.state.meter_info
    if m is None:
        return None
    return {"manufacturer": m.manufacturer, "standard_version": m.standard_version}


def _module(scrape: Scrape) -> Mapping[str, str] | None:
    m = scrape.state.module_info
    if m is None:
        return None
    return {
        "firmware": m.firmware,
        "dialect": m.dialect,
        "payload_format": m.payload_format,
        "model": m.model,
    }


#: ``smartmeter_bill_yen{component}``: the unrounded components that add up to the bill.
BILL_COMPONENTS: Final = ("basic", "energy", "fuel_cost_adjustment", "renewable_energy")
_BILL = "from the history store and the tariff file, recomputed when the store changes"


def _bills(get: Callable[[Charges], Decimal | int | None]) -> Callable[[Scrape], Samples]:
    """``{period}`` samples of both bills (none without a tariff or a meter clock yet)."""

    def samples(scrape: Scrape) -> Samples:
        bills = scrape.state.bills
        if bills is None:
            return {}
        pairs = (("current", bills.current.charges), ("previous", bills.previous.charges))
        return {(which,): float(v) for which, c in pairs if (v := get(c)) is not None}

    return samples


def _bill_components(scrape: Scrape) -> Samples:
    bills = scrape.state.bills
    if bills is None:
        return {}
    return {
        (which, component): float(getattr(bill.charges, component)) + 0.0  # not -0.0
        for which, bill in (("current", bills.current), ("previous", bills.previous))
        for component in BILL_COMPONENTS
    }


def _missing_half_hours(scrape: Scrape) -> Samples:
    bills = scrape.state.bills
    if bills is None:
        return {}
    return {
        ("current",): bills.current.missing_half_hours,
        ("previous",): bills.previous.missing_half_hours,
    }


def _projected(scrape: Scrape) -> Decimal | int | None:
    bills = scrape.state.bills
    if bills is None or bills.current.projection is None:
        return None
    return bills.current.projection.total


_CACHED = "values are cached between polls, see smartmeter_last_scrape_timestamp_seconds"
_BUILD: Final = {"version": __version__, "python_version": platform.python_version()}

#: The ``smartmeter_*`` families, in exposition order.
METRICS: Final[tuple[Desc | HistogramDesc | InfoDesc, ...]] = (
    Desc(
        "smartmeter_up",
        "gauge",
        "1 while the latest meter reading is fresh (younger than 3 x the poll interval), "
        "else 0; stale readings are omitted from this exposition.",
        _value(lambda s: s.reading is not None),
    ),
    Desc(
        "smartmeter_power_watts",
        "gauge",
        "Instantaneous electric power in watts, signed: negative while exporting to the "
        f"grid. ECHONET EPC 0xE7 (signed 32-bit W); {_CACHED}.",
        _fresh(lambda r: r.power_watts),
    ),
    Desc(
        "smartmeter_current_amperes",
        "gauge",
        "Instantaneous current per phase in amperes, signed; phase t is absent on "
        f"single-phase two-wire meters. ECHONET EPC 0xE8 (signed 16-bit, 0.1 A units); {_CACHED}.",
        _currents,
        labels=("phase",),
    ),
    Desc(
        "smartmeter_energy_forward_joules",
        "counter",
        "Cumulative energy bought from the grid in joules. ECHONET EPC 0xE0 x "
        f"coefficient 0xD3 x unit 0xE1 (kWh), times 3.6e6 J/kWh; {_CACHED}.",
        _fresh(lambda r: r.energy_forward_joules),
    ),
    Desc(
        "smartmeter_energy_reverse_joules",
        "counter",
        "Cumulative energy sold to the grid in joules. ECHONET EPC 0xE3 x "
        f"coefficient 0xD3 x unit 0xE1 (kWh), times 3.6e6 J/kWh; {_CACHED}.",
        _fresh(lambda r: r.energy_reverse_joules),
    ),
    Desc(
        "smartmeter_fixed_time_energy_forward_joules",
        "gauge",
        "Forward cumulative energy at the last 30-minute boundary, as pushed by the meter, "
        f"in joules. ECHONET EPC 0xEA x 0xD3 x 0xE1 (kWh) x 3.6e6; {_CACHED}.",
        _value(lambda s: None if s.fixed_forward is None else s.fixed_forward.joules),
    ),
    Desc(
        "smartmeter_fixed_time_energy_forward_timestamp_seconds",
        "gauge",
        "Meter time (JST, as Unix time) of smartmeter_fixed_time_energy_forward_joules. "
        f"ECHONET EPC 0xEA date/time; {_CACHED}.",
        _value(lambda s: None if s.fixed_forward is None else s.fixed_forward.meter_timestamp_unix),
    ),
    Desc(
        "smartmeter_fixed_time_energy_reverse_joules",
        "gauge",
        "Reverse cumulative energy at the last 30-minute boundary, as pushed by the meter, "
        f"in joules. ECHONET EPC 0xEB x 0xD3 x 0xE1 (kWh) x 3.6e6; {_CACHED}.",
        _value(lambda s: None if s.fixed_reverse is None else s.fixed_reverse.joules),
    ),
    Desc(
        "smartmeter_fixed_time_energy_reverse_timestamp_seconds",
        "gauge",
        "Meter time (JST, as Unix time) of smartmeter_fixed_time_energy_reverse_joules. "
        f"ECHONET EPC 0xEB date/time; {_CACHED}.",
        _value(lambda s: None if s.fixed_reverse is None else s.fixed_reverse.meter_timestamp_unix),
    ),
    Desc(
        "smartmeter_minute_energy_forward_joules",
        "gauge",
        "Forward cumulative energy at the meter's last full minute (Release R meters), in "
        f"joules. ECHONET EPC 0xD0 x 0xD3 x 0xE1 (kWh) x 3.6e6; {_CACHED}.",
        _value(lambda s: None if s.minute is None else s.minute.forward_joules),
    ),
    Desc(
        "smartmeter_minute_energy_reverse_joules",
        "gauge",
        "Reverse cumulative energy at the meter's last full minute (Release R meters), in "
        f"joules. ECHONET EPC 0xD0 x 0xD3 x 0xE1 (kWh) x 3.6e6; {_CACHED}.",
        _value(lambda s: None if s.minute is None else s.minute.reverse_joules),
    ),
    Desc(
        "smartmeter_minute_energy_timestamp_seconds",
        "gauge",
        "Meter time (JST, as Unix time) of the smartmeter_minute_energy_* values. "
        f"ECHONET EPC 0xD0 date/time; {_CACHED}.",
        _value(lambda s: None if s.minute is None else s.minute.meter_timestamp_unix),
    ),
    Desc(
        "smartmeter_history_slots",
        "gauge",
        "Half-hours in the exporter's history store (live fixed-time values and the "
        "meter's own history read back after gaps; served by /api/history).",
        _value(lambda s: s.state.history_slots),
    ),
    Desc(
        "smartmeter_history_missing_slots",
        "gauge",
        "Half-hours known to be missing from the history store and still to be read "
        "from the meter (one frame between polls).",
        _value(lambda s: s.state.history_missing),
    ),
    Desc(
        "smartmeter_bill_yen",
        "gauge",
        "The billing period's charges in yen by component, unrounded (current: the "
        "half-hours so far and the whole basic charge); the amount due is "
        f"smartmeter_bill_due_yen; {_BILL}.",
        _bill_components,
        labels=("period", "component"),
    ),
    Desc(
        "smartmeter_bill_due_yen",
        "gauge",
        "The billing period's bill in whole yen, rounded as retailers do: "
        "floor(basic + energy + fuel_cost_adjustment) + floor(renewable_energy); "
        f"sold energy is not subtracted; {_BILL}.",
        _bills(lambda c: c.total),
        labels=("period",),
    ),
    Desc(
        "smartmeter_bill_sold_yen",
        "gauge",
        "Sold (reverse) energy of the billing period times the tariff's sell price, in "
        f"yen, paid separately; absent when the tariff buys nothing back; {_BILL}.",
        _bills(lambda c: c.sold),
        labels=("period",),
    ),
    Desc(
        "smartmeter_bill_missing_slots",
        "gauge",
        "Half-hour slots of the billing period whose bought energy is unknown (not in "
        "the history store yet): not counted in the bill, never as zero.",
        _missing_half_hours,
        labels=("period",),
    ),
    Desc(
        "smartmeter_bill_projected_yen",
        "gauge",
        "The current billing period's bill projected to its end in whole yen (each "
        "band's average known half-hour over the whole period, priced as the bill is).",
        _value(_projected),
    ),
    Desc(
        "smartmeter_price_yen_per_kwh",
        "gauge",
        "Yen per kWh bought now: the band or tier price of the meter's current "
        "half-hour plus the surcharges of the current billing period (from the tariff file).",
        _value(lambda s: None if s.state.bills is None else s.state.bills.price.total),
    ),
    Desc(
        "smartmeter_last_scrape_timestamp_seconds",
        "gauge",
        "Unix time of the last successful meter read (host clock). Kept when readings "
        "go stale; absent before the first success.",
        _value(lambda s: s.state.last_success_unix),
    ),
    HistogramDesc(
        "smartmeter_scrape_duration_seconds",
        "Duration of each meter read (one ECHONET Get over the radio, including "
        "retries) in seconds.",
        lambda s: (s.state.durations.cumulative(), s.state.durations.sum),
    ),
    Desc(
        "smartmeter_scrape_errors",
        "counter",
        "Failed meter reads by cause: ip_resolve (scan/address), auth, query, parse, "
        "serial (device missing/unplugged/I/O error), rate_limit (transmit-time limit).",
        lambda s: {(t.value,): s.state.errors[t] for t in ERROR_TYPES},
        labels=("type",),
    ),
    Desc(
        "smartmeter_rssi_dbm",
        "gauge",
        "Received signal strength of the meter's frames in dBm (from the module's LQI "
        "or RSSI report, LQI x 0.275 - 104.27).",
        _value(lambda s: s.state.rssi_dbm),
    ),
    Desc(
        "smartmeter_session_up",
        "gauge",
        "1 while a PANA session with the meter is established (EVENT 25 seen, no "
        "26/27/29 since), else 0.",
        _value(lambda s: s.state.session_up),
    ),
    Desc(
        "smartmeter_session_state",
        "gauge",
        "Current state of the session supervisor, one-hot over all states.",
        lambda s: {(m.value,): m is s.state.session_state for m in SessionState},
        labels=("state",),
    ),
    Desc(
        "smartmeter_rate_limited",
        "gauge",
        "1 while the module's transmit-time limit is active (EVENT 32 until EVENT 33), else 0.",
        _value(lambda s: s.state.rate_limited),
    ),
    Desc(
        "smartmeter_credentials_latched",
        "gauge",
        "1 while repeated authentication failures (EVENT 24) have latched the "
        "session into slow retry; check the B-route ID and password.",
        _value(lambda s: s.state.credentials_latched),
    ),
    Desc(
        "smartmeter_scans",
        "counter",
        "Active scans (SKSCAN) started to find the meter.",
        _count(Counter.SCANS),
    ),
    Desc(
        "smartmeter_joins",
        "counter",
        "PANA joins (SKJOIN) started.",
        _count(Counter.JOINS),
    ),
    Desc(
        "smartmeter_join_failures",
        "counter",
        "PANA joins that failed (EVENT 24 or timeout).",
        _count(Counter.JOIN_FAILURES),
    ),
    Desc(
        "smartmeter_serial_reopens",
        "counter",
        "Times the serial device was closed and reopened.",
        _count(Counter.SERIAL_REOPENS),
    ),
    Desc(
        "smartmeter_module_resets",
        "counter",
        "Times the module was reset (SKRESET).",
        _count(Counter.MODULE_RESETS),
    ),
    Desc(
        "smartmeter_polls",
        "counter",
        "Meter read cycles started (successful or not).",
        _count(Counter.POLLS),
    ),
    Desc(
        "smartmeter_meter_energy_resets",
        "counter",
        "Times the meter's cumulative energy went backwards other than by "
        "roll-over (meter replaced or reset).",
        _count(Counter.ENERGY_RESETS),
    ),
    Desc(
        "smartmeter_module_events",
        "counter",
        "SKSTACK EVENT lines received from the module, by EVENT number (hex).",
        _module_events,
        labels=("event",),
    ),
    InfoDesc(
        "smartmeter_meter",
        "Smart meter identity: ECHONET EPC 0x8A manufacturer code and EPC 0x82 "
        "standard version (Appendix release).",
        _meter,
    ),
    InfoDesc(
        "smartmeter_module",
        "Wi-SUN module identity: SKVER firmware, detected SKSTACK dialect, ERXUDP "
        "payload format and model family.",
        _module,
    ),
    InfoDesc(
        "smartmeter_exporter_build",
        "Build information of the exporter.",
        lambda s: _BUILD,
    ),
)


class SmartmeterCollector(Collector):
    """Renders an :class:`ExporterState` as the :data:`METRICS` families at scrape time.

    Example, checked as a doctest (a fresh reading, no meter identity, no fixed-time
    energy yet: those families are absent, and the build labels are elided):

    >>> from decimal import Decimal
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> from trio_smartmeter.core.model import ModuleInfo, Reading, SessionState
    >>> state = ExporterState(interval=60.0)
    >>> state.set_session_state(SessionState.READY)
    >>> state.set_session_up(True)
    >>> state.set_module_info(ModuleInfo("bp35c2", "1.2.10", "rev26e", "dual-stack", "binary"))
    >>> state.record_reading(
    ...     Reading(
    ...         power_watts=1234,
    ...         current_r_amperes=Decimal("12.3"),
    ...         current_t_amperes=None,
    ...         energy_forward_joules=Decimal("3600000000"),
    ...         energy_reverse_joules=None,
    ...         received_monotonic=100.0,
    ...         received_unix=1_764_000_000.0,
    ...     ),
    ...     duration=2.4,
    ... )
    >>> registry = CollectorRegistry()
    >>> registry.register(SmartmeterCollector(state, monotonic=lambda: 110.0))
    >>> print(generate_latest(registry).decode(), end="")
    # HELP smartmeter_up 1 while the latest meter reading is fresh (younger than 3 x the poll interval), else 0; stale readings are omitted from this exposition.
    # TYPE smartmeter_up gauge
    smartmeter_up 1.0
    # HELP smartmeter_power_watts Instantaneous electric power in watts, signed: negative while exporting to the grid. ECHONET EPC 0xE7 (signed 32-bit W); values are cached between polls, see smartmeter_last_scrape_timestamp_seconds.
    # TYPE smartmeter_power_watts gauge
    smartmeter_power_watts 1234.0
    # HELP smartmeter_current_amperes Instantaneous current per phase in amperes, signed; phase t is absent on single-phase two-wire meters. ECHONET EPC 0xE8 (signed 16-bit, 0.1 A units); values are cached between polls, see smartmeter_last_scrape_timestamp_seconds.
    # TYPE smartmeter_current_amperes gauge
    smartmeter_current_amperes{phase="r"} 12.3
    # HELP smartmeter_energy_forward_joules_total Cumulative energy bought from the grid in joules. ECHONET EPC 0xE0 x coefficient 0xD3 x unit 0xE1 (kWh), times 3.6e6 J/kWh; values are cached between polls, see smartmeter_last_scrape_timestamp_seconds.
    # TYPE smartmeter_energy_forward_joules_total counter
    smartmeter_energy_forward_joules_total 3.6e+09
    # HELP smartmeter_last_scrape_timestamp_seconds Unix time of the last successful meter read (host clock). Kept when readings go stale; absent before the first success.
    # TYPE smartmeter_last_scrape_timestamp_seconds gauge
    smartmeter_last_scrape_timestamp_seconds 1.764e+09
    # HELP smartmeter_scrape_duration_seconds Duration of each meter read (one ECHONET Get over the radio, including retries) in seconds.
    # TYPE smartmeter_scrape_duration_seconds histogram
    smartmeter_scrape_duration_seconds_bucket{le="0.25"} 0.0
    smartmeter_scrape_duration_seconds_bucket{le="0.5"} 0.0
    smartmeter_scrape_duration_seconds_bucket{le="1.0"} 0.0
    smartmeter_scrape_duration_seconds_bucket{le="2.0"} 0.0
    smartmeter_scrape_duration_seconds_bucket{le="3.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="5.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="8.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="13.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="20.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="30.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="60.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="120.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="300.0"} 1.0
    smartmeter_scrape_duration_seconds_bucket{le="+Inf"} 1.0
    smartmeter_scrape_duration_seconds_count 1.0
    smartmeter_scrape_duration_seconds_sum 2.4
    # HELP smartmeter_scrape_errors_total Failed meter reads by cause: ip_resolve (scan/address), auth, query, parse, serial (device missing/unplugged/I/O error), rate_limit (transmit-time limit).
    # TYPE smartmeter_scrape_errors_total counter
    smartmeter_scrape_errors_total{type="ip_resolve"} 0.0
    smartmeter_scrape_errors_total{type="auth"} 0.0
    smartmeter_scrape_errors_total{type="query"} 0.0
    smartmeter_scrape_errors_total{type="parse"} 0.0
    smartmeter_scrape_errors_total{type="serial"} 0.0
    smartmeter_scrape_errors_total{type="rate_limit"} 0.0
    # HELP smartmeter_session_up 1 while a PANA session with the meter is established (EVENT 25 seen, no 26/27/29 since), else 0.
    # TYPE smartmeter_session_up gauge
    smartmeter_session_up 1.0
    # HELP smartmeter_session_state Current state of the session supervisor, one-hot over all states.
    # TYPE smartmeter_session_state gauge
    smartmeter_session_state{state="starting"} 0.0
    smartmeter_session_state{state="no_device"} 0.0
    smartmeter_session_state{state="initialising"} 0.0
    smartmeter_session_state{state="scanning"} 0.0
    smartmeter_session_state{state="joining"} 0.0
    smartmeter_session_state{state="ready"} 1.0
    smartmeter_session_state{state="reauth"} 0.0
    smartmeter_session_state{state="rate_limited"} 0.0
    smartmeter_session_state{state="backoff"} 0.0
    smartmeter_session_state{state="latched"} 0.0
    smartmeter_session_state{state="unsupported"} 0.0
    smartmeter_session_state{state="stopping"} 0.0
    # HELP smartmeter_rate_limited 1 while the module's transmit-time limit is active (EVENT 32 until EVENT 33), else 0.
    # TYPE smartmeter_rate_limited gauge
    smartmeter_rate_limited 0.0
    # HELP smartmeter_credentials_latched 1 while repeated authentication failures (EVENT 24) have latched the session into slow retry; check the B-route ID and password.
    # TYPE smartmeter_credentials_latched gauge
    smartmeter_credentials_latched 0.0
    # HELP smartmeter_scans_total Active scans (SKSCAN) started to find the meter.
    # TYPE smartmeter_scans_total counter
    smartmeter_scans_total 0.0
    # HELP smartmeter_joins_total PANA joins (SKJOIN) started.
    # TYPE smartmeter_joins_total counter
    smartmeter_joins_total 0.0
    # HELP smartmeter_join_failures_total PANA joins that failed (EVENT 24 or timeout).
    # TYPE smartmeter_join_failures_total counter
    smartmeter_join_failures_total 0.0
    # HELP smartmeter_serial_reopens_total Times the serial device was closed and reopened.
    # TYPE smartmeter_serial_reopens_total counter
    smartmeter_serial_reopens_total 0.0
    # HELP smartmeter_module_resets_total Times the module was reset (SKRESET).
    # TYPE smartmeter_module_resets_total counter
    smartmeter_module_resets_total 0.0
    # HELP smartmeter_polls_total Meter read cycles started (successful or not).
    # TYPE smartmeter_polls_total counter
    smartmeter_polls_total 1.0
    # HELP smartmeter_meter_energy_resets_total Times the meter's cumulative energy went backwards other than by roll-over (meter replaced or reset).
    # TYPE smartmeter_meter_energy_resets_total counter
    smartmeter_meter_energy_resets_total 0.0
    # HELP smartmeter_module_events_total SKSTACK EVENT lines received from the module, by EVENT number (hex).
    # TYPE smartmeter_module_events_total counter
    smartmeter_module_events_total{event="01"} 0.0
    smartmeter_module_events_total{event="02"} 0.0
    smartmeter_module_events_total{event="05"} 0.0
    smartmeter_module_events_total{event="1F"} 0.0
    smartmeter_module_events_total{event="20"} 0.0
    smartmeter_module_events_total{event="21"} 0.0
    smartmeter_module_events_total{event="22"} 0.0
    smartmeter_module_events_total{event="24"} 0.0
    smartmeter_module_events_total{event="25"} 0.0
    smartmeter_module_events_total{event="26"} 0.0
    smartmeter_module_events_total{event="27"} 0.0
    smartmeter_module_events_total{event="28"} 0.0
    smartmeter_module_events_total{event="29"} 0.0
    smartmeter_module_events_total{event="32"} 0.0
    smartmeter_module_events_total{event="33"} 0.0
    smartmeter_module_events_total{event="other"} 0.0
    # HELP smartmeter_module_info Wi-SUN module identity: SKVER firmware, detected SKSTACK dialect, ERXUDP payload format and model family.
    # TYPE smartmeter_module_info gauge
    smartmeter_module_info{dialect="dual-stack",firmware="1.2.10",model="bp35c2",payload_format="binary"} 1.0
    # HELP smartmeter_exporter_build_info Build information of the exporter.
    # TYPE smartmeter_exporter_build_info gauge
    smartmeter_exporter_build_info{python_version="...",version="..."} 1.0
    """

    def __init__(self, state: ExporterState, monotonic: Callable[[], float]) -> None:
        self._state = state
        self._monotonic = monotonic

    def describe(self) -> Iterable[Metric]:
        return []  # collect() depends on state; do not call it at registration time

    def collect(self) -> Iterator[Metric]:
        scrape = Scrape.at(self._state, self._monotonic())
        for desc in METRICS:
            family = desc.family(scrape)
            if family is not None:
                yield family


def build_registry(state: ExporterState, monotonic: Callable[[], float]) -> CollectorRegistry:
    """Own registry: the ``smartmeter_*`` collector plus process/platform/GC collectors."""
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    reg = CollectorRegistry(auto_describe=True)
    reg.register(SmartmeterCollector(state, monotonic))
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    reg.register(GCCollector(registry=CollectorRegistry()))  # it insists on registering
    return reg


def render(registry: CollectorRegistry, accept_header: str | None) -> tuple[bytes, str]:
    """Exposition body and content type for an ``Accept`` header (text or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(registry), content_type
