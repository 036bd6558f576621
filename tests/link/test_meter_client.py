"""MeterClient against a module and meter played by hand (virtual clock).

A Get's answer is found by identity, never by arrival order; every failure of a send,
a join or a scan ends as the error the supervisor acts on, after its own deadline.
"""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from trio_smartmeter.core import echonet
from trio_smartmeter.core.echonet import ESV, Frame, Property
from trio_smartmeter.core.errors import (
    JoinFailed,
    ModuleRestarted,
    ModuleTimeout,
    RequestTimeout,
    SendFailed,
    SessionLost,
)
from trio_smartmeter.core.skstack import Dialect
from trio_smartmeter.link.meter_client import MeterClient, readable, scan_dwell
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.link.timing import Timing

from .scripted import METER_IP, OTHER_IP, OWN_IP, ScriptedModule

TIMING = Timing()
POWER = Property(0xE7, (500).to_bytes(4, "big"))  # instantaneous power, 500 W
#: a payload whose binary form holds CR and LF bytes, which a line reader would cut
CRLF_EDT = Property(0xE8, b"\x00\x0d\x00\x0a")

Meter = tuple[MeterClient, ScriptedModule]


@pytest.fixture
async def meter(nursery: trio.Nursery) -> Meter:
    """A MeterClient over a client reading the host end (tests take autojump_clock)."""
    host, device = trio.testing.memory_stream_pair()
    client = SkStackClient(host)
    await nursery.start(client.run)
    return MeterClient(client, Dialect.SINGLE_HOP, TIMING), ScriptedModule(device)


def answer(
    request: Frame,
    *properties: Property,
    esv: int = ESV.GET_RES,
    tid: int | None = None,
    seoj: echonet.EOJ = echonet.SMART_METER,
) -> bytes:
    """The meter's frame for ``request`` (by default the right one), encoded."""
    tid = request.tid if tid is None else tid
    return Frame(tid, seoj, echonet.CONTROLLER, esv, properties).encode()


async def joined(meter: Meter, nursery: trio.Nursery) -> None:
    client, module = meter

    async def play() -> None:
        assert (await module.command()).text == f"SKJOIN {METER_IP}"
        await module.say("OK")
        await module.event(0x25)

    nursery.start_soon(play)
    await client.join(METER_IP.lower())


# -- get -------------------------------------------------------------------------------


@pytest.mark.parametrize("hex_mode", [True, False], ids=["hex", "binary"])
async def test_get_returns_the_answer_that_matches_by_identity(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, hex_mode: bool
) -> None:
    client, module = meter
    await joined(meter, nursery)
    sent_answer: list[bytes] = []

    async def play() -> None:
        sent = await module.command()
        request = sent.request()
        assert sent.text.startswith(f"SKSENDTO 1 {METER_IP} 0E1A 1 ")
        assert request.esv == ESV.GET and request.epcs == (0xE7, 0xE8)
        await module.event(0x21, METER_IP, param=0)
        await module.say("OK")
        ours = answer(request, POWER, CRLF_EDT)
        erxudp = functools.partial(module.erxudp, hex_mode=hex_mode)
        await erxudp(ours, sender=OTHER_IP)  # another node
        await erxudp(ours, port=0x02CC)  # a PANA datagram, not ECHONET
        await erxudp(answer(request, POWER, CRLF_EDT, tid=(request.tid + 1) & 0xFFFF))
        await erxudp(answer(request, POWER, CRLF_EDT, seoj=echonet.NODE_PROFILE))
        await erxudp(answer(request, POWER, CRLF_EDT, esv=ESV.INF))  # a push, not an answer
        await erxudp(answer(request, POWER))  # a different EPC set
        await erxudp(ours[:9])  # garbled: cut inside the header
        await trio.sleep(1.0)
        sent_answer.append(ours)
        await erxudp(ours)

    nursery.start_soon(play)
    got = await client.get([0xE7, 0xE8])
    assert [got] == [echonet.decode_frame(a) for a in sent_answer]
    assert readable(got) == {0xE7: POWER.edt, 0xE8: CRLF_EDT.edt}


