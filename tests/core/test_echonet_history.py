"""The meter's history layouts (E5/E2/E4, ED/EC, EF/EE, D0), field by field."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_smartmeter.core import echonet
from trio_smartmeter.core.echonet import ESV, FrameError, Property, _fields
from trio_smartmeter.core.echonet import history as h
from trio_smartmeter.core.echonet import meter as m
from trio_smartmeter.core.jst import JST

NO_DATA = 0xFFFFFFFE


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def stamp(at: dt.datetime) -> bytes:
    return at.year.to_bytes(2, "big") + bytes((at.month, at.day, at.hour, at.minute))


# -- Slot -------------------------------------------------------------------------------
def test_slot_fields_and_unix_times_are_jst() -> None:
    slot = h.Slot(dt.datetime(2026, 12, 1, 9, 30))
    assert slot.end == dt.datetime(2026, 12, 1, 10, 0)
    assert slot.unix_end == dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC).timestamp()
    assert slot.shifted(-19) == h.Slot(dt.datetime(2026, 12, 1, 0, 0))
    assert slot.shifted(-20) == h.Slot(dt.datetime(2026, 11, 30, 23, 30))
    assert str(slot) == "2026-12-01 09:30"
    assert h.Slot.ending_at(dt.datetime(2026, 12, 1, 0, 0)) == h.Slot(
        dt.datetime(2026, 11, 30, 23, 30)
    )


@pytest.mark.parametrize(
    "bad",
    [
        dt.datetime(2026, 1, 1, 0, 15),
        dt.datetime(2026, 1, 1, 0, 30, 1),
        dt.datetime(2026, 1, 1, 0, 30, tzinfo=JST),
    ],
)
def test_slot_refuses_what_is_not_a_naive_half_hour(bad: dt.datetime) -> None:
    with pytest.raises(ValueError, match="hh:00 or hh:30"):
        h.Slot(bad)
    with pytest.raises(ValueError, match="hh:00 or hh:30"):
        h.Slot.ending_at(bad)


def test_slots_order_by_time() -> None:
    a, b = h.Slot(dt.datetime(2026, 1, 1, 0, 0)), h.Slot(dt.datetime(2026, 1, 1, 0, 30))
    assert sorted([b, a]) == [a, b]
    assert a.shifted(1) == b


# -- E5 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("day", [0, 1, 45, 99])
def test_history_day_round_trip(day: int) -> None:
    assert h.encode_history_day(day) == bytes([day])
    assert h.decode_history_day(h.encode_history_day(day)) == day


@pytest.mark.parametrize("day", [-1, 100, 255])
def test_history_day_out_of_range_is_refused(day: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.99"):
        h.encode_history_day(day)


@pytest.mark.parametrize("edt", [b"", b"\x64", b"\xff", b"\x00\x00"])
def test_history_day_decode_rejects_malformed(edt: bytes) -> None:
    assert h.decode_history_day(edt) is None


# -- E2 / E4 ----------------------------------------------------------------------------
def history1_edt(day: int, registers: list[int]) -> bytes:
    return day.to_bytes(2, "big") + b"".join(u32(r) for r in registers)


def test_history1_field_by_field() -> None:
    registers = [1000 + i for i in range(40)] + [NO_DATA] * 7 + [0xFFFFFFFF]
    decoded = h.decode_history1(history1_edt(3, registers))
    assert decoded is not None
    assert decoded.day == 3
    assert len(decoded.registers) == 48
    assert decoded.registers[0] == 1000
    assert decoded.registers[39] == 1039
    assert decoded.registers[40:] == (None,) * 8


def test_history1_day_is_big_endian_u16() -> None:
    decoded = h.decode_history1(history1_edt(0x0102, [0] * 48))
    assert decoded is not None and decoded.day == 0x0102


def test_history1_slots_come_from_the_meters_today() -> None:
    decoded = h.decode_history1(history1_edt(1, list(range(48))))
    assert decoded is not None
    meter_today = dt.date(2026, 12, 1)
    assert decoded.date(meter_today) == dt.date(2026, 11, 30)
    slots = decoded.slots(meter_today)
    assert len(slots) == 48
    # register 0 is read at 00:00 of that day: it ends the day before's last half-hour
    assert slots[0] == (h.Slot(dt.datetime(2026, 11, 29, 23, 30)), 0)
    assert slots[1] == (h.Slot(dt.datetime(2026, 11, 30, 0, 0)), 1)
    assert slots[47] == (h.Slot(dt.datetime(2026, 11, 30, 23, 0)), 47)
    assert [s.end for s, _ in slots] == [
        dt.datetime(2026, 11, 30) + i * h.HALF_HOUR for i in range(48)
    ]


def test_a_mismatched_e5_echo_is_visible_to_the_caller() -> None:
    """Another HEMS set E5 to 7 between our Set (2) and Get: the decoder reports 7."""
    asked = 2
    decoded = h.decode_history1(history1_edt(7, [5] * 48))
    assert decoded is not None
    assert decoded.day != asked
    assert decoded.date(dt.date(2026, 12, 1)) == dt.date(2026, 11, 24)


@pytest.mark.parametrize("size", [0, 2, 193, 195, 196])
def test_history1_wrong_size_is_none(size: int) -> None:
    assert h.decode_history1(bytes(size)) is None


def test_meter_catalogue_still_decodes_e2_through_history() -> None:
    edt = history1_edt(0, [NO_DATA] * 48)
    assert m.decode_history(edt) == (0, (None,) * 48)
    assert m.describe(0xE2, edt)[1] == "0 day(s) ago: 0/48 half-hour values"


# -- ED / EC ----------------------------------------------------------------------------
def test_history2_request_layout() -> None:
    edt = h.encode_history2_request(dt.datetime(2026, 12, 1, 3, 30), 12)
    assert edt == bytes.fromhex("07EA0C0103 1E 0C".replace(" ", ""))
    assert h.decode_history2_time(edt) == h.HistoryTime(dt.datetime(2026, 12, 1, 3, 30), 12)


@pytest.mark.parametrize(
    ("at", "points", "match"),
    [
        (dt.datetime(2026, 12, 1, 3, 15), 1, "hh:00 or hh:30"),
        (dt.datetime(2026, 12, 1, 3, 30, 5), 1, "hh:00 or hh:30"),
        (dt.datetime(2026, 12, 1, 3, 30), 0, r"1\.\.12"),
        (dt.datetime(2026, 12, 1, 3, 30), 13, r"1\.\.12"),
        (dt.datetime(2026, 12, 1, 3, 30, tzinfo=JST), 1, "naive"),
    ],
)
def test_history2_request_refuses(at: dt.datetime, points: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        h.encode_history2_request(at, points)


def test_history2_unset_time_is_no_data() -> None:
    edt = bytes.fromhex("FFFFFFFFFFFF0C")
    assert h.decode_history2_time(edt) == h.HistoryTime(None, 12)
    assert m.describe(0xED, edt)[1] == "not set (12 point(s))"


def history2_edt(at: dt.datetime, pairs: list[tuple[int, int]]) -> bytes:
    return stamp(at) + bytes([len(pairs)]) + b"".join(u32(f) + u32(r) for f, r in pairs)


def test_history2_field_by_field_across_midnight() -> None:
    at = dt.datetime(2026, 12, 1, 1, 0)
    pairs = [(500 - i, 20 + i) for i in range(5)] + [(NO_DATA, NO_DATA)]
    decoded = h.decode_history2(history2_edt(at, pairs))
    assert decoded is not None
    assert decoded.at == at
    assert len(decoded.points) == 6
    first, *_, last = decoded.points
    assert first == h.SlotRegisters(h.Slot(dt.datetime(2026, 12, 1, 0, 30)), 500, 20)
    assert decoded.points[1].slot.end == dt.datetime(2026, 12, 1, 0, 30)
    assert decoded.points[2].slot.end == dt.datetime(2026, 12, 1, 0, 0)
    assert decoded.points[3].slot == h.Slot(dt.datetime(2026, 11, 30, 23, 0))
    assert decoded.points[3].forward == 497 and decoded.points[3].reverse == 23
    assert last == h.SlotRegisters(h.Slot(dt.datetime(2026, 11, 30, 22, 0)), None, None)


@pytest.mark.parametrize(
    "edt",
    [
        bytes.fromhex("FFFFFFFFFFFF0C"),  # the unset form, nothing after it
        bytes.fromhex("FFFFFFFFFFFF01") + u32(NO_DATA) * 2,
        bytes.fromhex("FFFFFFFFFFFFFF"),
        b"\xff" * 7 + b"\xff" * 96,
    ],
)
def test_history2_default_forms_are_no_data(edt: bytes) -> None:
    assert h.decode_history2(edt) == h.History2(at=None, points=())
    assert m.describe(0xEC, edt)[1] == "not set (no data)"


@pytest.mark.parametrize(
    "edt",
    [
        b"",
        bytes(6),
        history2_edt(dt.datetime(2026, 12, 1, 1, 0), [(1, 2)])[:-1],  # short
        history2_edt(dt.datetime(2026, 12, 1, 1, 0), [(1, 2)]) + b"\x00",  # long
        history2_edt(dt.datetime(2026, 12, 1, 1, 15), [(1, 2)]),  # not a half-hour
    ],
)
def test_history2_malformed_is_none(edt: bytes) -> None:
    assert h.decode_history2(edt) is None


def test_history2_describe_counts_points() -> None:
    edt = history2_edt(dt.datetime(2026, 12, 1, 1, 0), [(1, 2), (NO_DATA, 0)])
    assert m.describe(0xEC, edt)[1] == "2 point(s) back from 2026-12-01 01:00, 1 collected"


# -- EF / EE / D0 (Release R) -----------------------------------------------------------
def test_history3_request_layout_and_limits() -> None:
    at = dt.datetime(2026, 12, 1, 3, 17)
    edt = h.encode_history3_request(at, 10)
    assert edt == stamp(at) + b"\x0a"
    assert h.decode_history3_time(edt) == h.HistoryTime(at, 10)
    assert h.decode_history3_time(bytes.fromhex("FFFFFFFFFFFF01")) == h.HistoryTime(None, 1)
    with pytest.raises(ValueError, match=r"1\.\.10"):
        h.encode_history3_request(at, 11)
    assert m.describe(0xEF, edt)[1] == "2026-12-01 03:17, 10 point(s)"


def test_history3_points_step_back_one_minute_across_midnight() -> None:
    at = dt.datetime(2026, 12, 1, 0, 1)
    edt = stamp(at) + b"\x03" + u32(9) + u32(1) + u32(8) + u32(NO_DATA) + u32(NO_DATA) + u32(0)
    decoded = h.decode_history3(edt)
    assert decoded is not None
    assert decoded.at == at
    assert decoded.points == (
        h.MinuteEnergy(dt.datetime(2026, 12, 1, 0, 1), 9, 1),
        h.MinuteEnergy(dt.datetime(2026, 12, 1, 0, 0), 8, None),
        h.MinuteEnergy(dt.datetime(2026, 11, 30, 23, 59), None, 0),
    )
    assert len(edt) == 7 + 8 * 3
    assert h.decode_history3(bytes.fromhex("FFFFFFFFFFFF01")) == h.History3(None, ())
    assert h.decode_history3(edt[:-1]) is None
    assert m.describe(0xEE, edt)[1] == "3 point(s) back from 2026-12-01 00:01, 2 collected"


def test_minute_energy_field_by_field() -> None:
    edt = bytes.fromhex("07EA0C01031726") + u32(123456) + u32(NO_DATA)
    decoded = h.decode_minute_energy(edt)
    assert decoded == h.MinuteEnergy(dt.datetime(2026, 12, 1, 3, 23, 38), 123456, None)
    assert decoded is not None
    assert decoded.unix == dt.datetime(2026, 11, 30, 18, 23, 38, tzinfo=dt.UTC).timestamp()
    assert h.decode_minute_energy(edt[:-1]) is None
    assert h.decode_minute_energy(b"\xff" * 7 + edt[7:]) is None
    assert m.decode_one_minute(edt) == (decoded.at, 123456, None)


def test_meter_clock_from_97_and_98() -> None:
    assert h.decode_meter_clock(bytes.fromhex("07EA0C01"), bytes.fromhex("1705")) == dt.datetime(
        2026, 12, 1, 23, 5
    )
    assert h.decode_meter_clock(bytes.fromhex("07EA0C01"), bytes.fromhex("1805")) is None
    assert h.decode_meter_clock(bytes.fromhex("07EA0C"), bytes.fromhex("1705")) is None


# -- the meter's clock decides, not the host's ------------------------------------------
def test_the_meters_clock_files_the_registers_not_the_hosts() -> None:
    """The host believes it is 2026-12-02 03:00 (hours ahead, past midnight); the meter
    says 2026-11-30 23:50. Today's E2 (day 0) belongs to the meter's 30 November."""
    host_today = dt.date(2026, 12, 2)
    meter_now = h.decode_meter_clock(bytes.fromhex("07EA0B1E"), bytes.fromhex("1732"))
    assert meter_now == dt.datetime(2026, 11, 30, 23, 50)
    decoded = h.decode_history1(history1_edt(0, [*range(47), NO_DATA]))
    assert decoded is not None
    slots = dict(decoded.slots(meter_now.date()))
    assert slots[h.Slot(dt.datetime(2026, 11, 30, 22, 30))] == 46  # read at 23:00
    assert slots[h.Slot(dt.datetime(2026, 11, 30, 23, 0))] is None  # 23:30 not yet read
    assert all(s.end.date() == dt.date(2026, 11, 30) for s in slots)
    assert decoded.date(host_today) != decoded.date(meter_now.date())


# -- what to ask for --------------------------------------------------------------------
def gap(last_stored: dt.datetime, count: int) -> list[h.Slot]:
    first = h.Slot(last_stored)
    return [first.shifted(i) for i in range(1, count + 1)]


def test_a_five_hour_gap_is_one_history2_window() -> None:
    missing = gap(dt.datetime(2026, 11, 30, 21, 0), 10)
    assert h.history2_windows(missing) == (h.HistoryTime(missing[-1].end, 10),)


def test_a_three_day_gap_is_twelve_history2_windows_newest_first() -> None:
    missing = gap(dt.datetime(2026, 11, 27, 10, 0), 144)
    windows = h.history2_windows(missing)
    assert len(windows) == 12
    assert windows[0] == h.HistoryTime(missing[-1].end, 12)
    assert all(w.points == 12 for w in windows)
    covered = {
        h.Slot.ending_at(w.at - i * h.HALF_HOUR)
        for w in windows
        if w.at is not None
        for i in range(w.points)
    }
    assert covered == set(missing)


def test_history2_windows_skip_what_is_stored() -> None:
    newest = gap(dt.datetime(2026, 11, 30, 21, 0), 3)
    older = gap(dt.datetime(2026, 11, 30, 10, 0), 2)
    assert h.history2_windows(older + newest) == (
        h.HistoryTime(newest[-1].end, 3),
        h.HistoryTime(older[-1].end, 2),
    )
    assert h.history2_windows([]) == ()
    with pytest.raises(ValueError, match=r"1\.\.12"):
        h.history2_windows(newest, points=13)


def test_history1_days_follow_the_register_time() -> None:
    meter_today = dt.date(2026, 12, 1)
    five_hours = gap(dt.datetime(2026, 11, 30, 21, 0), 10)  # 21:30 .. 02:00
    assert h.history1_days(five_hours, meter_today) == (0, 1)
    last_of_day = [h.Slot(dt.datetime(2026, 11, 30, 23, 30))]  # read at 00:00 on the 1st
    assert h.history1_days(last_of_day, meter_today) == (0,)
    three_days = gap(dt.datetime(2026, 11, 27, 10, 0), 144)
    assert h.history1_days(three_days, dt.date(2026, 11, 30)) == (0, 1, 2, 3)
    too_old = [h.Slot(dt.datetime(2026, 8, 1, 0, 0))]
    assert h.history1_days(too_old, meter_today) == ()


# -- frames ------------------------------------------------------------------------------
def test_a_setget_frame_is_never_misread_as_a_one_list_frame() -> None:
    # another HEMS's SetGet (Set E5, Get E2 and E4): two property lists, not one
    setget = bytes.fromhex("1081000705FF010288016E01E5010102E200E400")
    with pytest.raises(FrameError):
        echonet.decode_frame(setget)


def test_set_request_is_a_setc() -> None:
    frame = echonet.set_request(
        3, [Property(0xED, h.encode_history2_request(dt.datetime(2026, 1, 1), 1))]
    )
    assert frame.esv == ESV.SETC
    assert frame.encode().hex().upper() == "1081000305FF010288016101ED0707EA01010000" + "01"
    with pytest.raises(ValueError, match="at least one"):
        echonet.set_request(3, [])


# -- fuzz: total decoders -----------------------------------------------------------------
@given(st.binary(max_size=260))
def test_history_decoders_never_raise(edt: bytes) -> None:
    h.decode_history_day(edt)
    h.decode_history1(edt)
    h.decode_history2_time(edt)
    h.decode_history2(edt)
    h.decode_history3_time(edt)
    h.decode_history3(edt)
    h.decode_minute_energy(edt)
    h.decode_meter_clock(edt[:4], edt[4:6])
    for epc in (0xEC, 0xED, 0xEE, 0xEF, 0xD0, 0xE2):
        m.describe(epc, edt)


@given(
    st.binary(min_size=7, max_size=7), st.binary(max_size=12 * 8).filter(lambda b: len(b) % 8 == 0)
)
def test_history2_well_sized_answers_decode_or_are_none(head: bytes, body: bytes) -> None:
    edt = head[:6] + bytes([len(body) // 8]) + body
    decoded = h.decode_history2(edt)
    if decoded is not None and decoded.at is not None:
        assert len(decoded.points) == len(body) // 8
        assert [p.slot.end for p in decoded.points] == [
            decoded.at - i * h.HALF_HOUR for i in range(len(body) // 8)
        ]


def test_history_times_are_whole_minutes_of_the_right_size() -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        h.encode_history3_request(dt.datetime(2026, 1, 1, 0, 1, 30), 1)
    assert _fields.meter_datetime(bytes(5)) is None
    assert _fields.meter_datetime(bytes(8)) is None
