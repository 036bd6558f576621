"""Which half-hours are missing, and which frames read them back (fewest, newest first)."""

from __future__ import annotations

from datetime import datetime, timedelta

from trio_smartmeter.core.echonet.history import HistoryTime, Slot
from trio_smartmeter.core.history_plan import (
    Capabilities,
    GetDay,
    GetLatest,
    GetWindow,
    SetDay,
    SetWindow,
    missing_slots,
    plan,
    slot_span,
)

NOW = datetime(2026, 12, 1, 3, 30)  # the meter's latest boundary (JST)


def end(at: datetime) -> int:
    return int(Slot.ending_at(at).unix_end)


def test_an_empty_store_looks_back_one_day() -> None:
    missing = missing_slots(NOW, set(), oldest_known_end=None)
    assert len(missing) == 48
    assert missing[0] == Slot.ending_at(NOW)  # newest first
    assert missing[-1].start == NOW - timedelta(days=1)


def test_a_gap_in_a_longer_store_is_found_and_unavailable_slots_are_skipped() -> None:
    ends = {end(NOW - timedelta(minutes=30 * i)) for i in range(200) if not 10 <= i < 20}
    oldest = min(ends)
    missing = missing_slots(NOW, ends, oldest_known_end=oldest)
    assert [s.end for s in missing] == [NOW - timedelta(minutes=30 * i) for i in range(10, 20)]
    skipped = missing_slots(NOW, ends, oldest_known_end=oldest, unavailable={end(missing[0].end)})
    assert len(skipped) == 9


def test_never_further_back_than_the_meter_keeps() -> None:
    ancient = end(NOW - timedelta(days=300))
    missing = missing_slots(NOW, {ancient}, oldest_known_end=ancient)
    assert len(missing) == 99 * 48


def test_a_short_gap_is_one_ed_window_and_a_long_one_history_1() -> None:
    short = missing_slots(NOW, set(), oldest_known_end=None)[:10]
    both = Capabilities(history2=True, reverse=True)
    steps = plan(short, both, NOW.date())
    assert steps == (SetWindow(HistoryTime(NOW, 10)), GetWindow(HistoryTime(NOW, 10)))
    three_days = [Slot.ending_at(NOW - timedelta(minutes=30 * i)) for i in range(144)]
    steps = plan(three_days, both, NOW.date())
    assert steps[:3] == (SetDay(0), GetDay(0, reverse=False), GetDay(0, reverse=True))
    assert len(steps) == 4 * 3  # 4 calendar days x (E5, E2, E4), not 12 x (ED, EC)


def test_without_history_2_or_reverse_energy() -> None:
    short = missing_slots(NOW, set(), oldest_known_end=None)[:4]
    steps = plan(short, Capabilities(history2=False, reverse=False), NOW.date())
    assert steps == (SetDay(0), GetDay(0, reverse=False))
    assert plan([], Capabilities(history2=True, reverse=True), NOW.date()) == ()


def test_the_span_for_the_log_line() -> None:
    slots = [Slot(datetime(2026, 11, 30, 21, 0)), Slot(datetime(2026, 12, 1, 3, 30))]
    assert slot_span(slots) == "2026-11-30 21:00 … 2026-12-01 03:30"
    assert slot_span(slots[:1]) == "2026-11-30 21:00"
    assert slot_span([]) == ""


def test_a_day_is_asked_only_for_the_direction_it_lacks() -> None:
    both = Capabilities(history2=False, reverse=True)
    day = missing_slots(NOW, set(), oldest_known_end=None)[:6]  # today's, 01:00-03:30
    ends = {int(s.unix_end) for s in day}
    assert plan(day, both, NOW.date(), have_forward=ends) == (SetDay(0), GetDay(0, reverse=True))
    assert plan(day, both, NOW.date(), have_reverse=ends) == (SetDay(0), GetDay(0, reverse=False))


def test_the_newest_slot_alone_is_one_get_of_ea_or_eb() -> None:
    both = Capabilities(history2=True, reverse=True)
    newest = Slot.ending_at(NOW)
    have = {int(newest.unix_end)}
    steps = plan([newest], both, NOW.date(), have_forward=have, newest=newest)
    assert steps == (GetLatest(forward=False, reverse=True),)
    steps = plan([newest], both, NOW.date(), newest=newest)
    assert steps == (GetLatest(forward=True, reverse=True),)


def test_with_a_tariff_the_fill_reaches_back_to_the_previous_billing_period() -> None:
    opened = datetime(2026, 11, 1)  # the previous period's start (billing day 1)
    missing = missing_slots(
        NOW, set(), oldest_known_end=None, reach_back_to=Slot.ending_at(opened).start
    )
    assert missing[0] == Slot.ending_at(NOW)  # newest first: the current period first
    assert missing[-1] == Slot.ending_at(opened)  # its register opens the previous period
    assert len(missing) == (NOW - opened) // timedelta(minutes=30) + 1
