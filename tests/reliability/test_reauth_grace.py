"""EVENT 29's short grace (``Timing.reauth``) still lets the module's own re-authentication
win: an EVENT 25 inside it brings the session back without a rejoin; without one the
rejoin comes right after it (issue 19 item 15: not 60 s later)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tests.support.rig import start_rig, wait_until
from trio_smartmeter.sim import Fault

from .faults import EVENT29_NO_REAUTH
from .harness import T_GET, T


async def _event29_then(nursery: trio.Nursery, reauth_after: float | None) -> tuple[float, int]:
    """Inject EVENT 29 right after a reading; the module's own EVENT 25 follows after
    ``reauth_after`` seconds (None: never). Returns the time to a fresh reading and the
    SKJOINs sent since the fault."""
    rig = await start_rig(nursery, "bp35a1", watch=False)
    t_read = await rig.reading_then_settle()
    module = rig.module
    peer = module.session_peer
    assert peer is not None
    joins = module.stats.commands["SKJOIN"]
    module.inject(Fault.EVENT_29)
    t0 = trio.current_time()
    assert t0 == t_read
    if reauth_after is not None:

        async def reauth() -> None:  # the module's own PANA exchange completing late
            await trio.sleep(reauth_after)
            module.radio.establish(peer)
            await module.uart.event(0x25, peer)

        nursery.start_soon(reauth)
    await wait_until(lambda: not rig.state.session_up)
    t_fresh = await rig.next_reading_after(t0)
    return t_fresh - t0, module.stats.commands["SKJOIN"] - joins


@pytest.mark.parametrize("share", [0.2, 0.9])
async def test_an_event_25_within_the_grace_avoids_the_rejoin(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, share: float
) -> None:
    took, joins = await _event29_then(nursery, share * T.reauth)
    assert joins == 0
    # read again as soon as the module says the session is back (no poll interval)
    assert took <= share * T.reauth + 2 * T_GET


async def test_without_an_event_25_the_rejoin_follows_the_grace(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    took, joins = await _event29_then(nursery, None)
    assert joins == 1
    assert T.reauth < took <= EVENT29_NO_REAUTH <= 21.0  # the seed's figure (issue 19)
