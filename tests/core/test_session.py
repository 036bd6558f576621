"""The session's pure decisions: PAN choice, scan plan, EVENT meaning."""

from __future__ import annotations

import pytest

from trio_smartmeter.core.session import (
    ScanStep,
    SessionSignal,
    choose_pan,
    pair_id,
    scan_plan,
    send_failure,
    signal_for,
)
from trio_smartmeter.core.skstack import ModuleEvent, PanDesc

METER = "FE80:0000:0000:0000:021C:6400:03DD:6393"
OTHER = "FE80:0000:0000:0000:021C:6400:0000:0001"


def desc(lqi: int, pair: str | None, addr: str = "001C640003DD6393") -> PanDesc:
    return PanDesc(
        channel=0x33, channel_page=9, pan_id=0x6393, addr=addr, lqi=lqi, side=None, pair_id=pair
    )


def test_pair_id_is_last_eight_characters() -> None:
    assert pair_id("00112233445566778899aabbccddeeff") == "CCDDEEFF"


def test_choose_pan_prefers_matching_pair_id_then_lqi() -> None:
    a = desc(0xF0, "11111111", "001C640000000001")
    b = desc(0x40, "CCDDEEFF", "001C640000000002")
    c = desc(0x80, "CCDDEEFF", "001C640000000003")
    assert choose_pan([a, b, c], "CCDDEEFF") == c
    assert choose_pan([a], "CCDDEEFF") is None
    assert choose_pan([], "CCDDEEFF") is None
    # mode 3 beacons carry no PairID: best LQI
    assert choose_pan([desc(1, None), desc(9, None, "001C640000000009")], "CCDDEEFF") == desc(
        9, None, "001C640000000009"
    )


def test_scan_plan_rises_step_by_step_with_a_bound() -> None:
    assert scan_plan(None) == [ScanStep(None, d) for d in (4, 5, 6, 7, 8)]
    plan = scan_plan(0x3B)
    assert plan[:5] == [ScanStep(0x3B, d) for d in (4, 5, 6, 7, 8)]
    assert plan[5:] == [ScanStep(None, d) for d in (4, 5, 6, 7, 8)]


def test_a_scan_step_sweeps_its_channels_one_at_a_time_in_channel_order() -> None:
    assert ScanStep(0x3B, 4).channels == (0x3B,)
    sweep = ScanStep(None, 4).channels
    assert sweep == tuple(range(0x21, 0x3D))  # all 28, lowest first: an early meter is found first
    assert len(sweep) == 28


@pytest.mark.parametrize(
    ("code", "sender", "expected"),
    [
        (0x25, METER, SessionSignal.SESSION_UP),
        (0x24, METER, SessionSignal.AUTH_FAILED),
        (0x26, METER, SessionSignal.SESSION_ENDED),
        (0x27, METER, SessionSignal.SESSION_ENDED),
        (0x28, METER, SessionSignal.SESSION_ENDED),
        (0x29, METER, SessionSignal.SESSION_EXPIRED),
        (0x29, OTHER, None),
        (0x32, OTHER, SessionSignal.RATE_LIMITED),
        (0x33, OTHER, SessionSignal.RATE_RELEASED),
        (0x21, METER, None),
        (0x02, METER, None),
    ],
)
def test_signal_for(code: int, sender: str, expected: SessionSignal | None) -> None:
    assert (
        signal_for(ModuleEvent(code=code, sender=sender, side=None, param=None), METER) == expected
    )


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (None, None),
        (0, None),
        (1, "no acknowledgement (EVENT 21 01)"),
        (2, "not sent (neighbour solicitation instead) (EVENT 21 02)"),
    ],
)
def test_what_an_event_21_says_about_a_send(param: int | None, expected: str | None) -> None:
    assert send_failure(ModuleEvent(code=0x21, sender=METER, side=0, param=param)) == expected
