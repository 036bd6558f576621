"""The bill sensors (issue 21) follow the bill keeper: off without a bill, then the bill so
far in whole yen and the price now."""

from __future__ import annotations

from decimal import Decimal

from tests.web.helpers import reading
from tests.web.test_metrics import example_bills
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.service.mqtt import identity_of, sample_of


def test_the_bill_and_the_price_come_from_the_keepers_bills() -> None:
    state = ExporterState()
    r = reading(100.0, 1.7e9)
    assert not identity_of(state, r, three_wire=True).bill
    assert sample_of(state, r, 100.0).bill_yen is None
    state.bills = example_bills()
    assert identity_of(state, r, three_wire=True).bill
    sample = sample_of(state, r, 100.0)
    assert sample.bill_yen == Decimal(1309)
    # 29.80 (first tier) - 1.98 + 3.98
    assert sample.price_yen_per_kwh == Decimal("31.80")
