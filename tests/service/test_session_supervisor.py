"""Which fault each failure is: the one mapping the recovery ladder is fed from."""

from __future__ import annotations

import random
from typing import Any

import pytest

from trio_smartmeter.core.errors import (
    CommandFailed,
    ExporterError,
    JoinFailed,
    MalformedResponse,
    ModuleRestarted,
    ModuleTimeout,
    RequestTimeout,
    ScanEmpty,
    SendFailed,
    SessionLost,
)
from trio_smartmeter.core.recovery import Fault, Ladder
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.service.fault_log import FaultLog
from trio_smartmeter.service.session_supervisor import SessionSupervisor


class Facts:
    def __init__(self, *, verified: bool = True, credentials: bool = True) -> None:
        self.address_verified = verified
        self.credentials_set = credentials


def classify(exc: ExporterError, **facts: bool) -> tuple[Fault, str | None]:
    session: Any = Facts(**facts)
    sup = SessionSupervisor(
        session, poller=None, state=ExporterState(), ladder=Ladder(rng=random.Random(0)),  # type: ignore[arg-type]
        fault_log=FaultLog(),
    )  # fmt: skip
    return sup.classify(exc)


@pytest.mark.parametrize(
    ("exc", "facts", "expected"),
    [
        (ModuleRestarted("echo"), {}, (Fault.MODULE_RESTARTED, "serial")),
        (ModuleTimeout("x"), {}, (Fault.MODULE_SILENT, "serial")),
        (CommandFailed("SKSREG", 4), {}, (Fault.MODULE_SILENT, "serial")),
        (ScanEmpty("x"), {}, (Fault.SCAN_EMPTY, "ip_resolve")),
        (JoinFailed("24", rejected=True), {}, (Fault.AUTH_REJECTED, "auth")),
        (JoinFailed("t", rejected=False), {}, (Fault.JOIN_FAILED, "auth")),
        (JoinFailed("24", rejected=True), {"verified": False}, (Fault.UNCONFIRMED_ADDRESS, "auth")),
        # rejected although the module holds no credentials: it forgot them, not a password
        (JoinFailed("24", rejected=True), {"credentials": False}, (Fault.MODULE_RESTARTED, "auth")),
        (SessionLost("29", expired=True), {}, (Fault.SESSION_EXPIRED, "auth")),
        (SessionLost("x", expired=False, counted=True), {}, (Fault.SESSION_ENDED, None)),
        (SendFailed("21"), {}, (Fault.SEND_FAILED, "query")),
        (RequestTimeout("x"), {}, (Fault.TIMEOUT, "query")),
        (MalformedResponse("x"), {}, (Fault.TIMEOUT, "parse")),
    ],
)
def test_each_failure_is_one_fault(
    exc: ExporterError, facts: dict[str, bool], expected: tuple[Fault, str | None]
) -> None:
    assert classify(exc, **facts) == expected
