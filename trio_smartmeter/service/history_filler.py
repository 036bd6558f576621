"""Reads the meter's own history back into the store after a gap, one frame between polls.

The poller hands over the time left until its next tick; a history frame goes out only
with a deadline that ends before that tick (so a poll is never delayed: at the default
60 s the frame gets its full 30 s, at 10 s it gets 9 s), never while the transmit-time
limit is active; as many as fit before the next poll, so a long interval fills as fast
as a short one (a day of history 1 is three frames). Which frames is the pure planner's choice
(``core.history_plan``); this module carries the steps out, checks that the day or time
the meter answered for is the one it was set to (another HEMS may have changed it), and
stores what came back. Live fixed-time values (EA/EB) go into the same store; a slot is
complete only when every direction the meter measures is known, so a slot pushed live by
EA alone is read back for its reverse value (EB, one frame).
"""

from __future__ import annotations

import collections
import datetime as _dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import trio
from loguru import logger

from trio_smartmeter.core.echonet import ESV, Property, readable_properties
from trio_smartmeter.core.echonet import history as h
from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.errors import MalformedResponse, RequestTimeout, SendFailed
from trio_smartmeter.core.history_plan import (
    Capabilities,
    GetDay,
    GetLatest,
    GetWindow,
    SetDay,
    SetWindow,
    Step,
    missing_directions,
    missing_slots,
    plan,
    slot_span,
)
from trio_smartmeter.core.jst import unix_to_meter_time
from trio_smartmeter.core.model import HalfHour, MeterScaling
from trio_smartmeter.core.readings import fixed_time_from, half_hour_from_fixed
from trio_smartmeter.core.recovery import StepRetry
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.meter_client import MeterClient
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.service.history_store import HistoryStore

T = TypeVar("T")
#: How the store's blocking calls are made (a worker thread; inline under a test clock).
Offload = Callable[..., Awaitable[Any]]
#: A history frame's usual round trip on a real meter (for the log's estimate only).
TYPICAL_FRAME_SECONDS = 3.0


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """The store is blocking I/O (an fsync on an SD card can take 100 ms): a worker thread."""
    return await trio.to_thread.run_sync(fn, *args)


