"""The household's electricity bill in yen, from the meter's own half-hours. Pure.

Definitions (issue 21, the contract the tests hold this module to):

* A half-hour's energy is the difference of the cumulative registers the store holds at
  its end and at its start (forward = bought, reverse = sold), in joules already scaled by
  the meter's coefficient and unit; kWh = joules / 3 600 000, exact. Either register
  unknown, or a decrease (a meter reset or a rollover, whose size the store cannot tell),
  is a missing half-hour, never zero.
* A half-hour belongs to the period, the kind of day and the band of its start (JST, the
  meter's clock). Tiers count the period's known bought kWh (a band's own tiers, that
  band's); a half-hour crossing a limit is split at it.
* Components are exact Decimals; ``total`` = floor(basic + energy + fuel_cost_adjustment)
  + floor(renewable_energy), whole yen; ``sold`` is paid separately.
* The half-hour in progress (the one containing ``now``) and later ones are neither
  counted nor missing. A surcharge with no value in force counts 0 and says so.

"Now" is the meter's clock, a parameter: the core has no clock.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Final, Literal

import attrs
import jpholiday

from trio_smartmeter.core.echonet.history import HALF_HOUR, Slot
from trio_smartmeter.core.jst import JST, meter_time_to_unix
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.tariff import DAY_KINDS, SURCHARGES, Band, DayKind, Tariff

__all__ = [
    "PROJECTION_METHOD",
    "Bill",
    "Bills",
    "Charges",
    "EnergyLine",
    "Period",
    "PeriodChoice",
    "PriceNow",
    "SurchargeLine",
    "backfill_oldest_slot",
    "bill_document",
    "billing_period",
    "bills_window",
    "compute_bill",
    "compute_bills",
    "day_kind",
    "period_for",
    "price_now",
    "store_window",
]

PeriodChoice = Literal["current", "previous"]
JOULES_PER_KWH: Final = Decimal(3_600_000)
_SLOT_SECONDS: Final = 1800
PROJECTION_METHOD: Final = (
    "each band's average known half-hour times that band's half-hours in the whole period "
    "(the average of all known half-hours for a band with none known yet), priced as the "
    "bill is: tiers on the projected kWh, the same surcharges and basic charge"
)


@attrs.frozen
class Period:
    """A billing period ``[start, end)``: 00:00 JST of a billing day and of the next."""

    start: _dt.datetime
    end: _dt.datetime

    @property
    def closing_day(self) -> _dt.date:
        """The day the period closes (its next billing day): it chooses the surcharges."""
        return self.end.date()

    @property
    def half_hours(self) -> int:
        return (self.end - self.start) // HALF_HOUR


@attrs.frozen
class EnergyLine:
    """The kWh of one band's tier and their price (a flat band: one tier, no limit)."""

    band: str
    tier: int  # 1-based
    from_kwh: Decimal
    up_to_kwh: Decimal | None
    price: Decimal
    kwh: Decimal

    @property
    def yen(self) -> Decimal:
        return self.kwh * self.price


@attrs.frozen
class SurchargeLine:
    """A surcharge on the bought kWh: the value in force (None: none, counted 0)."""

    name: str
    price: Decimal | None
    since: _dt.date | None
    yen: Decimal


@attrs.frozen
class Charges:
    """A set of kWh priced by the tariff: the bill, or its projection."""

    bought_kwh: Decimal
    sold_kwh: Decimal | None  # None: the tariff buys nothing back (or none is known)
    lines: tuple[EnergyLine, ...]
    basic: Decimal
    surcharges: tuple[SurchargeLine, ...]  # in the order of tariff.SURCHARGES
    sold: Decimal | None

    @property
    def energy(self) -> Decimal:
        return sum((line.yen for line in self.lines), Decimal(0))

    @property
    def fuel_cost_adjustment(self) -> Decimal:
        return self.surcharges[0].yen

    @property
    def renewable_energy(self) -> Decimal:
        return self.surcharges[1].yen

    @property
    def total(self) -> int:
        """As Japanese retailers round: the levy is floored on its own."""
        return _floor(self.basic + self.energy + self.fuel_cost_adjustment) + _floor(
            self.renewable_energy
        )


