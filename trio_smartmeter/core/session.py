"""The session's decisions, as pure functions: which PAN to join, how to scan, what an EVENT means.

Rules that live here and nowhere else:

* A PAN descriptor whose ``PairID`` equals the last 8 characters of the B-route ID wins;
  among those (or, if no descriptor carries a PairID, among all) the best LQI wins
  (protocol.md §2 EPANDESC).
* Scans rise in duration step by step with a bound: a pinned channel is scanned alone
  (cheap), then every channel, swept one channel at a time in channel order and
  stopped at the first channel where our PairID answers; ``SMARTMETER_CHANNEL`` +
  ``SMARTMETER_IPADDR`` or a cached result skip the scan entirely (protocol.md §5.1
  step 8-9).
* EVENT numbers (:class:`Event`) map to session signals (protocol.md §3.1, §5.3, §5.4):
  an unsolicited EVENT 25 is the module's own re-authentication succeeding, not an
  error. This is the only place that knows what an EVENT number means; the layers
  above name an EVENT by its :class:`Event` member, never by its number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import attrs

from trio_smartmeter.core.errors import SessionLost
from trio_smartmeter.core.skstack import CHANNELS as skstack_channels
from trio_smartmeter.core.skstack import ModuleEvent, PanDesc
from trio_smartmeter.core.translatable import N_

#: Scan durations, rising: D=4 ≈ 4.6 s … D=8 ≈ 69 s over 28 channels. A single known
#: channel costs 1/28 of that and starts as low (a miss at D=4 costs 0.16 s before D=5),
#: so a pinned channel never waits 0.62 s for D=6.
SCAN_DURATIONS = (4, 5, 6, 7, 8)


class Event(enum.IntEnum):
    """The module's EVENT numbers the exporter acts on (protocol.md §3.1)."""

    SENT = 0x21  # SKSENDTO's transmission result (param 0 sent, 1 no ack, 2 NS instead)
    SCAN_DONE = 0x22  # SKSCAN finished
    JOIN_REJECTED = 0x24  # PANA authentication failed
    SESSION_UP = 0x25  # PANA authentication succeeded (SKJOIN, SKREJOIN or the module's own)
    ENDED_BY_METER = 0x26  # the meter asked to end the session
    TERMINATED = 0x27  # SKTERM's session end succeeded
    TERM_TIMED_OUT = 0x28  # SKTERM's end request went unanswered (the session is gone too)
    EXPIRED = 0x29  # the PANA session lifetime ran out
    RATE_LIMITED = 0x32  # the transmit-time limit (ARIB) is active
    RATE_RELEASED = 0x33  # the transmit-time limit is released


#: The EVENT numbers counted each under its own number (smartmeter_module_events_total):
#: the ones the session acts on, and the module's own notices of protocol.md §3.1 (01 NS
#: received, 02 NA received, 05 echo request, 1F ED scan done, 20 beacon received); every
#: other number is counted together.
COUNTED_EVENTS: tuple[int, ...] = (0x01, 0x02, 0x05, 0x1F, 0x20, *sorted(Event))


class SessionSignal(enum.Enum):
    SESSION_UP = "session_up"  # EVENT 25 (after SKJOIN, SKREJOIN or automatic re-auth)
    AUTH_FAILED = "auth_failed"  # EVENT 24
    SESSION_ENDED = "session_ended"  # EVENT 26 (meter), 27/28 (after SKTERM)
    SESSION_EXPIRED = "session_expired"  # EVENT 29
    RATE_LIMITED = "rate_limited"  # EVENT 32
    RATE_RELEASED = "rate_released"  # EVENT 33


_SIGNALS: dict[int, SessionSignal] = {
    Event.SESSION_UP: SessionSignal.SESSION_UP,
    Event.JOIN_REJECTED: SessionSignal.AUTH_FAILED,
    Event.ENDED_BY_METER: SessionSignal.SESSION_ENDED,
    Event.TERMINATED: SessionSignal.SESSION_ENDED,
    Event.TERM_TIMED_OUT: SessionSignal.SESSION_ENDED,
    Event.EXPIRED: SessionSignal.SESSION_EXPIRED,
    Event.RATE_LIMITED: SessionSignal.RATE_LIMITED,
    Event.RATE_RELEASED: SessionSignal.RATE_RELEASED,
}

