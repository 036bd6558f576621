"""What arrives unasked: module EVENTs, the meter's INF/INFC pushes, RSSI on every datagram.

The reader task hands every asynchronous line to :meth:`EventRouter.on_message` (after
it has been offered to no command). The router keeps ``ExporterState`` and the
session's :class:`SessionWatch` current; it never cancels anyone's task. A Get in
flight learns that its session ended from the same EVENT line, by its own subscription
(``MeterClient.get``).
"""

from __future__ import annotations

import trio
from loguru import logger

from trio_smartmeter.core import echonet, skstack
from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.errors import ModuleTimeout
from trio_smartmeter.core.readings import fixed_time_from, half_hour_from_fixed
from trio_smartmeter.core.session import SessionSignal, signal_for
from trio_smartmeter.core.skstack import Message
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.i18n import _
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.service.history_filler import HistoryFiller
from trio_smartmeter.service.module_session import ModuleSession

#: INFC notifications waiting for their INFC_Res; more are left unanswered (the meter
#: repeats them).
INFC_BACKLOG = 8


def record_fixed(
    state: ExporterState, history: HistoryFiller | None, which: int, edt: bytes
) -> None:
    """EA/EB into the state and the history store, whether pushed (INF) or read (the
    session's first poll)."""
    scaling = state.scaling
    energy = fixed_time_from(edt, scaling, trio.current_time())
    if energy is None:
        return
    reverse = which == epc.EPC_FIXED_REVERSE
    if reverse:
        state.set_fixed(reverse=energy)
    else:
        state.set_fixed(forward=energy)
    row = half_hour_from_fixed(edt, scaling, reverse=reverse)
    if row is not None and history is not None:
        history.record_live(row)


class EventRouter:
    def __init__(
        self, session: ModuleSession, state: ExporterState, history: HistoryFiller | None = None
    ) -> None:
        self.session = session
        self.state = state
        self.history = history
        self._infc_send, self._infc_receive = trio.open_memory_channel[echonet.Frame](INFC_BACKLOG)

    # -- the reader's callback -------------------------------------------------------------
    def on_message(self, msg: Message) -> None:
        if isinstance(msg, skstack.ModuleEvent):
            self.state.count_module_event(msg.code)
            self._on_event(msg)
        elif isinstance(msg, skstack.RxUdp):
            if msg.rssi is not None:
                self.state.set_rssi(skstack.rssi_from_lqi(msg.rssi))
            address = self.session.address
            if (
                msg.rport == echonet.ECHONET_PORT
                and address is not None
                and msg.sender == address.ip
            ):
                self._on_echonet(msg.data)

    def _on_event(self, event: skstack.ModuleEvent) -> None:
        session = self.session
        ip = session.address.ip if session.address is not None else None
        signal = signal_for(event, ip)
        if signal is None:
            return
        if signal is SessionSignal.SESSION_UP:
            if not self.state.session_up and session.meter is not None:
                logger.info("session re-established by the module (EVENT 25)")
            self.state.set_session_up(True)
            session.watch.reauthed.set()
        elif signal is SessionSignal.RATE_LIMITED:
            if not self.state.rate_limited:
                logger.warning(
                    "{}", _("transmit-time limit reached (EVENT 32): polls pause until EVENT 33")
                )
            self.state.set_rate_limited(True)
        elif signal is SessionSignal.RATE_RELEASED:
            if self.state.rate_limited:
                logger.info("transmit-time limit released (EVENT 33)")
            self.state.set_rate_limited(False)
        elif signal is SessionSignal.AUTH_FAILED:
            if session.meter is not None and self.state.session_up:
                self._lose(SessionSignal.SESSION_ENDED)
        elif session.meter is not None:
            self._lose(signal)

    def _lose(self, signal: SessionSignal) -> None:
        self.state.set_session_up(False)
        self.session.watch.lose(signal)

    def _on_echonet(self, data: bytes) -> None:
        try:
            frame = echonet.decode_frame(data)
        except echonet.FrameError as exc:
            logger.debug("ignored an undecodable frame from the meter: {}", exc)
            return
        if frame.esv not in (echonet.ESV.INF, echonet.ESV.INFC):
            return
        if frame.seoj == echonet.SMART_METER:
            for prop in frame.properties:
                if prop.epc in (epc.EPC_FIXED_FORWARD, epc.EPC_FIXED_REVERSE):
                    self.record_fixed(prop.epc, prop.edt)
        if frame.esv == echonet.ESV.INFC:
            try:
                self._infc_send.send_nowait(frame)
            except trio.WouldBlock:
                logger.debug("INFC backlog full: one notification left unanswered")

    def record_fixed(self, which: int, edt: bytes) -> None:
        record_fixed(self.state, self.history, which, edt)

    # -- the INFC responder task ---------------------------------------------------------
    async def answer_infc(self, client: SkStackClient) -> None:
        """Answer each INFC with INFC_Res (the meter repeats an unanswered INFC)."""
        async for frame in self._infc_receive:
            session = self.session
            if session.address is None or session.dialect is None or not self.state.session_up:
                continue
            response = echonet.infc_response(frame).encode()
            try:
                await client.command(
                    skstack.sk_sendto(session.dialect, session.address.ip, response),
                    timeout=session.settings.timing.send_ack,
                    check=False,
                )
            except ModuleTimeout:
                logger.debug("INFC_Res not acknowledged by the module")
