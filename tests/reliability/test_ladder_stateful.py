"""Hypothesis stateful tests: the ladder and the session's event decoding under random
event sequences — no crash, no illegal transition, every wait bounded."""

from __future__ import annotations

import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from trio_smartmeter.core.recovery import Backoff, Fault, Ladder, Rung
from trio_smartmeter.core.session import SessionSignal, signal_for
from trio_smartmeter.core.skstack import ModuleEvent

METER = "FE80:0000:0000:0000:021C:6400:030C:12A4"
OTHER = "FE80:0000:0000:0000:021C:6400:0000:BEEF"
ORDER = list(Rung)


class LadderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ladder = Ladder(rng=random.Random(0), backoff=Backoff(), latch_delay=600.0)
        self.since_success: list[Fault] = []
        self.last = None

    @rule(fault=st.sampled_from(list(Fault)))
    def fault(self, fault: Fault) -> None:
        d = self.ladder.on_fault(fault)
        self.since_success.append(fault)
        # every wait is bounded: the backoff cap, or the latch delay for credentials
        assert 0.0 <= d.delay <= max(Backoff().cap, self.ladder.latch_delay)
        if d.latch:
            assert d.rung is Rung.REJOIN and d.delay == self.ladder.latch_delay
            assert self.since_success.count(Fault.AUTH_REJECTED) >= self.ladder.auth_latch_after
        # legal transitions per fault family
        if fault is Fault.SERIAL_LOST:
            assert d.rung is Rung.REOPEN
        if fault is Fault.MODULE_SILENT:
            assert d.rung in (Rung.RESET, Rung.REOPEN)
        if fault is Fault.SCAN_EMPTY:
            assert d.rung in (Rung.RESCAN_ALL, Rung.RESET, Rung.REOPEN)
        if d.rung is Rung.WAIT_REAUTH:
            assert fault is Fault.SESSION_EXPIRED and d.delay == 0.0
        if d.rung is Rung.RESEND:
            assert fault in (Fault.TIMEOUT, Fault.SEND_FAILED)
        self.last = d

    @rule()
    def success(self) -> None:
        self.ladder.on_success()
        self.since_success.clear()
        assert self.ladder.consecutive_faults == 0 and not self.ladder.latched

    @invariant()
    def counts(self) -> None:
        assert self.ladder.consecutive_faults == len(self.since_success)

    @rule(
        code=st.integers(0, 0xFF),
        sender=st.sampled_from([METER, OTHER, None]),
        known=st.booleans(),
    )
    def event(self, code: int, sender: str | None, known: bool) -> None:
        sig = signal_for(ModuleEvent(code, sender, None, None), METER if known else None)
        if code in (0x32, 0x33):
            assert sig in (SessionSignal.RATE_LIMITED, SessionSignal.RATE_RELEASED)
        elif sender == OTHER and known:
            assert sig is None  # another node's event never touches our session
        elif sig is not None:
            assert code in (0x24, 0x25, 0x26, 0x27, 0x28, 0x29)


TestLadder = LadderMachine.TestCase
TestLadder.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
