"""ExporterState: the single mutable fact store.

The supervisor is its only writer; ``metrics.py`` and the status page read it at scrape
time; whoever must act on each new reading (a publisher) subscribes with
``ExporterState.reading_sinks``. Counters are counted by :class:`Counter` and
:class:`ErrorType`, EVENTs by their number: how they are labelled is the web's business.
Nothing here reads a clock: callers pass monotonic and Unix times in, so the staleness
rule can be tested with exact virtual times.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs

from trio_smartmeter.core.config import DEFAULT_INTERVAL
from trio_smartmeter.core.echonet.meter import FIXED_TIME_FRESH
from trio_smartmeter.core.model import (
    FixedTimeEnergy,
    MeterInfo,
    MeterScaling,
    MinuteEnergy,
    ModuleInfo,
    Reading,
    SessionState,
)

if TYPE_CHECKING:  # the bill's module (and its holiday table) loads only with a tariff
    from trio_smartmeter.core.bill import Bills


class ErrorType(enum.StrEnum):
    """Why a meter read failed (``smartmeter_scrape_errors_total{type}``)."""

    IP_RESOLVE = "ip_resolve"
    AUTH = "auth"
    QUERY = "query"
    PARSE = "parse"
    SERIAL = "serial"
    RATE_LIMIT = "rate_limit"


#: Every error type, in exposition order.
ERROR_TYPES: Final = tuple(ErrorType)


class Counter(enum.Enum):
    """What the service counts besides errors and EVENTs (each a ``smartmeter_*_total``)."""

    SCANS = "scans"
    JOINS = "joins"
    JOIN_FAILURES = "join_failures"
    SERIAL_REOPENS = "serial_reopens"
    MODULE_RESETS = "module_resets"
    POLLS = "polls"
    ENERGY_RESETS = "energy_resets"


#: Buckets of ``smartmeter_scrape_duration_seconds``: a radio round-trip with retries takes minutes.
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0, 300.0)


@attrs.define
class DurationHistogram:
    buckets: tuple[float, ...] = DURATION_BUCKETS
    counts: list[int] = attrs.field(factory=lambda: [0] * len(DURATION_BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus wants them; the counts are cumulative."""
        out = [(_fmt_le(b), c) for b, c in zip(self.buckets, self.counts, strict=True)]
        out.append(("+Inf", self.total))
        return out


def _fmt_le(bound: float) -> str:
    return repr(float(bound))


@attrs.define
class ExporterState:
    interval: float = float(DEFAULT_INTERVAL)
    reading: Reading | None = None
    fixed_forward: FixedTimeEnergy | None = None
    fixed_reverse: FixedTimeEnergy | None = None
    minute_energy: MinuteEnergy | None = None
    #: half-hours in the history store, and those known missing that are still to read
    history_slots: int | None = None
    history_missing: int | None = None
    scaling: MeterScaling | None = None
    #: The bills from the store (issue 21): None without a tariff or a meter clock yet;
    #: replaced whole by the service's bill keeper after each store change.
    bills: Bills | None = None
    meter_info: MeterInfo | None = None
    module_info: ModuleInfo | None = None
    rssi_dbm: float | None = None
    session_state: SessionState = SessionState.STARTING
    session_up: bool = False
    rate_limited: bool = False
    credentials_latched: bool = False
    last_success_unix: float | None = None
    errors: dict[ErrorType, int] = attrs.field(factory=lambda: dict.fromkeys(ErrorType, 0))
    counters: dict[Counter, int] = attrs.field(factory=lambda: dict.fromkeys(Counter, 0))
    #: EVENT lines by their number.
    module_events: collections.Counter[int] = attrs.field(factory=collections.Counter)
    durations: DurationHistogram = attrs.field(factory=DurationHistogram)
    #: Told of every reading right after it is recorded (the MQTT publisher, issue 23; the
    #: status page's power log); each must return at once.
    reading_sinks: list[Callable[[Reading], None]] = attrs.field(factory=list, repr=False)

    # -- reading side ------------------------------------------------------------------
    @property
    def max_age(self) -> float:
        """Readings older than this are not exported (design.md §3)."""
        return 3.0 * self.interval

    def is_fresh(self, now_monotonic: float) -> bool:
        r = self.reading
        return r is not None and now_monotonic - r.received_monotonic <= self.max_age

    def fresh_reading(self, now_monotonic: float) -> Reading | None:
        return self.reading if self.is_fresh(now_monotonic) else None

    def fresh_fixed(
        self, which: FixedTimeEnergy | None, now_monotonic: float
    ) -> FixedTimeEnergy | None:
        # The 30-minute push is fresh for one period plus the meter's few minutes of slack.
        if which is None or now_monotonic - which.received_monotonic > max(
            self.max_age, FIXED_TIME_FRESH
        ):
            return None
        return which

    def fresh_minute(self, now_monotonic: float) -> MinuteEnergy | None:
        m = self.minute_energy
        if m is None or now_monotonic - m.received_monotonic > self.max_age:
            return None
        return m

    # -- writer side (the supervisor) ---------------------------------------------------
    def record_reading(self, reading: Reading, duration: float) -> None:
        self.reading = reading
        self.last_success_unix = reading.received_unix
        self.counters[Counter.POLLS] += 1
        self.durations.observe(duration)
        for sink in self.reading_sinks:
            sink(reading)

    def record_failed_poll(self, error_type: ErrorType, duration: float | None = None) -> None:
        self.counters[Counter.POLLS] += 1
        self.count_error(error_type)
        if duration is not None:
            self.durations.observe(duration)

    def count_error(self, error_type: ErrorType) -> None:
        self.errors[error_type] += 1

    def bump(self, counter: Counter, by: int = 1) -> None:
        self.counters[counter] += by

    def count_module_event(self, code: int) -> None:
        self.module_events[code] += 1

    def set_session_state(self, state: SessionState) -> None:
        self.session_state = state

    def set_session_up(self, up: bool) -> None:
        self.session_up = up

    def set_rate_limited(self, limited: bool) -> None:
        self.rate_limited = limited

    def set_credentials_latched(self, latched: bool) -> None:
        self.credentials_latched = latched

    def set_module_info(self, info: ModuleInfo | None) -> None:
        self.module_info = info

    def set_meter_info(self, info: MeterInfo | None) -> None:
        self.meter_info = info

    def set_scaling(self, scaling: MeterScaling | None) -> None:
        self.scaling = scaling

    def set_rssi(self, dbm: float | None) -> None:
        self.rssi_dbm = dbm

    def set_fixed(
        self, *, forward: FixedTimeEnergy | None = None, reverse: FixedTimeEnergy | None = None
    ) -> None:
        if forward is not None:
            self.fixed_forward = forward
        if reverse is not None:
            self.fixed_reverse = reverse

    def set_minute_energy(self, minute: MinuteEnergy) -> None:
        self.minute_energy = minute

    def set_history(self, *, slots: int, missing: int) -> None:
        self.history_slots, self.history_missing = slots, missing
