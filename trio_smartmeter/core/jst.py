"""Japan Standard Time: the meters' clock (UTC+9, no daylight saving time).

The one definition the package has. A meter reports naive local times (EPC 0x97/0x98,
the EA/EB timestamps); they become Unix times here, never through the host's time zone.
"""

from __future__ import annotations

import datetime

JST = datetime.timezone(datetime.timedelta(hours=9), "JST")


def meter_time_to_unix(at: datetime.datetime) -> float:
    """Unix time of a naive meter-clock time (JST)."""
    return at.replace(tzinfo=JST).timestamp()


def jst_date(unix: float) -> str:
    """ISO date of a Unix time in Japan."""
    return datetime.datetime.fromtimestamp(unix, JST).date().isoformat()


def jst_now(unix: float) -> datetime.datetime:
    """A Unix time as a naive JST wall-clock time, to the second (the demo meter's clock)."""
    return datetime.datetime.fromtimestamp(unix, JST).replace(tzinfo=None, microsecond=0)


def unix_to_meter_time(unix: float) -> datetime.datetime:
    """A Unix time as the meter's naive JST clock reads it."""
    return datetime.datetime.fromtimestamp(unix, JST).replace(tzinfo=None)
