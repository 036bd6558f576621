"""Modeled time: a real module's seconds on Trio's clock, stretched by ``time_scale``.

Every modeled delay goes through here, so tests can run the simulator on a
MockClock or fast on the real clock and benchmarks can convert its floors.
"""

from __future__ import annotations

import attrs
import trio


@attrs.define
class ModeledClock:
    time_scale: float
    started_at: float | None = None  # Trio time of the first serve

    def start(self) -> bool:
        """Start the clock at the first serve; False when it already runs (a replug)."""
        if self.started_at is not None:
            return False
        self.started_at = trio.current_time()
        return True

    def now(self) -> float:
        """Modeled seconds since the module first served."""
        if self.started_at is None:
            return 0.0
        return (trio.current_time() - self.started_at) / self.time_scale

    def trio_seconds(self, modeled: float) -> float:
        return modeled * self.time_scale

    def trio_time_at(self, modeled: float) -> float:
        """The Trio time when the modeled clock reads ``modeled``; needs a started clock."""
        assert self.started_at is not None
        return self.started_at + modeled * self.time_scale

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(max(0.0, seconds) * self.time_scale)
