"""The recovery ladder (design.md §4, protocol.md §5.5) as data and policy; pure.

Rule 1: every retry, backoff and escalation of the service is decided here, the reopen
of the serial device included. The service only carries decisions out; tests and the
fault matrix ask this module for its bounds instead of copying its arithmetic.

The session supervisor reports every failure as a :class:`Fault`; :meth:`Ladder.on_fault`
answers with a :class:`Decision`: which :class:`Rung` to climb to and how long to wait
first. A fresh reading (:meth:`Ladder.on_success`) resets everything. No clock, no I/O:
the randomness of the jitter comes from an injected ``random.Random``, so a seed fixes
every decision.

Ladder (counters run from the last successful reading; the last rung of each row repeats):

=====================  =====================================================  ============
fault                  rungs, in order                                        delay
=====================  =====================================================  ============
TIMEOUT, SEND_FAILED   RESEND ×2 (``max_resends``), then the next step of     backoff
  (no Get_Res within   the *session row* (three lost responses: a fresh
  ``response`` 12 s,   reading ~47 s after the first lost Get)
  or EVENT 21 01/02)
SESSION_EXPIRED        WAIT_REAUTH once (the supervisor waits ≤ ``reauth``    0, then
  (EVENT 29)           5 s for the EVENT 25 of a re-auth                      backoff
                       already in flight), then the next step of the
                       session row (REJOIN after 2 s)
SESSION_ENDED          next step of the session row                           backoff
  (EVENT 26/27/28)
JOIN_FAILED            next step of the session row                           backoff
UNCONFIRMED_ADDRESS    the session row from RESCAN_CHANNEL on (at least)       backoff
  (join failed with an
  address no scan in
  this process confirmed)
session row            REJOIN ×2 (``max_rejoins``) → RESCAN_CHANNEL →
                       RESCAN_ALL → RESET → REOPEN
AUTH_REJECTED          REJOIN, then RESET (the credentials are set again);    backoff, then
  (EVENT 24 with the   the 3rd (``auth_latch_after``) rejection and every     ``latch_delay``
  credentials set      later one: REJOIN with ``latch=True``
  since the module's
  last reset, to a
  confirmed meter)
MODULE_RESTARTED       RESET → REOPEN (the module forgot its session,         backoff
  (echo back on, ER10  registers and credentials: only a full start-up
  to a send in a live  brings them back)
  session, EVENT 24
  without credentials)
SCAN_EMPTY             RESCAN_ALL → RESET → REOPEN                            backoff
MODULE_SILENT          RESET → REOPEN                                         backoff
SERIAL_LOST            REOPEN                                                 reopen
  (the device went                                                            schedule
  away, or the REOPEN
  rung closed it)
UNSUPPORTED_MODULE     REOPEN (a J11 stick: look again rarely)                ``unsupported_retry``
=====================  =====================================================  ============

* :func:`classify` is the only place that knows which failure is which fault (and which
  ``smartmeter_scrape_errors_total`` type it counts as); every fault but TIMEOUT and
  SEND_FAILED means the session is down (:func:`drops_session`).
* A history read (:class:`StepRetry`) that fails ``limit`` (3) times in a row is dropped;
  the gap is planned again at the next half-hour. It never climbs the ladder: the poll
  that follows tells whether the session is still good.

* The session row is shared: a REJOIN after timeouts, an expired or ended session and a
  failed join all climb the same steps, so a module that keeps "joining" but never
  answers still gets reset and finally reopened. The resend count starts again after
  any other rung.
* ``response`` and ``reauth`` are deadlines of ``link.timing.Timing`` (why those values:
  there). EVENT 29 without re-auth: a fresh reading ~10 s later (5 s + 2 s + a rejoin).
* "backoff" is :meth:`Backoff.delay` with ``attempt`` = number of faults since the last
  success minus one: with the defaults 1, 2, 4, 8 … 256, then 300 s (the cap), each
  ±10 % jitter and never above the cap.
* "reopen schedule" is :attr:`Ladder.reopen_schedule` (1, 2, 5, 10, 30, 60 s, the last
  repeating), ±10 % jitter, counted from the last success: a device that is gone is
  looked for again soon, then every minute. A device whose path is missing is reopened
  as soon as the path reappears (checked every :attr:`Ladder.replug_check` s), so a late
  replug is not kept waiting by a grown backoff.
* AUTH_REJECTED counts rejections since the last success (other faults in between do not
  clear it): a wrong B-route password must not hammer the meter, so from the third
  rejection on every attempt waits ``latch_delay`` (default 600 s) and is flagged
  ``latch`` for the ``smartmeter_credentials_latched`` metric. The second rejection
  resets the module first: a module that forgot the credentials unseen must not pass
  for a wrong password.
"""

