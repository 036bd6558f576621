"""The tariff file: the issue's examples are read as written; every invalid file is one
problem per line naming its key; every half-hour of every kind of day is in one band."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trio_smartmeter.core.tariff import (
    DAY_KINDS,
    Band,
    DatedPrice,
    Tariff,
    TariffError,
    Tier,
    load_tariff,
    parse_tariff,
)

TIERED = """\
name: 従量電灯B 40A              # free text, shown on the statement
billing_day: 15
basic:
  monthly: 1247.00
energy:
  tiers:
    - {up_to_kwh: 120, price: 29.80}
    - {up_to_kwh: 300, price: 36.40}
    - {price: 40.49}
surcharges:
  fuel_cost_adjustment:
    - {from: 2026-11-01, price: -1.98}
  renewable_energy:
    - {from: 2026-05-01, price: 3.98}
sell:
  price: 16.00
"""

BANDS = """\
billing_day: 1
basic: {monthly: 0}
energy:
  bands:
    - {name: night,   hours: "23:00-07:00", price: 28.85}
    - {name: day,     hours: "07:00-23:00", days: [weekday], price: 35.76}
    - {name: holiday, hours: "07:00-23:00", days: [saturday, sunday, holiday], price: 30.10}
"""


def base(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "billing_day": 1,
        "basic": {"monthly": 1000},
        "energy": {"tiers": [{"price": 30}]},
    }
    doc.update(overrides)
    return doc


def problems(data: object) -> list[str]:
    with pytest.raises(TariffError) as info:
        parse_tariff(data)
    return info.value.problems


def bands_problems(*bands: dict[str, object]) -> list[str]:
    return problems(base(energy={"bands": list(bands)}))


def test_the_issues_tiered_example() -> None:
    tariff = load_tariff(TIERED)
    assert tariff == Tariff(
        name="従量電灯B 40A",
        billing_day=15,
        basic_monthly=Decimal("1247.00"),
        bands=(
            Band(
                "all",
                0,
                48,
                frozenset(DAY_KINDS),
                (
                    Tier(Decimal(120), Decimal("29.80")),
                    Tier(Decimal(300), Decimal("36.40")),
                    Tier(None, Decimal("40.49")),
                ),
            ),
        ),
        tiered=True,
        surcharges={
            "fuel_cost_adjustment": (DatedPrice(dt.date(2026, 11, 1), Decimal("-1.98")),),
            "renewable_energy": (DatedPrice(dt.date(2026, 5, 1), Decimal("3.98")),),
        },
        sell_price=Decimal("16.00"),
    )


def test_the_issues_time_of_use_example_wraps_midnight() -> None:
    tariff = load_tariff(BANDS)
    assert not tariff.tiered
    assert tariff.name == ""
    assert tariff.sell_price is None
    assert tariff.surcharges == {}
    assert [b.hours for b in tariff.bands] == ["23:00-07:00", "07:00-23:00", "07:00-23:00"]
    # 23:00 (46), 23:30 (47), 00:00 (0) and 06:30 (13) are night on every kind of day
    for kind in DAY_KINDS:
        for half_hour in (46, 47, 0, 13):
            assert tariff.band_at(kind, half_hour).name == "night"
    assert tariff.band_at("weekday", 14).name == "day"
    assert tariff.band_at("weekday", 45).name == "day"
    assert tariff.band_at("holiday", 14).name == "holiday"
    assert tariff.band_at("saturday", 30).name == "holiday"


def test_24_00_ends_a_band_and_a_whole_day_is_00_00_24_00() -> None:
    tariff = parse_tariff(
        base(
            energy={
                "bands": [
                    {"hours": "00:00-24:00", "days": ["weekday"], "price": 30},
                    {
                        "hours": "22:00-24:00",
                        "days": ["saturday", "sunday", "holiday"],
                        "price": 20,
                    },
                    {
                        "hours": "00:00-22:00",
                        "days": ["saturday", "sunday", "holiday"],
                        "price": 25,
                    },
                ]
            }
        )
    )
    # without a name a band is called by its hours and days
    assert [b.name for b in tariff.bands] == [
        "00:00-24:00 weekday",
        "22:00-24:00 holiday,saturday,sunday",
        "00:00-22:00 holiday,saturday,sunday",
    ]
    assert tariff.band_at("sunday", 47).tiers == (Tier(None, Decimal(20)),)
    assert tariff.band_at("sunday", 43).tiers == (Tier(None, Decimal(25)),)
    assert tariff.band_at("weekday", 47).tiers == (Tier(None, Decimal(30)),)


def test_a_band_ending_at_00_00_wraps_to_midnight() -> None:
    tariff = parse_tariff(
        base(
            energy={
                "bands": [
                    {"name": "late", "hours": "22:00-00:00", "price": 20},
                    {"name": "rest", "hours": "00:00-22:00", "price": 30},
                ]
            }
        )
    )
    assert tariff.band_at("weekday", 44).name == "late"
    assert tariff.band_at("weekday", 47).name == "late"
    assert tariff.band_at("weekday", 0).name == "rest"


def test_a_band_may_have_its_own_tiers() -> None:
    tariff = parse_tariff(
        base(
            energy={
                "bands": [
                    {"name": "night", "hours": "23:00-07:00", "price": 20},
                    {
                        "name": "day",
                        "hours": "07:00-23:00",
                        "tiers": [{"up_to_kwh": 90, "price": 30}, {"price": 40}],
                    },
                ]
            }
        )
    )
    assert tariff.bands[1].tiers == (Tier(Decimal(90), Decimal(30)), Tier(None, Decimal(40)))


def test_surcharges_are_sorted_and_the_closing_day_picks_the_value() -> None:
    tariff = parse_tariff(
        base(
            surcharges={
                "fuel_cost_adjustment": [
                    {"from": "2026-12-01", "price": -2.5},
                    {"from": dt.date(2026, 11, 1), "price": -1.98},
                ]
            }
        )
    )
    assert tariff.surcharge("fuel_cost_adjustment", dt.date(2026, 10, 31)) is None
    assert tariff.surcharge("fuel_cost_adjustment", dt.date(2026, 11, 1)) == DatedPrice(
        dt.date(2026, 11, 1), Decimal("-1.98")
    )
    assert tariff.surcharge("fuel_cost_adjustment", dt.date(2026, 12, 15)) == DatedPrice(
        dt.date(2026, 12, 1), Decimal("-2.5")
    )
    assert tariff.surcharge("renewable_energy", dt.date(2026, 12, 15)) is None


def test_a_gap_is_refused_naming_the_half_hours_and_the_days() -> None:
    assert bands_problems(
        {"name": "night", "hours": "23:00-07:00", "price": 28.85},
        {"name": "day", "hours": "07:00-23:00", "days": ["weekday"], "price": 35.76},
        {"name": "we", "hours": "07:00-22:00", "days": ["saturday", "sunday"], "price": 30.1},
    ) == [
        "energy.bands: no band covers 22:00-23:00 on saturday, sunday",
        "energy.bands: no band covers 07:00-23:00 on holiday",
    ]


def test_an_overlap_is_refused_naming_the_bands() -> None:
    assert bands_problems(
        {"name": "night", "hours": "22:00-07:00", "price": 28.85},
        {"name": "day", "hours": "07:00-23:00", "price": 35.76},
    ) == [
        "energy.bands: 'night' and 'day' overlap at 22:00-23:00 on weekday, saturday, sunday, holiday"
    ]


@pytest.mark.parametrize(
    ("hours", "reason"),
    [
        ("7:00-23:00", 'expected "HH:MM-HH:MM"'),
        (700, 'expected "HH:MM-HH:MM"'),
        ("07:15-23:00", "not on half-hour boundaries"),
        ("24:00-07:00", "not on half-hour boundaries"),
        ("07:00-24:30", "not on half-hour boundaries"),
        ("07:00-25:00", "not on half-hour boundaries"),
        ("07:00-07:00", 'write "00:00-24:00" for all day'),
        ("00:00-00:00", 'write "00:00-24:00" for all day'),
    ],
)
def test_bad_hours(hours: object, reason: str) -> None:
    (line,) = bands_problems({"hours": hours, "price": 1})
    assert line.startswith("energy.bands[0].hours: ")
    assert reason in line


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (["weekday", "monday"], "energy.bands[0].days: 'monday' is not a kind of day"),
        (["weekday", "weekday"], "energy.bands[0].days: weekday is listed twice"),
        ([], "energy.bands[0].days: expected a list of weekday, saturday, sunday, holiday"),
        ("weekday", "energy.bands[0].days: expected a list of weekday, saturday, sunday, holiday"),
    ],
)
def test_bad_days(days: object, expected: str) -> None:
    lines = bands_problems({"hours": "00:00-24:00", "days": days, "price": 1})
    assert lines[0].startswith(expected)


def test_a_holiday_is_only_holiday_says_the_message() -> None:
    (line, *_) = bands_problems({"hours": "00:00-24:00", "days": ["national_holiday"], "price": 1})
    assert "a national holiday is only holiday, whatever its weekday" in line


@pytest.mark.parametrize(
    ("band", "expected"),
    [
        ({"hours": "00:00-24:00"}, ["energy.bands[0]: give either price or tiers"]),
        (
            {"hours": "00:00-24:00", "price": 1, "tiers": [{"price": 1}]},
            ["energy.bands[0]: give either price or tiers"],
        ),
        (
            {"hours": "00:00-24:00", "price": -1},
            ["energy.bands[0].price: -1 is not accepted; expected 0 or more"],
        ),
        (
            {"hours": "00:00-24:00", "price": "30"},
            ["energy.bands[0].price: required, a number (yen)"],
        ),
        (
            {"hours": "00:00-24:00", "price": True},
            ["energy.bands[0].price: required, a number (yen)"],
        ),
        (
            {"hours": "00:00-24:00", "price": float("nan")},
            ["energy.bands[0].price: required, a number (yen)"],
        ),
        ({"hours": "00:00-24:00", "price": 1, "name": 3}, ["energy.bands[0].name: expected text"]),
        (
            {"hours": "00:00-24:00", "price": 1, "colour": "red"},
            [
                "energy.bands[0].colour: unknown key; expected one of name, hours, days, price, tiers"
            ],
        ),
        ("00:00-24:00", ["energy.bands[0]: expected a mapping of keys, got str"]),
    ],
)
def test_bad_bands(band: object, expected: list[str]) -> None:
    assert bands_problems(band)[: len(expected)] == expected  # type: ignore[arg-type]


def test_two_bands_of_one_name() -> None:
    assert bands_problems(
        {"name": "a", "hours": "00:00-12:00", "price": 1},
        {"name": "a", "hours": "12:00-24:00", "price": 1},
    ) == ["energy.bands: the name 'a' is used twice; give each band a name"]


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        ([], "energy.tiers: expected a list of tiers, the last without up_to_kwh"),
        ([{"up_to_kwh": 120, "price": 1}], "energy.tiers[0].up_to_kwh: the last tier has no limit"),
        ([{"price": 1}, {"price": 2}], "energy.tiers[0].up_to_kwh: required, a number (kWh)"),
        (
            [{"up_to_kwh": 120, "price": 1}, {"up_to_kwh": 120, "price": 2}, {"price": 3}],
            "energy.tiers[1].up_to_kwh: must be more than 120 (the tier before)",
        ),
        (
            [{"up_to_kwh": 0, "price": 1}, {"price": 2}],
            "energy.tiers[0].up_to_kwh: must be more than 0",
        ),
        (
            [{"up_to_kwh": 10, "price": 1}, {"price": 2, "limit": 3}],
            "energy.tiers[1].limit: unknown key",
        ),
    ],
)
def test_bad_tiers(tiers: object, expected: str) -> None:
    (line,) = problems(base(energy={"tiers": tiers}))
    assert line.startswith(expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"billing_day": 0}, "billing_day: 0 is not accepted; expected 1..28"),
        ({"billing_day": 29}, "billing_day: 29 is not accepted; expected 1..28"),
        ({"billing_day": "15"}, "billing_day: required, a whole number 1..28"),
        ({"billing_day": True}, "billing_day: required, a whole number 1..28"),
        ({"name": ["x"]}, "name: expected text"),
        ({"basic": None}, "basic: required"),
        ({"basic": {}}, "basic.monthly: required, a number (yen)"),
        (
            {"basic": {"monthly": 1, "daily": 2}},
            "basic.daily: unknown key; expected one of monthly",
        ),
        ({"energy": None}, "energy: required"),
        ({"energy": {}}, "energy: give either tiers (by the period's kWh) or bands (by the hour)"),
        ({"energy": {"tiers": [{"price": 1}], "bands": []}}, "energy: give either tiers"),
        ({"energy": {"bands": {}}}, "energy.bands: expected a list of bands"),
        ({"sell": {"price": -1}}, "sell.price: -1 is not accepted; expected 0 or more"),
        ({"sell": 16}, "sell: expected a mapping of keys, got int"),
        (
            {"surcharges": {"levy": []}},
            "surcharges.levy: unknown key; expected one of fuel_cost_adjustment, renewable_energy",
        ),
        (
            {"surcharges": {"renewable_energy": 3.98}},
            "surcharges.renewable_energy: expected a list of {from: YYYY-MM-DD",
        ),
        (
            {"surcharges": {"renewable_energy": [{"from": "May 2026", "price": 3.98}]}},
            "surcharges.renewable_energy[0].from: required, a date YYYY-MM-DD",
        ),
        (
            {
                "surcharges": {
                    "renewable_energy": [{"from": dt.datetime(2026, 5, 1), "price": 3.98}]
                }
            },
            "surcharges.renewable_energy[0].from: required, a date YYYY-MM-DD",
        ),
        (
            {"surcharges": {"renewable_energy": [{"from": dt.date(2026, 5, 1)}]}},
            "surcharges.renewable_energy[0].price: required, a number (yen)",
        ),
        (
            {
                "surcharges": {
                    "renewable_energy": [
                        {"from": dt.date(2026, 5, 1), "price": 3.98},
                        {"from": "2026-05-01", "price": 3.49},
                    ]
                }
            },
            "surcharges.renewable_energy: two values from 2026-05-01; keep one",
        ),
        (
            {"discount": 5},
            "discount: unknown key; expected one of name, billing_day, basic, energy",
        ),
    ],
)
def test_bad_files(overrides: dict[str, object], expected: str) -> None:
    (line,) = problems(base(**overrides))
    assert line.startswith(expected)


def test_a_negative_surcharge_is_accepted() -> None:
    tariff = parse_tariff(
        base(surcharges={"fuel_cost_adjustment": [{"from": dt.date(2026, 1, 1), "price": -9.5}]})
    )
    assert tariff.surcharges["fuel_cost_adjustment"][0].price == Decimal("-9.5")


def test_every_problem_is_reported_at_once() -> None:
    lines = problems({"billing_day": 31, "sell": {"price": "16"}, "extra": 1})
    assert lines == [
        "extra: unknown key; expected one of name, billing_day, basic, energy, surcharges, sell",
        "billing_day: 31 is not accepted; expected 1..28 (every month has it)",
        "basic: required",
        "energy: required",
        "sell.price: required, a number (yen)",
    ]


def test_not_a_mapping_and_not_yaml() -> None:
    assert problems(["billing_day"])[0] == "the file: expected a mapping of keys, got list"
    with pytest.raises(TariffError) as info:
        load_tariff("billing_day: [1\n")
    assert info.value.problems == [
        "not valid YAML at line 2: expected ',' or ']', but got '<stream end>'"
    ]
    assert "invalid tariff file:\n  not valid YAML" in str(info.value)


def test_prices_keep_the_digits_written() -> None:
    tariff = load_tariff(TIERED)
    assert str(tariff.basic_monthly) == "1247.00"
    assert [str(t.price) for t in tariff.bands[0].tiers] == ["29.80", "36.40", "40.49"]
    assert str(load_tariff(TIERED.replace("1247.00", "1_247.50")).basic_monthly) == "1247.50"
    with pytest.raises(TariffError) as info:
        load_tariff(TIERED.replace("1247.00", ".inf"))
    assert info.value.problems == ["basic.monthly: required, a number (yen)"]
