"""The tariff file: what a household's contract charges, as a validated :class:`Tariff`.

The format is a contract with users and their saved files (issue 21); it grows only
compatibly, and a key it does not know is refused with a reason, never ignored::

    name: 従量電灯B 40A                 # free text, shown on the statement
    billing_day: 15                     # 計量日 1..28: a period runs from 00:00 JST of this day
    basic: {monthly: 1247.00}           # 基本料金, yen per period
    energy:                             # 電力量料金: `tiers`, or `bands` (time of use)
      tiers:                            # on the period's cumulative bought kWh
        - {up_to_kwh: 120, price: 29.80}
        - {price: 40.49}                # the last tier has no limit
    surcharges:                         # yen per bought kWh, dated; the period's closing day
      fuel_cost_adjustment: [{from: 2026-11-01, price: -1.98}]     # picks the value
      renewable_energy: [{from: 2026-05-01, price: 3.98}]
    sell: {price: 16.00}                # optional: 売電, yen per sold kWh

A band is ``{name, hours: "HH:MM-HH:MM", days: [...], price | tiers}``: JST, half-hour
boundaries, may wrap midnight, "24:00" may end it; ``days`` of weekday, saturday, sunday,
holiday (a national holiday is only ``holiday``); every half-hour of every kind of day in
exactly one band. :func:`parse_tariff` is pure (the parsed YAML in, a value or every
problem out, one line each naming its key, as ``web/web_config.py`` reports).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import attrs
import yaml

from trio_smartmeter.core.errors import InvalidInput

__all__ = [
    "DAY_KINDS",
    "HALF_HOURS_PER_DAY",
    "SURCHARGES",
    "Band",
    "DatedPrice",
    "DayKind",
    "Tariff",
    "TariffError",
    "Tier",
    "load_tariff",
    "parse_tariff",
]

DayKind = Literal["weekday", "saturday", "sunday", "holiday"]
DAY_KINDS: Final[tuple[DayKind, ...]] = ("weekday", "saturday", "sunday", "holiday")
#: The surcharges a period charges on bought kWh, in the order a statement lists them.
SURCHARGES: Final = ("fuel_cost_adjustment", "renewable_energy")
HALF_HOURS_PER_DAY: Final = 48
_HOURS_RE: Final = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_KNOWN: Final[dict[str, tuple[str, ...]]] = {
    "": ("name", "billing_day", "basic", "energy", "surcharges", "sell"),
    "basic": ("monthly",),
    "energy": ("tiers", "bands"),
    "surcharges": SURCHARGES,
    "sell": ("price",),
    "tier": ("up_to_kwh", "price"),
    "band": ("name", "hours", "days", "price", "tiers"),
    "dated": ("from", "price"),
}


class TariffError(InvalidInput):
    """The tariff file is invalid."""

    what = "tariff file"


@attrs.frozen
class Tier:
    """Yen per kWh up to ``up_to_kwh`` of the cumulative kWh it counts (None: no limit)."""

    up_to_kwh: Decimal | None
    price: Decimal


@attrs.frozen
class Band:
    """A time-of-use band: half-hours ``[first, end)`` of the day (0..48, ``first > end``
    wraps midnight) on ``days``; a flat price is one tier without a limit."""

    name: str
    first: int
    end: int
    days: frozenset[DayKind]
    tiers: tuple[Tier, ...]

    def covers(self, kind: DayKind, half_hour: int) -> bool:
        """Whether the half-hour ``half_hour`` (0 = 00:00-00:30) of a ``kind`` day is ours."""
        if kind not in self.days:
            return False
        if self.first < self.end:
            return self.first <= half_hour < self.end
        return half_hour >= self.first or half_hour < self.end

    @property
    def hours(self) -> str:
        return f"{_clock(self.first)}-{_clock(self.end)}"


@attrs.frozen
class DatedPrice:
    """A surcharge's value from ``since`` on (until a later one)."""

    since: _dt.date
    price: Decimal


