"""ExporterState -> Prometheus exposition, at scrape time (prometheus_client only, no trio).

Names follow design.md §3 and docs/architecture.md "Metrics contract"; conventions follow
style.md §3. The rules that matter:

* one private :class:`~prometheus_client.CollectorRegistry` per state (never the global one);
* meter readings (power, currents, energy, fixed-time energy) are exported only while
  fresh (``ExporterState.max_age``, judged on the injected monotonic clock); past that they
  are omitted, ``smartmeter_up`` is 0, and ``smartmeter_last_scrape_timestamp_seconds``
  keeps its value (it is a fact about the past);
* no sample ever carries an explicit timestamp;
* every labelled counter has all its label values from start (``type``, ``event``).

Sample exposition (fresh reading, 3-wire meter)::

    # HELP smartmeter_power_watts Instantaneous power in watts, signed ...
    # TYPE smartmeter_power_watts gauge
    smartmeter_power_watts 1234.0
    smartmeter_current_amperes{phase="r"} 12.3
    smartmeter_current_amperes{phase="t"} 4.5

Exposition cache (:func:`render`): the ``smartmeter_*`` part is rendered once per
``(state.generation, state.interval, freshness of the reading, freshness of each fixed-time
value, format)`` and reused for at most :data:`CACHE_TTL` seconds. The runtime collectors
(``process_*``, ``python_*``) are not meter readings: their rendering is reused for at most
:data:`CACHE_TTL` seconds too (per format), so ``process_cpu_seconds_total``, the RSS and
the open-fd count may be up to 1 s old (a scrape interval is 15 s or more; rendering them
was most of the cost of a request). So a cached body never claims a freshness that no
longer holds (freshness is in the key), never hides a new reading (generation is in the
key), and a writer that mutates the state without bumping ``generation`` is seen within
``CACHE_TTL``.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Final

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
from trio_smartmeter.core.model import SessionState
from trio_smartmeter.core.state import ERROR_TYPES, MODULE_EVENTS, ExporterState

__all__ = [
    "CACHE_TTL",
    "ExporterRegistry",
    "SmartmeterCollector",
    "build_registry",
    "render",
]

#: Longest time a cached ``smartmeter_*`` exposition is reused (seconds, monotonic).
CACHE_TTL: Final = 1.0

_CACHED = "values are cached between polls, see smartmeter_last_scrape_timestamp_seconds"

HELP: Final = {
    "power": "Instantaneous electric power in watts, signed: negative while exporting to the "
    f"grid. ECHONET EPC 0xE7 (signed 32-bit W); {_CACHED}.",
    "current": "Instantaneous current per phase in amperes, signed; phase t is absent on "
    f"single-phase two-wire meters. ECHONET EPC 0xE8 (signed 16-bit, 0.1 A units); {_CACHED}.",
    "last": "Unix time of the last successful meter read (host clock). Kept when readings "
    "go stale; absent before the first success.",
    "duration": "Duration of each meter read (one ECHONET Get over the radio, including "
    "retries) in seconds.",
    "errors": "Failed meter reads by cause: ip_resolve (scan/address), auth, query, parse, "
    "serial (device missing/unplugged/I/O error), rate_limit (transmit-time limit).",
    "up": "1 while the latest meter reading is fresh (younger than 3 x the poll interval), "
    "else 0; stale readings are omitted from this exposition.",
    "energy_forward": "Cumulative energy bought from the grid in joules. ECHONET EPC 0xE0 x "
    f"coefficient 0xD3 x unit 0xE1 (kWh), times 3.6e6 J/kWh; {_CACHED}.",
    "energy_reverse": "Cumulative energy sold to the grid in joules. ECHONET EPC 0xE3 x "
    f"coefficient 0xD3 x unit 0xE1 (kWh), times 3.6e6 J/kWh; {_CACHED}.",
    "fixed_forward": "Forward cumulative energy at the last 30-minute boundary, as pushed by "
    "the meter, in joules. ECHONET EPC 0xEA x 0xD3 x 0xE1 (kWh) x 3.6e6; "
    f"{_CACHED}.",
    "fixed_forward_ts": "Meter time (JST, as Unix time) of "
    "smartmeter_fixed_time_energy_forward_joules. ECHONET EPC 0xEA date/time; "
    f"{_CACHED}.",
    "fixed_reverse": "Reverse cumulative energy at the last 30-minute boundary, as pushed by "
    "the meter, in joules. ECHONET EPC 0xEB x 0xD3 x 0xE1 (kWh) x 3.6e6; "
    f"{_CACHED}.",
    "fixed_reverse_ts": "Meter time (JST, as Unix time) of "
    "smartmeter_fixed_time_energy_reverse_joules. ECHONET EPC 0xEB date/time; "
    f"{_CACHED}.",
    "meter": "Smart meter identity: ECHONET EPC 0x8A manufacturer code and EPC 0x82 "
    "standard version (Appendix release).",
    "module": "Wi-SUN module identity: SKVER firmware, detected SKSTACK dialect, ERXUDP "
    "payload format and model family.",
    "rssi": "Received signal strength of the meter's frames in dBm (from the module's LQI "
    "or RSSI report, LQI x 0.275 - 104.27).",
    "session_up": "1 while a PANA session with the meter is established (EVENT 25 seen, no "
    "26/27/29 since), else 0.",
    "session_state": "Current state of the session supervisor, one-hot over all states.",
    "rate_limited": "1 while the module's transmit-time limit is active (EVENT 32 until "
    "EVENT 33), else 0.",
    "latched": "1 while repeated authentication failures (EVENT 24) have latched the "
    "session into slow retry; check the B-route ID and password.",
    "scans": "Active scans (SKSCAN) started to find the meter.",
    "joins": "PANA joins (SKJOIN) started.",
    "join_failures": "PANA joins that failed (EVENT 24 or timeout).",
    "serial_reopens": "Times the serial device was closed and reopened.",
    "module_resets": "Times the module was reset (SKRESET).",
    "module_events": "SKSTACK EVENT lines received from the module, by EVENT number (hex).",
    "polls": "Meter read cycles started (successful or not).",
    "energy_resets": "Times the meter's cumulative energy went backwards other than by "
    "roll-over (meter replaced or reset).",
    "build": "Build information of the exporter.",
}


def _num(value: Decimal | int | float) -> float:
    return float(value)


class SmartmeterCollector(Collector):
    """Renders an :class:`ExporterState` as ``smartmeter_*`` families at scrape time."""

    def __init__(self, state: ExporterState, monotonic: Callable[[], float]) -> None:
        self._state = state
        self._monotonic = monotonic
        self._build = (__version__, platform.python_version())

    def describe(self) -> Iterable[Metric]:
        return []  # collect() depends on state; do not call it at registration time

    def freshness_key(self) -> tuple[bool, bool, bool]:
        """What, besides ``generation``, changes the output: the freshness flags."""
        s, now = self._state, self._monotonic()
        return (
            s.is_fresh(now),
            s.fresh_fixed(s.fixed_forward, now) is not None,
            s.fresh_fixed(s.fixed_reverse, now) is not None,
        )

    def collect(self) -> Iterator[Metric]:
        s = self._state
        now = self._monotonic()
        reading = s.fresh_reading(now)

        yield GaugeMetricFamily("smartmeter_up", HELP["up"], value=1 if reading else 0)

        if reading is not None and reading.power_watts is not None:
            yield GaugeMetricFamily(
                "smartmeter_power_watts", HELP["power"], value=reading.power_watts
            )
        if reading is not None and (
            reading.current_r_amperes is not None or reading.current_t_amperes is not None
        ):
            cur = GaugeMetricFamily("smartmeter_current_amperes", HELP["current"], labels=["phase"])
            if reading.current_r_amperes is not None:
                cur.add_metric(["r"], _num(reading.current_r_amperes))
            if reading.current_t_amperes is not None:
                cur.add_metric(["t"], _num(reading.current_t_amperes))
            yield cur
        if reading is not None and reading.energy_forward_joules is not None:
            yield CounterMetricFamily(
                "smartmeter_energy_forward_joules",
                HELP["energy_forward"],
                value=_num(reading.energy_forward_joules),
            )
        if reading is not None and reading.energy_reverse_joules is not None:
            yield CounterMetricFamily(
                "smartmeter_energy_reverse_joules",
                HELP["energy_reverse"],
                value=_num(reading.energy_reverse_joules),
            )
        for direction, fixed in (("forward", s.fixed_forward), ("reverse", s.fixed_reverse)):
            fresh = s.fresh_fixed(fixed, now)
            if fresh is not None:
                yield GaugeMetricFamily(
                    f"smartmeter_fixed_time_energy_{direction}_joules",
                    HELP[f"fixed_{direction}"],
                    value=_num(fresh.joules),
                )
                yield GaugeMetricFamily(
                    f"smartmeter_fixed_time_energy_{direction}_timestamp_seconds",
                    HELP[f"fixed_{direction}_ts"],
                    value=fresh.meter_timestamp_unix,
                )
        if s.last_success_unix is not None:
            yield GaugeMetricFamily(
                "smartmeter_last_scrape_timestamp_seconds", HELP["last"], value=s.last_success_unix
            )
        h = s.durations
        yield HistogramMetricFamily(
            "smartmeter_scrape_duration_seconds",
            HELP["duration"],
            buckets=[(le, float(c)) for le, c in h.cumulative()],
            sum_value=h.sum,
        )
        errors = CounterMetricFamily("smartmeter_scrape_errors", HELP["errors"], labels=["type"])
        for t in ERROR_TYPES:
            errors.add_metric([t], s.errors.get(t, 0))
        yield errors

        if s.rssi_dbm is not None:
            yield GaugeMetricFamily("smartmeter_rssi_dbm", HELP["rssi"], value=s.rssi_dbm)
        yield GaugeMetricFamily(
            "smartmeter_session_up", HELP["session_up"], value=1 if s.session_up else 0
        )
        st = GaugeMetricFamily("smartmeter_session_state", HELP["session_state"], labels=["state"])
        for member in SessionState:
            st.add_metric([member.value], 1 if member is s.session_state else 0)
        yield st
        yield GaugeMetricFamily(
            "smartmeter_rate_limited", HELP["rate_limited"], value=1 if s.rate_limited else 0
        )
        yield GaugeMetricFamily(
            "smartmeter_credentials_latched",
            HELP["latched"],
            value=1 if s.credentials_latched else 0,
        )
        for name, key, value in (
            ("smartmeter_scans", "scans", s.scans),
            ("smartmeter_joins", "joins", s.joins),
            ("smartmeter_join_failures", "join_failures", s.join_failures),
            ("smartmeter_serial_reopens", "serial_reopens", s.serial_reopens),
            ("smartmeter_module_resets", "module_resets", s.module_resets),
            ("smartmeter_polls", "polls", s.polls),
            ("smartmeter_meter_energy_resets", "energy_resets", s.energy_resets),
        ):
            yield CounterMetricFamily(name, HELP[key], value=value)
        ev = CounterMetricFamily(
            "smartmeter_module_events", HELP["module_events"], labels=["event"]
        )
        for code in MODULE_EVENTS:
            ev.add_metric([code], s.module_events.get(code, 0))
        yield ev

        if s.meter_info is not None:
            yield InfoMetricFamily(
                "smartmeter_meter",
                HELP["meter"],
                value={
                    "manufacturer": s.meter_info.manufacturer,
                    "standard_version": s.meter_info.standard_version,
                },
            )
        if s.module_info is not None:
            m = s.module_info
            yield InfoMetricFamily(
                "smartmeter_module",
                HELP["module"],
                value={
                    "firmware": m.firmware,
                    "dialect": m.dialect,
                    "payload_format": m.payload_format,
                    "model": m.model,
                },
            )
        yield InfoMetricFamily(
            "smartmeter_exporter_build",
            HELP["build"],
            value={"version": self._build[0], "python_version": self._build[1]},
        )


class _Only(Collector):
    """Registry view: collects a fixed list of collectors (no name bookkeeping)."""

    def __init__(self, collectors: list[Collector]) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for c in self._collectors:
            yield from c.collect()


class ExporterRegistry(CollectorRegistry):
    """A ``CollectorRegistry`` that also knows its parts, so :func:`render` can cache.

    ``generate_latest(registry)`` on it gives everything, uncached, like any registry.
    """

    def __init__(
        self,
        state: ExporterState,
        monotonic: Callable[[], float],
        meter: SmartmeterCollector,
        runtime: list[Collector],
    ) -> None:
        super().__init__(auto_describe=True)
        self.state = state
        self.monotonic = monotonic
        self.meter = meter
        self.runtime = runtime
        self.cache: dict[bool, tuple[tuple[object, ...], float, bytes]] = {}
        self.runtime_cache: dict[bool, tuple[float, bytes]] = {}
        self.cache_hits = 0
        self.cache_misses = 0


def build_registry(state: ExporterState, monotonic: Callable[[], float]) -> ExporterRegistry:
    """Own registry: the ``smartmeter_*`` collector plus process/platform/GC collectors."""
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    meter = SmartmeterCollector(state, monotonic)
    runtime: list[Collector] = [
        ProcessCollector(registry=None),
        PlatformCollector(registry=None),
        GCCollector(registry=CollectorRegistry()),  # it insists on registering
    ]
    reg = ExporterRegistry(state, monotonic, meter, runtime)
    reg.register(meter)
    for c in runtime:
        reg.register(c)
    return reg


_OM_EOF = b"# EOF\n"


def _encode(encoder: Callable[[CollectorRegistry], bytes], collectors: list[Collector]) -> bytes:
    # The encoders only call ``.collect()``; a throwaway view keeps our registry intact.
    return encoder(_Only(collectors))  # type: ignore[arg-type]


def render(registry: CollectorRegistry, accept_header: str | None) -> tuple[bytes, str]:
    """Exposition body and content type for an ``Accept`` header (text or OpenMetrics).

    For an :class:`ExporterRegistry` the ``smartmeter_*`` part comes from the cache
    described in the module docstring; any other registry is rendered in full.
    """
    encoder, content_type = choose_encoder(accept_header or "")
    openmetrics = content_type.startswith("application/openmetrics-text")
    if not isinstance(registry, ExporterRegistry):
        return encoder(registry), content_type

    now = registry.monotonic()
    key = (
        registry.state.generation,
        registry.state.interval,
        *registry.meter.freshness_key(),
        content_type,
    )
    cached = registry.cache.get(openmetrics)
    if cached is not None and cached[0] == key and 0.0 <= now - cached[1] <= CACHE_TTL:
        meter_part = cached[2]
        registry.cache_hits += 1
    else:
        meter_part = _encode(encoder, [registry.meter])
        if openmetrics and meter_part.endswith(_OM_EOF):
            meter_part = meter_part[: -len(_OM_EOF)]
        registry.cache[openmetrics] = (key, now, meter_part)
        registry.cache_misses += 1
    runtime = registry.runtime_cache.get(openmetrics)
    if runtime is not None and 0.0 <= now - runtime[0] <= CACHE_TTL:
        runtime_part = runtime[1]
    else:
        runtime_part = _encode(encoder, registry.runtime)
        registry.runtime_cache[openmetrics] = (now, runtime_part)
    return meter_part + runtime_part, content_type
