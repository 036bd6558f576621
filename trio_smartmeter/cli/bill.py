"""``trio-smartmeter bill``: the household's electricity bill, laid out as a 検針票.

```
trio-smartmeter bill --check FILE
trio-smartmeter bill [--period current|previous] [--tariff FILE] [--store FILE] [--json]
                     [options that choose the state file]
trio-smartmeter bill [--period current|previous] --url https://HOST:9102 [--cacert ca.crt]
                     [--user NAME [--password-file FILE]] [--json]
```

``--check`` reads a tariff file and says what is wrong with it, one line per problem
naming the key (exit 2), or what it charges (exit 0); nothing is started. ``--url`` asks a
running exporter's ``/api/bill`` (its tariff, its meter clock; TLS and basic auth as
``history --url``). Otherwise the bill is computed from the history store file
(read-only: a running exporter is never disturbed), found as ``history`` finds it
(``-state-file``, ``-device sim:...``, ``-demo``; ``SMARTMETER_*``) unless ``--store``
names it. The tariff is ``--tariff`` or ``SMARTMETER_TARIFF_FILE``. "Now" is the meter's
clock as the store last heard it: the end of the newest stored half-hour, so the
statement is "as of" that time.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import textwrap
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from trio_smartmeter.cli.commands import Usage, add_url_arguments
from trio_smartmeter.cli.history import Failure, fetch, read_store, store_path
from trio_smartmeter.core.bill import Bill, PeriodChoice, bill_document, compute_bill
from trio_smartmeter.core.errors import InvalidInput
from trio_smartmeter.core.jst import unix_to_meter_time
from trio_smartmeter.core.tariff import SURCHARGES, Tariff
from trio_smartmeter.i18n import _
from trio_smartmeter.service.tariff_file import read_tariff

PROG = "trio-smartmeter bill"
TARIFF_ENV = "SMARTMETER_TARIFF_FILE"
_LABEL_WIDTH = 30
_SURCHARGE_LABELS = {
    "fuel_cost_adjustment": "燃料費調整額 fuel cost adj.",
    "renewable_energy": "再エネ賦課金 renewable levy",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Usage(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        add_help=False,
        allow_abbrev=False,
        description=_("The electricity bill of a billing period, from the stored half-hours."),
        epilog=_(
            "Without --store the store beside the state file is read; the exporter's "
            "options that choose it (-state-file, -device sim:MODEL, -demo; SMARTMETER_*) apply."
        ),
    )
    p.add_argument("--check", "-check", metavar="FILE", help=_("check a tariff file and exit"))
    p.add_argument("--period", "-period", choices=("current", "previous"), default="current")
    p.add_argument(
        "--tariff",
        "-tariff",
        metavar="FILE",
        help=_("the tariff file (${env})").format(env=TARIFF_ENV),
    )
    p.add_argument("--store", "-store", metavar="FILE", help=_("the history store file to read"))
    p.add_argument("--json", "-json", action="store_true", help=_("the bill as JSON (/api/bill's)"))
    add_url_arguments(p)
    p.add_argument("-h", "--help", action="store_true", help=_("show this help and exit"))
    return p


def bill_main(args: list[str]) -> int:
    parser = _parser()
    try:
        ours, rest = parser.parse_known_args(args)
        if ours.help:
            print(parser.format_help(), end="")
            return 0
        if ours.check is not None:
            _no_more(rest, _("--check takes one file; unexpected {arguments}"))
            tariff = read_tariff(Path(ours.check))
            print(
                _("{path}: valid; {description}").format(
                    path=ours.check, description=describe(tariff)
                )
            )
            return 0
        doc = _from_exporter(ours, rest) if ours.url is not None else _from_store(ours, rest)
    except Usage as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        print(_("{prog}: see --help").format(prog=PROG), file=sys.stderr)
        return 2
    except InvalidInput as exc:  # the tariff file or the options
        for line in exc.problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if ours.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(statement(doc))
    return 0


def _no_more(rest: list[str], message: str) -> None:
    if rest:
        raise Usage(message.format(arguments=" ".join(rest)))


def _from_exporter(ours: argparse.Namespace, rest: list[str]) -> dict[str, Any]:
    """The running exporter's bill (its tariff and meter clock)."""
    _no_more(rest, _("--url reads from the exporter; unexpected {arguments}"))
    if ours.tariff is not None or ours.store is not None:
        raise Usage(_("--url asks the exporter, which has its own tariff and store"))
    answer: dict[str, Any] = json.loads(fetch(ours, "/api/bill", {"period": ours.period}))
    return answer


def _from_store(ours: argparse.Namespace, rest: list[str]) -> dict[str, Any]:
    if ours.cacert or ours.user or ours.password_file:
        raise Usage(_("--cacert, --user and --password-file go with --url"))
    tariff_path = ours.tariff or os.environ.get(TARIFF_ENV)
    if not tariff_path:
        raise Usage(_("no tariff: give --tariff FILE or set {env}").format(env=TARIFF_ENV))
    tariff = read_tariff(Path(tariff_path))
    if ours.store is not None:
        _no_more(rest, _("--store names the store; unexpected {arguments}"))
        store = Path(ours.store)
    else:
        store = store_path(rest, _("name one with --store FILE"))
    return bill_document(tariff, _bill(tariff, store, ours.period))