from __future__ import annotations

import enum
import random
from typing import Any

import attrs

from trio_smartmeter.core.errors import (
    CommandFailed,
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
from trio_smartmeter.core.state import ErrorType

__all__ = [
    "MQTT_RECONNECT",
    "Backoff",
    "Decision",
    "Fault",
    "Ladder",
    "Rung",
    "StepRetry",
    "classify",
    "drops_session",
]


class Rung(enum.Enum):
    """What the supervisor does next, from the cheapest to the most drastic."""

    RESEND = "resend"  # send the Get again (new TID)
    WAIT_REAUTH = "wait_reauth"  # after EVENT 29: wait for the module's own re-auth (EVENT 25)
    REJOIN = "rejoin"  # SKTERM + SKJOIN with the known address
    RESCAN_CHANNEL = "rescan_channel"  # active scan of the known channel, then join
    RESCAN_ALL = "rescan_all"  # forget the meter's address; scan all channels, then join
    RESET = "reset"  # SKRESET and the full start-up sequence
    REOPEN = "reopen"  # close and reopen the serial device


class Fault(enum.Enum):
    """What went wrong, as the supervisor saw it."""

    TIMEOUT = "timeout"  # no answer to a Get
    SEND_FAILED = "send_failed"  # EVENT 21 01/02
    SESSION_EXPIRED = "session_expired"  # EVENT 29
    SESSION_ENDED = "session_ended"  # EVENT 26/27/28
    JOIN_FAILED = "join_failed"  # EVENT 24 / join timeout
    AUTH_REJECTED = "auth_rejected"  # EVENT 24 right after a scan found the meter
    #: EVENT 24 / join timeout with a cached or pinned address that no scan in this process
    #: has confirmed: more likely stale (a replaced meter, a moved channel) than a transient,
    #: and a rescan (~0.2 s per channel) is cheaper than another failed join (~38 s).
    UNCONFIRMED_ADDRESS = "unconfirmed_address"
    SCAN_EMPTY = "scan_empty"  # no EPANDESC
    MODULE_SILENT = "module_silent"  # command timeout / FAIL ER09
    MODULE_RESTARTED = "module_restarted"  # the module reset in place, the port still open
    SERIAL_LOST = "serial_lost"  # the device went away (or the REOPEN rung closed it)
    UNSUPPORTED_MODULE = "unsupported_module"  # e.g. a ROHM J11 binary-protocol stick


#: Faults after which the session may still be up: a lost Get, not a lost session.
_SESSION_KEEPING = frozenset({Fault.TIMEOUT, Fault.SEND_FAILED})


def drops_session(fault: Fault) -> bool:
    """Whether ``fault`` means the PANA session is gone (``smartmeter_session_up`` 0)."""
    return fault not in _SESSION_KEEPING


def classify(
    exc: ExporterError, *, address_verified: bool = True, credentials_set: bool = True
) -> tuple[Fault, ErrorType | None]:
    """The ladder's fault for a failure, and the ``smartmeter_scrape_errors_total`` type
    it counts as (None: not counted).

    ``address_verified``: a scan in this process (or a join) confirmed the meter's
    address; ``credentials_set``: SKSETPWD/SKSETRBID reached the module since its last
    reset. Only with both can an EVENT 24 mean the credentials are wrong.
    """
    if isinstance(exc, LinkLost):
        return Fault.SERIAL_LOST, ErrorType.SERIAL
    if isinstance(exc, UnsupportedModule):
        return Fault.UNSUPPORTED_MODULE, None
    if isinstance(exc, ModuleRestarted):
        return Fault.MODULE_RESTARTED, ErrorType.SERIAL
    if isinstance(exc, ModuleTimeout | CommandFailed):
        return Fault.MODULE_SILENT, ErrorType.SERIAL
    if isinstance(exc, ScanEmpty):
        return Fault.SCAN_EMPTY, ErrorType.IP_RESOLVE
    if isinstance(exc, JoinFailed):
        if not address_verified:
            return Fault.UNCONFIRMED_ADDRESS, ErrorType.AUTH
        if not exc.rejected:
            return Fault.JOIN_FAILED, ErrorType.AUTH
        if not credentials_set:  # nothing to reject: the module forgot them
            return Fault.MODULE_RESTARTED, ErrorType.AUTH
        return Fault.AUTH_REJECTED, ErrorType.AUTH
    if isinstance(exc, SessionLost):
        fault = Fault.SESSION_EXPIRED if exc.expired else Fault.SESSION_ENDED
        return fault, None if exc.counted else ErrorType.AUTH
    if isinstance(exc, SendFailed):
        return Fault.SEND_FAILED, ErrorType.QUERY
    if isinstance(exc, RequestTimeout):
        return Fault.TIMEOUT, ErrorType.QUERY
    if isinstance(exc, MalformedResponse):
        return Fault.TIMEOUT, ErrorType.PARSE
    raise TypeError(f"no fault for {exc!r}")  # pragma: no cover - every ExporterError is mapped


@attrs.define
class StepRetry:
    """A history step that fails ``limit`` times in a row is dropped (the gap is planned
    again later); a success starts the count again. A drop does not: the next plan's
    first failure drops it again, so a meter that stopped answering history reads is
    asked once per half-hour, not three times."""

    limit: int = 3
    failures: int = 0

    def failed(self) -> bool:
        """Count a failure; True when the plan is to be dropped."""
        self.failures += 1
        return self.failures >= self.limit

    def succeeded(self) -> None:
        self.failures = 0


def _non_negative(_inst: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class Backoff:
    """Capped exponential backoff with multiplicative jitter."""

    initial: float = attrs.field(default=1.0, validator=_non_negative)
    factor: float = attrs.field(default=2.0)
    cap: float = attrs.field(default=300.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.1)

    @factor.validator
    def _check_factor(self, _attribute: attrs.Attribute[float], value: float) -> None:
        if not value >= 1.0:
            raise ValueError(f"factor must be >= 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _attribute: attrs.Attribute[float], value: float) -> None:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {value!r}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt`` (0 = first retry -> ``initial``).

        ``min(cap, initial × factor**attempt)`` times a uniform factor in
        ``[1 - jitter, 1 + jitter]``, clipped to ``[0, cap]``. Draws exactly one number.
        """
        spread = rng.uniform(-self.jitter, self.jitter)
        return min(self.cap, max(0.0, self._base(attempt) * (1.0 + spread)))

    def worst(self, attempt: int) -> float:
        """The longest :meth:`delay` can be for ``attempt`` (jitter at its maximum)."""
        return min(self.cap, self._base(attempt) * (1.0 + self.jitter))

    def _base(self, attempt: int) -> float:
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt!r}")
        try:
            return min(self.cap, self.initial * self.factor**attempt)
        except OverflowError:
            return self.cap


@attrs.frozen
class Decision:
    """The next rung, the wait before it, and whether credentials are now suspect."""

    rung: Rung
    delay: float
    latch: bool = False
    reason: str = ""


def _at_least(minimum: int) -> Any:
    def check(_inst: Any, attribute: attrs.Attribute[int], value: int) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be >= {minimum}, got {value!r}")

    return check


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@attrs.define
class Ladder:
    """The escalation policy; mutable. Ask :meth:`on_fault` after every failure."""

    rng: random.Random = attrs.field(factory=random.Random)
    backoff: Backoff = attrs.field(factory=Backoff)
    latch_delay: float = attrs.field(default=600.0, validator=_non_negative)
    max_resends: int = attrs.field(default=2, validator=_at_least(0))
    max_rejoins: int = attrs.field(default=2, validator=_at_least(0))
    auth_latch_after: int = attrs.field(default=3, validator=_at_least(1))
    #: Waits before reopening the serial device, by reopens since the last success.
    reopen_schedule: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    #: A stick that does not speak SKSTACK IP will not start to: look again this rarely.
    unsupported_retry: float = attrs.field(default=300.0, validator=_non_negative)
    reopen_jitter: float = 0.1
    #: While a missing device is waited for, its path is looked at this often: a stick
    #: plugged back in is opened within a second, however long it was gone.
    replug_check: float = 1.0

    _faults: int = attrs.field(default=0, init=False)
    _resends: int = attrs.field(default=0, init=False)
    _reauth_waited: bool = attrs.field(default=False, init=False)
    _session_step: int = attrs.field(default=0, init=False)
    _scan_step: int = attrs.field(default=0, init=False)
    _module_step: int = attrs.field(default=0, init=False)
    _auth_rejects: int = attrs.field(default=0, init=False)
    _reopens: int = attrs.field(default=0, init=False)

    # -- the rows of the ladder -----------------------------------------------------------
    @property
    def session_row(self) -> tuple[Rung, ...]:
        return (Rung.REJOIN,) * self.max_rejoins + (
            Rung.RESCAN_CHANNEL,
            Rung.RESCAN_ALL,
            Rung.RESET,
            Rung.REOPEN,
        )

    SCAN_ROW = (Rung.RESCAN_ALL, Rung.RESET, Rung.REOPEN)
    MODULE_ROW = (Rung.RESET, Rung.REOPEN)
    #: before the latch: what a rejected join tries next
    AUTH_ROW = (Rung.REJOIN, Rung.RESET)

    # -- read-only views ------------------------------------------------------------------
    @property
    def consecutive_faults(self) -> int:
        """Faults since the last successful reading."""
        return self._faults

    @property
    def latched(self) -> bool:
        """True once the meter rejected authentication ``auth_latch_after`` times."""
        return self._auth_rejects >= self.auth_latch_after

    # -- policy ---------------------------------------------------------------------------
    def on_success(self) -> None:
        """A fresh reading: every counter starts again."""
        self._faults = 0
        self._resends = 0
        self._reauth_waited = False
        self._session_step = 0
        self._scan_step = 0
        self._module_step = 0
        self._auth_rejects = 0
        self._reopens = 0

    def on_fault(self, fault: Fault) -> Decision:
        """Record ``fault`` and decide the next rung and the wait before it."""
        self._faults += 1
        if fault in (Fault.TIMEOUT, Fault.SEND_FAILED):
            if self._resends < self.max_resends:
                self._resends += 1
                return self._backoff(
                    Rung.RESEND, f"{fault.value}: resend {self._resends}/{self.max_resends}"
                )
            return self._session(f"{fault.value} after {self.max_resends} resend(s)")
        if fault is Fault.SESSION_EXPIRED:
            if not self._reauth_waited:
                self._reauth_waited = True
                self._resends = 0
                return Decision(
                    Rung.WAIT_REAUTH,
                    0.0,
                    reason="session_expired: waiting for the module's own re-authentication",
                )
            return self._session("session_expired again before a reading")
        if fault in (Fault.SESSION_ENDED, Fault.JOIN_FAILED):
            return self._session(fault.value)
        if fault is Fault.UNCONFIRMED_ADDRESS:
            self._session_step = max(self._session_step, self.max_rejoins)
            return self._session(fault.value)
        if fault is Fault.AUTH_REJECTED:
            return self._auth_rejected()
        if fault is Fault.SCAN_EMPTY:
            rung = self.SCAN_ROW[min(self._scan_step, len(self.SCAN_ROW) - 1)]
            self._scan_step += 1
            return self._backoff(rung, f"scan_empty ({_ordinal(self._scan_step)} time)")
        if fault in (Fault.MODULE_SILENT, Fault.MODULE_RESTARTED):
            rung = self.MODULE_ROW[min(self._module_step, len(self.MODULE_ROW) - 1)]
            self._module_step += 1
            return self._backoff(rung, f"{fault.value} ({_ordinal(self._module_step)} time)")
        if fault is Fault.UNSUPPORTED_MODULE:
            return Decision(
                Rung.REOPEN,
                self._jittered(self.unsupported_retry),
                reason="unsupported module: looking again rarely",
            )
        step = self._reopens
        self._reopens += 1
        return Decision(
            Rung.REOPEN,
            self._jittered(self.reopen_schedule[min(step, len(self.reopen_schedule) - 1)]),
            reason=f"{fault.value}: reopen {self._reopens}",
        )

    def worst_reopen_delay(self, reopens: int) -> float:
        """The longest wait before the reopen after ``reopens`` earlier ones."""
        base = self.reopen_schedule[min(reopens, len(self.reopen_schedule) - 1)]
        return base * (1.0 + self.reopen_jitter)

    def worst_reopen_after(self, absence: float) -> float:
        """The latest the first reopen attempt after ``absence`` seconds can come (counted
        from the first loss, every attempt failing until then): the attempts follow the
        reopen schedule; the last one before ``absence`` is followed by the next at most
        one maximal delay later, at an index no higher than the shortest delays reach."""
        low = 1.0 - self.reopen_jitter
        elapsed, reopens = 0.0, 0
        while (
            step := self.reopen_schedule[min(reopens, len(self.reopen_schedule) - 1)] * low
        ) + elapsed < absence:
            elapsed += step
            reopens += 1
        return absence + self.worst_reopen_delay(reopens)

    def _jittered(self, delay: float) -> float:
        return delay * (1.0 + self.rng.uniform(-self.reopen_jitter, self.reopen_jitter))

    # -- helpers --------------------------------------------------------------------------
    def _session(self, why: str) -> Decision:
        row = self.session_row
        rung = row[min(self._session_step, len(row) - 1)]
        self._session_step += 1
        return self._backoff(rung, f"{why}: session step {self._session_step}")

    def _auth_rejected(self) -> Decision:
        self._auth_rejects += 1
        self._resends = 0
        if self.latched:
            return Decision(
                Rung.REJOIN,
                self.latch_delay,
                latch=True,
                reason=(
                    f"auth_rejected {self._auth_rejects} times: credentials suspect, "
                    f"retrying only every {self.latch_delay:g} s"
                ),
            )
        rung = self.AUTH_ROW[min(self._auth_rejects, len(self.AUTH_ROW)) - 1]
        return self._backoff(rung, f"auth_rejected {self._auth_rejects}/{self.auth_latch_after}")

    def _backoff(self, rung: Rung, reason: str) -> Decision:
        if rung is not Rung.RESEND:
            self._resends = 0
        delay = self.backoff.delay(self._faults - 1, self.rng)
        return Decision(rung, delay, reason=reason)


#: The MQTT broker's row (service/mqtt.py): a broker that is down or refuses is tried
#: again after 1, 2, 4 … 60 s (the cap, ±10 %), counted from the last connection that
#: worked. It has nothing to do with the meter's session, so it is a row of its own.
MQTT_RECONNECT = Backoff(initial=1.0, factor=2.0, cap=60.0, jitter=0.1)


#: A durable write that failed (a full disk, a removed directory; the history store):
#: the rows are held in memory and the write is tried again after this backoff — 1, 2,
#: 4 … 30 s ±10 %, counted from the last write that succeeded — so a freed disk is
#: written again within about half a minute, at any poll interval.
STORE_WRITE_BACKOFF = Backoff(initial=1.0, factor=2.0, cap=30.0)
