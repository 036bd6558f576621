"""The status page ``/``: :func:`status_page` fills the packaged ``status.html``.

The page is self-contained (no external assets, so it works on an offline LAN) and
refreshes itself. Markup lives in the template; here are only the values, as text, and
every one goes through :func:`html.escape` (a module's firmware string comes from the
serial line). The exceptions are the two charts (power over the last hour, energy per
half-hour of the meter's day), SVG drawn here from numbers alone (web/charts.py).

Every label comes from the gettext catalog of the negotiated language
(:mod:`trio_smartmeter.web.language`); numbers carry a thousands separator in both
languages (1,234 W), dates are 2026年12月7日 in Japanese and 7 Dec 2026 in English.
"""

from __future__ import annotations

import datetime
import functools
import gettext
import html
import importlib.resources
import string
from typing import TYPE_CHECKING, Any, Final

from trio_smartmeter.core.jst import JST
from trio_smartmeter.i18n import translation
from trio_smartmeter.web.charts import half_hour_chart, power_chart

if TYPE_CHECKING:
    from trio_smartmeter.core.bill import Bills, Charges

__all__ = ["bill_section", "day_label", "status_page"]

_NONE: Final = "\N{EN DASH}"
_NBSP: Final = "\N{NO-BREAK SPACE}"
_TO: Final = " \N{EN DASH} "
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


@functools.cache
def _template() -> string.Template:
    # Read on the first page view, not at import: the server's start stays lean.
    text = (
        importlib.resources.files("trio_smartmeter.web").joinpath("status.html").read_text("utf-8")
    )
    return string.Template(text)


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return _NONE if value is None else f"{value:,.{digits}f}{_NBSP}{unit}"


def day_label(iso_date: str, lang: str) -> str:
    """2026年12月7日 / 7 Dec 2026."""
    d = datetime.date.fromisoformat(iso_date)
    return (
        f"{d.year}年{d.month}月{d.day}日"
        if lang == "ja"
        else f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
    )


def _clock(unix: float) -> str:
    return datetime.datetime.fromtimestamp(unix, JST).strftime("%H:%M")


def _energy_today(t: gettext.NullTranslations, today: dict[str, Any] | None) -> str:
    _ = t.gettext
    if today is None:
        return _NONE
    kwh = _fmt(today["energy_forward_kwh"], "kWh", 2)
    notes = []
    if today["since_unix"] != today["midnight_unix"]:
        notes.append(_("since {time} JST").format(time=_clock(today["since_unix"])))
    if today["live_kwh"] is None:  # no reading of today past the last stored half-hour
        notes.append(_("until {time} JST").format(time=_clock(today["live_since_unix"])))
    if today["missing_half_hours"]:
        notes.append(_("half-hours not stored: {n}").format(n=today["missing_half_hours"]))
    return f"{kwh} ({', '.join(notes)})" if notes else kwh


def _session(t: gettext.NullTranslations, state: str) -> str:
    """A session state in words (``/api/status`` keeps the stable code)."""
    _ = t.gettext
    words = {
        "starting": _("starting"),
        "no_device": _("no Wi-SUN stick"),
        "initialising": _("setting up the Wi-SUN stick"),
        "scanning": _("looking for the meter"),
        "joining": _("connecting to the meter"),
        "ready": _("connected to the meter"),
        "reauth": _("the meter is renewing the session"),
        "rate_limited": _("pausing: transmit-time limit"),
        "backoff": _("waiting before trying again"),
        "latched": _("B-route ID/password rejected"),
        "unsupported": _("unsupported Wi-SUN stick"),
        "stopping": _("stopping"),
    }
    return words.get(state, state)


def _problem(t: gettext.NullTranslations, status: dict[str, Any]) -> str:
    """What is wrong and what to do, in words; empty while all is well."""
    _ = t.gettext
    device = status.get("device") or _("the configured device")
    if status["credentials_latched"] or status["session_state"] == "latched":
        return _(
            "The meter rejected the B-route ID/password. Check SMARTMETER_ID and "
            "SMARTMETER_PASSWORD (from the power company's B-route application) and restart; "
            "until then the exporter retries slowly."
        )
    if status["rate_limited"] or status["session_state"] == "rate_limited":
        return _(
            "The Wi-SUN stick reached its transmit-time limit (EVENT 32). Nothing to do: "
            "readings resume by themselves when the limit lifts (EVENT 33, within an hour)."
        )
    if status["session_state"] == "no_device":
        return _(
            "No Wi-SUN stick at {device}. Is the stick plugged in? Check the device path "
            "(SMARTMETER_DEVICE; /dev/serial/by-id/... names stay stable), that this user is "
            "in the 'dialout' group, and that no other program holds the stick."
        ).format(device=device)
    if status["session_state"] == "unsupported":
        return _(
            "The stick at {device} does not speak SKSTACK IP (e.g. a J11 binary-protocol "
            "stick). Use one of the sticks the README lists."
        ).format(device=device)
    if status["up"]:
        return ""
    if status["reading"] is None:
        return _(
            "No meter reading yet. The first one comes once the stick has found and joined "
            "the meter, usually within two minutes; if it takes longer, see the exporter's log."
        )
    return _(
        "The last meter reading is too old. The link to the meter is being recovered; "
        "if this lasts, move the stick closer to the meter or see the exporter's log."
    )


def _link(t: gettext.NullTranslations, status: dict[str, Any]) -> str:
    _ = t.gettext
    text = _session(t, status["session_state"])
    session_up = _("session up")
    return f"{text} ({session_up})" if status["session_up"] else text