def describe(tariff: Tariff) -> str:
    """One line: what the tariff charges."""
    energy = (
        _("{count} tiers").format(count=len(tariff.bands[0].tiers))
        if tariff.tiered
        else _("{count} bands ({names})").format(
            count=len(tariff.bands), names=", ".join(b.name for b in tariff.bands)
        )
    )
    sell = (
        ""
        if tariff.sell_price is None
        else _(", sells at {price} yen/kWh").format(price=tariff.sell_price)
    )
    name = f"{tariff.name!r}, " if tariff.name else ""
    return (
        name + _("billing day {day}, {energy}").format(day=tariff.billing_day, energy=energy) + sell
    )


def _bill(tariff: Tariff, store: Path, which: PeriodChoice) -> Bill:
    rows = read_store(store, 0, 2**62)  # at most the store's 100 days
    if not rows:
        raise Failure(_("the history store {path} has no half-hours yet").format(path=store))
    now = unix_to_meter_time(max(r.end_unix for r in rows))
    return compute_bill(tariff, rows, now, which)


# -- the statement -------------------------------------------------------------------------
def statement(doc: Mapping[str, Any]) -> str:
    """The bill (:func:`~trio_smartmeter.core.bill.bill_document`'s, from the store or from
    a running exporter) as a Japanese 検針票 lays it out: period, kWh, each component, total."""
    period = doc["period"]
    start = _dt.date.fromisoformat(period["start"][:10])
    end = _dt.date.fromisoformat(period["end"][:10])
    yen = doc["yen"]
    counted = _dt.datetime.fromisoformat(doc["counted_until"])
    lines = [
        "電気ご使用量のお知らせ (検針票)"
        + ("  [今月分: 途中 so far]" if period["which"] == "current" else ""),
        _row("ご契約 plan", doc["tariff"] or "-"),
        _row(
            "ご使用期間 period",
            f"{_date(start)} 〜 {_date(end - _dt.timedelta(days=1))} ({(end - start).days}日間)",
        ),
        _row("集計 counted until", f"{counted:%Y-%m-%d %H:%M} JST"),
        _row("ご使用量 bought", f"{_kwh(doc['energy_bought_kwh'])} kWh"),
        *_energy_lines(doc),
        _row("基本料金 basic", _yen(yen["basic"])),
        _row("電力量料金 energy", _yen(yen["energy"])),
        *(_surcharge_line(doc, name) for name in SURCHARGES),
        "-" * 60,
        _row("ご請求金額 total", f"{yen['total']:,} 円"),
    ]
    if yen["sold"] is not None and doc.get("sell_price") is not None:
        lines.append(
            _row(
                "売電 sold (paid separately)",
                f"{_kwh(doc['energy_sold_kwh'])} kWh × {_price(doc['sell_price'])} 円"
                f" = {_yen(yen['sold'])}",
            )
        )
    lines.append(_row("欠測 missing half-hours", f"{doc['missing_half_hours']} コマ (30分)"))
    if doc["missing_sold_half_hours"]:
        lines.append(_row("欠測 (売電) missing, sold", f"{doc['missing_sold_half_hours']} コマ"))
    if doc["projection"] is not None and period["which"] == "current":
        lines.extend(_projection_lines(doc["projection"]))
    return "\n".join(lines) + "\n"


def _energy_lines(doc: Mapping[str, Any]) -> list[str]:
    """One line per band (its name) and tier (第N段階, where it has several)."""
    if "tiers" in doc:
        groups = [("", doc["tiers"])]
    else:
        groups = [(band["name"], band["tiers"]) for band in doc["bands"]]
    out = []
    for name, tiers in groups:
        for tier in tiers:
            label = f"{name} 第{tier['tier']}段階".strip() if len(tiers) > 1 else name
            out.append(
                _row(
                    f"  {label}",
                    f"{_kwh(tier['kwh'])} kWh × {_price(tier['price'])} 円 = {_yen(tier['yen'])}",
                )
            )
    return out


def _surcharge_line(doc: Mapping[str, Any], name: str) -> str:
    label = _SURCHARGE_LABELS.get(name, name)
    price = doc["surcharges"][name]["price"]
    if price is None:
        return _row(label, "0 円 (no value in force for this period)")
    return _row(
        label,
        f"{_kwh(doc['energy_bought_kwh'])} kWh × {_price(price)} 円 = {_yen(doc['yen'][name])}",
    )


def _projection_lines(p: Mapping[str, Any]) -> list[str]:
    kwh = _exact(p["energy_bought_kwh"]).quantize(Decimal("0.1"))
    return [
        _row("見込み projection", f"{_kwh(kwh)} kWh, 約 {p['yen']['total']:,} 円"),
        *textwrap.wrap(f"({p['method']})", 88, initial_indent="  ", subsequent_indent="   "),
    ]


def _exact(value: float | Decimal) -> Decimal:
    """A JSON number as the decimal it was written as (``repr``: the shortest that reads back)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _row(label: str, value: str) -> str:
    pad = _LABEL_WIDTH - sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in label)
    return f"{label}{' ' * max(pad, 1)}{value}"


def _date(day: _dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _kwh(value: float | Decimal) -> str:
    text = format(_exact(value).normalize(), "f")
    return text if "." in text else f"{text}.0"


def _yen(value: float | Decimal) -> str:
    return f"{_price(value)} 円"


def _price(value: float | Decimal) -> str:
    """Exact: two decimal places at least, more only where the value has them."""
    exact = _exact(value)
    exponent = exact.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{exact:,.{places}f}"