@attrs.frozen
class Tariff:
    name: str
    billing_day: int
    basic_monthly: Decimal
    #: The energy price: one band covering every half-hour for a plan of ``tiers``.
    bands: tuple[Band, ...]
    #: True when the file gave ``tiers`` (the statement lists tiers, not bands).
    tiered: bool
    #: Each of :data:`SURCHARGES` -> its dated values, oldest first (empty: none given).
    surcharges: Mapping[str, tuple[DatedPrice, ...]]
    sell_price: Decimal | None

    def band_at(self, kind: DayKind, half_hour: int) -> Band:
        """The one band of a half-hour (a valid tariff has exactly one)."""
        return next(b for b in self.bands if b.covers(kind, half_hour))

    def surcharge(self, name: str, closing_day: _dt.date) -> DatedPrice | None:
        """The value of surcharge ``name`` with the latest ``from`` on or before the period's
        closing day; None: none in force (the period counts 0 and says so)."""
        in_force = [d for d in self.surcharges.get(name, ()) if d.since <= closing_day]
        return in_force[-1] if in_force else None


def load_tariff(text: str) -> Tariff:
    """The tariff of a file's text; raises :class:`TariffError` (YAML errors too)."""
    try:
        data = yaml.load(text, Loader=_ExactLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise TariffError([f"not valid YAML{where}: {what}"]) from None
    return parse_tariff(data)


class _ExactLoader(yaml.SafeLoader):
    """YAML's floats as the Decimal of their text: 29.80 stays 29.80 on the statement."""


def _exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal | float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf, .nan and sexagesimal forms: as YAML reads them
        value: float = loader.construct_yaml_float(node)
        return value


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def parse_tariff(data: Any) -> Tariff:
    """The tariff of a parsed YAML document; raises :class:`TariffError` with every problem."""
    problems: list[str] = []
    top = _mapping(data, "", "", problems)
    name = top.get("name", "")
    if not isinstance(name, str):
        problems.append("name: expected text (shown on the statement)")
        name = ""
    billing_day = top.get("billing_day")
    if isinstance(billing_day, bool) or not isinstance(billing_day, int):
        problems.append(
            "billing_day: required, a whole number 1..28 (計量日, the day of the month)"
        )
    elif not 1 <= billing_day <= 28:
        problems.append(
            f"billing_day: {billing_day} is not accepted; expected 1..28 (every month has it)"
        )
    basic = _mapping(top.get("basic"), "basic", "basic", problems, required=True)
    monthly = None
    if isinstance(top.get("basic"), dict):
        monthly = _price(basic, "basic", "monthly", problems, minimum=Decimal(0))
    energy = _mapping(top.get("energy"), "energy", "energy", problems, required=True)
    bands, tiered = (
        _energy(energy, problems) if isinstance(top.get("energy"), dict) else ((), False)
    )
    surcharges = _surcharges(top.get("surcharges", {}), problems)
    sell_price = None
    if "sell" in top:
        sell = _mapping(top["sell"], "sell", "sell", problems)
        if isinstance(top["sell"], dict):
            sell_price = _price(sell, "sell", "price", problems, minimum=Decimal(0))
    if problems:
        raise TariffError(problems)
    assert isinstance(billing_day, int)
    assert monthly is not None
    return Tariff(name, billing_day, monthly, bands, tiered, surcharges, sell_price)


# -- the energy price ----------------------------------------------------------------------
def _energy(energy: dict[str, Any], problems: list[str]) -> tuple[tuple[Band, ...], bool]:
    if ("tiers" in energy) == ("bands" in energy):
        problems.append("energy: give either tiers (by the period's kWh) or bands (by the hour)")
        return (), False
    if "tiers" in energy:
        tiers = _tiers(energy["tiers"], "energy.tiers", problems)
        return (Band("all", 0, HALF_HOURS_PER_DAY, frozenset(DAY_KINDS), tiers),), True
    raw = energy["bands"]
    if not isinstance(raw, list) or not raw:
        problems.append("energy.bands: expected a list of bands")
        return (), False
    bands = [_band(item, f"energy.bands[{i}]", problems) for i, item in enumerate(raw)]
    valid = tuple(b for b in bands if b is not None)
    names = [b.name for b in valid]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"energy.bands: the name {dup!r} is used twice; give each band a name")
    if len(valid) == len(bands):
        problems.extend(_coverage_problems(valid))
    return valid, False


