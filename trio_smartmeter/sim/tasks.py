"""Background tasks of the connection being served, in groups one action cancels.

SKRESET, a session's end and a replug each stop what they started (a pending scan,
a meter answer in flight) and nothing else; between connections nothing starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import trio

Task = Callable[[], Awaitable[object]]


@attrs.define
class Background:
    nursery: trio.Nursery | None = None  # the serving connection's

    def start_soon(self, fn: Task) -> None:
        if self.nursery is not None:
            self.nursery.start_soon(fn)

    def group(self) -> TaskGroup:
        return TaskGroup(self)


class TaskGroup:
    def __init__(self, background: Background) -> None:
        self._background = background
        self._scopes: set[trio.CancelScope] = set()

    def spawn(self, fn: Task) -> None:
        if self._background.nursery is None:
            return
        scope = trio.CancelScope()
        self._scopes.add(scope)

        async def run() -> None:
            try:
                with scope:
                    await fn()
            finally:
                self._scopes.discard(scope)

        self._background.start_soon(run)

    def cancel(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()
        self._scopes.clear()
