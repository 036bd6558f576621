"""Scripted, reproducible faults.

Recovery code is only as good as the faults it has met. Each fault a real module or
meter produces can be scheduled at a modeled time, after the Nth SKSENDTO, or
injected on the spot, and randomness (garbage bytes, chunk sizes) comes from the
module's seeded ``random.Random`` so a failing run can be replayed.
"""

from __future__ import annotations

import enum
import json
import tomllib
from pathlib import Path
from typing import Any

import attrs


class Fault(enum.Enum):
    WRONG_PASSWORD = "wrong_password"  # joins end in EVENT 24 (while active)
    NO_BEACON = "no_beacon"  # scans find nothing
    DROP_RESPONSE = "drop_response"  # the meter does not answer
    DELAY_RESPONSE = "delay_response"  # the meter answers `delay` seconds late
    DUPLICATE_RESPONSE = "duplicate_response"  # every answer arrives twice
    STRAY_FRAMES = "stray_frames"  # other sender, wrong TID, MLE on 4D4C (once)
    GARBAGE = "garbage"  # random bytes incl. non-UTF-8, then CRLF (once)
    SPLIT_WRITES = "split_writes"  # module output in random 1..4-byte chunks
    EVENT21_STORM = "event21_storm"  # sends answered with EVENT 21 01 / 02 alternately
    EVENT_26 = "event_26"  # the meter ends the session (once)
    EVENT_29 = "event_29"  # the session lifetime ends now, without re-auth (once)
    NO_REAUTH = "no_reauth"  # the module's automatic re-auth fails -> EVENT 29 later
    TRANSMIT_LIMIT = "transmit_limit"  # EVENT 32 now, EVENT 33 after `duration`
    HANG = "hang"  # module ignores everything but SKRESET
    UNPLUG = "unplug"  # device disappears; pty: comes back after `duration`
    GET_SNA = "get_sna"  # the meter answers Get_SNA for `epcs`
    J11 = "j11"  # the stick speaks ROHM J11 binary instead of SKSTACK IP


#: faults that act once when triggered; the others stay active for duration/count.
ONE_SHOT = frozenset(
    {
        Fault.STRAY_FRAMES,
        Fault.GARBAGE,
        Fault.EVENT_26,
        Fault.EVENT_29,
        Fault.TRANSMIT_LIMIT,
        Fault.UNPLUG,
    }
)


def _to_fault(value: Fault | str) -> Fault:
    return value if isinstance(value, Fault) else Fault(value)


def _to_epcs(value: Any) -> tuple[int, ...]:
    return tuple(int(v, 16) if isinstance(v, str) else int(v) for v in value)


def _to_specs(value: Any) -> tuple[FaultSpec, ...]:
    return tuple(value)


@attrs.frozen
class FaultSpec:
    """One fault and its trigger.

    ``at``: modeled seconds after the module started serving; ``after_request``: right
    after the Nth SKSENDTO the module received (1-based); neither: at start.
    ``duration`` (modeled seconds) and ``count`` (affected events) bound a lasting
    fault; with neither it lasts until SKRESET clears it (HANG) or forever.
    """

    kind: Fault = attrs.field(converter=_to_fault)
    at: float | None = None
    after_request: int | None = None
    duration: float | None = None
    count: int | None = None
    epcs: tuple[int, ...] = attrs.field(default=(), converter=_to_epcs)
    delay: float = 2.0


@attrs.frozen
class Scenario:
    faults: tuple[FaultSpec, ...] = attrs.field(default=(), converter=_to_specs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        unknown = set(data) - {"faults"}
        if unknown:
            raise ValueError(f"unknown scenario keys: {sorted(unknown)}")
        specs = tuple(FaultSpec(**item) for item in data.get("faults", ()))
        return cls(faults=specs)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario from JSON or TOML (``[[faults]]`` tables)."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".toml":
            return cls.from_dict(tomllib.loads(text))
        return cls.from_dict(json.loads(text))


@attrs.define
class ActiveFault:
    spec: FaultSpec
    until: float | None  # trio time
    remaining: int | None
