"""The link supervisor (design.md §4): open the device, run the link, reopen on loss.

```
link supervisor: open the device → run the link → on loss wait (recovery.py) and reopen
└─ link nursery
   ├─ serial reader (SkStackClient.run): the only task that reads the port
   ├─ INFC responder (EventRouter.answer_infc)
   └─ session supervisor: initialise → locate → join → poll, climbing the ladder
```

A stop request ends the session supervisor; if a session is up, SKTERM goes out (bounded,
shielded, with a reader of its own since the link's reader is gone) before the port closes,
or the meter refuses the next join until the session expires.
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from loguru import logger

from trio_smartmeter.core import skstack
from trio_smartmeter.core.errors import (
    DeviceBusy,
    ExporterError,
    LinkLost,
    UnsupportedModule,
    first_failure,
)
from trio_smartmeter.core.model import SessionState
from trio_smartmeter.core.recovery import Fault, classify
from trio_smartmeter.core.state import Counter, ExporterState
from trio_smartmeter.i18n import _
from trio_smartmeter.link.serial_port import SimOpener, open_device
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.service.events import EventRouter
from trio_smartmeter.service.history_filler import HistoryFiller
from trio_smartmeter.service.session_supervisor import SessionSupervisor
from trio_smartmeter.service.settings import SessionSettings


class LinkSupervisor:
    """Takes its collaborators built (the composition root, ``app/root.py``, builds each
    once): the session supervisor and the session, ladder and fault log it shares."""

    def __init__(
        self,
        settings: SessionSettings,
        state: ExporterState,
        *,
        sessions: SessionSupervisor,
        history: HistoryFiller | None,
        device_present: Callable[[], bool],
        sim_opener: SimOpener | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.sessions = sessions
        self.session = sessions.session
        self.ladder = sessions.ladder
        self.fault_log = sessions.fault_log
        self.history = history
        self.sim_opener = sim_opener
        self._device_present = device_present
        self._run_scope: trio.CancelScope | None = None
        self._session_scope: trio.CancelScope | None = None
        self._stopping = False
        self._unsupported_reported = False

    @property
    def terminated(self) -> bool:
        """True once SKTERM ended the session at a stop."""
        return self.session.terminated

    def request_stop(self) -> None:
        """Stop polling, send SKTERM if a session exists (bounded), close the port, return."""
        self._stopping = True
        self.state.set_session_state(SessionState.STOPPING)
        for scope in (self._session_scope, self._run_scope):
            if scope is not None:
                scope.cancel()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Runs until :meth:`request_stop` (or cancellation)."""
        with trio.CancelScope() as self._run_scope:
            task_status.started()
            if not self._stopping:
                await self._reopen_loop()

    async def _reopen_loop(self) -> None:
        opened_before = False
        while True:
            absent = False
            self.state.set_session_state(
                SessionState.BACKOFF if opened_before else SessionState.STARTING
            )
            try:
                async with open_device(self.settings.device, sim_opener=self.sim_opener) as stream:
                    if opened_before:
                        self.state.bump(Counter.SERIAL_REOPENS)
                    opened_before = True
                    logger.info("opened {}", self.settings.device)
                    await self._run_link(stream)
                    if self._stopping:
                        return
                fault = (
                    Fault.SERIAL_LOST
                )  # the ladder's REOPEN rung closed the device (recovery.py)
                self.fault_log.fault(
                    "reopen",
                    f"reopening {self.settings.device} (recovery ladder)",
                    trio.current_time(),
                )
            except LinkLost as exc:
                if isinstance(exc, DeviceBusy) and not opened_before:
                    # a second exporter on the same stick: a configuration error to see at
                    # start, not a `smartmeter_up 0` beside the real one for ever
                    raise
                fault, error_type = classify(exc)
                absent = not self._device_present()
                if error_type is not None:
                    self.state.count_error(error_type)
                self.state.set_session_up(False)
                self.state.set_session_state(SessionState.NO_DEVICE)
                self.fault_log.fault("serial", f"serial device: {exc}", trio.current_time())
            except UnsupportedModule as exc:
                fault, _unused = classify(exc)
                self.state.set_session_state(SessionState.UNSUPPORTED)
                if not self._unsupported_reported:
                    self._unsupported_reported = True
                    message = _(
                        "{error}: this exporter needs a stick with SKSTACK IP firmware"
                        " (ROHM BP35A1, BP35C0/BP35C2, RATOC RS-WSUHA-P, Tessera RL7023);"
                        " looking again every {delay:.0f} s"
                    ).format(error=exc, delay=self.ladder.unsupported_retry)
                    logger.error("{}", message)
            self.session.link_lost()
            if self._stopping:
                return
            decision = self.ladder.on_fault(fault)
            self.fault_log.rung = decision.rung.value
            await self._wait_before_reopen(decision.delay, absent=absent)

    async def _wait_before_reopen(self, delay: float, *, absent: bool) -> None:
        """The ladder's delay; cut short when a missing device's path reappears."""
        if not absent:
            await trio.sleep(delay)
            return
        with trio.move_on_after(delay):
            while not self._device_present():  # noqa: ASYNC110 - no event tells a path appeared; a stat a second costs nothing
                await trio.sleep(self.ladder.replug_check)

    async def _run_link(self, stream: trio.abc.Stream) -> None:
        router = EventRouter(self.session, self.state, self.history)
        client = SkStackClient(
            stream,
            skstack.Decoder(self.session.dialect, None),
            on_async=router.on_message,
            timing=self.settings.timing,
        )
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(client.run)
                nursery.start_soon(router.answer_infc, client)
                with trio.CancelScope() as self._session_scope:
                    if self._stopping:
                        self._session_scope.cancel()
                    await self.sessions.run(client)
                nursery.cancel_scope.cancel()
        except* LinkLost as group:
            self.state.set_session_up(False)  # nothing to SKTERM on a vanished port
            raise first_failure(group) from None
        except* ExporterError as group:
            raise first_failure(group) from None
        finally:
            self._session_scope = None
            if self.state.session_up or self.session.joining:
                with trio.CancelScope(shield=True) as cleanup:
                    cleanup.deadline = trio.current_time() + self.settings.timing.stop
                    await self._terminate(client)

    async def _terminate(self, client: SkStackClient) -> None:
        client.abandon_orphan()
        try:
            async with client.reading():
                if self.session.joining:
                    await self.session.end_join(client)
                else:
                    await self.session.terminate(client)
        except ExporterError as exc:
            logger.debug("no SKTERM at shutdown: {!r}", exc)
