"""Scripted, reproducible faults.

Recovery code is only as good as the faults it has met. Each fault a real module or
meter produces can be scheduled at a modeled time, after the Nth SKSENDTO, or
injected on the spot, and randomness (garbage bytes, chunk sizes) comes from the
module's seeded ``random.Random`` so a failing run can be replayed.
"""

from __future__ import annotations

import enum
import json
import random
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import trio

from .clock import ModeledClock


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
    RESTART_IN_PLACE = "restart_in_place"  # brownout/SKRESET by another: power-on state, tty kept


#: faults that act once when triggered; the others stay active for duration/count.
ONE_SHOT = frozenset(
    {
        Fault.STRAY_FRAMES,
        Fault.GARBAGE,
        Fault.EVENT_26,
        Fault.EVENT_29,
        Fault.TRANSMIT_LIMIT,
        Fault.UNPLUG,
        Fault.RESTART_IN_PLACE,
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
    ``nul``: RESTART_IN_PLACE writes a 0x00 byte first, as a UART break reads on the host.
    """

    kind: Fault = attrs.field(converter=_to_fault)
    at: float | None = None
    after_request: int | None = None
    duration: float | None = None
    count: int | None = None
    epcs: tuple[int, ...] = attrs.field(default=(), converter=_to_epcs)
    delay: float = 2.0
    nul: bool = False


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


class FaultBoard:
    """Every fault the module is under, and the questions the rest of it asks.

    Lasting faults are kept here and answered as queries; a one-shot fault is handed
    to ``strike`` (the module acts it out) the moment it triggers.
    """

    def __init__(
        self,
        scenario: Scenario,
        clock: ModeledClock,
        rng: random.Random,
        strike: Callable[[FaultSpec], None],
    ) -> None:
        self._scenario = scenario
        self._clock = clock
        self._rng = rng
        self._strike = strike
        self._active: list[ActiveFault] = []
        self._fired: set[int] = set()  # scenario entries already triggered
        self._storm_toggle = False
        self._hung = False

    # ------------------------------------------------------------------ triggers
    def trigger(self, spec: FaultSpec) -> None:
        if spec.kind in ONE_SHOT:
            self._strike(spec)
            return
        until = None
        if spec.duration is not None:
            until = trio.current_time() + self._clock.trio_seconds(spec.duration)
        self._active.append(ActiveFault(spec, until, spec.count))
        if spec.kind is Fault.HANG:
            self._hung = True

    async def run_schedule(self) -> None:
        """Trigger the scenario's timed faults (``at``, or at start); needs a started clock."""
        timed = [(i, s) for i, s in enumerate(self._scenario.faults) if s.after_request is None]
        for index, spec in sorted(timed, key=lambda item: item[1].at or 0.0):
            await trio.sleep_until(self._clock.trio_time_at(spec.at or 0.0))
            self._fired.add(index)
            self.trigger(spec)

    def count_request(self, sendto_count: int) -> None:
        """The module just received its ``sendto_count``-th SKSENDTO."""
        for index, spec in enumerate(self._scenario.faults):
            if index in self._fired or spec.after_request is None:
                continue
            if sendto_count >= spec.after_request:
                self._fired.add(index)
                self.trigger(spec)

    def end_hang(self) -> None:
        self._hung = False
        self._active = [a for a in self._active if a.spec.kind is not Fault.HANG]

    # ------------------------------------------------------------------ queries
    @property
    def hung(self) -> bool:
        """HANG: the module hears only SKRESET until then (or a power cycle), whatever its duration."""
        return self._hung

    def split_writes(self) -> bool:
        return self._is_active(Fault.SPLIT_WRITES)

    def chunks(self, data: bytes) -> Iterator[bytes]:
        """``data`` in random 1..4-byte pieces, drawn as they are written."""
        pos = 0
        while pos < len(data):
            size = self._rng.randint(1, 4)
            yield data[pos : pos + size]
            pos += size

    def garbage(self) -> bytes:
        """GARBAGE's line: random bytes, then invalid UTF-8, then CRLF."""
        noise = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(8, 40)))
        return noise + b"\xff\xfe\xc3\x28\r\n"

    def speaks_j11(self) -> bool:
        return self._is_active(Fault.J11)

    def may_speak_j11(self) -> bool:
        """Whether J11 is active now or in the scenario (else no 2-s beacon wake-ups)."""
        return self.speaks_j11() or any(s.kind is Fault.J11 for s in self._scenario.faults)

    def hides_beacon(self) -> bool:
        return self._is_active(Fault.NO_BEACON)

    def rejects_password(self) -> bool:
        return self._is_active(Fault.WRONG_PASSWORD)

    def blocks_reauth(self) -> bool:
        return self._is_active(Fault.NO_REAUTH)

    def drops_response(self) -> bool:
        return self._take(Fault.DROP_RESPONSE) is not None

    def response_delay(self) -> float:
        delayed = self._take(Fault.DELAY_RESPONSE)
        return 0.0 if delayed is None else delayed.spec.delay

    def duplicates_response(self) -> bool:
        return self._take(Fault.DUPLICATE_RESPONSE) is not None

    def storm_status(self) -> int | None:
        """EVENT 21's status during a storm, 01 and 02 in turn; None without one."""
        if self._take(Fault.EVENT21_STORM) is None:
            return None
        self._storm_toggle = not self._storm_toggle
        return 0x01 if self._storm_toggle else 0x02

    def unavailable_epcs(self) -> set[int]:
        return {epc for a in self._lasting(Fault.GET_SNA) for epc in a.spec.epcs}

    # ------------------------------------------------------------------ bookkeeping
    def _lasting(self, kind: Fault) -> list[ActiveFault]:
        now = trio.current_time()
        self._active = [
            a
            for a in self._active
            if (a.until is None or a.until > now) and (a.remaining is None or a.remaining > 0)
        ]
        return [a for a in self._active if a.spec.kind is kind]

    def _is_active(self, kind: Fault) -> bool:
        return bool(self._lasting(kind))

    def _take(self, kind: Fault) -> ActiveFault | None:
        for active in self._lasting(kind):
            if active.remaining is not None:
                active.remaining -= 1
            return active
        return None
