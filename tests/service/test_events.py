"""The event router on its own: what each EVENT does to the state and the session watch,
whose EVENTs count, and INFC answered with INFC_Res."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from trio_smartmeter.core import echonet, skstack
from trio_smartmeter.core.session import Event, SessionSignal
from trio_smartmeter.core.skstack import Dialect
from trio_smartmeter.service.events import EventRouter
from trio_smartmeter.service.module_session import ModuleSession

from ._session import METER_IP, OTHER_IP, module_session


def event(code: Event, sender: str | None = METER_IP) -> skstack.ModuleEvent:
    return skstack.ModuleEvent(code=int(code), sender=sender, side=None, param=None)


def live_session() -> tuple[ModuleSession, EventRouter]:
    session = module_session()
    session.meter = object()  # type: ignore[assignment]  # a joined session
    session.state.set_session_up(True)
    return session, EventRouter(session, session.state)


def test_every_event_is_counted_by_number() -> None:
    session, router = live_session()
    router.on_message(event(Event.SENT))
    router.on_message(skstack.ModuleEvent(code=0x45, sender=None, side=None, param=None))
    assert session.state.module_events == {0x21: 1, 0x45: 1}


def test_expiry_and_end_from_the_meter_lose_the_session() -> None:
    session, router = live_session()
    router.on_message(event(Event.EXPIRED))
    assert session.watch.lost is SessionSignal.SESSION_EXPIRED
    assert not session.state.session_up
    session, router = live_session()
    router.on_message(event(Event.ENDED_BY_METER))
    assert session.watch.lost is SessionSignal.SESSION_ENDED


def test_an_event_about_another_peer_is_not_ours() -> None:
    session, router = live_session()
    router.on_message(event(Event.EXPIRED, sender=OTHER_IP))
    assert session.watch.lost is None and session.state.session_up


def test_event_24_ends_only_a_live_session() -> None:
    session, router = live_session()
    router.on_message(event(Event.JOIN_REJECTED))
    assert session.watch.lost is SessionSignal.SESSION_ENDED
    session, router = live_session()
    session.state.set_session_up(False)  # a join in progress: the join sees its EVENT 24
    router.on_message(event(Event.JOIN_REJECTED))
    assert session.watch.lost is None


def test_the_modules_own_reauthentication_brings_the_session_back() -> None:
    session, router = live_session()
    router.on_message(event(Event.EXPIRED))
    assert not session.watch.reauthed.is_set()
    router.on_message(event(Event.SESSION_UP))
    assert session.state.session_up and session.watch.reauthed.is_set()


def test_the_transmit_limit_comes_and_goes_whoever_sends_it() -> None:
    session, router = live_session()
    seen = []
    router.on_message(event(Event.RATE_LIMITED, sender="FE80:0000:0000:0000:021D:1290:0000:0001"))
    seen.append(session.state.rate_limited)
    router.on_message(event(Event.RATE_RELEASED, sender=None))
    seen.append(session.state.rate_limited)
    assert seen == [True, False]
    assert session.watch.lost is None


class RecordingClient:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.answered = trio.Event()

    async def command(self, cmd: Any, *, timeout: float, check: bool) -> None:
        self.sent.append(cmd)
        self.answered.set()


async def test_an_infc_from_the_meter_is_answered_with_infc_res(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session, router = live_session()
    session.dialect = Dialect.SINGLE_HOP
    infc = echonet.Frame(
        tid=0x1234,
        seoj=echonet.SMART_METER,
        deoj=echonet.CONTROLLER,
        esv=echonet.ESV.INFC,
        properties=(echonet.Property(0xEA, bytes(11)),),
    )
    datagram = skstack.RxUdp(
        sender=METER_IP,
        dest="FE80:0000:0000:0000:021D:1290:0000:0001",
        rport=echonet.ECHONET_PORT,
        lport=echonet.ECHONET_PORT,
        sender_lla="001C6400030C12A4",
        secured=True,
        side=None,
        rssi=None,
        data=infc.encode(),
    )
    client: Any = RecordingClient()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(router.answer_infc, client)
        router.on_message(datagram)
        with trio.fail_after(1.0):
            await client.answered.wait()
        nursery.cancel_scope.cancel()
    [cmd] = client.sent
    expected = echonet.infc_response(infc).encode()
    assert cmd.wire.endswith(expected)
