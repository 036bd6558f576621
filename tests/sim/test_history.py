"""The simulated meter's history: E5/E2/E4, ED/EC, Release R (D0, EF/EE) and SetGet."""

from __future__ import annotations

import datetime as dt

import pytest

from trio_smartmeter.core import echonet
from trio_smartmeter.core.echonet import ESV, Property
from trio_smartmeter.core.echonet import history as h
from trio_smartmeter.core.echonet import meter as m
from trio_smartmeter.sim import Meter, MeterConfig
from trio_smartmeter.sim import _frame as f
from trio_smartmeter.sim._frame import SimSetGet
from trio_smartmeter.sim.cli import parser

START = dt.datetime(2026, 11, 30, 20, 0)  # meter clock
HOUR = 3600.0


def request(meter: Meter, frame: echonet.Frame | SimSetGet, elapsed: float) -> bytes:
    answer = meter.handle(frame.encode(), elapsed)
    assert answer is not None
    return answer


def get(meter: Meter, *epcs: int, elapsed: float = 0.0) -> echonet.Frame:
    return echonet.decode_frame(request(meter, echonet.get_request(1, epcs), elapsed))


def edt(meter: Meter, epc: int, elapsed: float = 0.0) -> bytes:
    frame = get(meter, epc, elapsed=elapsed)
    assert frame.esv == ESV.GET_RES, f"0x{epc:02X} answered {frame}"
    return frame.properties[0].edt


def setc(meter: Meter, epc: int, value: bytes, elapsed: float = 0.0) -> echonet.Frame:
    frame = echonet.set_request(2, [Property(epc, value)])
    return echonet.decode_frame(request(meter, frame, elapsed))


def history1(meter: Meter, day: int, epc: int = m.EPC_HISTORY_FORWARD, elapsed: float = 0.0):
    assert setc(meter, m.EPC_HISTORY_DAY, h.encode_history_day(day), elapsed).esv == ESV.SET_RES
    decoded = h.decode_history1(edt(meter, epc, elapsed))
    assert decoded is not None
    return decoded


def maps(meter: Meter) -> tuple[frozenset[int], frozenset[int]]:
    return (
        m.decode_property_map(edt(meter, m.EPC_GET_MAP)),
        m.decode_property_map(edt(meter, m.EPC_SET_MAP)),
    )


def test_registers_match_the_integrated_energy_at_each_boundary() -> None:
    meter = Meter(MeterConfig(start=START, solar_peak_watts=3000.0, reverse=True), seed=5)
    live: dict[dt.datetime, tuple[int, int]] = {}
    for k in range(1, 13):  # 20:30 .. 02:00, across midnight
        e0 = m.decode_cumulative(edt(meter, m.EPC_FORWARD, elapsed=k * 1800.0))
        e3 = m.decode_cumulative(edt(meter, m.EPC_REVERSE, elapsed=k * 1800.0))
        assert e0 is not None and e3 is not None
        live[START + k * h.HALF_HOUR] = (e0, e3)
    later = 13 * 1800.0 + 60
    today = meter.now(later).date()
    stored: dict[dt.datetime, tuple[int | None, int | None]] = {}
    for day in (1, 0):
        forward = history1(meter, day, m.EPC_HISTORY_FORWARD, later)
        reverse = history1(meter, day, m.EPC_HISTORY_REVERSE, later)
        assert forward.day == reverse.day == day
        for (slot, fwd), (_, rev) in zip(forward.slots(today), reverse.slots(today), strict=True):
            stored[slot.end] = (fwd, rev)
    for boundary, registers in live.items():
        assert stored[boundary] == registers, boundary
    assert stored[START] is not None and stored[START][0] is not None  # the start itself
    assert stored[START - h.HALF_HOUR] == (None, None)  # before the meter started
    assert stored[dt.datetime(2026, 12, 1, 3, 0)] == (None, None)  # not yet read


def test_fixed_time_ea_agrees_with_e2() -> None:
    meter = Meter(MeterConfig(start=START))
    fixed = m.decode_fixed_time(edt(meter, m.EPC_FIXED_FORWARD, elapsed=2 * HOUR + 5))
    assert fixed is not None and fixed.at == dt.datetime(2026, 11, 30, 22, 0)
    day0 = dict(history1(meter, 0, elapsed=2 * HOUR + 5).slots(dt.date(2026, 11, 30)))
    assert day0[h.Slot.ending_at(fixed.at)] == fixed.raw


