"""The session supervisor: climbs the recovery ladder until the meter is read again.

Each failure of a step becomes one :class:`~trio_smartmeter.core.recovery.Fault`
(``recovery.classify`` is the only place that knows which exception means what); the ladder
answers with the rung to climb to and the wait before it; this loop waits, then runs
the steps that rung needs. It returns only when the ladder says REOPEN.
"""

from __future__ import annotations

import trio
from loguru import logger

from trio_smartmeter.core.errors import ExporterError, LinkLost, UnsupportedModule
from trio_smartmeter.core.model import SessionState
from trio_smartmeter.core.recovery import Fault, Ladder, Rung, classify, drops_session
from trio_smartmeter.core.state import Counter, ErrorType, ExporterState
from trio_smartmeter.i18n import _
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.service.fault_log import FaultLog
from trio_smartmeter.service.module_session import ModuleSession
from trio_smartmeter.service.poller import Poller


class SessionSupervisor:
    def __init__(
        self,
        session: ModuleSession,
        poller: Poller,
        state: ExporterState,
        ladder: Ladder,
        fault_log: FaultLog,
    ) -> None:
        self.session = session
        self.poller = poller
        self.state = state
        self.ladder = ladder
        self.fault_log = fault_log

    async def run(self, client: SkStackClient) -> None:
        """Initialise, locate, join and poll on ``client``; returns when it is time to
        reopen the device."""
        session = self.session
        rung = Rung.RESET
        initialised = joined = False
        while rung is not Rung.REOPEN:
            try:
                if rung is Rung.RESET or not initialised:
                    joined = initialised = False
                    await session.initialise(client)
                    initialised = True
                if rung is Rung.RESCAN_ALL:
                    session.forget_address()
                if rung is Rung.RESCAN_CHANNEL or session.address is None:
                    await session.locate(client, prefer_channel=rung is Rung.RESCAN_CHANNEL)
                if rung in (Rung.REJOIN, Rung.RESCAN_CHANNEL, Rung.RESCAN_ALL) or not joined:
                    joined = False
                    await session.join(client, terminate_first=rung is Rung.REJOIN)
                    joined = True
                if rung is Rung.WAIT_REAUTH:
                    await session.wait_reauth()
                await self.poller.run(on_reading=self._on_reading)
            except (LinkLost, UnsupportedModule):
                raise  # the link supervisor's
            except ExporterError as exc:
                fault, error_type = self.classify(exc)
                rung = await self._climb(fault, error_type, str(exc))

    def classify(self, exc: ExporterError) -> tuple[Fault, ErrorType | None]:
        """The ladder's fault and the error type of a step's failure (core.recovery), with
        what this session knows about its address and credentials."""
        return classify(
            exc,
            address_verified=self.session.address_verified,
            credentials_set=self.session.credentials_set,
        )

    def _on_reading(self) -> None:
        self.ladder.on_success()
        self.fault_log.recovered(trio.current_time())

    async def _climb(self, fault: Fault, error_type: ErrorType | None, message: str) -> Rung:
        if error_type is not None:
            self.state.count_error(error_type)
        if drops_session(fault):
            self.state.set_session_up(False)
        decision = self.ladder.on_fault(fault)
        self.fault_log.fault(fault.value, message, trio.current_time())
        if decision.latch:
            self.state.set_credentials_latched(True)
            self.state.set_session_state(SessionState.LATCHED)
            logger.error(
                "{}",
                _(
                    "the meter keeps rejecting the B-route ID/password (EVENT 24): {count} joins "
                    "were rejected, after a rejoin and a module reset that set the credentials "
                    "again; retrying only every {delay:.0f} s; check SMARTMETER_ID and "
                    "SMARTMETER_PASSWORD"
                ).format(count=self.state.counters[Counter.JOIN_FAILURES], delay=decision.delay),
            )
        else:
            self.state.set_session_state(SessionState.BACKOFF)
        logger.debug(
            "recovery: {} in {:.1f} s ({})", decision.rung.value, decision.delay, decision.reason
        )
        await trio.sleep(decision.delay)
        self.fault_log.rung = decision.rung.value
        return decision.rung