async def test_get_sna_is_the_answer(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter
    await joined(meter, nursery)

    async def play() -> None:
        request = (await module.command()).request()
        await module.say("OK")
        await module.erxudp(answer(request, POWER, Property(0xD3), esv=ESV.GET_SNA))

    nursery.start_soon(play)
    got = await client.get([0xE7, 0xD3])
    assert got.esv == ESV.GET_SNA
    assert readable(got) == {0xE7: POWER.edt}  # D3 unreadable: PDC 0


@pytest.mark.parametrize(
    ("param", "says"), [(0x01, "no acknowledgement"), (0x02, "neighbour solicitation")]
)
async def test_event_21_with_a_failure_is_send_failed(
    meter: Meter,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    param: int,
    says: str,
) -> None:
    client, module = meter
    await joined(meter, nursery)

    async def play() -> None:
        await module.command()
        await module.event(0x21, OTHER_IP, param=param)  # another node's send: not ours
        await module.say("OK")
        await trio.sleep(0.5)
        await module.event(0x21, METER_IP, param=param)

    nursery.start_soon(play)
    started = trio.current_time()
    with pytest.raises(SendFailed, match=says):
        await client.get([0xE7])
    assert trio.current_time() - started == pytest.approx(0.5)


async def test_fail_to_sksendto_is_send_failed(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter
    await joined(meter, nursery)

    async def play() -> None:
        await module.command()
        await module.say("FAIL ER06")

    nursery.start_soon(play)
    with pytest.raises(SendFailed, match="ER06"):
        await client.get([0xE7])


async def test_er10_in_a_live_session_means_the_module_restarted(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """ER10 = no session, although the module never said it ended one (issue: a module
    that resets in place must not look like a wrong password)."""
    client, module = meter
    await joined(meter, nursery)

    async def play() -> None:
        await module.command()
        await module.say("FAIL ER10")

    nursery.start_soon(play)
    with pytest.raises(ModuleRestarted, match="restarted in place"):
        await client.get([0xE7])


@pytest.mark.parametrize(
    ("event", "expired"), [("29", True), ("26", False), ("27", False), ("24", False)]
)
async def test_a_session_end_from_the_meter_ends_a_get_at_once(
    meter: Meter,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    event: str,
    expired: bool,
) -> None:
    client, module = meter
    await joined(meter, nursery)

    async def play() -> None:
        await module.command()
        await module.say("OK")
        await module.say(f"EVENT {event} {METER_IP}")

    nursery.start_soon(play)
    started = trio.current_time()
    with pytest.raises(SessionLost) as info:
        await client.get([0xE7])
    assert info.value.expired is expired
    assert trio.current_time() - started < 1.0  # not the 20 s response deadline


async def test_er10_after_the_meter_ended_the_session_is_the_session_end(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter
    await joined(meter, nursery)

    async def play() -> None:
        await module.command()
        await module.say(f"EVENT 29 {METER_IP}")
        await module.say("FAIL ER10")

    nursery.start_soon(play)
    with pytest.raises(SessionLost, match="expired"):
        await client.get([0xE7])


async def test_no_answer_is_a_request_timeout_after_the_response_deadline(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter
    await joined(meter, nursery)
    sent_ok = trio.Event()

    async def play() -> None:
        await module.command()
        await module.event(0x21, METER_IP, param=0)
        await module.say("OK")
        sent_ok.set()

    nursery.start_soon(play)
    with pytest.raises(RequestTimeout, match="TID"):
        await client.get([0xE7])
    assert sent_ok.is_set()
    assert trio.current_time() == pytest.approx(TIMING.response)


async def test_get_without_a_session_is_send_failed(
    meter: Meter, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter
    with pytest.raises(SendFailed, match="join first"):
        await client.get([0xE7])
    assert await module.pending() == b""  # nothing was written


# -- join ------------------------------------------------------------------------------


async def test_join_ends_on_event_25_from_the_meter(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        await module.command()
        await module.say("OK")
        await module.event(0x24, OTHER_IP)  # another node's PANA failure: not ours
        await trio.sleep(2.0)
        await module.event(0x25, METER_IP)

    nursery.start_soon(play)
    await client.join(METER_IP)
    assert trio.current_time() == pytest.approx(2.0)


async def test_event_24_from_the_meter_is_a_rejected_join(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        await module.command()
        await module.say("OK")
        await module.event(0x24, METER_IP)

    nursery.start_soon(play)
    with pytest.raises(JoinFailed) as failed:
        await client.join(METER_IP)
    assert failed.value.rejected is True
    # the first rejection already says what to check (one line)
    message = str(failed.value)
    assert "SMARTMETER_ID" in message and "SMARTMETER_PASSWORD" in message
    assert "32 characters" in message and "\n" not in message


async def test_no_event_is_a_join_timeout_not_a_rejection(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        await module.command()
        await module.say("OK")

    nursery.start_soon(play)
    with pytest.raises(JoinFailed) as failed:
        await client.join(METER_IP)
    assert failed.value.rejected is False
    assert trio.current_time() == pytest.approx(TIMING.join)


# -- scan and sweep --------------------------------------------------------------------


async def test_scan_collects_the_descriptors_before_event_22(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        assert (await module.command()).text == "SKSCAN 2 FFFFFFFF 4"
        await module.say("OK")
        await module.pandesc(0x33)
        await module.event(0x22, OWN_IP)

    nursery.start_soon(play)
    found = await client.scan(duration=4, channel=None)
    assert [(d.channel, d.pan_id, d.addr) for d in found] == [(0x33, 0x8888, "001C6400030C12A4")]
    assert trio.current_time() == 0.0  # no trailing grace once something was found


async def test_an_epandesc_trailing_event_22_is_still_collected(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        await module.command()
        await module.say("OK")
        await module.event(0x22, OWN_IP)
        await trio.sleep(TIMING.scan_trailing * 0.8)
        await module.pandesc(0x21)

    nursery.start_soon(play)
    found = await client.scan(duration=4, channel=0x21)
    assert [d.channel for d in found] == [0x21]


async def test_an_empty_scan_waits_the_trailing_grace_once(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        await module.command()
        await module.say("OK")
        await module.event(0x22, OWN_IP)

    nursery.start_soon(play)
    assert await client.scan(duration=4, channel=0x21) == []
    assert trio.current_time() == pytest.approx(TIMING.scan_trailing)


async def test_sweep_stops_at_the_first_channel_where_done_holds(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter
    masks: list[str] = []

    async def play() -> None:
        while True:
            mask = (await module.command()).text.split(" ")[2]
            masks.append(mask)
            await module.say("OK")
            channel = 0x21 + int(mask, 16).bit_length() - 1
            if channel in (0x22, 0x23):
                await module.pandesc(channel, addr=f"{channel:016X}")
            await module.event(0x22, OWN_IP)

    nursery.start_soon(play)
    found = await client.sweep(
        duration=4,
        channels=[0x21, 0x22, 0x23, 0x24],
        done=lambda found: len(found) >= 2,
    )
    await trio.sleep(1.0)  # time for a SKSCAN of 0x24 to show up, if one were written
    assert masks == ["00000001", "00000002", "00000004"]
    assert [d.channel for d in found] == [0x22, 0x23]


async def test_scan_without_event_22_is_a_module_timeout(
    meter: Meter, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = meter

    async def play() -> None:
        await module.command()
        await module.say("OK")
        await module.pandesc(0x21)

    nursery.start_soon(play)
    with pytest.raises(ModuleTimeout, match="channel 21"):
        await client.scan(duration=4, channel=0x21)
    assert trio.current_time() == pytest.approx(scan_dwell(4, 1) + TIMING.scan_margin)