class HistoryFiller:
    def __init__(
        self,
        store: HistoryStore,
        state: ExporterState,
        timing: Timing,
        *,
        offload: Offload = in_thread,
    ) -> None:
        self.store = store
        self.state = state
        self.timing = timing
        self._offload = offload
        self._steps: collections.deque[Step] = collections.deque()
        self._gap: set[h.Slot] = set()
        self._gap_forward: set[h.Slot] = set()  # the gap's slots that lack forward
        self._gap_reverse: set[h.Slot] = set()  # ... and reverse (a meter that measures it)
        self._filled: set[h.Slot] = set()
        self._unavailable: set[int] = set()
        self._no_reverse: set[int] = set()  # slot ends the meter has no reverse value for
        self._planned_for: _dt.datetime | None = None
        self._retry = StepRetry()
        self._live: list[HalfHour] = []
        #: Meter time -> the oldest slot start the bills need (issue 21; set by the
        #: composition root when a tariff is configured): the backfill reaches back to it.
        self.reach_back: Callable[[_dt.datetime], _dt.datetime] | None = None

    @property
    def frame_deadline(self) -> float:
        """The longest one history frame can take (send, then the meter's answer)."""
        return self.timing.send_ack + self.timing.response

    def deadline_for(self, time_left: float) -> float | None:
        """The deadline of a history frame sent now, ending ``Timing.history_spare`` before
        the next poll is due; None when not even ``Timing.history_min_frame`` fits (a round
        trip takes about a second: at a 10 s poll interval a frame gets 9 s)."""
        deadline = min(self.frame_deadline, time_left - self.timing.history_spare)
        return deadline if deadline >= self.timing.history_min_frame else None

    # -- live values -----------------------------------------------------------------------
    def record_live(self, row: HalfHour) -> None:
        """An EA/EB value (pushed or read); stored at the next flush."""
        self._live.append(row)

    async def flush(self) -> None:
        """Store the live values; rows the disk could not take yet are tried again, a
        removed store is recreated."""
        if self._live:
            rows, self._live = self._live, []
            await self._store(rows)
        else:  # held rows, a removed store: a stat and no write when all is well
            await self._offload(self.store.retry)

    # -- between two polls ---------------------------------------------------------------
    async def between_polls(self, meter: MeterClient, *, time_left: float) -> None:
        """History frames while they fit in ``time_left`` and may be sent; then, while
        the disk refuses rows, their writes on the ladder's backoff until the next poll
        (so a freed card is written within the backoff at any interval)."""
        ends_at = trio.current_time() + time_left
        await self.flush()
        await self._fill(meter, ends_at)
        while self.store.holding and trio.current_time() < ends_at:
            await trio.sleep(min(self.store.retry_in(), ends_at - trio.current_time()))
            await self._offload(self.store.retry)

    async def _fill(self, meter: MeterClient, ends_at: float) -> None:
        scaling = self.state.scaling
        fixed = self.state.fixed_forward
        if scaling is None or fixed is None:
            return  # no meter clock yet: the first EA read or push gives it
        boundary = unix_to_meter_time(fixed.meter_timestamp_unix)
        if not self._steps and boundary != self._planned_for:
            await self._replan(boundary, scaling)
        while self._steps and not self.state.rate_limited:
            deadline = self.deadline_for(ends_at - trio.current_time())
            if deadline is None or not await self._step(meter, deadline, boundary, scaling):
                return

    async def _step(
        self, meter: MeterClient, deadline: float, boundary: _dt.datetime, scaling: MeterScaling
    ) -> bool:
        """The next step within ``deadline``; False when it failed."""
        step = self._steps[0]
        try:
            with trio.fail_after(deadline):
                await self._run(meter, step, boundary, scaling)
        except (RequestTimeout, SendFailed, MalformedResponse, trio.TooSlowError) as exc:
            dropped = self._retry.failed()
            logger.debug("history read {} failed ({}): {}", step, self._retry.failures, exc)
            if dropped:
                self._drop_plan(f"failed {self._retry.limit} times in a row")
            return False
        self._retry.succeeded()
        await self._progress()
        return True

    async def _replan(self, boundary: _dt.datetime, scaling: MeterScaling) -> None:
        self._planned_for = boundary
        forward, reverse, oldest = await self._offload(self._stored)
        reverse |= self._no_reverse
        complete = forward & reverse if scaling.has_reverse else forward
        missing = missing_slots(
            boundary,
            complete,
            oldest_known_end=oldest,
            unavailable=self._unavailable,
            reach_back_to=None if self.reach_back is None else self.reach_back(boundary),
        )
        capabilities = Capabilities(history2=scaling.history2, reverse=scaling.has_reverse)
        steps = plan(
            missing,
            capabilities,
            boundary.date(),
            have_forward=forward,
            have_reverse=reverse,
            newest=h.Slot.ending_at(boundary),
        )
        self._steps = collections.deque(steps)
        self._gap, self._filled = set(missing), set()
        self._gap_forward, self._gap_reverse = missing_directions(
            missing, have_forward=forward, have_reverse=reverse, reverse=scaling.has_reverse
        )
        if len(missing) > 1:
            logger.info(
                "reading {} missing half-hours {} back from the meter: {} frames, about {}",
                len(missing),
                slot_span(missing),
                len(steps),
                _duration(self._estimate(len(steps))),
            )
        await self._progress()

    def _estimate(self, frames: int) -> float:
        """Roughly how long ``frames`` take: as many as fit between two polls, the first
        ones right now."""
        interval = self.state.interval
        per_interval = max(1, int((interval - 2.0) // TYPICAL_FRAME_SECONDS))
        later = (frames - 1) // per_interval  # intervals waited for
        return later * interval + (frames - later * per_interval) * TYPICAL_FRAME_SECONDS

    def _stored(self) -> tuple[set[int], set[int], int | None]:
        """The slot ends with a forward value, those with a reverse one, the oldest."""
        rows = self.store.between(0, 2**62)
        forward = {r.end_unix for r in rows if r.forward_raw is not None}
        reverse = {r.end_unix for r in rows if r.reverse_raw is not None}
        return forward, reverse, min((r.end_unix for r in rows), default=None)

    def _drop_plan(self, why: str) -> None:
        logger.info("history read paused: {} (planned again at the next half-hour)", why)
        self._steps.clear()

    async def _progress(self) -> None:
        count = await self._offload(self.store.count)
        left = len(self._gap_forward | self._gap_reverse) if self._steps else 0
        self.state.set_history(slots=count, missing=left)
        if not self._steps and self._filled:
            logger.log(
                "INFO" if len(self._filled) > 1 else "DEBUG",
                "filled {} half-hours {} from the meter",
                len(self._filled),
                slot_span(self._filled),
            )
            self._filled = set()

    # -- one step ------------------------------------------------------------------------
    async def _run(
        self, meter: MeterClient, step: Step, boundary: _dt.datetime, scaling: MeterScaling
    ) -> None:
        if isinstance(step, SetDay | SetWindow):
            if isinstance(step, SetDay):
                prop = Property(epc.EPC_HISTORY_DAY, h.encode_history_day(step.day))
            else:
                assert step.window.at is not None
                edt = h.encode_history2_request(step.window.at, step.window.points)
                prop = Property(epc.EPC_HISTORY2_TIME, edt)
            answer = await meter.set_c([prop])
            if answer.esv != ESV.SET_RES:
                self._drop_plan(f"the meter refused to set {prop.epc:02X}")
                return
            self._steps.popleft()
            return
        if isinstance(step, GetLatest):
            await self._latest(meter, step, boundary, scaling)
            return
        code = (
            epc.EPC_HISTORY2
            if isinstance(step, GetWindow)
            else epc.EPC_HISTORY_REVERSE
            if step.reverse
            else epc.EPC_HISTORY_FORWARD
        )
        frame = await meter.get([code])
        answered = readable_properties(frame).get(code)
        if answered is None:
            self._drop_plan(f"the meter has no {code:02X}")
            return
        rows = self._rows(step, answered, boundary.date(), scaling)
        if rows is None:  # another HEMS (or a retry) changed the selector: set it again
            self._steps.appendleft(
                SetDay(step.day) if isinstance(step, GetDay) else SetWindow(step.window)
            )
            return
        self._steps.popleft()
        await self._store(rows)

    def _rows(
        self, step: GetDay | GetWindow, edt: bytes, today: _dt.date, scaling: MeterScaling
    ) -> list[HalfHour] | None:
        """The store's rows for the gap's slots in an answer; None if it is for another
        day or time than the one set."""
        if isinstance(step, GetWindow):
            h2 = h.decode_history2(edt)
            if h2 is None or h2.at != step.window.at:
                return None
            pairs = [(p.slot, p.forward, p.reverse) for p in h2.points]
        else:
            h1 = h.decode_history1(edt)
            if h1 is None or h1.day != step.day:
                return None
            pairs = [
                (slot, None, raw) if step.reverse else (slot, raw, None)
                for slot, raw in h1.slots(today)
            ]
        rows = []
        for slot, forward, reverse in pairs:
            if slot not in self._gap:
                continue
            end = int(slot.unix_end)
            if forward is None and slot in self._gap_forward and not _reverse_only(step):
                self._unavailable.add(end)  # "not collected": do not ask again
            if reverse is None and slot in self._gap_reverse and not _forward_only(step):
                self._no_reverse.add(end)  # "not collected": as complete as it gets
                self._gap_reverse.discard(slot)
                self._settle(slot)
            if forward is None and reverse is None:
                continue
            rows.append(self._row(slot, forward, reverse, scaling))
        return rows

    def _settle(self, slot: h.Slot) -> None:
        """Count ``slot`` as filled once it lacks nothing that can still be read."""
        if slot in self._gap and slot not in self._gap_forward | self._gap_reverse:
            self._filled.add(slot)

    def _row(
        self, slot: h.Slot, forward: int | None, reverse: int | None, scaling: MeterScaling
    ) -> HalfHour:
        """The store's row for ``slot``; the gap's bookkeeping of what it still lacks."""
        if forward is not None:
            self._gap_forward.discard(slot)
        if reverse is not None:
            self._gap_reverse.discard(slot)
        self._settle(slot)
        return HalfHour(
            int(slot.unix_end),
            forward_raw=forward,
            reverse_raw=reverse,
            forward_joules=_joules(forward, scaling),
            reverse_joules=_joules(reverse, scaling),
        )

    async def _latest(
        self, meter: MeterClient, step: GetLatest, boundary: _dt.datetime, scaling: MeterScaling
    ) -> None:
        """EA/EB for the newest slot (also the fixed-time metrics: they are fresh)."""
        codes = [epc.EPC_FIXED_FORWARD] * step.forward + [epc.EPC_FIXED_REVERSE] * step.reverse
        answered = readable_properties(await meter.get(codes))
        self._steps.popleft()
        newest = h.Slot.ending_at(boundary)
        rows = []
        for code in codes:
            reverse = code == epc.EPC_FIXED_REVERSE
            edt = answered.get(code)
            row = None if edt is None else half_hour_from_fixed(edt, scaling, reverse=reverse)
            if edt is None or row is None:
                if reverse:
                    self._no_reverse.add(int(newest.unix_end))
                    self._gap_reverse.discard(newest)
                    self._settle(newest)
                continue
            energy = fixed_time_from(edt, scaling, trio.current_time())
            if reverse:
                self.state.set_fixed(reverse=energy)
            else:
                self.state.set_fixed(forward=energy)
            if row.end_unix == int(newest.unix_end):
                raw = row.reverse_raw if reverse else row.forward_raw
                rows.append(
                    self._row(newest, None if reverse else raw, raw if reverse else None, scaling)
                )
            else:
                rows.append(row)  # the meter moved on meanwhile: a later slot's value
        await self._store(rows)

    async def _store(self, rows: list[HalfHour]) -> None:
        await self._offload(self.store.put, rows)


def _reverse_only(step: GetDay | GetWindow) -> bool:
    return isinstance(step, GetDay) and step.reverse


def _forward_only(step: GetDay | GetWindow) -> bool:
    return isinstance(step, GetDay) and not step.reverse


def _duration(seconds: float) -> str:
    """ "40 s", "3 min", "2.5 h" for a log line."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _joules(raw: int | None, scaling: MeterScaling) -> Decimal | None:
    return None if raw is None else epc.energy_joules(raw, scaling.coefficient, scaling.unit_kwh)
