"""MeterClient: scan, join and Get as async operations, each with a documented deadline.

Replies are matched by identity, never by arrival order: a Get's answer is the first
``ERXUDP`` from the meter's address on port 0E1A whose ECHONET frame has our TID, the
meter as SEOJ, a Get_Res/Get_SNA ESV and the requested EPC set
(``echonet.is_response_to``). Anything else that arrives meanwhile (the D5 instance
list, 30-minute INF pushes, PANA datagrams, stray or duplicated frames) is left to the
asynchronous handler. A session-ending EVENT from the meter (24, 26-29) ends a Get at
once with :class:`SessionLost`: the request will never be answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import trio

from trio_smartmeter.core import echonet, skstack
from trio_smartmeter.core.errors import (
    CommandFailed,
    JoinFailed,
    MalformedResponse,
    ModuleRestarted,
    ModuleTimeout,
    RequestTimeout,
    SendFailed,
    SessionLost,
)
from trio_smartmeter.core.session import (
    CREDENTIALS_HINT,
    JOIN_OUTCOMES,
    SESSION_ENDS,
    Event,
    ended_by,
    send_failure,
)
from trio_smartmeter.core.skstack import Dialect, Message
from trio_smartmeter.i18n import _
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.link.timing import Timing


def scan_dwell(duration: int, channels: int) -> float:
    """The module's scan time: 0.0096 s × (2^D + 1) per channel (protocol.md §2 SKSCAN)."""
    return 0.0096 * float(2**duration + 1) * channels


def _scan_messages(m: Message) -> bool:
    return isinstance(m, skstack.PanDesc) or (
        isinstance(m, skstack.ModuleEvent) and m.code == Event.SCAN_DONE
    )


