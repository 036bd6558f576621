"""JST conversions never depend on the host's time zone."""

from __future__ import annotations

from datetime import datetime

import pytest

from trio_smartmeter.core.jst import jst_date, jst_now, meter_time_to_unix


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Tokyo"])
def test_conversions_ignore_the_host_zone(tz: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        unix = meter_time_to_unix(datetime(2026, 12, 1, 0, 0))
        assert unix == 1796050800.0  # 2026-11-30T15:00:00Z
        assert jst_date(unix) == "2026-12-01"
        assert jst_date(unix - 1) == "2026-11-30"
        assert jst_now(unix + 0.7) == datetime(2026, 12, 1, 0, 0, 0)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
