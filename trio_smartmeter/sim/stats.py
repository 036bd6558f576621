"""What the simulated module counts, for tests, benchmarks and the state file."""

from __future__ import annotations

import collections

import attrs


@attrs.define
class SimStats:
    commands: collections.Counter[str] = attrs.field(factory=collections.Counter)
    sendto_count: int = 0
    payload_bytes: int = 0
    airtime_s: float = 0.0
    scans: int = 0
    joins: int = 0
    resets: int = 0  # SKRESET commands
    restarts: int = 0  # RESTART_IN_PLACE faults
    events: collections.Counter[int] = attrs.field(factory=collections.Counter)

    @property
    def skterm_seen(self) -> bool:
        return self.commands["SKTERM"] > 0