def _band(raw: Any, key: str, problems: list[str]) -> Band | None:
    item = _mapping(raw, key, "band", problems)
    before = len(problems)
    span = _hours(item.get("hours"), f"{key}.hours", problems)
    days = _days(item.get("days", list(DAY_KINDS)), f"{key}.days", problems)
    if ("price" in item) == ("tiers" in item):
        problems.append(f"{key}: give either price or tiers")
        tiers: tuple[Tier, ...] = ()
    elif "price" in item:
        price = _price(item, key, "price", problems, minimum=Decimal(0))
        tiers = () if price is None else (Tier(None, price),)
    else:
        tiers = _tiers(item["tiers"], f"{key}.tiers", problems)
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"{key}.name: expected text")
    if len(problems) > before or span is None or not tiers:
        return None
    label = name or (item["hours"] + ("" if "days" not in item else " " + ",".join(sorted(days))))
    return Band(label, span[0], span[1], days, tiers)


def _hours(raw: Any, key: str, problems: list[str]) -> tuple[int, int] | None:
    match = _HOURS_RE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        problems.append(f'{key}: expected "HH:MM-HH:MM" in JST, e.g. "23:00-07:00"')
        return None
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sm not in (0, 30) or em not in (0, 30) or sh > 23 or eh > 24 or (eh == 24 and em):
        problems.append(
            f"{key}: {raw!r} is not on half-hour boundaries 00:00..24:00 (a band starts"
            " at 00:00..23:30 and ends at 00:30..24:00)"
        )
        return None
    first, end = sh * 2 + sm // 30, eh * 2 + em // 30
    if first == end:
        problems.append(f'{key}: {raw!r} is empty or ambiguous; write "00:00-24:00" for all day')
        return None
    return first, end


def _days(raw: Any, key: str, problems: list[str]) -> frozenset[DayKind]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{key}: expected a list of {', '.join(DAY_KINDS)}")
        return frozenset()
    out: set[DayKind] = set()
    for day in raw:
        kind = next((k for k in DAY_KINDS if k == day), None)
        if kind is None:
            problems.append(
                f"{key}: {day!r} is not a kind of day; expected {', '.join(DAY_KINDS)} (a"
                " national holiday is only holiday, whatever its weekday)"
            )
        elif kind in out:
            problems.append(f"{key}: {kind} is listed twice")
        else:
            out.add(kind)
    return frozenset(out)


def _tiers(raw: Any, key: str, problems: list[str]) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{key}: expected a list of tiers, the last without up_to_kwh")
        return ()
    tiers: list[Tier] = []
    before = len(problems)
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        tier = _mapping(item, where, "tier", problems)
        price = _price(tier, where, "price", problems, minimum=Decimal(0))
        last = i == len(raw) - 1
        limit = None
        if last and "up_to_kwh" in tier:
            problems.append(f"{where}.up_to_kwh: the last tier has no limit; leave it out")
        elif not last:
            limit = _price(tier, where, "up_to_kwh", problems, minimum=Decimal(0), what="kWh")
            previous = tiers[-1].up_to_kwh if tiers else Decimal(0)
            if limit is not None and previous is not None and limit <= previous:
                problems.append(
                    f"{where}.up_to_kwh: must be more than {previous} (the tier before)"
                )
        if price is not None:
            tiers.append(Tier(limit, price))
    return tuple(tiers) if len(problems) == before else ()


