"""The poll schedule: one Get frame per interval, on a fixed phase, while the session is up.

Ticks are ``start + k × interval``: the read's own latency never accumulates into drift,
and a poll that overran skips the ticks it missed instead of bunching up. While the
transmit-time limit is active (EVENT 32 until EVENT 33) a tick sends nothing, for at
most ``Timing.rate_limit`` (counted from the first tick it skipped): a module whose
EVENT 33 was lost must not silence the exporter for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn

import attrs
import trio
from loguru import logger

from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.errors import MalformedResponse, SessionLost
from trio_smartmeter.core.model import MeterScaling, SessionState
from trio_smartmeter.core.readings import (
    FIXED_EPCS,
    EnergyCounterWatch,
    UnreadableAnswer,
    meter_info_from,
    minute_energy_from,
    poll_epcs,
    reading_from,
    scaling_from,
)
from trio_smartmeter.core.state import Counter, ErrorType, ExporterState
from trio_smartmeter.link.meter_client import MeterClient, readable
from trio_smartmeter.service.events import record_fixed
from trio_smartmeter.service.history_filler import HistoryFiller
from trio_smartmeter.service.module_session import ModuleSession


class Poller:
    def __init__(
        self,
        session: ModuleSession,
        state: ExporterState,
        *,
        interval: float,
        wall_clock: Callable[[], float],
        history: HistoryFiller | None = None,
    ) -> None:
        self.session = session
        self.state = state
        self.interval = interval
        self.history = history
        self._wall = wall_clock
        self._energy = EnergyCounterWatch()
        #: When the first tick found the transmit-time limit active (None: not limited).
        self._limited_since: float | None = None

    async def run(self, on_reading: Callable[[], None]) -> NoReturn:
        """Poll until a failure raises; ``on_reading`` after each fresh reading."""
        meter = self.session.meter
        if meter is None:
            raise SessionLost("no session", expired=False)
        self.state.set_session_state(SessionState.READY)
        next_tick = trio.current_time()
        while True:
            await self.session.watch.sleep_until(next_tick)
            if self._rate_limited():
                self.state.count_error(ErrorType.RATE_LIMIT)
                self.state.set_session_state(SessionState.RATE_LIMITED)
                logger.debug("transmit-time limit active (EVENT 32): poll skipped")
            else:
                self.state.set_session_state(SessionState.READY)
                await self.poll_once(meter)
                on_reading()
            now = trio.current_time()
            next_tick += self.interval
            if next_tick <= now:  # we overran: skip the missed ticks, keep the phase
                missed = int((now - next_tick) // self.interval) + 1
                next_tick += missed * self.interval
            if self.history is not None:
                with trio.move_on_at(next_tick):  # a history read never delays a poll
                    await self.history.between_polls(meter, time_left=next_tick - now)

    def _rate_limited(self) -> bool:
        """Whether this tick is skipped for the transmit-time limit (bounded by
        ``Timing.rate_limit``)."""
        if not self.state.rate_limited:
            self._limited_since = None
            return False
        now = trio.current_time()
        if self._limited_since is None:
            self._limited_since = now
        bound = self.session.settings.timing.rate_limit
        if now - self._limited_since < bound:
            return True
        logger.warning(
            "no EVENT 33 within {:.0f} s of the transmit-time limit (EVENT 32): polling again",
            bound,
        )
        self.state.set_rate_limited(False)
        self._limited_since = None
        return False

    async def poll_once(self, meter: MeterClient) -> None:
        """One Get frame and one reading (the session's first also sets the scaling)."""
        session = self.session
        started = trio.current_time()
        frame = await meter.get(poll_epcs(session.scaling))
        duration = trio.current_time() - started
        props = readable(frame)
        if session.scaling is None:
            try:
                session.scaling = self._apply_static(props)
            except UnreadableAnswer as exc:
                raise MalformedResponse(str(exc)) from None
        scaling = session.scaling
        if scaling.has_reverse and epc.EPC_REVERSE not in props:
            scaling = session.scaling = attrs.evolve(scaling, has_reverse=False)
            self.state.set_scaling(scaling)
        try:
            reading, raw = reading_from(
                props, scaling, received_monotonic=trio.current_time(), received_unix=self._wall()
            )
        except UnreadableAnswer as exc:
            self.state.record_failed_poll(ErrorType.PARSE, duration)
            raise MalformedResponse(str(exc)) from None
        minute = minute_energy_from(props, scaling, trio.current_time())
        if minute is not None:
            self.state.set_minute_energy(minute)
        decrease = self._energy.observe(raw.forward, scaling.digits)
        if decrease is not None:
            if decrease == "reset":
                self.state.bump(Counter.ENERGY_RESETS)
            logger.info("cumulative energy went down ({}): the counter restarts", decrease)
        self.state.record_reading(reading, duration)
        logger.debug("reading: {} W", reading.power_watts)

    def _apply_static(self, props: Mapping[int, bytes]) -> MeterScaling:
        scaling = scaling_from(props)
        self.state.set_scaling(scaling)
        info = meter_info_from(props)
        if info is not None:
            self.state.set_meter_info(info)
        for which in FIXED_EPCS:
            if which in props:
                record_fixed(self.state, self.history, which, props[which])
        return scaling
