"""SkStackClient: the one task that reads the port, one lock for commands, routing by kind.

The module interleaves asynchronous lines (``EVENT``, ``ERXUDP``, ``EPANDESC``) with the
replies to the command in flight, so the reader never hands an asynchronous line to a
command: replies (``OK``/``FAIL``/``E*`` data lines/the bare SKLL64 address) complete the
pending command; everything else goes to subscribers, each with a predicate and a
bounded inbox, registered *before* the command that provokes the line is written.

Commands are written whole, inside a shielded scope, so a cancellation never leaves the
module half-way through a line or a SKSENDTO payload. A command whose reply did not
arrive (timeout, cancellation) leaves an *orphan*: the next command first gives the
orphan a short grace period to finish, so a late ``OK`` is never taken as its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

import attrs
import trio
from loguru import logger

from trio_smartmeter.core import skstack
from trio_smartmeter.core.errors import (
    CommandFailed,
    ExporterError,
    LinkLost,
    ModuleRestarted,
    ModuleTimeout,
    UnsupportedModule,
    first_failure,
)
from trio_smartmeter.core.skstack import Command, Completion, Message
from trio_smartmeter.link.timing import Timing

M = TypeVar("M")

#: Messages that answer a command (everything else is asynchronous).
_REPLY_DATA = (
    skstack.Info,
    skstack.Version,
    skstack.AppVersion,
    skstack.RegisterValue,
    skstack.TableList,
    skstack.EdScan,
)


@attrs.define
class Reply:
    """What a completed command returned: its data lines and the final OK (or address)."""

    command: str
    data: list[Message] = attrs.field(factory=list)
    final: Message | None = None

    def first(self, kind: type[M]) -> M | None:
        for m in self.data:
            if isinstance(m, kind):
                return m
        return None


@attrs.define
class _Pending:
    command: Command
    reply: Reply
    done: trio.Event = attrs.field(factory=trio.Event)


@attrs.define
class _Subscription:
    predicate: Callable[[Message], bool]
    send: trio.MemorySendChannel[Message]
    dropped: int = 0


class SkStackClient:
    """Drives one SKSTACK IP module over ``stream``. Start :meth:`run` in a nursery first."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        decoder: skstack.Decoder | None = None,
        *,
        on_async: Callable[[Message], None] | None = None,
        timing: Timing | None = None,
    ) -> None:
        self._stream = stream
        self.timing = timing if timing is not None else Timing()
        self.decoder = decoder if decoder is not None else skstack.Decoder()
        self._lock = trio.Lock()
        self._pending: _Pending | None = None
        self._orphan: _Pending | None = None
        self._subs: list[_Subscription] = []
        self.on_async = on_async
        self._last_rx = float("-inf")  # trio time of the last byte received
        self.j11_seen = False
        #: False once ``SKSREG SFE 0`` turned the echo off: an echo after that means the
        #: module restarted in place (its registers are back to power-on values).
        self.echo_expected = True
        self._echo_returned = False

    def configure(
        self, dialect: skstack.Dialect | None, payload: skstack.PayloadFormat | None
    ) -> None:
        """What start-up learnt about the module: how its ERXUDP/EPANDESC lines are laid
        out (dialect) and how ERXUDP carries the payload (None: detected per line)."""
        self.decoder.dialect = dialect
        self.decoder.payload = payload

    # -- the reader task -----------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read the port forever; raises :class:`LinkLost` when the device goes away."""
        task_status.started()
        while True:
            data = await self._stream.receive_some(4096)
            self._last_rx = trio.current_time()
            for msg in self.decoder.feed(bytes(data)):
                self._dispatch(msg)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SkStackClient]:
        """The reader task around the block; a failure comes out as one ExporterError."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.run)
                yield self
                nursery.cancel_scope.cancel()
        except* ExporterError as group:
            raise first_failure(group) from None

    def _dispatch(self, msg: Message) -> None:
        logger.trace("serial < {!r}", msg)
        if isinstance(msg, skstack.J11Frame):
            self.j11_seen = True
            return
        if isinstance(msg, skstack.Garbage):
            logger.debug("ignored serial input: {} ({} bytes)", msg.reason, msg.size)
            return
        if isinstance(msg, skstack.Echo):
            if not self.echo_expected:
                self._echo_returned = True
            return
        if isinstance(msg, skstack.EmptyLine):
            return
        pending = self._pending or self._orphan
        if isinstance(msg, skstack.Ok | skstack.Fail):
            if pending is not None:
                pending.reply.final = msg
                self._finish(pending)
            else:
                logger.debug("reply {!r} with no command in flight (ignored)", msg)
            return
        if isinstance(msg, skstack.Address):
            if pending is not None and pending.command.completion is Completion.ADDRESS:
                pending.reply.final = msg
                self._finish(pending)
            else:
                logger.debug("address line with no SKLL64 in flight (ignored)")
            return
        if isinstance(msg, _REPLY_DATA):
            if pending is not None:
                pending.reply.data.append(msg)
            if not isinstance(msg, skstack.EdScan):
                return
        self._deliver(msg)

    def _finish(self, pending: _Pending) -> None:
        pending.done.set()
        if pending is self._orphan:
            self._orphan = None
        if pending is self._pending:
            self._pending = None

    def _deliver(self, msg: Message) -> None:
        if self.on_async is not None:
            self.on_async(msg)
        for sub in self._subs:
            if sub.predicate(msg):
                try:
                    sub.send.send_nowait(msg)
                except trio.WouldBlock:
                    sub.dropped += 1

    # -- subscriptions -------------------------------------------------------------------
    @contextmanager
    def subscribe(
        self, predicate: Callable[[Message], bool], *, buffer: int = 64
    ) -> Iterator[trio.MemoryReceiveChannel[Message]]:
        """Collect asynchronous messages matching ``predicate`` while the block runs."""
        send, receive = trio.open_memory_channel[Message](buffer)
        sub = _Subscription(predicate, send)
        self._subs.append(sub)
        try:
            yield receive
        finally:
            self._subs.remove(sub)
            send.close()
            receive.close()

    # -- commands ------------------------------------------------------------------------
    async def command(
        self, cmd: Command, *, timeout: float | None = None, check: bool = True
    ) -> Reply:
        """Write ``cmd`` and wait for its completion (``OK``/``FAIL``, or SKLL64's address).

        Raises :class:`ModuleTimeout` after ``timeout`` seconds (``Timing.command`` unless
        given), :class:`CommandFailed` on
        ``FAIL ERnn`` when ``check`` is true, :class:`UnsupportedModule` if the stick turns
        out to speak ROHM's binary J11 protocol.
        """
        if timeout is None:
            timeout = self.timing.command
        async with self._lock:
            await self._settle_orphan()
            pending = _Pending(cmd, Reply(cmd.name))
            self._pending = pending
            logger.trace("serial > {}", cmd.redacted)
            with trio.CancelScope(shield=True) as write_scope:
                write_scope.deadline = trio.current_time() + self.timing.write
                await self._stream.send_all(cmd.wire)
            if write_scope.cancelled_caught:
                self._pending = None
                raise LinkLost(
                    f"writing {cmd.name} to the module did not finish in {self.timing.write:g} s"
                )
            try:
                with trio.move_on_after(timeout):
                    await pending.done.wait()
            finally:
                if not pending.done.is_set():
                    # Cancelled or timed out: the reply may still come; keep it from the next one.
                    self._pending = None
                    self._orphan = pending
            if not pending.done.is_set():
                if self.j11_seen:
                    raise UnsupportedModule(
                        "the stick speaks ROHM's binary J11 protocol, not SKSTACK IP"
                    )
                raise ModuleTimeout(f"{cmd.name}: no answer from the module within {timeout:g} s")
            if self._echo_returned:
                self._echo_returned = False
                self.echo_expected = True
                raise ModuleRestarted(
                    f"the module echoed {cmd.name} although SKSREG SFE 0 had turned the echo off:"
                    " it restarted in place (session, registers and credentials are gone)"
                )
            final = pending.reply.final
            if check and isinstance(final, skstack.Fail):
                raise CommandFailed(cmd.name, final.code)
            return pending.reply

    def abandon_orphan(self) -> None:
        """Forget a command that never completed (at shutdown there is no time to wait)."""
        self._orphan = None

    async def _settle_orphan(self) -> None:
        orphan = self._orphan
        if orphan is None:
            return
        with trio.move_on_after(self.timing.orphan_grace):
            await orphan.done.wait()
        self._orphan = None

    async def write_raw(self, data: bytes) -> None:
        """Write bytes outside the command protocol (the start-up CRLF flush)."""
        async with self._lock:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + self.timing.write
                await self._stream.send_all(data)

    async def drain(self, quiet: float | None = None, limit: float | None = None) -> None:
        """Wait until the module has been quiet for ``quiet`` seconds (at most ``limit``;
        both default to ``Timing.drain_quiet`` and ``Timing.drain_limit``).

        Quiet is counted from the last byte received (not in fixed windows, which cost up
        to one extra window). Once the module has been quiet that long, a reply to an
        orphaned command can no longer arrive unannounced, so the orphan is dropped and
        the next command does not wait ``Timing.orphan_grace`` for it.
        """
        quiet = self.timing.drain_quiet if quiet is None else quiet
        limit = self.timing.drain_limit if limit is None else limit
        start = trio.current_time()
        end = start + limit
        while True:
            quiet_at = max(self._last_rx, start) + quiet
            now = trio.current_time()
            if now >= quiet_at:
                if self._pending is None:
                    self._orphan = None
                return
            if now >= end:
                return
            await trio.sleep_until(min(quiet_at, end))
