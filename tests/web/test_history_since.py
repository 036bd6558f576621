"""``/api/history?since=`` as typed in a URL (issue 19 item 3): a ``+`` arrives as a space."""

from __future__ import annotations

import urllib.parse

import pytest

from trio_smartmeter.web.history import BadParameter, parse_time, window

MIDNIGHT = 1_796_569_200  # 2026-12-07T00:00:00+09:00


def test_a_plus_typed_in_a_url_arrives_as_a_space_and_is_accepted() -> None:
    query = urllib.parse.parse_qs("since=2026-12-07T00:00:00+09:00&until=1796572800")
    assert query["since"] == ["2026-12-07T00:00:00 09:00"]  # what the server gets
    assert window(query, now_unix=MIDNIGHT + 7200) == (MIDNIGHT, 1_796_572_800)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-07T00:00:00+09:00",
        "2026-12-07T00:00:00 09:00",
        "2026-12-07T00:00 09:00",
        "2026-12-07 00:00:00 09:00",
        "2026-12-06T15:00:00Z",
        "2026-12-07T00:00:00 0900",
    ],
)
def test_the_same_instant_however_it_arrives(text: str) -> None:
    assert parse_time("since", text) == MIDNIGHT


@pytest.mark.parametrize("text", ["2026-12-07T00:00:00 9", "2026-12-07 09:00x", "today 09:00"])
def test_a_space_is_no_licence_for_anything_else(text: str) -> None:
    with pytest.raises(BadParameter):
        parse_time("since", text)
