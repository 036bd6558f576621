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
* EVENT numbers map to session signals (protocol.md §3.1, §5.3, §5.4): an unsolicited
  EVENT 25 is the module's own re-authentication succeeding, not an error.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import attrs

from trio_smartmeter.core.skstack import CHANNELS as skstack_channels
from trio_smartmeter.core.skstack import ModuleEvent, PanDesc

#: Scan durations for all channels: D=4 ≈ 4.6 s … D=8 ≈ 69 s over 28 channels.
ALL_CHANNEL_DURATIONS = (4, 5, 6, 7, 8)
#: A single known channel costs 1/28 of that: start as low as the all-channel sweep (a miss
#: at D=4 costs 0.16 s before D=5), so a pinned channel never waits 0.62 s for D=6.
ONE_CHANNEL_DURATIONS = (4, 5, 6, 7, 8)


class SessionSignal(enum.Enum):
    SESSION_UP = "session_up"  # EVENT 25 (after SKJOIN, SKREJOIN or automatic re-auth)
    AUTH_FAILED = "auth_failed"  # EVENT 24
    SESSION_ENDED = "session_ended"  # EVENT 26 (meter), 27/28 (after SKTERM)
    SESSION_EXPIRED = "session_expired"  # EVENT 29
    RATE_LIMITED = "rate_limited"  # EVENT 32
    RATE_RELEASED = "rate_released"  # EVENT 33


_SIGNALS = {
    0x25: SessionSignal.SESSION_UP,
    0x24: SessionSignal.AUTH_FAILED,
    0x26: SessionSignal.SESSION_ENDED,
    0x27: SessionSignal.SESSION_ENDED,
    0x28: SessionSignal.SESSION_ENDED,
    0x29: SessionSignal.SESSION_EXPIRED,
    0x32: SessionSignal.RATE_LIMITED,
    0x33: SessionSignal.RATE_RELEASED,
}


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
        steps += [ScanStep(channel, d) for d in ONE_CHANNEL_DURATIONS]
    steps += [ScanStep(None, d) for d in ALL_CHANNEL_DURATIONS]
    return steps
