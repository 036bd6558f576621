"""Which fault each failure is: the one mapping the recovery ladder is fed from
(``recovery.classify``), which faults drop the session, and the history-step rule."""

from __future__ import annotations

import pytest

from trio_smartmeter.core.errors import (
    CommandFailed,
    DeviceBusy,
    ExporterError,
    JoinFailed,
    LinkLost,
    MalformedResponse,
    ModuleRestarted,
    ModuleTimeout,
    RequestTimeout,
    ScanEmpty,
    SendFailed,
    SessionLost,
    UnsupportedModule,
)
from trio_smartmeter.core.recovery import Fault, StepRetry, classify, drops_session
from trio_smartmeter.core.state import ErrorType


@pytest.mark.parametrize(
    ("exc", "facts", "expected"),
    [
        (LinkLost("gone"), {}, (Fault.SERIAL_LOST, ErrorType.SERIAL)),
        (DeviceBusy("held", holder_pid=1), {}, (Fault.SERIAL_LOST, ErrorType.SERIAL)),
        (UnsupportedModule("J11"), {}, (Fault.UNSUPPORTED_MODULE, None)),
        (ModuleRestarted("echo"), {}, (Fault.MODULE_RESTARTED, ErrorType.SERIAL)),
        (ModuleTimeout("x"), {}, (Fault.MODULE_SILENT, ErrorType.SERIAL)),
        (CommandFailed("SKSREG", 4), {}, (Fault.MODULE_SILENT, ErrorType.SERIAL)),
        (ScanEmpty("x"), {}, (Fault.SCAN_EMPTY, ErrorType.IP_RESOLVE)),
        (JoinFailed("24", rejected=True), {}, (Fault.AUTH_REJECTED, ErrorType.AUTH)),
        (JoinFailed("t", rejected=False), {}, (Fault.JOIN_FAILED, ErrorType.AUTH)),
        (
            JoinFailed("24", rejected=True),
            {"address_verified": False},
            (Fault.UNCONFIRMED_ADDRESS, ErrorType.AUTH),
        ),
        # rejected although the module holds no credentials: it forgot them, not a password
        (
            JoinFailed("24", rejected=True),
            {"credentials_set": False},
            (Fault.MODULE_RESTARTED, ErrorType.AUTH),
        ),
        (SessionLost("29", expired=True), {}, (Fault.SESSION_EXPIRED, ErrorType.AUTH)),
        (SessionLost("x", expired=False, counted=True), {}, (Fault.SESSION_ENDED, None)),
        (SendFailed("21"), {}, (Fault.SEND_FAILED, ErrorType.QUERY)),
        (RequestTimeout("x"), {}, (Fault.TIMEOUT, ErrorType.QUERY)),
        (MalformedResponse("x"), {}, (Fault.TIMEOUT, ErrorType.PARSE)),
    ],
)
def test_each_failure_is_one_fault(
    exc: ExporterError, facts: dict[str, bool], expected: tuple[Fault, ErrorType | None]
) -> None:
    assert classify(exc, **facts) == expected


def test_only_a_lost_get_keeps_the_session() -> None:
    assert {f for f in Fault if not drops_session(f)} == {Fault.TIMEOUT, Fault.SEND_FAILED}


def test_a_history_step_is_dropped_after_three_failures_in_a_row() -> None:
    retry = StepRetry()
    assert [retry.failed(), retry.failed()] == [False, False]
    retry.succeeded()  # a success starts the count again
    assert [retry.failed(), retry.failed(), retry.failed()] == [False, False, True]
    assert retry.failed()  # a drop does not: the next plan's first failure drops it again
