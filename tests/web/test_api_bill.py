"""``/api/bill``: 404 without a tariff, 400 for a period that is not one, 503 until the
keeper has a bill, then ``bill_document``'s JSON."""

from __future__ import annotations

import json

from tests.web.helpers import VERSION, Clock, call
from tests.web.test_metrics import example_bills
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.metrics import build_registry
from trio_smartmeter.web.router import ExporterApp


def app(state: ExporterState, *, billing: bool) -> ExporterApp:
    mono = Clock(100.0)
    return ExporterApp(
        state, build_registry(state, mono), monotonic=mono, version=VERSION, billing=billing
    )


async def test_without_a_tariff_there_is_no_bill() -> None:
    status, _, body = await call(app(ExporterState(), billing=False), "/api/bill")
    assert status == 404
    assert b"SMARTMETER_TARIFF_FILE" in body


async def test_a_bad_period_then_no_bill_yet_then_the_bill() -> None:
    state = ExporterState()
    billing = app(state, billing=True)
    status, _, body = await call(billing, "/api/bill?period=last")
    assert (status, body) == (400, b"period: expected current or previous\n")
    status, headers, body = await call(billing, "/api/bill")
    assert status == 503
    assert headers[b"retry-after"] == b"1"
    assert b"meter's clock" in body
    state.bills = example_bills()
    status, headers, body = await call(billing, "/api/bill")
    assert (status, headers[b"content-type"]) == (200, b"application/json")
    doc = json.loads(body)
    assert doc["period"]["start"] == "2026-12-15T00:00:00+09:00"
    assert doc["energy_bought_kwh"] == 2.0
    assert doc["yen"]["total"] == 1309  # floor(1247 + 59.60 - 3.96) + floor(7.96)
    assert doc["yen"]["sold"] == 16.0
    status, _, body = await call(billing, "/api/bill?period=previous")
    assert json.loads(body)["missing_half_hours"] == 30 * 48


async def test_the_status_page_shows_this_periods_bill_only_with_one() -> None:
    state = ExporterState()
    page = app(state, billing=True)
    _, _, body = await call(page, "/")
    assert b"api/bill" not in body  # nothing of the bill without one
    state.bills = example_bills()
    _, _, body = await call(page, "/")
    text = body.decode()
    assert "<h2>This period&#x27;s bill</h2>" in text
    assert "15 Dec 2026 \N{EN DASH} 14 Jan 2027" in text
    assert "1,309 yen, 2.0 kWh bought (until 01:00 JST, meter clock)" in text
    assert "about 57,593 yen" in text  # the projection (as on /metrics)
    assert "31.80 yen/kWh (tier 1)" in text
    assert "16 yen" in text  # sold, paid separately
    _, _, body = await call(page, "/?lang=ja")
    text = body.decode()
    assert "<h2>今期の電気料金</h2>" in text
    assert "2026年12月15日 \N{EN DASH} 2027年1月14日" in text
    assert "1,309 円、買電 2.0 kWh" in text
