"""The failure classes the I/O layers raise and the supervisor understands.

Exceptions are mapped once, at the adapter seam: nothing above ``serial_port`` and
``skstack_client`` sees ``OSError(EIO)``, ``termios.error`` or ``trio.BrokenResourceError``.
Messages never contain the B-route ID or password.
"""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class InvalidInput(Exception):
    """A file or the options a user wrote are invalid: ``problems``, one line each, the key
    first and never a secret's value (the configuration, the web configuration, a tariff)."""

    what = "input"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"invalid {self.what}:\n  " + "\n  ".join(problems))
        self.problems = problems


class ExporterError(Exception):
    """Base class of every failure the supervisor knows how to recover from."""


class LinkLost(ExporterError):
    """The serial device is missing, unplugged, unreadable or answered EOF."""


class DeviceBusy(LinkLost):
    """Another process holds the device's exclusive lock."""

    def __init__(self, message: str, *, holder_pid: int | None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


class ModuleRestarted(ExporterError):
    """The module restarted in place (brownout, USB glitch, another program's SKRESET):
    its session, registers and credentials are gone although the port stayed open."""


class ModuleTimeout(ExporterError):
    """The module did not complete a command within its deadline."""


class CommandFailed(ExporterError):
    """The module answered ``FAIL ERnn``."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"{command} failed with ER{code:02d}")
        self.command = command
        self.code = code


class UnsupportedModule(ExporterError):
    """The stick does not speak SKSTACK IP (e.g. a ROHM J11 binary-protocol module)."""


class ScanEmpty(ExporterError):
    """No beacon from a meter with our pairing ID (wrong ID, out of range, or wrong channel)."""


class JoinFailed(ExporterError):
    """PANA authentication failed (EVENT 24) or did not finish in time."""

    def __init__(self, message: str, *, rejected: bool) -> None:
        super().__init__(message)
        #: True for an explicit EVENT 24 (credentials suspect), False for a timeout.
        self.rejected = rejected


class SendFailed(ExporterError):
    """The module could not transmit the request (EVENT 21 01/02, FAIL ER10)."""


class RequestTimeout(ExporterError):
    """The meter did not answer a Get within the response deadline."""


class SessionLost(ExporterError):
    """The PANA session ended (EVENT 26/27/28, 24 after re-auth) or expired (EVENT 29)."""

    def __init__(self, message: str, *, expired: bool, counted: bool = False) -> None:
        super().__init__(message)
        self.expired = expired
        #: The outage was already counted (e.g. the re-auth wait after EVENT 29 ran out).
        self.counted = counted


class MalformedResponse(ExporterError):
    """The meter answered, but the frame or a property could not be decoded."""


def first_failure(group: BaseExceptionGroup[E]) -> E:
    """The first failure in a nursery's group (trio nests one group per nursery; a
    subgroup keeps its nesting)."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc  # type: ignore[return-value]  # a leaf of a group of E is an E