#: The signals after which a Get in flight will never be answered.
_SESSION_OVER = frozenset(
    {SessionSignal.AUTH_FAILED, SessionSignal.SESSION_ENDED, SessionSignal.SESSION_EXPIRED}
)
#: EVENTs that end the session: 24 (re-authentication rejected), 26, 27/28, 29 (expired).
SESSION_ENDS = frozenset(code for code, signal in _SIGNALS.items() if signal in _SESSION_OVER)
#: The EVENTs that answer SKJOIN: 25 (joined) or 24 (rejected).
JOIN_OUTCOMES = frozenset({Event.SESSION_UP, Event.JOIN_REJECTED})
#: The EVENTs that answer SKTERM.
TERM_OUTCOMES = frozenset({Event.TERMINATED, Event.TERM_TIMED_OUT})


def signal_for(event: ModuleEvent, meter_ip: str | None) -> SessionSignal | None:
    """What ``event`` means for the session with ``meter_ip`` (None: not about it)."""
    signal = _SIGNALS.get(event.code)
    if signal is None:
        return None
    if signal in (SessionSignal.RATE_LIMITED, SessionSignal.RATE_RELEASED):
        return signal  # the module's own address is the sender: always ours
    if meter_ip is not None and event.sender is not None and event.sender != meter_ip:
        return None
    return signal


#: What an EVENT 24 to our join most likely means, and what to check: said at the first
#: rejection (the latch comes only after the third, about 85 s later).
#: Marked for the catalogs; the edge that shows it translates it (``i18n._``).
CREDENTIALS_HINT = N_(
    "likely a wrong B-route ID or password (the ID has 32 characters, the password 12,"
    " both from the power company): check SMARTMETER_ID and SMARTMETER_PASSWORD"
)


def session_end(signal: SessionSignal) -> SessionLost:
    """The failure a Get or a poll meets once the session is over (``signal`` is one of
    AUTH_FAILED, SESSION_ENDED or SESSION_EXPIRED)."""
    if signal is SessionSignal.SESSION_EXPIRED:
        return SessionLost("the PANA session expired (EVENT 29)", expired=True)
    return SessionLost(f"the session ended ({SessionSignal.SESSION_ENDED.value})", expired=False)


def ended_by(event: ModuleEvent, meter_ip: str) -> SessionLost | None:
    """The :func:`session_end` failure if ``event`` ends the session with ``meter_ip``."""
    signal = signal_for(event, meter_ip)
    return session_end(signal) if signal in _SESSION_OVER else None


def send_failure(event: ModuleEvent) -> str | None:
    """What an EVENT 21 says went wrong with a SKSENDTO (None: the frame went out)."""
    if event.param in (None, 0):
        return None
    what = "not sent (neighbour solicitation instead)" if event.param == 2 else "no acknowledgement"
    return f"{what} (EVENT {event.code:02X} {event.param:02X})"


def pair_id(rbid: str) -> str:
    """The pairing ID the meter advertises: the last 8 characters of the B-route ID."""
    return rbid[-8:].upper()


def choose_pan(descs: Iterable[PanDesc], wanted_pair_id: str) -> PanDesc | None:
    candidates = list(descs)
    if not candidates:
        return None
    matching = [
        d for d in candidates if d.pair_id is not None and d.pair_id.upper() == wanted_pair_id
    ]
    if matching:
        return max(matching, key=lambda d: d.lqi)
    if any(d.pair_id is not None for d in candidates):
        return None  # beacons of other meters only
    return max(candidates, key=lambda d: d.lqi)


#: Every channel, in the order a sweep scans them.
CHANNELS = tuple(skstack_channels)


@attrs.frozen
class ScanStep:
    """One sweep at ``duration``: the channels are scanned one at a time, in order, and
    the sweep stops at the first channel where our PairID answers (MeterClient.sweep)."""

    channel: int | None  # None = all channels
    duration: int

    @property
    def channels(self) -> tuple[int, ...]:
        return (self.channel,) if self.channel is not None else CHANNELS


def scan_plan(channel: int | None) -> Sequence[ScanStep]:
    steps: list[ScanStep] = []
    if channel is not None:
        steps += [ScanStep(channel, d) for d in SCAN_DURATIONS]
    steps += [ScanStep(None, d) for d in SCAN_DURATIONS]
    return steps
