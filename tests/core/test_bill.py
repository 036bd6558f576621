"""The bill, computed by hand for each definition of issue 21, and a property: for any
store and any valid tariff the components add up and every half-hour with known energy is
in exactly one band."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_smartmeter.core.bill import (
    PROJECTION_METHOD,
    Period,
    PriceNow,
    backfill_oldest_slot,
    bill_document,
    billing_period,
    compute_bill,
    day_kind,
    period_for,
    price_now,
    store_window,
)
from trio_smartmeter.core.echonet.history import Slot
from trio_smartmeter.core.jst import meter_time_to_unix
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.tariff import DAY_KINDS, Tariff, parse_tariff

D = Decimal
HALF = dt.timedelta(minutes=30)
KWH = D(3_600_000)
T = dt.datetime

TIERS = [
    {"up_to_kwh": 120, "price": 29.80},
    {"up_to_kwh": 300, "price": 36.40},
    {"price": 40.49},
]
TOU_BANDS = [
    {"name": "night", "hours": "23:00-07:00", "price": 28.85},
    {"name": "day", "hours": "07:00-23:00", "days": ["weekday"], "price": 35.76},
    {
        "name": "holiday",
        "hours": "07:00-23:00",
        "days": ["saturday", "sunday", "holiday"],
        "price": 30.10,
    },
]
SURCHARGES = {
    "fuel_cost_adjustment": [{"from": dt.date(2026, 11, 1), "price": -1.98}],
    "renewable_energy": [{"from": dt.date(2026, 5, 1), "price": 3.98}],
}


def tariff(**overrides: Any) -> Tariff:
    doc: dict[str, Any] = {
        "name": "test",
        "billing_day": 15,
        "basic": {"monthly": 1247.00},
        "energy": {"tiers": TIERS},
        "surcharges": SURCHARGES,
    }
    doc.update(overrides)
    return parse_tariff(doc)


def store(
    start: dt.datetime,
    until: dt.datetime,
    bought: Mapping[dt.datetime, str] = {},
    sold: Mapping[dt.datetime, str] = {},
    unknown: frozenset[dt.datetime] = frozenset(),
) -> list[HalfHour]:
    """Registers at every boundary from ``start`` to ``until``: the half-hour starting at
    ``t`` adds ``bought[t]`` kWh (0 by default); a boundary in ``unknown`` has no value."""
    rows = []
    forward, reverse = D(5000), D(800)
    at = start
    while at <= until:
        rows.append(
            HalfHour(
                int(meter_time_to_unix(at)),
                None,
                None,
                None if at in unknown else forward * KWH,
                None if at in unknown else reverse * KWH,
            )
        )
        forward += D(bought.get(at, "0"))
        reverse += D(sold.get(at, "0"))
        at += HALF
    return rows


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


# -- periods ---------------------------------------------------------------------------
def test_a_period_runs_from_the_billing_day_to_the_next() -> None:
    assert billing_period(15, T(2026, 12, 7, 18, 0)) == Period(T(2026, 11, 15), T(2026, 12, 15))
    assert billing_period(15, T(2026, 12, 15)) == Period(T(2026, 12, 15), T(2027, 1, 15))
    assert billing_period(15, T(2026, 12, 14, 23, 59, 59)) == Period(
        T(2026, 11, 15), T(2026, 12, 15)
    )
    assert billing_period(1, T(2027, 1, 1)) == Period(T(2027, 1, 1), T(2027, 2, 1))
    assert billing_period(28, T(2027, 1, 3)) == Period(T(2026, 12, 28), T(2027, 1, 28))
    t = tariff(billing_day=10)
    assert period_for(t, T(2027, 1, 3), "previous") == Period(T(2026, 11, 10), T(2026, 12, 10))
    assert Period(T(2027, 2, 1), T(2027, 3, 1)).half_hours == 28 * 48
    assert Period(T(2027, 2, 1), T(2027, 3, 1)).closing_day == dt.date(2027, 3, 1)


def test_the_store_window_and_the_backfill_reach() -> None:
    t = tariff()
    now = T(2026, 12, 7, 18, 10)
    since, until = store_window(t, now, "current")
    assert since == meter_time_to_unix(T(2026, 11, 15))  # the register that opens the period
    assert until == meter_time_to_unix(T(2026, 12, 7, 18, 0))  # ends the last full half-hour
    assert store_window(t, now, "previous") == (
        meter_time_to_unix(T(2026, 10, 15)),
        meter_time_to_unix(T(2026, 11, 15)),
    )
    assert backfill_oldest_slot(t, now) == Slot(T(2026, 10, 14, 23, 30))


# -- day kinds: Japan's national holidays --------------------------------------------------
@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (dt.date(2026, 11, 23), "holiday"),  # 勤労感謝の日, a Monday
        (dt.date(2027, 1, 11), "holiday"),  # 成人の日, the second Monday
        (dt.date(2026, 5, 6), "holiday"),  # 振替休日: 憲法記念日 fell on a Sunday
        (dt.date(2026, 9, 22), "holiday"),  # 国民の休日 between two holidays
        (dt.date(2026, 5, 3), "holiday"),  # a holiday on a Sunday is only holiday
        (dt.date(2026, 11, 24), "weekday"),
        (dt.date(2026, 12, 31), "weekday"),  # not a national holiday
        (dt.date(2026, 11, 21), "saturday"),
        (dt.date(2026, 11, 22), "sunday"),
    ],
)
def test_day_kinds(day: dt.date, kind: str) -> None:
    assert day_kind(day) == kind


def test_a_holiday_on_a_monday_and_a_substitute_holiday_are_priced_as_holidays() -> None:
    t = tariff(billing_day=1, energy={"bands": TOU_BANDS}, surcharges={})
    # 2026-11-23 is a Monday and 勤労感謝の日; 2026-11-24 an ordinary Tuesday
    rows = store(
        T(2026, 11, 1),
        T(2026, 11, 25),
        bought={T(2026, 11, 23, 12): "2", T(2026, 11, 24, 12): "3", T(2026, 11, 23, 23): "1"},
    )
    bill = compute_bill(t, rows, T(2026, 11, 25))
    kwh = {line.band: line.kwh for line in bill.charges.lines}
    assert kwh == {"night": D(1), "day": D(3), "holiday": D(2)}
    assert bill.charges.energy == D("28.85") + 3 * D("35.76") + 2 * D("30.10")
    # 2026-05-06 is a Wednesday and the 振替休日 of 憲法記念日 (a Sunday)
    rows = store(
        T(2026, 5, 1), T(2026, 5, 8), bought={T(2026, 5, 6, 9): "4", T(2026, 5, 7, 9): "5"}
    )
    bill = compute_bill(t, rows, T(2026, 5, 8))
    assert {line.band: line.kwh for line in bill.charges.lines} == {
        "night": D(0),
        "day": D(5),
        "holiday": D(4),
    }


# -- tiers -------------------------------------------------------------------------------
def test_a_half_hour_crossing_a_tier_limit_is_split_and_the_total_floors_in_two_parts() -> None:
    t = tariff()
    start = T(2026, 11, 15)
    rows = store(start, start + 4 * HALF, bought={start: "119.5", start + HALF: "1.0"})
    bill = compute_bill(t, rows, start + 2 * HALF + dt.timedelta(minutes=10))
    c = bill.charges
    assert [(line.tier, line.kwh) for line in c.lines] == [(1, D(120)), (2, D("0.5")), (3, D(0))]
    assert c.bought_kwh == D("120.5")
    assert c.energy == D("3576.00") + D("18.20")  # 120 × 29.80 + 0.5 × 36.40
    assert c.basic == D("1247.00")
    assert c.fuel_cost_adjustment == D("-238.590")  # 120.5 × -1.98
    assert c.renewable_energy == D("479.590")  # 120.5 × 3.98
    # floor(1247 + 3594.20 - 238.59) + floor(479.59) = 4602 + 479, not floor(5082.20)
    assert c.total == 5081
    assert c.sold is None
    assert c.sold_kwh is None
    # the half-hour in progress (01:00-01:30) and the rest are neither counted nor missing
    assert bill.known_half_hours == 2
    assert bill.missing_half_hours == 0
    assert bill.counted_until == start + 2 * HALF


def test_tiers_count_the_period_so_far_not_each_half_hour() -> None:
    t = tariff()
    start = T(2026, 11, 15)
    bought = {start + k * HALF: "10" for k in range(31)}  # 310 kWh
    bill = compute_bill(t, store(start, start + 32 * HALF, bought=bought), start + 31 * HALF)
    assert [line.kwh for line in bill.charges.lines] == [D(120), D(180), D(10)]
    assert bill.charges.energy == D(120) * D("29.80") + D(180) * D("36.40") + D(10) * D("40.49")


def test_a_band_with_its_own_tiers_counts_that_bands_kwh() -> None:
    bands = [
        {"name": "night", "hours": "23:00-07:00", "price": 20},
        {
            "name": "day",
            "hours": "07:00-23:00",
            "tiers": [{"up_to_kwh": 5, "price": 30}, {"price": 40}],
        },
    ]
    t = tariff(billing_day=1, energy={"bands": bands}, surcharges={})
    day = T(2026, 12, 1)
    rows = store(
        day,
        day + dt.timedelta(days=1),
        bought={day + 2 * HALF: "9", day + 20 * HALF: "4", day + 30 * HALF: "3"},
    )
    bill = compute_bill(t, rows, day + dt.timedelta(days=1))
    # night 9 kWh at 20; day 4 + 3 = 7 kWh: 5 at 30, 2 at 40 (the night's 9 do not count)
    assert [(line.band, line.tier, line.kwh) for line in bill.charges.lines] == [
        ("night", 1, D(9)),
        ("day", 1, D(5)),
        ("day", 2, D(2)),
    ]
    assert bill.charges.energy == 180 + 150 + 80


# -- bands -------------------------------------------------------------------------------
def test_a_band_that_wraps_midnight() -> None:
    t = tariff(billing_day=1, energy={"bands": TOU_BANDS}, surcharges={})
    # 2026-12-01 and 12-02 are a Tuesday and a Wednesday
    rows = store(
        T(2026, 12, 1),
        T(2026, 12, 2, 8),
        bought={
            T(2026, 12, 1, 22, 30): "1.0",  # day
            T(2026, 12, 1, 23, 0): "2.0",  # night, before midnight
            T(2026, 12, 2, 0, 0): "3.0",  # night, after midnight (belongs to its start)
            T(2026, 12, 2, 6, 30): "0.5",  # night's last half-hour
            T(2026, 12, 2, 7, 0): "4.0",  # day
        },
    )
    bill = compute_bill(t, rows, T(2026, 12, 2, 7, 40))
    lines = {line.band: line for line in bill.charges.lines}
    assert lines["night"].kwh == D("5.5")
    assert lines["day"].kwh == D("5.0")
    assert lines["holiday"].kwh == D(0)
    assert bill.charges.energy == D("5.5") * D("28.85") + D(5) * D("35.76")  # 158.675 + 178.80
    assert bill.charges.total == floor(D("1247.00") + D("337.475"))
    assert bill.charges.surcharges[0].price is None


# -- surcharges --------------------------------------------------------------------------
def test_the_closing_day_chooses_each_surcharge() -> None:
    surcharges = {
        "fuel_cost_adjustment": [
            {"from": dt.date(2026, 11, 1), "price": -1.98},
            {"from": dt.date(2026, 12, 15), "price": -2.50},
        ],
    }
    t = tariff(surcharges=surcharges)
    now = T(2026, 12, 1, 12)
    rows = store(T(2026, 10, 15), now, bought={T(2026, 11, 10): "10", T(2026, 11, 20): "20"})
    previous = compute_bill(t, rows, now, "previous")  # 10-15 .. 11-15 closes 11-15
    current = compute_bill(t, rows, now, "current")  # 11-15 .. 12-15 closes 12-15
    assert previous.charges.surcharges[0].price == D("-1.98")
    assert previous.charges.fuel_cost_adjustment == D("-19.80")
    # mostly in November, but it closes on 12-15, when -2.50 is in force
    assert current.charges.surcharges[0].price == D("-2.50")
    assert current.charges.surcharges[0].since == dt.date(2026, 12, 15)
    assert current.charges.fuel_cost_adjustment == D("-50.00")
    # no renewable-energy value given: 0, and the bill says so
    levy = current.charges.surcharges[1]
    assert (levy.name, levy.price, levy.since, levy.yen) == ("renewable_energy", None, None, D(0))
    doc = bill_document(t, current)
    assert doc["surcharges"]["renewable_energy"] == {"price": None, "from": None, "in_force": False}
    assert doc["surcharges"]["fuel_cost_adjustment"] == {
        "price": -2.5,
        "from": "2026-12-15",
        "in_force": True,
    }


# -- missing and sold ----------------------------------------------------------------------
def test_missing_half_hours_are_counted_never_zero() -> None:
    t = tariff()
    start = T(2026, 11, 15)
    bought = {start + k * HALF: "1" for k in range(8)}
    rows = store(start, start + 8 * HALF, bought=bought, unknown=frozenset({start + 3 * HALF}))
    del rows[6]  # the register at 03:00 never arrived
    bill = compute_bill(t, rows, start + 8 * HALF)
    # unknown at 01:30: 01:00 and 01:30 missing; absent at 03:00: 02:30 and 03:00 missing
    assert bill.missing_half_hours == 4
    assert bill.known_half_hours == 4
    assert bill.charges.bought_kwh == 4
    assert bill.charges.energy == 4 * D("29.80")
    assert bill_document(t, bill)["missing_half_hours"] == 4


def test_a_register_that_decreases_is_missing() -> None:
    t = tariff()
    start = T(2026, 11, 15)
    rows = store(
        start, start + 3 * HALF, bought={start: "2", start + HALF: "-1", start + 2 * HALF: "3"}
    )
    bill = compute_bill(t, rows, start + 3 * HALF)
    assert (bill.known_half_hours, bill.missing_half_hours) == (2, 1)
    assert bill.charges.bought_kwh == 5


def test_sold_energy_is_paid_separately() -> None:
    t = tariff(sell={"price": 16.00})
    start = T(2026, 11, 15)
    rows = store(
        start,
        start + 4 * HALF,
        bought={start: "1.5", start + HALF: "0.5"},
        sold={start + 2 * HALF: "2.25", start + 3 * HALF: "1.0"},
    )
    bill = compute_bill(t, rows, start + 4 * HALF)
    c = bill.charges
    assert c.sold_kwh == D("3.25")
    assert c.sold == D("52.00")
    # total: floor(1247 + 2 × 29.80 - 2 × 1.98) + floor(2 × 3.98) = 1302 + 7
    assert c.total == 1309
    assert bill.missing_sold_half_hours == 0
    doc = bill_document(t, bill)
    assert doc["yen"]["sold"] == 52.0
    assert doc["energy_sold_kwh"] == 3.25
    # a half-hour whose reverse register is unknown is missing for the sold side
    rows[2] = HalfHour(rows[2].end_unix, None, None, rows[2].forward_joules, None)
    bill = compute_bill(t, rows, start + 4 * HALF)
    assert bill.missing_sold_half_hours == 2
    assert bill.missing_half_hours == 0
    assert bill.charges.sold_kwh == D("1.0")


# -- the current period, its projection and the price now -----------------------------------
def test_the_current_period_has_the_full_basic_charge_and_a_projection() -> None:
    t = tariff(billing_day=1, surcharges={})
    start = T(2026, 12, 1)  # a 31-day period: 1488 half-hours
    bought = {start + k * HALF: "0.5" for k in range(48)}
    bill = compute_bill(
        t, store(start, start + 48 * HALF, bought=bought), start + dt.timedelta(days=1, minutes=5)
    )
    assert bill.charges.basic == D("1247.00")
    assert bill.charges.bought_kwh == 24
    assert bill.projection is not None
    # 0.5 kWh a half-hour for 1488 half-hours: 744 kWh, priced by the tiers
    assert bill.projection.bought_kwh == 744
    assert [line.kwh for line in bill.projection.lines] == [D(120), D(180), D(444)]
    assert bill.projection.total == floor(
        D("1247.00") + 120 * D("29.80") + 180 * D("36.40") + 444 * D("40.49")
    )
    doc = bill_document(t, bill)
    assert doc["projection"]["method"] == PROJECTION_METHOD
    assert doc["projection"]["energy_bought_kwh"] == 744.0


def test_a_band_not_yet_seen_is_projected_at_the_average() -> None:
    t = tariff(billing_day=1, energy={"bands": TOU_BANDS}, surcharges={}, sell={"price": 10})
    start = T(2026, 12, 1)  # Tuesday: no weekend or holiday known yet
    bought = {start + k * HALF: ("1" if k < 14 or k >= 46 else "2") for k in range(48)}
    sold = {start + k * HALF: "1" for k in range(20, 30)}
    bill = compute_bill(
        t, store(start, start + 48 * HALF, bought=bought, sold=sold), start + 48 * HALF
    )
    assert bill.projection is not None
    kwh = {line.band: line.kwh for line in bill.projection.lines}
    # December 2026: 31 nights of 16 half-hours at 1 kWh; 23 weekdays of 32 day half-hours
    # at 2 kWh; 8 Saturdays and Sundays (no national holiday), none known yet: at the average
    weekend_days = sum(
        1 for d in range(31) if day_kind(dt.date(2026, 12, 1) + dt.timedelta(days=d)) != "weekday"
    )
    assert weekend_days == 8
    assert kwh["night"] == 31 * 16
    assert kwh["day"] == (31 - weekend_days) * 32 * 2
    average = D(16 * 1 + 32 * 2) / 48  # every known half-hour
    assert kwh["holiday"] == average * (weekend_days * 32)
    # sold per band too: 10 kWh in 32 weekday day half-hours; none at night; the weekend's
    # day half-hours at the average of all known half-hours (10 / 48)
    expected = D(10) / 32 * (23 * 32) + D(10) / 48 * (8 * 32)
    assert bill.projection.sold_kwh is not None
    assert abs(bill.projection.sold_kwh - expected) < D("1e-20")


def test_no_projection_without_data() -> None:
    bill = compute_bill(tariff(), [], T(2026, 12, 7))
    assert bill.projection is None
    assert bill.missing_half_hours == (T(2026, 12, 7) - T(2026, 11, 15)) // HALF
    assert bill.charges.total == 1247
    assert bill_document(tariff(), bill)["projection"] is None


def test_at_the_first_instant_of_a_period_nothing_is_counted_nor_missing() -> None:
    bill = compute_bill(tariff(), [], T(2026, 12, 15))
    assert (bill.known_half_hours, bill.missing_half_hours) == (0, 0)
    assert bill.counted_until == T(2026, 12, 15)


def test_the_price_now_is_the_band_or_tier_price_plus_the_surcharges() -> None:
    t = tariff(billing_day=1, energy={"bands": TOU_BANDS})
    start = T(2026, 12, 1)
    bill = compute_bill(t, store(start, start), T(2026, 12, 5, 10, 17))  # a Saturday
    assert price_now(t, bill, T(2026, 12, 5, 10, 17)) == PriceNow(
        "holiday", 1, D("30.10"), D("2.00")
    )
    assert price_now(t, bill, T(2026, 12, 5, 10, 17)).total == D("32.10")
    tiered = tariff(billing_day=1)
    bought = {start + k * HALF: "10" for k in range(12)}  # 120 kWh: the first tier is used up
    bill = compute_bill(tiered, store(start, start + 12 * HALF, bought=bought), start + 12 * HALF)
    assert price_now(tiered, bill, start + 12 * HALF) == PriceNow("all", 2, D("36.40"), D("2.00"))
    with pytest.raises(ValueError, match="not in the period"):
        price_now(tiered, bill, T(2027, 1, 1))


def test_the_document_lays_out_tiers_or_bands() -> None:
    t = tariff()
    start = T(2026, 11, 15)
    bill = compute_bill(t, store(start, start + HALF, bought={start: "1.25"}), start + HALF)
    doc = bill_document(t, bill)
    assert doc["period"] == {
        "which": "current",
        "start": "2026-11-15T00:00:00+09:00",
        "end": "2026-12-15T00:00:00+09:00",
    }
    assert doc["energy_bought_kwh"] == 1.25
    assert doc["energy_sold_kwh"] is None
    assert doc["yen"] == {
        "basic": 1247.0,
        "energy": 37.25,
        "fuel_cost_adjustment": -2.475,
        "renewable_energy": 4.975,
        "total": 1281 + 4,
        "sold": None,
    }
    assert doc["tiers"][0] == {
        "tier": 1,
        "up_to_kwh": 120.0,
        "price": 29.8,
        "kwh": 1.25,
        "yen": 37.25,
    }
    assert "bands" not in doc
    t = tariff(energy={"bands": TOU_BANDS})
    doc = bill_document(t, compute_bill(t, [], start))
    assert [b["name"] for b in doc["bands"]] == ["night", "day", "holiday"]
    assert doc["bands"][2]["days"] == ["saturday", "sunday", "holiday"]
    assert doc["bands"][0]["hours"] == "23:00-07:00"


# -- the property ----------------------------------------------------------------------------
def _clock(half_hour: int) -> str:
    return f"{half_hour // 2:02d}:{half_hour % 2 * 30:02d}"


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    price = st.integers(0, 6000).map(lambda c: c / 100)

    def tiers() -> list[dict[str, Any]]:
        limits = sorted(draw(st.sets(st.integers(1, 400), max_size=3)))
        return [{"up_to_kwh": lim, "price": draw(price)} for lim in limits] + [
            {"price": draw(price)}
        ]

    doc: dict[str, Any] = {
        "billing_day": draw(st.integers(1, 28)),
        "basic": {"monthly": draw(price)},
        "surcharges": {
            name: [
                {"from": dt.date(2026, m, 1), "price": draw(st.integers(-500, 500)) / 100}
                for m in draw(st.sets(st.integers(1, 12), max_size=3))
            ]
            for name in ("fuel_cost_adjustment", "renewable_energy")
        },
    }
    if draw(st.booleans()):
        doc["sell"] = {"price": draw(price)}
    if draw(st.booleans()):
        doc["energy"] = {"tiers": tiers()}
        return parse_tariff(doc)
    groups = draw(st.lists(st.integers(0, 2), min_size=4, max_size=4))
    bands: list[dict[str, Any]] = []
    for group in sorted(set(groups)):
        days = [k for k, g in zip(DAY_KINDS, groups, strict=True) if g == group]
        cuts = sorted(draw(st.sets(st.integers(0, 47), min_size=1, max_size=5)))
        if len(cuts) == 1:
            spans = [(0, 48)]
        else:
            spans = [*itertools.pairwise(cuts), (cuts[-1], cuts[0] or 48)]
        for first, end in spans:
            band: dict[str, Any] = {"hours": f"{_clock(first)}-{_clock(end)}", "days": days}
            if draw(st.booleans()):
                band["price"] = draw(price)
            else:
                band["tiers"] = tiers()
            bands.append(band)
    doc["energy"] = {"bands": bands}
    return parse_tariff(doc)


@st.composite
def stores(draw: st.DrawFn) -> tuple[dt.datetime, list[HalfHour]]:
    now = T(2026, 1, 1) + dt.timedelta(minutes=draw(st.integers(0, 2 * 365 * 24 * 60)))
    first = Slot.containing(now).start - dt.timedelta(days=70)
    steps = draw(st.lists(st.integers(-50, 3000) | st.none(), min_size=0, max_size=300))
    offset = draw(st.integers(0, 70 * 48))
    rows, register = [], 10_000_000
    for k, step in enumerate(steps):
        at = first + (offset + k) * HALF
        register += step or 0
        joules = None if step is None else D(register) * 3600  # Wh × 3600: exact
        reverse = None if step is None or step < 0 else D(register // 3) * 3600
        rows.append(HalfHour(int(meter_time_to_unix(at)), None, None, joules, reverse))
    return now, rows


@settings(max_examples=60, deadline=None)
@given(tariffs(), stores(), st.sampled_from(["current", "previous"]))
def test_the_components_add_up_and_each_known_half_hour_is_in_one_band(
    tariff_: Tariff, data: tuple[dt.datetime, list[HalfHour]], which: Any
) -> None:
    now, rows = data
    bill = compute_bill(tariff_, rows, now, which)
    c = bill.charges
    assert c.energy == sum(line.kwh * line.price for line in c.lines)
    assert c.bought_kwh == sum(line.kwh for line in c.lines)
    assert c.total == floor(c.basic + c.energy + c.fuel_cost_adjustment) + floor(c.renewable_energy)
    for s in c.surcharges:
        assert s.yen == c.bought_kwh * (s.price or 0)
    if tariff_.sell_price is not None:
        assert c.sold == c.sold_kwh * tariff_.sell_price  # type: ignore[operator]
    counted = (bill.counted_until - bill.period.start) // HALF
    assert bill.known_half_hours + bill.missing_half_hours == counted
    # an independent tally: each known half-hour in exactly one band, its kWh in that band
    forward = {r.end_unix: r.forward_joules for r in rows}
    per_band: dict[str, Decimal] = {b.name: D(0) for b in tariff_.bands}
    at, known = bill.period.start, 0
    while at < bill.counted_until:
        before, after = (
            forward.get(int(meter_time_to_unix(at))),
            forward.get(int(meter_time_to_unix(at + HALF))),
        )
        if before is not None and after is not None and after >= before:
            owners = [
                b
                for b in tariff_.bands
                if b.covers(day_kind(at.date()), at.hour * 2 + at.minute // 30)
            ]
            assert len(owners) == 1
            per_band[owners[0].name] += (after - before) / D(3_600_000)
            known += 1
        at += HALF
    assert known == bill.known_half_hours
    for band in tariff_.bands:
        assert sum(line.kwh for line in c.lines if line.band == band.name) == per_band[band.name]
        for line in c.lines:
            if line.band == band.name and line.up_to_kwh is not None:
                assert line.kwh <= line.up_to_kwh - line.from_kwh
