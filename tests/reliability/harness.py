"""The fault matrix's recovery bounds, derived from ``Timing``, the recovery policy's own
bounds (``Backoff.worst``, ``Ladder.worst_reopen_delay``) and the simulator's modelled
delays. The rig itself is ``tests.support.rig``.
"""

from __future__ import annotations

from tests.support.rig import INTERVAL
from trio_smartmeter.core.recovery import Backoff, Ladder
from trio_smartmeter.core.session import SCAN_DURATIONS
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.sim import timing as sim_timing

MODELS = ("bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss")  # binary/hex × single-hop/DSE

# -- the bounds, derived --------------------------------------------------------------
T = Timing()
ORPHAN_GRACE = T.orphan_grace
BACKOFF = Backoff()


#: The policy's own bounds (the tests ask recovery.py; they never copy its arithmetic).
POLICY = Ladder()


def backoff_max(attempt: int) -> float:
    """The longest ``Ladder`` wait before the ``attempt``-th consecutive fault's rung."""
    return BACKOFF.worst(attempt)


def reopen_max(attempt: int) -> float:
    return POLICY.worst_reopen_delay(attempt)


#: initialise(): CRLF + drain (≤ 2 s) + commands answered at once, + a possible orphan grace.
T_INIT = T.drain_limit + ORPHAN_GRACE
#: one Get round trip (the static read carries 7 EPCs, a poll 4-5), + an orphan grace.
T_GET = sim_timing.get_round_trip(payload_len=26) + ORPHAN_GRACE
T_JOIN = sim_timing.join_duration()
T_SCAN_FIRST = sim_timing.scan_duration(sim_timing.ALL_CHANNELS, SCAN_DURATIONS[0])
#: the rescan of a known channel: one channel at every duration, each with its grace
T_RESCAN_KNOWN = sum(sim_timing.scan_dwell(d) + T.scan_trailing for d in SCAN_DURATIONS)
T_SCAN_PLAN = sum(
    sim_timing.scan_duration(sim_timing.ALL_CHANNELS, d) + T.scan_trailing for d in SCAN_DURATIONS
)
#: a cold start with a known address: init, join, static read, first poll
T_WARM_START = T_INIT + T_JOIN + 2 * T_GET
T_COLD_START = T_INIT + T_SCAN_FIRST + T_JOIN + 2 * T_GET
#: readings older than this are never exported
MAX_AGE = 3 * INTERVAL