def test_fabricated_past_and_retention() -> None:
    meter = Meter(MeterConfig(start=START, history_days=5, history_retention_days=3))
    today = START.date()
    for day in range(4):
        values = history1(meter, day).registers
        expected = 41 if day == 0 else 48  # today: 00:00 .. 20:00
        assert sum(v is not None for v in values) == expected, day
    assert history1(meter, 4).registers == (None,) * 48  # beyond the retention
    assert history1(meter, 99).registers == (None,) * 48
    # the past runs into the live counter: increasing, and the start is E0 at start
    past = [raw for day in (3, 2, 1, 0) for _, raw in history1(meter, day).slots(today)]
    known = [v for v in past if v is not None]
    assert known == sorted(known) and known[0] < known[-1]
    assert known[-1] == m.decode_cumulative(edt(meter, m.EPC_FORWARD))


def test_a_past_that_would_go_below_zero_was_never_collected() -> None:
    config = MeterConfig(start=START, history_days=2, solar_peak_watts=4000.0, reverse=True)
    meter = Meter(config)  # export starts at 0 kWh: before the start there was none
    reverse = history1(meter, 1, m.EPC_HISTORY_REVERSE).registers
    forward = history1(meter, 1, m.EPC_HISTORY_FORWARD).registers
    assert reverse[0] == 0 or reverse[0] is None
    assert None in reverse and None not in forward


def test_history1_maps_without_history2_or_release_r() -> None:
    meter = Meter(MeterConfig(start=START))
    get_map, set_map = maps(meter)
    assert {0xE2, 0xE5} <= get_map
    assert not get_map & {0xE4, 0xEC, 0xED, 0xD0, 0xEE, 0xEF}
    assert set_map == {0x81, 0xE5}
    assert get(meter, 0xEC).esv == ESV.GET_SNA
    assert setc(meter, 0xED, h.encode_history2_request(START, 1)).esv == ESV.SETC_SNA
    assert m.decode_standard_version(edt(meter, 0x82)) == "F"


def test_history2_maps_and_answers() -> None:
    meter = Meter(MeterConfig(start=START - dt.timedelta(days=1), history2=True))
    get_map, set_map = maps(meter)
    assert {0xEC, 0xED} <= get_map and set_map == {0x81, 0xE5, 0xED}
    # before any Set: the default, unset form, which decodes to no data
    assert h.decode_history2_time(edt(meter, 0xED)) == h.HistoryTime(None, 12)
    assert h.decode_history2(edt(meter, 0xEC)) == h.History2(at=None, points=())
    now = 26 * HOUR  # meter: 2026-11-30 22:00
    at = dt.datetime(2026, 11, 30, 2, 0)
    answer = setc(meter, 0xED, h.encode_history2_request(at, 6), elapsed=now)
    assert answer.esv == ESV.SET_RES
    assert h.decode_history2_time(edt(meter, 0xED, now)) == h.HistoryTime(at, 6)
    decoded = h.decode_history2(edt(meter, 0xEC, now))
    assert decoded is not None and decoded.at == at
    day0 = dict(history1(meter, 0, m.EPC_HISTORY_FORWARD, now).slots(dt.date(2026, 11, 30)))
    day1 = dict(history1(meter, 1, m.EPC_HISTORY_FORWARD, now).slots(dt.date(2026, 11, 30)))
    assert [p.slot.end for p in decoded.points] == [at - i * h.HALF_HOUR for i in range(6)]
    for point in decoded.points:  # crosses midnight: 02:00 .. 23:30 the day before
        assert point.forward == {**day1, **day0}[point.slot]
        assert point.reverse == 0  # no export on this meter: its reverse register stays 0


@pytest.mark.parametrize(
    "value",
    [
        bytes.fromhex("07EA0B1E020F01"),  # 02:15
        bytes.fromhex("07EA0B1E02000D"),  # 13 points
        bytes.fromhex("07EA0B1E020000"),  # 0 points
        bytes.fromhex("07EA0B1E0200"),  # short
    ],
)
def test_history2_set_refuses_what_the_spec_does_not_allow(value: bytes) -> None:
    meter = Meter(MeterConfig(start=START, history2=True))
    answer = setc(meter, 0xED, value)
    assert answer.esv == ESV.SETC_SNA and answer.properties[0].edt == value