def _module(t: gettext.NullTranslations, module: dict[str, Any] | None) -> str:
    if module is None:
        return _NONE
    return t.gettext("{model} firmware {firmware}, {dialect}, {payload_format}").format(**module)


def _last_reading(t: gettext.NullTranslations, status: dict[str, Any]) -> str:
    age = (status["reading"] or {}).get("age_seconds")
    if age is None:
        return t.gettext("never")
    text = t.gettext("{seconds:,.0f} s ago").format(seconds=age)
    stale = t.gettext("stale")
    return text if status["up"] else f"{text} ({stale})"


def _texts(t: gettext.NullTranslations, status: dict[str, Any], lang: str) -> dict[str, str]:
    _ = t.gettext
    fresh = status["up"]
    # Readings are shown only while fresh, as on /metrics.
    shown = (status["reading"] or {}) if fresh else {}
    today = status["today"]
    return {
        "refresh": str(int(min(max(status["interval_seconds"], 10), 60))),
        "version": status["version"],
        "freshness_class": "ok" if fresh else "bad",
        "freshness": _("meter data fresh") if fresh else _("no fresh meter data"),
        "problem": _problem(t, status),
        "power": _fmt(shown.get("power_watts"), "W", 0),
        "link": _link(t, status),
        "module": _module(t, status["module"]),
        "currents": f"{_fmt(shown.get('current_r_amperes'), 'A')} / "
        f"{_fmt(shown.get('current_t_amperes'), 'A')}",
        "energy_today": _energy_today(t, today),
        "link_quality": _fmt(status["rssi_dbm"], "dBm", 0),
        "last_reading": _last_reading(t, status),
        "tagline": _(
            "Prometheus exporter for a Japanese smart electricity meter (Wi-SUN B-route)."
        ),
        "status_json": _("status JSON"),
        "ready": _("ready"),
        "th_link": _("Link / session"),
        "th_module": _("Module"),
        "th_currents": _("Current R / T"),
        "th_energy_today": _("Energy today (bought)"),
        "th_link_quality": _("Link quality"),
        "th_last_reading": _("Last reading"),
        "h_power": _("Power, last hour"),
        "h_half_hours": _("Energy bought per half-hour")
        if today is None
        else _("Energy bought per half-hour, {date}").format(date=day_label(today["date"], lang)),
    }


def bill_section(t: gettext.NullTranslations, bills: Bills | None, lang: str) -> str:
    """This period's bill so far, its projection and the price now (issue 21); nothing
    without a tariff (or before the meter's clock is known). Every value is escaped."""
    if bills is None:
        return ""
    _ = t.gettext
    bill, charges = bills.current, bills.current.charges
    last_day = (bill.period.end - datetime.timedelta(days=1)).date().isoformat()
    period = day_label(bill.period.start.date().isoformat(), lang) + _TO
    rows = [
        (_("Billing period"), f"{period}{day_label(last_day, lang)} ({bills.tariff.name})"),
        (
            _("So far"),
            _("{yen} yen, {kwh} kWh bought (until {time} JST, meter clock)").format(
                yen=f"{charges.total:,}",
                kwh=f"{charges.bought_kwh:,.1f}",
                time=f"{bill.counted_until:%H:%M}",
            ),
        ),
        (_("Projection to the period's end"), _projection(t, bill.projection)),
        (
            _("Price now"),
            _("{price} yen/kWh ({band})").format(
                price=f"{bills.price.total:.2f}",
                band=_("tier {n}").format(n=bills.price.tier)
                if bills.tariff.tiered
                else bills.price.band,
            ),
        ),
        (
            _("Half-hours missing"),
            _("{n} (not counted, never as zero)").format(n=bill.missing_half_hours),
        ),
    ]
    if charges.sold is not None:
        rows.insert(
            2, (_("Sold (paid separately)"), _("{yen} yen").format(yen=f"{charges.sold:,.0f}"))
        )
    cells = "".join(
        f"<tr><th>{html.escape(th)}</th><td>{html.escape(td)}</td></tr>\n" for th, td in rows
    )
    heading = html.escape(_("This period's bill"))
    link = html.escape(_("bill JSON"))
    return f'<h2>{heading}</h2>\n<table>\n{cells}</table>\n<p><a href="api/bill">{link}</a></p>'


def _projection(t: gettext.NullTranslations, projection: Charges | None) -> str:
    if projection is None:
        return _NONE
    return t.gettext("about {yen} yen, {kwh} kWh (each band's average half-hour so far)").format(
        yen=f"{projection.total:,}", kwh=f"{projection.bought_kwh:,.0f}"
    )


def status_page(
    status: dict[str, Any],
    *,
    now_unix: float,
    language: str = "en",
    bills: Bills | None = None,
) -> bytes:
    """The HTML page for a :func:`~trio_smartmeter.web.status.status_dict`, in ``language``
    (one of :data:`~trio_smartmeter.web.language.LANGUAGES`); ``bills``
    (``ExporterState.bills``) adds the bill section."""
    t = translation((language,))
    values = {name: html.escape(value) for name, value in _texts(t, status, language).items()}
    values["lang"] = language
    values["problem_block"] = (
        f'<p class="problem" role="alert">{values["problem"]}</p>' if values["problem"] else ""
    )
    del values["problem"]
    values["power_chart"] = power_chart(t, status["history"], now_unix)
    today = status["today"]
    date = "" if today is None else day_label(today["date"], language)
    values["half_hour_chart"] = half_hour_chart(t, today, date)
    values["bill"] = bill_section(t, bills, language)
    return _template().substitute(values).encode()