@attrs.define
class MeterClient:
    client: SkStackClient
    dialect: Dialect
    timing: Timing = attrs.field(factory=Timing)
    meter_ip: str | None = None
    tids: echonet.TidAllocator = attrs.field(factory=echonet.TidAllocator)

    async def scan(self, *, duration: int, channel: int | None) -> list[skstack.PanDesc]:
        """Active scan with IE (mode 2); returns every PAN descriptor seen before EVENT 22."""
        found: list[skstack.PanDesc] = []
        with self.client.subscribe(_scan_messages) as inbox:
            await self._scan_step(inbox, found, channel=channel, duration=duration)
            if not found:
                await self._trailing(inbox, found, done=bool)
        return found

    async def sweep(
        self,
        *,
        duration: int,
        channels: Sequence[int],
        done: Callable[[list[skstack.PanDesc]], bool] = bool,
    ) -> list[skstack.PanDesc]:
        """Scan ``channels`` one at a time, in the given order (single-channel masks).

        Stops after the first channel at which ``done(found)`` holds (default: any PAN
        descriptor), so a meter on an early channel is found after one dwell: an
        all-channel SKSCAN ends with EVENT 22 only after the last of the 28 channels.
        One subscription covers the whole sweep, so an EPANDESC that trails its channel's
        EVENT 22 is still collected (while the next channel is scanned), and the
        trailing-EPANDESC grace is waited once per sweep, not once per channel.
        """
        found: list[skstack.PanDesc] = []
        with self.client.subscribe(_scan_messages) as inbox:
            for channel in channels:
                await self._scan_step(inbox, found, channel=channel, duration=duration)
                if done(found):
                    return found
            await self._trailing(inbox, found, done=done)
        return found

    async def _scan_step(
        self,
        inbox: trio.MemoryReceiveChannel[Message],
        found: list[skstack.PanDesc],
        *,
        channel: int | None,
        duration: int,
    ) -> None:
        """One SKSCAN: collect PAN descriptors into ``found`` until its EVENT 22."""
        await self.client.command(
            skstack.sk_scan(self.dialect, mode=2, channel=channel, duration=duration),
            timeout=self.timing.command,
        )
        channels = 1 if channel is not None else len(skstack.CHANNELS)
        limit = scan_dwell(duration, channels) + self.timing.scan_margin
        with trio.move_on_after(limit) as scope:
            async for m in inbox:
                if isinstance(m, skstack.PanDesc):
                    found.append(m)
                else:
                    break
        if scope.cancelled_caught:
            where = "all channels" if channel is None else f"channel {channel:02X}"
            raise ModuleTimeout(
                f"scan of {where} (duration {duration}) did not finish within {limit:.1f} s"
            )

    async def _trailing(
        self,
        inbox: trio.MemoryReceiveChannel[Message],
        found: list[skstack.PanDesc],
        *,
        done: Callable[[list[skstack.PanDesc]], bool],
    ) -> None:
        """Some modules print EPANDESC just after EVENT 22: wait a short grace for it."""
        with trio.move_on_after(self.timing.scan_trailing):
            async for m in inbox:
                if isinstance(m, skstack.PanDesc):
                    found.append(m)
                    if done(found):
                        break

    async def join(self, meter_ip: str) -> None:
        """SKJOIN and wait for EVENT 25 (success) or EVENT 24 (rejected) from the meter."""
        ip = skstack.format_ipv6(meter_ip)

        def relevant(m: Message) -> bool:
            return (
                isinstance(m, skstack.ModuleEvent)
                and m.code in JOIN_OUTCOMES
                and (m.sender is None or m.sender == ip)
            )

        with self.client.subscribe(relevant) as inbox:
            await self.client.command(skstack.sk_join(ip), timeout=self.timing.command)
            with trio.move_on_after(self.timing.join):
                async for m in inbox:
                    assert isinstance(m, skstack.ModuleEvent)
                    if m.code == Event.SESSION_UP:
                        self.meter_ip = ip
                        return
                    raise JoinFailed(
                        f"the meter rejected PANA authentication (EVENT {m.code:02X}): {_(CREDENTIALS_HINT)}",
                        rejected=True,
                    )
        raise JoinFailed(
            f"no EVENT {Event.SESSION_UP:02X}/{Event.JOIN_REJECTED:02X} within"
            f" {self.timing.join:g} s of SKJOIN",
            rejected=False,
        )

    async def get(self, epcs: Sequence[int]) -> echonet.Frame:
        """One Get frame for ``epcs``; returns the matching Get_Res / Get_SNA frame."""
        return await self.exchange(echonet.get_request(self.tids.next(), epcs))

    async def set_c(self, properties: Sequence[echonet.Property]) -> echonet.Frame:
        """One SetC frame; returns the matching Set_Res / SetC_SNA frame."""
        return await self.exchange(echonet.set_request(self.tids.next(), properties))

    async def exchange(self, request: echonet.Frame) -> echonet.Frame:
        """Send ``request`` in one frame and wait for the answer that matches it."""
        ip = self.meter_ip
        if ip is None:
            raise SendFailed("no session: join first")
        payload = request.encode()

        def relevant(m: Message) -> bool:
            if isinstance(m, skstack.RxUdp):
                return m.sender == ip and m.rport == echonet.ECHONET_PORT
            if not isinstance(m, skstack.ModuleEvent):
                return False
            if m.code == Event.SENT:
                return m.sender == ip
            return m.code in SESSION_ENDS and m.sender in (None, ip)

        with self.client.subscribe(relevant) as inbox:
            try:
                await self.client.command(
                    skstack.sk_sendto(self.dialect, ip, payload), timeout=self.timing.send_ack
                )
            except CommandFailed as exc:
                # A module refuses to send once the session is gone: say why, if it said so.
                while (m := _receive_nowait(inbox)) is not None:
                    if (ended := _ended(m, ip)) is not None:
                        raise ended from None
                if exc.code == 10:  # no session, though the module never said it ended
                    raise ModuleRestarted(
                        "SKSENDTO failed with ER10 in a session the module had not ended:"
                        " it restarted in place"
                    ) from None
                raise SendFailed(f"the module refused to send ({exc})") from None
            with trio.move_on_after(self.timing.response):
                async for m in inbox:
                    if (ended := _ended(m, ip)) is not None:
                        raise ended
                    if isinstance(m, skstack.ModuleEvent):
                        if (what := send_failure(m)) is not None:
                            raise SendFailed(f"request TID {request.tid:04X}: {what}")
                        continue
                    assert isinstance(m, skstack.RxUdp)
                    try:
                        frame = echonet.decode_frame(m.data)
                    except echonet.FrameError:
                        continue  # garbled or foreign: not ours; a real answer may still come
                    if echonet.is_response_to(request, frame):
                        return frame
        raise RequestTimeout(
            f"no answer to {echonet.ESV(request.esv).name} TID {request.tid:04X}"
            f" within {self.timing.response:g} s"
        )


def _ended(m: Message, ip: str) -> SessionLost | None:
    return ended_by(m, ip) if isinstance(m, skstack.ModuleEvent) else None


def _receive_nowait(inbox: trio.MemoryReceiveChannel[Message]) -> Message | None:
    try:
        return inbox.receive_nowait()
    except trio.WouldBlock:
        return None


def readable(frame: echonet.Frame) -> dict[int, bytes]:
    """Properties with data (Get_SNA lists unreadable ones with PDC 0)."""
    try:
        return echonet.readable_properties(frame)
    except ValueError as exc:  # pragma: no cover - defensive
        raise MalformedResponse(str(exc)) from None