@attrs.frozen
class Bill:
    tariff_name: str
    which: PeriodChoice
    period: Period
    #: The end of the half-hours considered: the period's end, or the start of the
    #: half-hour in progress.
    counted_until: _dt.datetime
    charges: Charges
    known_half_hours: int  # bought energy known
    missing_half_hours: int  # bought energy unknown
    missing_sold_half_hours: int  # sold energy unknown (0 when the tariff buys nothing back)
    projection: Charges | None  # to the period's end (:data:`PROJECTION_METHOD`); None: no data


@attrs.frozen
class PriceNow:
    """Yen per bought kWh of the half-hour in progress: its band's (tier's) price plus
    the surcharges the current period uses."""

    band: str
    tier: int
    energy: Decimal
    surcharges: Decimal

    @property
    def total(self) -> Decimal:
        return self.energy + self.surcharges


@attrs.frozen
class Bills:
    """Both periods' bills and the price now, as of the meter time ``as_of``: what the
    service's bill keeper last computed from the store, read by the web and MQTT."""

    tariff: Tariff
    as_of: _dt.datetime
    current: Bill
    previous: Bill
    price: PriceNow


def compute_bills(tariff: Tariff, half_hours: Iterable[HalfHour], now: _dt.datetime) -> Bills:
    """:class:`Bills` from the stored half-hours (any superset of :func:`bills_window`'s)."""
    rows = list(half_hours)
    current = compute_bill(tariff, rows, now, "current")
    return Bills(
        tariff,
        now,
        current,
        compute_bill(tariff, rows, now, "previous"),
        price_now(tariff, current, now),
    )


def bills_window(tariff: Tariff, now: _dt.datetime) -> tuple[int, int]:
    """``(since, until)``: the stored slot ends (Unix, inclusive) both bills need."""
    return store_window(tariff, now, "previous")[0], store_window(tariff, now, "current")[1]


# -- periods and days ----------------------------------------------------------------------
def billing_period(billing_day: int, at: _dt.datetime) -> Period:
    """The period containing the meter time ``at``."""
    first = _dt.datetime(at.year, at.month, billing_day)
    if at < first:
        first = _add_months(first, -1)
    return Period(first, _add_months(first, 1))


def period_for(tariff: Tariff, now: _dt.datetime, which: PeriodChoice) -> Period:
    """``current``: the period containing the meter's ``now``; ``previous``: the one before."""
    current = billing_period(tariff.billing_day, now)
    if which == "current":
        return current
    return Period(_add_months(current.start, -1), current.start)


