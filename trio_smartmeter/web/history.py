"""``GET /api/history``: the stored half-hours as JSON, or as OpenMetrics text that
``promtool tsdb create-blocks-from openmetrics`` takes as it is (one sample per slot,
stamped with the slot's end, ascending, ``# EOF`` last). Pure formatting, no trio.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Sequence
from decimal import Decimal

from trio_smartmeter.core.jst import JST
from trio_smartmeter.core.model import HalfHour

#: When ``since`` is not given: the last day.
DEFAULT_SPAN = 86400.0

FAMILIES = (
    (
        "smartmeter_history_energy_forward_joules",
        "Cumulative energy bought from the grid at the end of each half-hour, as the meter "
        "recorded it (its fixed-time and history registers), in joules.",
        "forward_joules",
    ),
    (
        "smartmeter_history_energy_reverse_joules",
        "Cumulative energy sold to the grid at the end of each half-hour, as the meter "
        "recorded it, in joules.",
        "reverse_joules",
    ),
)


class BadParameter(ValueError):
    """A query parameter that is not a time; the message names it."""


_OFFSET = re.compile(r"\d{2}(:?\d{2})?")


def parse_time(name: str, text: str) -> float:
    """RFC 3339 (``2026-12-01T03:30:00+09:00``, ``...Z``) or a Unix time, as Unix time."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value
        raise BadParameter(f"{name}: not a finite time")
    try:
        at = _dt.datetime.fromisoformat(_plus_restored(text))
    except ValueError:
        raise BadParameter(
            f"{name}: expected RFC 3339 (2026-12-01T03:30:00+09:00) or a Unix time"
        ) from None
    if at.tzinfo is None:
        raise BadParameter(f"{name}: give a UTC offset (e.g. +09:00 or Z)")
    return at.timestamp()


def _plus_restored(text: str) -> str:
    """``2026-12-07T00:00:00 09:00`` -> ``...+09:00``: a ``+`` typed in a URL arrives as
    a space (form encoding); a space before a UTC offset can mean nothing else."""
    head, space, offset = text.rpartition(" ")
    if space and ":" in head and _OFFSET.fullmatch(offset):
        return f"{head}+{offset}"
    return text


def window(query: dict[str, list[str]], now_unix: float) -> tuple[float, float]:
    """``since``/``until`` of a query (defaults: the last day); raises :class:`BadParameter`."""
    until = parse_time("until", query["until"][-1]) if "until" in query else now_unix
    since = parse_time("since", query["since"][-1]) if "since" in query else until - DEFAULT_SPAN
    if since > until:
        raise BadParameter("since: later than until")
    return since, until


def as_json(rows: Sequence[HalfHour], since: float, until: float) -> bytes:
    doc = {
        "since": since,
        "until": until,
        "slots": [
            {
                "end": _dt.datetime.fromtimestamp(r.end_unix, JST).isoformat(),
                "end_unix": r.end_unix,
                "forward_raw": r.forward_raw,
                "reverse_raw": r.reverse_raw,
                "forward_joules": _number(r.forward_joules),
                "reverse_joules": _number(r.reverse_joules),
            }
            for r in rows
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def as_openmetrics(rows: Sequence[HalfHour]) -> bytes:
    lines: list[str] = []
    for name, help_text, field in FAMILIES:
        samples = [(r.end_unix, getattr(r, field)) for r in rows if getattr(r, field) is not None]
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"# UNIT {name} joules")
        lines.extend(f"{name} {_value(v)} {end}" for end, v in sorted(samples))
    lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode()


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _value(value: Decimal) -> str:
    return repr(float(value))
