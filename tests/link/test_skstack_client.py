"""SkStackClient against a module played by hand over an in-memory stream (virtual clock).

Replies complete the command in flight and nothing else does; a reply that comes too
late is kept from the next command; asynchronous lines go to subscribers without ever
blocking the reader; a write that cannot finish, a J11 stick and EOF end as the errors
the supervisor understands.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_smartmeter.core import skstack
from trio_smartmeter.core.config import SimulatedDevice
from trio_smartmeter.core.errors import (
    CommandFailed,
    LinkLost,
    ModuleRestarted,
    ModuleTimeout,
    UnsupportedModule,
)
from trio_smartmeter.core.skstack import Message
from trio_smartmeter.link.serial_port import open_device
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.link.timing import Timing

from .scripted import METER_IP, OWN_IP, ScriptedModule

ORPHAN_GRACE = Timing().orphan_grace
WRITE_DEADLINE = Timing().write

#: the unique code that starts every ROHM J11 frame (protocol.md §0)
J11_MAGIC = b"\xd0\xea\x83\xfc"
INFO = f"EINFO {OWN_IP} 001D129012345678 21 8888 FFFE"


Link = tuple[SkStackClient, ScriptedModule]


@pytest.fixture
async def link(nursery: trio.Nursery) -> Link:
    """A client reading the host end; the test plays the module (tests take autojump_clock)."""
    host, device = trio.testing.memory_stream_pair()
    client = SkStackClient(host)
    await nursery.start(client.run)
    return client, ScriptedModule(device)


async def test_a_command_completes_on_ok_with_its_data_lines(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def play() -> None:
        assert (await module.command()).text == "SKVER"
        await module.say("SKVER", "EVER 1.2.10", "OK")  # echo on: the echo is noise

    nursery.start_soon(play)
    reply = await client.command(skstack.sk_ver())
    assert reply.data == [skstack.Version("1.2.10")]
    assert reply.final == skstack.Ok(None)
    assert reply.first(skstack.Version) == skstack.Version("1.2.10")
    assert reply.first(skstack.Info) is None


async def test_fail_raises_command_failed_or_returns_when_unchecked(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def play() -> None:
        for _ in range(2):
            await module.command()
            await module.say("FAIL ER04")

    nursery.start_soon(play)
    with pytest.raises(CommandFailed) as failed:
        await client.command(skstack.ropt())
    assert (failed.value.command, failed.value.code) == ("ROPT", 4)
    reply = await client.command(skstack.ropt(), check=False)
    assert reply.final == skstack.Fail(4)


async def test_a_late_ok_during_the_grace_is_the_orphans_not_the_next_commands(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link
    info_written = trio.Event()

    async def play() -> None:
        assert (await module.command()).name == "SKVER"
        await trio.sleep(1.5)  # past SKVER's deadline (1 s): SKINFO waits in its grace
        await module.say("EVER 1.2.10", "OK")
        assert (await module.command()).name == "SKINFO"  # written only after that OK
        info_written.set()
        await trio.sleep(0.2)
        await module.say(INFO, "OK")

    nursery.start_soon(play)
    with pytest.raises(ModuleTimeout, match="SKVER"):
        await client.command(skstack.sk_ver(), timeout=1.0)
    reply = await client.command(skstack.sk_info())
    assert info_written.is_set()
    # its own reply, not SKVER's
    assert reply.data == [skstack.Info(OWN_IP, "001D129012345678", 0x21, 0x8888, "FFFE")]


async def test_an_orphan_that_never_answers_costs_the_next_command_one_grace(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def play() -> None:
        await module.command()  # SKVER: never answered
        await module.command()  # SKINFO
        await module.say(INFO, "OK")

    nursery.start_soon(play)
    with pytest.raises(ModuleTimeout):
        await client.command(skstack.sk_ver(), timeout=1.0)
    started = trio.current_time()
    await client.command(skstack.sk_info())
    assert trio.current_time() - started == pytest.approx(ORPHAN_GRACE)


async def test_drain_drops_the_orphan_once_the_module_is_quiet(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def play() -> None:
        await module.command()  # SKVER: never answered
        await module.command()
        await module.say(INFO, "OK")

    nursery.start_soon(play)
    with pytest.raises(ModuleTimeout):
        await client.command(skstack.sk_ver(), timeout=1.0)
    started = trio.current_time()
    await client.drain(quiet=0.3)
    assert trio.current_time() - started == pytest.approx(0.3)
    started = trio.current_time()
    await client.command(skstack.sk_info())
    assert trio.current_time() - started < ORPHAN_GRACE  # no grace: the orphan is gone


async def test_drain_waits_while_the_module_talks(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def chatter() -> None:
        for _ in range(3):
            await module.event(0x21, param=0)
            await trio.sleep(0.2)

    nursery.start_soon(chatter)
    await trio.lowlevel.checkpoint()
    started = trio.current_time()
    await client.drain(quiet=0.3, limit=2.0)
    assert trio.current_time() - started == pytest.approx(0.4 + 0.3)


async def test_asynchronous_lines_go_to_subscribers_and_never_complete_a_command(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    host, device = trio.testing.memory_stream_pair()
    seen: list[Message] = []
    client = SkStackClient(host, on_async=seen.append)
    module = ScriptedModule(device)
    await nursery.start(client.run)

    async def play() -> None:
        await module.command()
        await module.say("EVER 1.2.10")
        await module.event(0x21, param=0)
        await module.erxudp(b"\x10\x81\x00\x01")
        await module.pandesc(0x21)
        await trio.sleep(2.0)
        await module.say("OK")

    nursery.start_soon(play)
    with client.subscribe(lambda m: isinstance(m, skstack.ModuleEvent)) as events:
        started = trio.current_time()
        reply = await client.command(skstack.sk_ver())
        assert trio.current_time() - started == pytest.approx(2.0)  # only the OK ends it
        assert reply.data == [skstack.Version("1.2.10")]
        assert [events.receive_nowait(), events.receive_nowait()] == [
            skstack.ModuleEvent(0x21, METER_IP, None, 0),
            skstack.ModuleEvent(0x20, OWN_IP, None, None),
        ]
    assert [type(m) for m in seen] == [
        skstack.ModuleEvent,
        skstack.RxUdp,
        skstack.ModuleEvent,
        skstack.PanDesc,
    ]
    assert isinstance(seen[1], skstack.RxUdp) and seen[1].sender == METER_IP


async def test_a_full_inbox_drops_and_counts_without_blocking_the_reader(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def play() -> None:
        for param in range(5):
            await module.event(0x21, param=param)
        await module.command()
        await module.say("EVER 1.2.10", "OK")

    with client.subscribe(lambda m: isinstance(m, skstack.ModuleEvent), buffer=2) as inbox:
        nursery.start_soon(play)
        reply = await client.command(skstack.sk_ver())  # the reader kept reading
        assert reply.data == [skstack.Version("1.2.10")]
        [subscription] = client._subs  # the count is diagnostics, not API
        assert subscription.dropped == 3
        assert [inbox.receive_nowait(), inbox.receive_nowait()] == [
            skstack.ModuleEvent(0x21, METER_IP, None, param) for param in (0, 1)
        ]
        with pytest.raises(trio.WouldBlock):
            inbox.receive_nowait()


class _Stuck(trio.abc.Stream):
    """A port whose writes never finish (a tty whose buffer is full) and that never speaks."""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.sleep_forever()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.sleep_forever()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        pass


async def test_a_write_that_cannot_finish_is_link_lost(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client = SkStackClient(_Stuck())
    await nursery.start(client.run)
    started = trio.current_time()
    with pytest.raises(LinkLost, match="did not finish"):
        await client.command(skstack.sk_ver(), timeout=60.0)
    assert trio.current_time() - started == pytest.approx(WRITE_DEADLINE)


async def test_j11_bytes_then_no_answer_is_an_unsupported_module(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, module = link

    async def play() -> None:
        await module.command()
        await module.raw(J11_MAGIC + b"\x00\x01\x02\x03\x00\x04")

    nursery.start_soon(play)
    with pytest.raises(UnsupportedModule, match="J11"):
        await client.command(skstack.sk_ver(), timeout=1.0)
    assert client.j11_seen


@asynccontextmanager
async def _loopback(ends: list[trio.abc.Stream], model: str) -> AsyncIterator[trio.abc.Stream]:
    host, device = trio.testing.memory_stream_pair()
    ends.append(device)
    yield host


async def test_eof_from_the_device_is_link_lost(autojump_clock: trio.testing.MockClock) -> None:
    ends: list[trio.abc.Stream] = []
    opener = lambda model: _loopback(ends, model)  # noqa: E731
    async with open_device(SimulatedDevice("bp35a1"), sim_opener=opener) as stream:
        await ends[0].aclose()
        with pytest.raises(LinkLost, match=r"sim:bp35a1 closed \(end of file"):
            await SkStackClient(stream).run()


class _Unplugged(_Stuck):
    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        raise OSError(errno.EIO, "Input/output error")

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        raise trio.BrokenResourceError


@asynccontextmanager
async def _unplugged(model: str) -> AsyncIterator[trio.abc.Stream]:
    yield _Unplugged()


async def test_io_errors_of_the_device_are_link_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_device(SimulatedDevice("bp35a1"), sim_opener=_unplugged) as stream:
        with pytest.raises(LinkLost, match=r"went away \(I/O error EIO\)"):
            await stream.send_all(b"SKVER\r\n")
        with pytest.raises(LinkLost, match="sim:bp35a1"):
            await SkStackClient(stream).run()


async def test_an_echo_after_sfe_0_means_the_module_restarted_in_place(
    link: Link, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A brownout or another program's SKRESET brings the echo back (SFE=1 at power-on)."""
    client, module = link

    async def play() -> None:
        await module.command()
        await module.say(
            "SKINFO",
            "EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 FFFE",
            "OK",
        )

    client.echo_expected = True
    nursery.start_soon(play)
    await client.command(skstack.sk_info())  # an echo before SFE 0 is normal
    client.echo_expected = False
    nursery.start_soon(play)
    with pytest.raises(ModuleRestarted, match="SKINFO"):
        await client.command(skstack.sk_info())
    assert client.echo_expected  # from now on the module echoes, until SFE 0 again
