"""One log line per fault kind and one per recovery: an outage that repeats the same
failure every few seconds for an hour must not flood the journal."""

from __future__ import annotations

from loguru import logger


class FaultLog:
    """The first fault of each kind at WARNING, repeats at DEBUG; one INFO on recovery."""

    def __init__(self) -> None:
        self.open_since: float | None = None
        self.seen: dict[str, int] = {}
        #: The rung being tried; the recovery line names it.
        self.rung = "start"

    def fault(self, kind: str, message: str, now: float) -> None:
        n = self.seen.get(kind, 0)
        self.seen[kind] = n + 1
        if self.open_since is None:
            self.open_since = now
        if n == 0:
            logger.warning("{}", message)
        else:
            logger.debug("{} (again, {} times)", message, n + 1)

    def recovered(self, now: float) -> None:
        if self.open_since is None:
            return
        faults = ", ".join(f"{k} ×{v}" for k, v in self.seen.items())
        logger.info("recovered by {} after {:.1f} s ({})", self.rung, now - self.open_since, faults)
        self.open_since = None
        self.seen.clear()