def test_release_r_d0_is_stamped_from_the_meters_clock() -> None:
    meter = Meter(MeterConfig(start=START, release_r=True))
    get_map, set_map = maps(meter)
    assert {0xD0, 0xEE, 0xEF} <= get_map and 0xEF in set_map
    assert m.decode_standard_version(edt(meter, 0x82)) == "R"
    elapsed = 3 * 60 + 42.0
    e0 = m.decode_cumulative(edt(meter, m.EPC_FORWARD, 3 * 60.0))
    minute = h.decode_minute_energy(edt(meter, 0xD0, elapsed))
    assert minute == h.MinuteEnergy(dt.datetime(2026, 11, 30, 20, 3), e0, 0)
    assert (
        minute is not None
        and minute.unix == dt.datetime(2026, 11, 30, 11, 3, tzinfo=dt.UTC).timestamp()
    )


def test_release_r_history3() -> None:
    meter = Meter(MeterConfig(start=START, release_r=True))
    assert h.decode_history3_time(edt(meter, 0xEF)) == h.HistoryTime(None, 1)
    assert h.decode_history3(edt(meter, 0xEE)) == h.History3(None, ())
    now = 20 * 60.0
    live = {
        START + dt.timedelta(minutes=k): m.decode_cumulative(edt(meter, 0xE0, k * 60.0))
        for k in range(21)
    }
    at = dt.datetime(2026, 11, 30, 20, 15)
    assert setc(meter, 0xEF, h.encode_history3_request(at, 10), now).esv == ESV.SET_RES
    decoded = h.decode_history3(edt(meter, 0xEE, now))
    assert decoded is not None and len(decoded.points) == 10
    assert all(p.forward == live[p.at] for p in decoded.points)
    assert decoded.points[-1].at == dt.datetime(2026, 11, 30, 20, 6)


def setget(tid: int, sets: tuple[tuple[int, bytes], ...], gets: tuple[int, ...]) -> SimSetGet:
    """A controller's SetGet (the exporter sends none; another HEMS may)."""
    return SimSetGet(
        tid, f.CONTROLLER, f.SMART_METER, f.SETGET, sets, tuple((e, b"") for e in gets)
    )


def test_setget_refused_by_default_leaves_e5_alone() -> None:
    meter = Meter(MeterConfig(start=START))
    answer = request(meter, setget(9, ((0xE5, b"\x02"),), (0xE2,)), 0.0)
    # SetGet_SNA from the meter: the Set EDT echoed (not processed), the Get with PDC 0
    assert answer == bytes.fromhex("1081000902880105FF015E01E5010201E200")
    assert h.decode_history_day(edt(meter, 0xE5)) == 0


def test_setget_served_when_configured() -> None:
    meter = Meter(MeterConfig(start=START, setget=True, history_days=3))
    raw = request(meter, setget(9, ((0xE5, b"\x02"),), (0xE2,)), 0.0)
    assert raw.startswith(bytes.fromhex("1081000902880105FF017E01E50001E2"))
    answer = f.decode_setget(raw)
    assert answer.sets == ((0xE5, b""),) and [e for e, _ in answer.gets] == [0xE2]
    decoded = h.decode_history1(answer.gets[0][1])
    assert decoded is not None and decoded.day == 2
    assert decoded == history1(meter, 2)
    refused = request(meter, setget(10, ((0xE5, b"\x64"),), (0xE2,)), 0.0)
    # SetGet_SNA: the refused Set echoed; the Get still answered (PDC > 0)
    assert refused.startswith(bytes.fromhex("1081000A02880105FF015E01E5016401E2"))
    assert refused[17] > 0


def test_another_hems_changes_e5_between_set_and_get() -> None:
    meter = Meter(MeterConfig(start=START, history_days=10))
    assert setc(meter, 0xE5, b"\x02").esv == ESV.SET_RES
    assert meter.set_by_another_hems(0xE5, b"\x07")
    decoded = h.decode_history1(edt(meter, 0xE2))
    assert decoded is not None and decoded.day == 7  # the echo tells
    meter.other_hems_day = 5  # from now on it interferes before every Get
    assert history1(meter, 1).day == 5


def test_cli_history_days() -> None:
    assert parser().parse_args(["--model", "bp35a1", "--history-days", "7"]).history_days == 7
    assert parser().parse_args(["--model", "bp35a1"]).history_days == 0
    with pytest.raises(SystemExit):
        parser().parse_args(["--model", "bp35a1", "--history-days", "100"])
