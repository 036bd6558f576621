"""Keeps the bills (issue 21) computed from the history store, off every scrape's path.

The store calls back after each ``put`` (a live EA/EB value, a backfilled frame); the
keeper wakes, and in a worker thread reads the two periods' half-hours and computes both
bills and the price now; ``ExporterState.bills`` is then replaced whole, so a scrape, the
page or MQTT read a finished value and never wait. Wake-ups that arrive while it computes
are coalesced into one more run. Nothing here touches the radio.

"Now" is the meter's clock, the clock the half-hours are filed by: the newest fixed-time
boundary (EA) plus the monotonic time since it arrived, never the host's (a Pi whose
clock is wrong at boot still bills the right month). Until the meter has given one, there
is no bill.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Callable

import trio
from loguru import logger

from trio_smartmeter.core.bill import Bills, backfill_oldest_slot, bills_window, compute_bills
from trio_smartmeter.core.jst import unix_to_meter_time
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.core.tariff import Tariff
from trio_smartmeter.service.history_filler import Offload, in_thread
from trio_smartmeter.service.history_store import HistoryStore

__all__ = ["BillKeeper", "meter_now"]


def meter_now(state: ExporterState, now_monotonic: float) -> _dt.datetime | None:
    """The meter's clock (naive JST): its newest EA boundary plus the time since it came."""
    fixed = state.fixed_forward
    if fixed is None:
        return None
    elapsed = max(0.0, now_monotonic - fixed.received_monotonic)
    return unix_to_meter_time(fixed.meter_timestamp_unix) + _dt.timedelta(seconds=elapsed)


class BillKeeper:
    def __init__(
        self,
        tariff: Tariff,
        store: HistoryStore,
        state: ExporterState,
        *,
        monotonic: Callable[[], float] = trio.current_time,
        offload: Offload = in_thread,
    ) -> None:
        """``offload``: how the computation runs (a worker thread; inline under a test clock)."""
        self.tariff = tariff
        self.store = store
        self.state = state
        self.monotonic = monotonic
        self._offload = offload
        self._wake = trio.Event()
        self._wake.set()  # the store may hold bills already
        self._failure: str | None = None

    def reach_back(self, boundary: _dt.datetime) -> _dt.datetime:
        """The oldest slot start the bills need as of the meter time ``boundary`` (the
        history backfill reaches back to it)."""
        return backfill_oldest_slot(self.tariff, boundary).start

    async def run(self) -> None:
        token = trio.lowlevel.current_trio_token()

        def changed() -> None:  # from the thread that put
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(lambda: self._wake.set())

        self.store.changed.append(changed)
        try:
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                now = meter_now(self.state, self.monotonic())
                if now is None:
                    continue  # the first EA value is stored too: it wakes us
                try:
                    self.state.bills = await self._offload(self._compute, now)
                except Exception as exc:  # a bill is derived data: never a reason to stop
                    self._failed(exc)
                else:
                    self._failure = None
        finally:
            self.store.changed.remove(changed)

    def _failed(self, exc: Exception) -> None:
        """One warning per kind of failure; the last bills stay until a computation works."""
        kind = f"{type(exc).__name__}: {exc}"
        if kind != self._failure:
            logger.warning("the bill could not be computed ({}); keeping the last one", kind)
        self._failure = kind

    def _compute(self, now: _dt.datetime) -> Bills:
        since, until = bills_window(self.tariff, now)
        bills = compute_bills(self.tariff, self.store.between(since, until), now)
        logger.debug(
            "bill as of {}: {} yen so far, {} half-hours missing",
            now,
            bills.current.charges.total,
            bills.current.missing_half_hours,
        )
        return bills
