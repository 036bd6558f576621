"""The status page's two inline SVG charts, drawn from numbers alone (no markup comes in).

Sized for phones: the viewBox is 720 units wide and the page's CSS sets the text size in
those units (larger below 560 px, so labels stay >= 11 px at 360 px); value labels sit on
their grid lines inside the plot, not in a margin that would clip "-12,345".
"""

from __future__ import annotations

import datetime
import gettext
import html
from typing import Any, Final

from trio_smartmeter.core.jst import JST
from trio_smartmeter.web.status import HISTORY_WINDOW
from trio_smartmeter.web.today import SLOT_SECONDS

__all__ = ["half_hour_chart", "power_chart"]

W: Final = 720
H: Final = 250
TOP: Final = 34  # room for the top grid line's label
BOTTOM: Final = 36  # room for the time labels
_NBSP: Final = "\N{NO-BREAK SPACE}"
_MINUS: Final = "\N{MINUS SIGN}"


def _empty(label: str, message: str) -> str:
    return (
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{label}">'
        f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">{message}</text></svg>'
    )


def _grid(values: list[tuple[float, str]], y: Any) -> str:
    """A line per value with its label just above it, at the left edge; labels that
    would overlap the previous one are left out."""
    out, last = [], None
    for v, label in sorted(values, key=lambda p: -y(p[0])):
        yy = y(v)
        out.append(f'<line x1="0" x2="{W}" y1="{yy:.1f}" y2="{yy:.1f}" class="axis"/>')
        if last is None or last - yy >= 30:
            out.append(f'<text x="2" y="{yy - 5:.1f}" class="value">{label}</text>')
            last = yy
    return "".join(out)


def _ticks(labels: list[str]) -> str:
    """Evenly spaced labels along the bottom, the first and last kept inside the box."""
    n = len(labels) - 1
    out = []
    for i, label in enumerate(labels):
        anchor = "start" if i == 0 else "end" if i == n else "middle"
        out.append(f'<text x="{W * i / n:.1f}" y="{H - 8}" text-anchor="{anchor}">{label}</text>')
    return "".join(out)


def power_chart(t: gettext.NullTranslations, points: list[list[float]], now_unix: float) -> str:
    def _(message: str) -> str:
        return html.escape(t.gettext(message))

    if not points:
        return _empty(_("no data"), _("no readings in the last hour"))
    start = now_unix - HISTORY_WINDOW
    values = [p[1] for p in points]
    lo, hi = min(0.0, *values), max(0.0, *values)
    if hi - lo < 1:
        hi = lo + 1
    span = hi - lo

    def x(t: float) -> float:
        return (t - start) / HISTORY_WINDOW * W

    def y(v: float) -> float:
        return H - BOTTOM - (v - lo) / span * (H - TOP - BOTTOM)

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    # A single reading draws no line: mark every point too (at most 360 of them).
    dots = "".join(
        f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" class="dot"/>' for t, v in points
    )
    grid = _grid([(v, f"{v:,.0f}{_NBSP}W".replace("-", _MINUS)) for v in sorted({lo, hi, 0.0})], y)
    ticks = _ticks(
        [*(_("\N{MINUS SIGN}{minutes} min").format(minutes=m) for m in (60, 45, 30, 15)), _("now")]
    )
    label = _("power, last hour")
    return (
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{label}">'
        f'{grid}<polyline points="{path}" class="line"/>{dots}{ticks}</svg>'
    )


def _clock(unix: float) -> str:
    return datetime.datetime.fromtimestamp(unix, JST).strftime("%H:%M")


def half_hour_chart(t: gettext.NullTranslations, today: dict[str, Any] | None, date: str) -> str:
    """Bars of kWh bought per half-hour of the meter's day (web/today.py), the live part
    since the last stored half-hour as one lighter bar: the bars add up to "energy today"."""

    def _(message: str) -> str:
        return html.escape(t.gettext(message))

    date = html.escape(date)
    if today is None or (
        today["live_kwh"] is None and not any(v is not None for v in today["half_hours_kwh"])
    ):
        return _empty(_("no half-hours"), _("no half-hours stored yet"))
    values: list[float | None] = today["half_hours_kwh"]
    step = W / len(values)
    midnight = today["midnight_unix"]
    live: float | None = today["live_kwh"]
    live_first = int((today["live_since_unix"] - midnight) // SLOT_SECONDS)
    live_slots = 1
    if live is not None:
        live_last = int((today["live_until_unix"] - midnight) // SLOT_SECONDS)
        live_slots = max(1, min(len(values), live_last + 1) - live_first)
    per_slot = [v for v in values if v is not None] + ([live / live_slots] if live else [])
    hi: float = max([0.1, *per_slot])
    base = H - BOTTOM

    def y(v: float) -> float:
        return base - v / hi * (H - TOP - BOTTOM)

    def bar(i: float, slots: int, v: float, kwh: float, title: str, cls: str) -> str:
        return (
            f'<rect x="{i * step + 1:.1f}" y="{y(v):.1f}" width="{slots * step - 2:.1f}"'
            f' height="{base - y(v):.1f}" class="{cls}"><title>{title}{_NBSP}{kwh:.2f}{_NBSP}kWh'
            "</title></rect>"
        )

    bars = [
        bar(i, 1, v, v, _clock(midnight + i * SLOT_SECONDS), "bar")
        for i, v in enumerate(values)
        if v is not None
    ]
    if live is not None:
        since = _("since {time} (live)").format(time=_clock(today["live_since_unix"]))
        bars.append(bar(live_first, live_slots, live / live_slots, live, since, "bar live"))
    grid = _grid([(0.0, "0"), (hi, f"{hi:.2f}{_NBSP}kWh")], y)
    label = _("kWh per half-hour, {date}").format(date=date)
    return (
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{label}">'
        f"{grid}{''.join(bars)}{_ticks(['00:00', '06:00', '12:00', '18:00', '24:00'])}</svg>"
    )
