"""The status page ``/``: :func:`status_page` fills the packaged ``status.html``.

The page is self-contained (no external assets, so it works on an offline LAN) and
refreshes itself. Markup lives in the template; here are only the values, as text, and
every one goes through :func:`html.escape` (a module's firmware string comes from the
serial line). The exceptions are the two charts (power over the last hour, energy per
half-hour of the meter's day), SVG drawn here from numbers alone.
"""

from __future__ import annotations

import datetime
import functools
import html
import importlib.resources
import string
from typing import Any, Final

from trio_smartmeter.core.jst import JST
from trio_smartmeter.web.status import HISTORY_WINDOW, SLOT_SECONDS

__all__ = ["status_page"]

_NONE: Final = "\N{EN DASH}"
_NBSP: Final = "\N{NO-BREAK SPACE}"
_SEP: Final = " \N{EM DASH} "


@functools.cache
def _template() -> string.Template:
    # Read on the first page view, not at import: the server's start stays lean.
    text = (
        importlib.resources.files("trio_smartmeter.web").joinpath("status.html").read_text("utf-8")
    )
    return string.Template(text)


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return _NONE if value is None else f"{value:,.{digits}f}{_NBSP}{unit}"


def _energy_today(today: dict[str, Any] | None) -> str:
    if today is None:
        return _NONE
    since = datetime.datetime.fromtimestamp(today["since_unix"], JST).strftime("%H:%M")
    kwh = _fmt(today["energy_forward_kwh"], "kWh", 2)
    return kwh if since == "00:00" else f"{kwh} (since {since} JST)"


def _link(status: dict[str, Any]) -> str:
    text: str = status["session_state"]
    if status["session_up"]:
        text += " (session up)"
    if status["credentials_latched"]:
        text += _SEP + "B-route ID/password rejected"
    if status["rate_limited"]:
        text += _SEP + "transmit-time limit active"
    return text


def _module(module: dict[str, Any] | None) -> str:
    if module is None:
        return _NONE
    return (
        f"{module['model']} firmware {module['firmware']}, "
        f"{module['dialect']}, {module['payload_format']}"
    )


def _power_chart(points: list[list[float]], now_unix: float) -> str:
    w, h, pad = 720, 200, 60  # room for labels such as "-12,345"
    start = now_unix - HISTORY_WINDOW
    if not points:
        return (
            f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="no data">'
            f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle">no readings in the last hour</text>'
            "</svg>"
        )
    values = [p[1] for p in points]
    lo, hi = min(0.0, *values), max(0.0, *values)
    if hi - lo < 1:
        hi = lo + 1
    span = hi - lo

    def x(t: float) -> float:
        return pad + (t - start) / HISTORY_WINDOW * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad / 2 - (v - lo) / span * (h - pad)

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    # A single reading draws no line: mark every point too (at most 360 of them).
    dots = "".join(
        f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" class="dot"/>' for t, v in points
    )
    zero = y(0.0)
    labels = "".join(
        f'<text x="{pad - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>'
        for v in sorted({lo, hi, 0.0})
    )
    ticks = "".join(
        f'<text x="{x(now_unix - m * 60):.1f}" y="{h - 2}" text-anchor="middle">-{m} min</text>'
        for m in (60, 45, 30, 15)
    )
    return (
        f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="power, last hour">'
        f'<line x1="{pad}" x2="{w - pad}" y1="{zero:.1f}" y2="{zero:.1f}" class="axis"/>'
        f'<polyline points="{path}" class="line"/>{dots}{labels}{ticks}'
        f'<text x="{w - pad}" y="{h - 2}" text-anchor="end">now (W)</text></svg>'
    )


def _half_hour_chart(day: dict[str, Any] | None) -> str:
    """Bars of kWh bought per half-hour (a :func:`~trio_smartmeter.web.status.half_hours_of_day`)."""
    w, h, pad = 720, 200, 60
    if day is None or not any(v is not None for v in day["kwh"]):
        return (
            f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="no half-hours">'
            f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle">'
            "no half-hours stored yet</text></svg>"
        )
    values: list[float | None] = day["kwh"]
    hi = max(0.1, *(v for v in values if v is not None))
    step = (w - 2 * pad) / len(values)
    base = h - pad / 2

    def y(v: float) -> float:
        return base - v / hi * (h - pad)

    bars = []
    for i, v in enumerate(values):
        if v is None:
            continue
        start = datetime.datetime.fromtimestamp(day["midnight_unix"] + i * SLOT_SECONDS, JST)
        label = f"{start:%H:%M}{_NBSP}{v:.2f}{_NBSP}kWh"
        bars.append(
            f'<rect x="{pad + i * step + 1:.1f}" y="{y(v):.1f}" width="{step - 2:.1f}"'
            f' height="{base - y(v):.1f}" class="bar"><title>{label}</title></rect>'
        )
    labels = "".join(
        f'<text x="{pad - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>'
        for v in (0.0, hi)
    )
    ticks = "".join(
        f'<text x="{pad + hour * 2 * step:.1f}" y="{h - 2}" text-anchor="middle">{hour:02d}:00</text>'
        for hour in (0, 6, 12, 18, 24)
    )
    return (
        f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="kWh per half-hour, {day["date"]}">'
        f'<line x1="{pad}" x2="{w - pad}" y1="{base:.1f}" y2="{base:.1f}" class="axis"/>'
        f"{''.join(bars)}{labels}{ticks}"
        f'<text x="{w - pad}" y="{pad / 4:.1f}" text-anchor="end">'
        f"{day['date']} JST, meter clock (kWh)</text></svg>"
    )


def status_page(
    status: dict[str, Any], *, now_unix: float, half_hours: dict[str, Any] | None = None
) -> bytes:
    """The HTML page for a :func:`~trio_smartmeter.web.status.status_dict`; ``half_hours``
    (:func:`~trio_smartmeter.web.status.half_hours_of_day`) draws the bar chart."""
    fresh = status["up"]
    # Readings are shown only while fresh, as on /metrics.
    r = status["reading"] or {}
    shown = r if fresh else {}
    age = r.get("age_seconds")
    text = {
        "refresh": str(int(min(max(status["interval_seconds"], 10), 60))),
        "version": status["version"],
        "freshness_class": "ok" if fresh else "bad",
        "freshness": "meter data fresh" if fresh else "no fresh meter data",
        "power": _fmt(shown.get("power_watts"), "W", 0),
        "link": _link(status),
        "module": _module(status["module"]),
        "currents": f"{_fmt(shown.get('current_r_amperes'), 'A')} / "
        f"{_fmt(shown.get('current_t_amperes'), 'A')}",
        "energy_today": _energy_today(status["today"]),
        "link_quality": _fmt(status["rssi_dbm"], "dBm", 0),
        "last_reading": "never"
        if age is None
        else f"{age:.0f} s ago" + ("" if fresh else " (stale)"),
    }
    values = {name: html.escape(value) for name, value in text.items()}
    values["power_chart"] = _power_chart(status["history"], now_unix)
    values["half_hour_chart"] = _half_hour_chart(half_hours)
    return _template().substitute(values).encode()