def _coverage_problems(bands: tuple[Band, ...]) -> list[str]:
    """One line per run of half-hours (on the kinds of day alike) that no band, or more
    than one, covers."""
    runs: dict[tuple[int, int, tuple[str, ...]], list[DayKind]] = {}
    for kind in DAY_KINDS:
        owners = [
            tuple(b.name for b in bands if b.covers(kind, h)) for h in range(HALF_HOURS_PER_DAY)
        ]
        start = 0
        for h in range(1, HALF_HOURS_PER_DAY + 1):
            if h == HALF_HOURS_PER_DAY or owners[h] != owners[start]:
                if len(owners[start]) != 1:
                    runs.setdefault((start, h, owners[start]), []).append(kind)
                start = h
    out = []
    for (start, end, names), kinds in runs.items():
        span = f"{_clock(start)}-{_clock(end)} on {', '.join(kinds)}"
        if names:
            out.append(f"energy.bands: {' and '.join(map(repr, names))} overlap at {span}")
        else:
            out.append(f"energy.bands: no band covers {span}")
    return out


def _clock(half_hour: int) -> str:
    return f"{half_hour // 2:02d}:{half_hour % 2 * 30:02d}"


# -- surcharges ----------------------------------------------------------------------------
def _surcharges(raw: Any, problems: list[str]) -> dict[str, tuple[DatedPrice, ...]]:
    top = _mapping(raw, "surcharges", "surcharges", problems)
    out: dict[str, tuple[DatedPrice, ...]] = {}
    for name, values in top.items():
        key = f"surcharges.{name}"
        if not isinstance(values, list):
            problems.append(f"{key}: expected a list of {{from: YYYY-MM-DD, price: yen per kWh}}")
            continue
        dated = [_dated(item, f"{key}[{i}]", problems) for i, item in enumerate(values)]
        kept = sorted((d for d in dated if d is not None), key=lambda d: d.since)
        days = [d.since for d in kept]
        for day in sorted({d for d in days if days.count(d) > 1}):
            problems.append(f"{key}: two values from {day}; keep one")
        out[name] = tuple(kept)
    return out


def _dated(raw: Any, key: str, problems: list[str]) -> DatedPrice | None:
    item = _mapping(raw, key, "dated", problems)
    since = item.get("from")
    if isinstance(since, str):
        try:
            since = _dt.date.fromisoformat(since)
        except ValueError:
            pass
    if isinstance(since, _dt.datetime) or not isinstance(since, _dt.date):
        problems.append(f"{key}.from: required, a date YYYY-MM-DD (the first day of this value)")
        since = None
    price = _price(item, key, "price", problems, minimum=None)
    return None if since is None or price is None else DatedPrice(since, price)


# -- plumbing ------------------------------------------------------------------------------
def _mapping(
    raw: Any, key: str, kind: str, problems: list[str], *, required: bool = False
) -> dict[str, Any]:
    where = key or "the file"
    if raw is None and required:
        problems.append(f"{where}: required")
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
        return {}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        full = f"{key}.{name}" if key else str(name)
        if name not in _KNOWN[kind]:
            problems.append(f"{full}: unknown key; expected one of {', '.join(_KNOWN[kind])}")
        else:
            out[name] = value
    return out


def _price(
    item: Mapping[str, Any],
    key: str,
    name: str,
    problems: list[str],
    *,
    minimum: Decimal | None,
    what: str = "yen",
) -> Decimal | None:
    """A number as written (a float that did not come through :func:`load_tariff` goes
    through its shortest text)."""
    full = f"{key}.{name}" if key else name
    raw = item.get(name)
    value: Decimal | None = None
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = Decimal(str(raw))
    if value is None or not value.is_finite():
        problems.append(f"{full}: required, a number ({what})")
        return None
    if minimum is not None and value < minimum:
        problems.append(f"{full}: {raw} is not accepted; expected {minimum} or more")
        return None
    return value
