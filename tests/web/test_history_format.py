"""``web/history``: the time parameters and the two renderings of ``/api/history``, directly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.web import history

T0 = 1_796_050_800  # 2026-12-01 00:00 JST
ROWS = [
    HalfHour(T0 + 1800, 1000, 5, Decimal(360_000_000), Decimal(1_800_000)),
    HalfHour(T0 + 3600, 1003, None, Decimal("361080000.5"), None),  # reverse unknown
    HalfHour(T0 + 5400, None, 6, None, Decimal(2_160_000)),  # forward unknown
]


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("2026-12-01T00:00:00+09:00", T0),
        ("2026-11-30T15:00:00Z", T0),
        (str(T0), T0),
        (f"{T0}.5", T0 + 0.5),
    ],
)
def test_a_time_is_rfc3339_or_unix(text: str, unix: float) -> None:
    assert history.parse_time("since", text) == unix


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-12-01T00:00:00", "UTC offset"),
        ("yesterday", "RFC 3339"),
        ("inf", "finite"),
        ("nan", "finite"),
    ],
)
def test_a_bad_time_names_the_parameter_and_the_way_forward(text: str, says: str) -> None:
    with pytest.raises(history.BadParameter, match=f"^until: .*{says}"):
        history.parse_time("until", text)


def test_the_window_defaults_to_the_last_day_and_must_be_ordered() -> None:
    assert history.window({}, T0) == (T0 - 86400, T0)
    assert history.window({"until": [str(T0)]}, 0) == (T0 - 86400, T0)
    assert history.window({"since": ["1", str(T0 - 5)]}, T0) == (T0 - 5, T0)  # the last wins
    with pytest.raises(history.BadParameter, match="since: later than until"):
        history.window({"since": [str(T0 + 1)], "until": [str(T0)]}, T0)


def test_json_has_every_slot_with_absent_values_as_null() -> None:
    doc = json.loads(history.as_json(ROWS, T0, T0 + 5400))
    assert (doc["since"], doc["until"]) == (T0, T0 + 5400)
    first, second, third = doc["slots"]
    assert first == {
        "end": "2026-12-01T00:30:00+09:00",
        "end_unix": T0 + 1800,
        "forward_raw": 1000,
        "reverse_raw": 5,
        "forward_joules": 360_000_000.0,
        "reverse_joules": 1_800_000.0,
    }
    assert second["reverse_raw"] is None and second["reverse_joules"] is None
    assert third["forward_raw"] is None and third["forward_joules"] is None


def test_openmetrics_has_only_known_values_stamped_with_the_slot_end() -> None:
    text = history.as_openmetrics(ROWS).decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    forward = families["smartmeter_history_energy_forward_joules"]
    reverse = families["smartmeter_history_energy_reverse_joules"]
    assert forward.unit == reverse.unit == "joules"
    assert [(s.value, float(s.timestamp)) for s in forward.samples] == [
        (360_000_000.0, T0 + 1800),
        (361_080_000.5, T0 + 3600),
    ]
    assert [float(s.timestamp) for s in reverse.samples] == [T0 + 1800, T0 + 5400]


def test_an_empty_store_is_still_a_valid_exposition() -> None:
    text = history.as_openmetrics([]).decode()
    assert [f.samples for f in text_string_to_metric_families(text)] == [[], []]
    assert json.loads(history.as_json([], 0, 1))["slots"] == []