def _add_months(at: _dt.datetime, months: int) -> _dt.datetime:
    index = at.year * 12 + at.month - 1 + months
    return at.replace(year=index // 12, month=index % 12 + 1)  # day <= 28: always valid


def day_kind(day: _dt.date) -> DayKind:
    """A national holiday of Japan (substitute ones included) is only ``holiday``."""
    if jpholiday.is_holiday(day):
        return "holiday"
    return ("weekday", "weekday", "weekday", "weekday", "weekday", "saturday", "sunday")[
        day.weekday()
    ]


def _half_hour_of_day(at: _dt.datetime) -> int:
    return at.hour * 2 + at.minute // 30


# -- what the store must provide, and what the backfill must reach ------------------------
def store_window(tariff: Tariff, now: _dt.datetime, which: PeriodChoice) -> tuple[int, int]:
    """``(since, until)``: the stored slot ends (Unix, inclusive) :func:`compute_bill`
    needs, from the register read at the period's start to the last half-hour counted."""
    period = period_for(tariff, now, which)
    return int(meter_time_to_unix(period.start)), int(meter_time_to_unix(_until(period, now)))


def backfill_oldest_slot(tariff: Tariff, now: _dt.datetime) -> Slot:
    """The oldest half-hour whose register the bills need (its end opens the previous
    period): the history backfill reaches back to it, newest first."""
    return Slot.ending_at(period_for(tariff, now, "previous").start)


def _until(period: Period, now: _dt.datetime) -> _dt.datetime:
    return min(period.end, max(period.start, Slot.containing(now).start))


# -- the bill --------------------------------------------------------------------------------
@attrs.define
class _BandTally:
    bought: Decimal = Decimal(0)
    sold: Decimal = Decimal(0)
    known: int = 0  # half-hours with known bought energy
    known_sold: int = 0
    in_period: int = 0  # the band's half-hours in the whole period


def compute_bill(
    tariff: Tariff,
    half_hours: Iterable[HalfHour],
    now: _dt.datetime,
    which: PeriodChoice = "current",
) -> Bill:
    """The bill of the period ``which`` as of the meter time ``now`` (naive JST), from the
    stored half-hours (any superset of :func:`store_window`'s)."""
    period = period_for(tariff, now, which)
    until = _until(period, now)
    forward: dict[int, Decimal | None] = {}
    reverse: dict[int, Decimal | None] = {}
    for row in half_hours:
        forward[row.end_unix] = row.forward_joules
        reverse[row.end_unix] = row.reverse_joules
    selling = tariff.sell_price is not None
    tallies = {band.name: _BandTally() for band in tariff.bands}
    kinds: dict[_dt.date, DayKind] = {}
    missing = missing_sold = 0
    start, start_unix = period.start, int(meter_time_to_unix(period.start))
    while start < period.end:
        day = start.date()
        kind = kinds.get(day) or kinds.setdefault(day, day_kind(day))
        tally = tallies[tariff.band_at(kind, _half_hour_of_day(start)).name]
        tally.in_period += 1
        if start < until:
            bought = _energy(forward, start_unix)
            if bought is None:
                missing += 1
            else:
                tally.bought += bought
                tally.known += 1
            sold = _energy(reverse, start_unix) if selling else None
            if sold is not None:
                tally.sold += sold
                tally.known_sold += 1
            elif selling:
                missing_sold += 1
        start, start_unix = start + HALF_HOUR, start_unix + _SLOT_SECONDS
    known = sum(t.known for t in tallies.values())
    charges = _charges(
        tariff,
        period,
        {name: t.bought for name, t in tallies.items()},
        sum((t.sold for t in tallies.values()), Decimal(0)) if selling else None,
    )
    return Bill(
        tariff_name=tariff.name,
        which=which,
        period=period,
        counted_until=until,
        charges=charges,
        known_half_hours=known,
        missing_half_hours=missing,
        missing_sold_half_hours=missing_sold,
        projection=_projection(tariff, period, tallies),
    )


def _energy(registers: Mapping[int, Decimal | None], start_unix: int) -> Decimal | None:
    """kWh of the half-hour starting at ``start_unix``; None when it cannot be known."""
    before = registers.get(start_unix)
    after = registers.get(start_unix + _SLOT_SECONDS)
    if before is None or after is None or after < before:
        return None
    return (after - before) / JOULES_PER_KWH


def _charges(
    tariff: Tariff, period: Period, bought: Mapping[str, Decimal], sold_kwh: Decimal | None
) -> Charges:
    lines = tuple(line for band in tariff.bands for line in _tier_lines(band, bought[band.name]))
    total_bought = sum(bought.values(), Decimal(0))
    surcharges = []
    for name in SURCHARGES:
        dated = tariff.surcharge(name, period.closing_day)
        if dated is None:
            surcharges.append(SurchargeLine(name, None, None, Decimal(0)))
        else:
            surcharges.append(
                SurchargeLine(name, dated.price, dated.since, total_bought * dated.price)
            )
    sold = None
    if tariff.sell_price is not None and sold_kwh is not None:
        sold = sold_kwh * tariff.sell_price
    return Charges(total_bought, sold_kwh, lines, tariff.basic_monthly, tuple(surcharges), sold)


def _tier_lines(band: Band, kwh: Decimal) -> list[EnergyLine]:
    """The band's kWh split at each tier's limit (cumulative in the period)."""
    lines = []
    lower = Decimal(0)
    for number, tier in enumerate(band.tiers, start=1):
        upper = kwh if tier.up_to_kwh is None else min(kwh, tier.up_to_kwh)
        lines.append(
            EnergyLine(
                band.name, number, lower, tier.up_to_kwh, tier.price, max(upper - lower, Decimal(0))
            )
        )
        if tier.up_to_kwh is not None:
            lower = tier.up_to_kwh
    return lines


def _projection(
    tariff: Tariff, period: Period, tallies: Mapping[str, _BandTally]
) -> Charges | None:
    """The bill to the period's end by :data:`PROJECTION_METHOD`; None without any data."""
    known = sum(t.known for t in tallies.values())
    if not known:
        return None
    average = sum((t.bought for t in tallies.values()), Decimal(0)) / known
    bought = {
        name: (t.bought / t.known if t.known else average) * t.in_period
        for name, t in tallies.items()
    }
    sold = None
    known_sold = sum(t.known_sold for t in tallies.values())
    if tariff.sell_price is not None and known_sold:
        sold_average = sum((t.sold for t in tallies.values()), Decimal(0)) / known_sold
        sold = sum(
            (
                (t.sold / t.known_sold if t.known_sold else sold_average) * t.in_period
                for t in tallies.values()
            ),
            Decimal(0),
        )
    return _charges(tariff, period, bought, sold)


def price_now(tariff: Tariff, current: Bill, now: _dt.datetime) -> PriceNow:
    """The price of a kWh bought in the half-hour in progress at ``now`` (``current``:
    the bill of the period containing it, whose tiers it continues)."""
    if not current.period.start <= now < current.period.end:
        raise ValueError(f"{now.isoformat()} is not in the period of the bill given")
    band = tariff.band_at(day_kind(now.date()), _half_hour_of_day(now))
    used = sum((line.kwh for line in current.charges.lines if line.band == band.name), Decimal(0))
    number, tier = next(
        (n, t)
        for n, t in enumerate(band.tiers, start=1)
        if t.up_to_kwh is None or used < t.up_to_kwh
    )
    surcharges = sum((s.price or Decimal(0) for s in current.charges.surcharges), Decimal(0))
    return PriceNow(band.name, number, tier.price, surcharges)


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


# -- the JSON document (/api/bill, ``trio-smartmeter bill --json``) --------------------------
def bill_document(tariff: Tariff, bill: Bill) -> dict[str, Any]:
    """The bill as JSON-ready values (numbers as numbers, times RFC 3339 with +09:00)."""
    doc: dict[str, Any] = {
        "tariff": bill.tariff_name,
        "period": {
            "which": bill.which,
            "start": _rfc3339(bill.period.start),
            "end": _rfc3339(bill.period.end),
        },
        "counted_until": _rfc3339(bill.counted_until),
        "sell_price": _number(tariff.sell_price),
        "counted_half_hours": bill.known_half_hours,
        "missing_half_hours": bill.missing_half_hours,
        "missing_sold_half_hours": bill.missing_sold_half_hours,
        **_charges_document(tariff, bill.charges),
        "projection": None,
    }
    if bill.projection is not None:
        doc["projection"] = {
            "method": PROJECTION_METHOD,
            **_charges_document(tariff, bill.projection),
        }
    return doc


def _charges_document(tariff: Tariff, charges: Charges) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "energy_bought_kwh": float(charges.bought_kwh),
        "energy_sold_kwh": _number(charges.sold_kwh),
        "yen": {
            "basic": float(charges.basic),
            "energy": float(charges.energy),
            "fuel_cost_adjustment": float(charges.fuel_cost_adjustment),
            "renewable_energy": float(charges.renewable_energy),
            "total": charges.total,
            "sold": _number(charges.sold),
        },
        "surcharges": {
            s.name: {
                "price": _number(s.price),
                "from": None if s.since is None else s.since.isoformat(),
                "in_force": s.price is not None,
            }
            for s in charges.surcharges
        },
    }
    if tariff.tiered:
        doc["tiers"] = [_line_document(line) for line in charges.lines]
    else:
        doc["bands"] = [_band_document(band, charges.lines) for band in tariff.bands]
    return doc


def _band_document(band: Band, all_lines: tuple[EnergyLine, ...]) -> dict[str, Any]:
    lines = [line for line in all_lines if line.band == band.name]
    return {
        "name": band.name,
        "hours": band.hours,
        "days": [kind for kind in DAY_KINDS if kind in band.days],
        "kwh": float(sum((line.kwh for line in lines), Decimal(0))),
        "yen": float(sum((line.yen for line in lines), Decimal(0))),
        "tiers": [_line_document(line) for line in lines],
    }


def _line_document(line: EnergyLine) -> dict[str, Any]:
    return {
        "tier": line.tier,
        "up_to_kwh": _number(line.up_to_kwh),
        "price": float(line.price),
        "kwh": float(line.kwh),
        "yen": float(line.yen),
    }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _rfc3339(at: _dt.datetime) -> str:
    return at.replace(tzinfo=JST).isoformat()
