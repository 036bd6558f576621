"""``trio-smartmeter bill``: the household's electricity bill, laid out as a 検針票.

```
trio-smartmeter bill --check FILE
trio-smartmeter bill [--period current|previous] [--tariff FILE] [--store FILE] [--json]
                     [options that choose the state file]
```

``--check`` reads a tariff file and says what is wrong with it, one line per problem
naming the key (exit 2), or what it charges (exit 0); nothing is started. Otherwise the
bill is computed from the history store file (read-only: a running exporter is never
disturbed), found as ``history`` finds it (``-state-file``, ``-device sim:...``,
``-demo``; ``SMARTMETER_*``) unless ``--store`` names it. The tariff is ``--tariff`` or
``SMARTMETER_TARIFF_FILE``. "Now" is the meter's clock as the store last heard it: the end
of the newest stored half-hour, so the statement is "as of" that time.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sqlite3
import sys
import textwrap
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

from trio_smartmeter.cli.options import ConfigError, HelpRequested, VersionRequested, load_config
from trio_smartmeter.cli.simulator import simulator
from trio_smartmeter.core.bill import (
    PROJECTION_METHOD,
    Bill,
    Charges,
    PeriodChoice,
    bill_document,
    compute_bill,
)
from trio_smartmeter.core.jst import unix_to_meter_time
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.tariff import Tariff, TariffError, load_tariff
from trio_smartmeter.i18n import _
from trio_smartmeter.service.settings import history_file

PROG = "trio-smartmeter bill"
TARIFF_ENV = "SMARTMETER_TARIFF_FILE"
_LABEL_WIDTH = 30
_SURCHARGE_LABELS = {
    "fuel_cost_adjustment": "燃料費調整額 fuel cost adj.",
    "renewable_energy": "再エネ賦課金 renewable levy",
}


class _Usage(Exception):
    """A bad argument or file (exit status 2)."""


class _Failure(Exception):
    """The bill could not be had (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(message)


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
            if rest:
                raise _Usage(
                    _("--check takes one file; unexpected {arguments}").format(
                        arguments=" ".join(rest)
                    )
                )
            tariff = read_tariff(Path(ours.check))
            print(
                _("{path}: valid; {description}").format(
                    path=ours.check, description=describe(tariff)
                )
            )
            return 0
        tariff_path = ours.tariff or os.environ.get(TARIFF_ENV)
        if not tariff_path:
            raise _Usage(_("no tariff: give --tariff FILE or set {env}").format(env=TARIFF_ENV))
        tariff = read_tariff(Path(tariff_path))
        store = Path(ours.store) if ours.store is not None else _store_path(rest)
        if ours.store is not None and rest:
            raise _Usage(
                _("--store names the store; unexpected {arguments}").format(
                    arguments=" ".join(rest)
                )
            )
        bill = _bill(tariff, store, ours.period)
    except _Usage as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        print(_("{prog}: see --help").format(prog=PROG), file=sys.stderr)
        return 2
    except TariffError as exc:
        for line in exc.problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except _Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if ours.json:
        print(json.dumps(bill_document(tariff, bill), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(statement(tariff, bill))
    return 0


def read_tariff(path: Path) -> Tariff:
    """The tariff in ``path``; :class:`TariffError` names the file in every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TariffError(
            [_("{path}: cannot read the file: {reason}").format(path=path, reason=reason)]
        ) from None
    try:
        return load_tariff(text)
    except TariffError as exc:
        raise TariffError([f"{path}: {line}" for line in exc.problems]) from None


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


def _store_path(rest: list[str]) -> Path:
    # until the exporter's option table knows the tariff file, its variable is ours alone
    environ = {k: v for k, v in os.environ.items() if k != TARIFF_ENV}
    try:
        cfg = load_config(rest, environ, simulator=simulator, require_credentials=False)
    except (HelpRequested, VersionRequested):
        raise _Usage(_("see --help for this command's options")) from None
    path = history_file(cfg)
    if path is None or not path.is_file():
        raise _Failure(
            _(
                "no history store at {path} (the exporter keeps it beside its state file,"
                " -state-file); name one with --store FILE"
            ).format(path=path)
        )
    return path


def _bill(tariff: Tariff, store: Path, which: PeriodChoice) -> Bill:
    rows = read_store(store)
    if not rows:
        raise _Failure(_("the history store {path} has no half-hours yet").format(path=store))
    now = unix_to_meter_time(max(r.end_unix for r in rows))
    return compute_bill(tariff, rows, now, which)


def read_store(path: Path) -> list[HalfHour]:
    """Every stored half-hour (at most the store's 100 days), opened read-only."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT end_unix, forward_raw, reverse_raw, forward_joules, reverse_joules"
                " FROM half_hours ORDER BY end_unix"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise _Failure(
            _("cannot read the history store {path}: {error}").format(path=path, error=exc)
        ) from None
    return [
        HalfHour(
            e, fr, rr, None if fj is None else Decimal(fj), None if rj is None else Decimal(rj)
        )
        for e, fr, rr, fj, rj in rows
    ]


# -- the statement -------------------------------------------------------------------------
def statement(tariff: Tariff, bill: Bill) -> str:
    """The bill as a Japanese 検針票 lays it out: period, kWh, each component, total."""
    c = bill.charges
    start, end = bill.period.start.date(), bill.period.end.date()
    lines = [
        "電気ご使用量のお知らせ (検針票)"
        + ("  [今月分: 途中 so far]" if bill.which == "current" else ""),
        _row("ご契約 plan", tariff.name or "-"),
        _row(
            "ご使用期間 period",
            f"{_date(start)} 〜 {_date(end - _dt.timedelta(days=1))} ({(end - start).days}日間)",
        ),
        _row("集計 counted until", f"{bill.counted_until:%Y-%m-%d %H:%M} JST"),
        _row("ご使用量 bought", f"{_kwh(c.bought_kwh)} kWh"),
        *_energy_lines(tariff, c),
        _row("基本料金 basic", _yen(c.basic)),
        _row("電力量料金 energy", _yen(c.energy)),
        *(_surcharge_line(c, i) for i in range(len(c.surcharges))),
        "-" * 60,
        _row("ご請求金額 total", f"{c.total:,} 円"),
    ]
    if c.sold is not None and c.sold_kwh is not None and tariff.sell_price is not None:
        lines.append(
            _row(
                "売電 sold (paid separately)",
                f"{_kwh(c.sold_kwh)} kWh × {tariff.sell_price} 円 = {_yen(c.sold)}",
            )
        )
    lines.append(_row("欠測 missing half-hours", f"{bill.missing_half_hours} コマ (30分)"))
    if bill.missing_sold_half_hours:
        lines.append(_row("欠測 (売電) missing, sold", f"{bill.missing_sold_half_hours} コマ"))
    if bill.projection is not None and bill.which == "current":
        lines.extend(_projection_lines(bill.projection))
    return "\n".join(lines) + "\n"


def _energy_lines(tariff: Tariff, c: Charges) -> list[str]:
    """One line per band (its name) and tier (第N段階, where it has several)."""
    tier_counts = {band.name: len(band.tiers) for band in tariff.bands}
    out = []
    for line in c.lines:
        label = "" if tariff.tiered else line.band
        if tier_counts[line.band] > 1:
            label = f"{label} 第{line.tier}段階".strip()
        out.append(_row(f"  {label}", f"{_kwh(line.kwh)} kWh × {line.price} 円 = {_yen(line.yen)}"))
    return out


def _surcharge_line(c: Charges, index: int) -> str:
    s = c.surcharges[index]
    label = _SURCHARGE_LABELS.get(s.name, s.name)
    if s.price is None:
        return _row(label, "0 円 (no value in force for this period)")
    return _row(label, f"{_kwh(c.bought_kwh)} kWh × {s.price} 円 = {_yen(s.yen)}")


def _projection_lines(p: Charges) -> list[str]:
    return [
        _row(
            "見込み projection",
            f"{_kwh(p.bought_kwh.quantize(Decimal('0.1')))} kWh, 約 {p.total:,} 円",
        ),
        *textwrap.wrap(f"({PROJECTION_METHOD})", 88, initial_indent="  ", subsequent_indent="   "),
    ]


def _row(label: str, value: str) -> str:
    pad = _LABEL_WIDTH - sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in label)
    return f"{label}{' ' * max(pad, 1)}{value}"


def _date(day: _dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _kwh(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _yen(value: Decimal) -> str:
    """Exact: two decimal places at least, more only where the value has them."""
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{places}f} 円"
