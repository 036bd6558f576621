"""The failure classes carry what the supervisor needs, and messages a person can act on."""

from __future__ import annotations

from trio_smartmeter.core.errors import CommandFailed, ExporterError, JoinFailed, SessionLost


def test_failures_carry_their_facts() -> None:
    failed = CommandFailed("SKSENDTO", 10)
    assert (str(failed), failed.code, failed.command) == (
        "SKSENDTO failed with ER10",
        10,
        "SKSENDTO",
    )
    assert JoinFailed("x", rejected=True).rejected
    lost = SessionLost("y", expired=True)
    assert (lost.expired, lost.counted) == (True, False)
    assert all(isinstance(e, ExporterError) for e in (failed, lost))
