"""Serving the app with hypercorn on loopback (real HTTP): limits, dual stack, bind errors."""

from __future__ import annotations

import errno
import gc
import os
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import trio

from trio_smartmeter.web import server
from trio_smartmeter.web.router import ASGIApp
from trio_smartmeter.web.server import BindError, PortInUseError, serve

from .helpers import UNIX, VERSION, reading, setup


async def _serving(
    nursery: trio.Nursery, app: ASGIApp, host: str, port: int = 0
) -> tuple[str, trio.Event]:
    stop = trio.Event()
    binds: list[str] = await nursery.start(
        lambda task_status: serve(
            app, host=host, port=port, shutdown_trigger=stop.wait, task_status=task_status
        )
    )
    return binds[0], stop


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_real_http(host: str, client: httpx.AsyncClient) -> None:
    if host == "::1" and not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    state, mono, _, app = setup()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            base, stop = await _serving(nursery, app, host)
            r = await client.get(base + "/metrics")
            assert r.status_code == 200
            assert b"smartmeter_up 0.0" in r.content
            r = await client.get(base + "/metrics", headers={"accept-encoding": "gzip"})
            assert r.headers["content-encoding"] == "gzip"
            assert b"smartmeter_scrape_errors_total" in r.content  # httpx decoded it
            r = await client.get(
                base + "/metrics",
                headers={"accept": "application/openmetrics-text; version=1.0.0"},
            )
            assert r.text.endswith("# EOF\n")
            assert (await client.get(base + "/-/healthy")).text == "Healthy\n"
            assert (await client.get(base + "/-/ready")).status_code == 503
            state.record_reading(reading(mono.now, UNIX), 1.0)
            assert (await client.get(base + "/-/ready")).status_code == 200
            r = await client.head(base + "/metrics")
            assert r.status_code == 200
            assert r.content == b""
            assert (await client.get(base + "/missing")).status_code == 404
            r = await client.delete(base + "/-/healthy")
            assert r.status_code == 405
            assert r.headers["allow"] == "GET, HEAD"
            r = await client.get(base + "/")
            assert VERSION in r.text
            assert "server" not in r.headers
            stop.set()


async def test_all_interfaces_is_dual_stack(client: httpx.AsyncClient) -> None:
    if not _has_ipv6_loopback():
        pytest.skip("no IPv6 here")
    *_, app = setup()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            base, stop = await _serving(nursery, app, "::")
            port = int(base.rsplit(":", 1)[1])
            assert base.startswith("http://[::]:")
            r4 = await client.get(f"http://127.0.0.1:{port}/-/healthy")
            r6 = await client.get(f"http://[::1]:{port}/-/healthy")
            assert r4.status_code == r6.status_code == 200
            stop.set()


async def test_port_in_use() -> None:
    *_, app = setup()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with trio.fail_after(10), pytest.raises(PortInUseError) as info:
            await serve(app, host="127.0.0.1", port=port, shutdown_trigger=trio.sleep_forever)
        # through nursery.start (as app.py does) it arrives bare inside the nursery's group
        with trio.fail_after(10), pytest.RaisesGroup(PortInUseError):
            async with trio.open_nursery() as nursery:
                await _serving(nursery, app, "127.0.0.1", port)
    assert info.value.port == port
    assert str(port) in str(info.value)
    assert "in use" in str(info.value)
    assert isinstance(info.value, BindError)
    assert isinstance(info.value, OSError)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_port_in_use_race_inside_hypercorn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the pre-check, hypercorn's nested ExceptionGroup is unwrapped too."""
    monkeypatch.setattr(server, "_precheck", lambda host, port: None)
    *_, app = setup()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with trio.fail_after(10), pytest.raises(PortInUseError):
            await serve(app, host="127.0.0.1", port=port, shutdown_trigger=trio.sleep_forever)
    gc.collect()  # hypercorn leaks its listening sockets on this path (stack.md §2)


async def test_bad_listen_address() -> None:
    *_, app = setup()
    with trio.fail_after(10), pytest.raises(BindError):
        await serve(app, host="192.0.2.1", port=9, shutdown_trigger=trio.sleep_forever)


def test_hypercorn_limits() -> None:
    cfg = server.hypercorn_config("::", 9102)
    assert cfg.bind == ["[::]:9102"]
    assert cfg.graceful_timeout <= 1.0
    assert cfg.h11_max_incomplete_size <= 16 * 1024
    assert cfg.backlog == 64
    assert not isinstance(cfg.errorlog, str)
    assert server.hypercorn_config("127.0.0.1", 1).bind == ["127.0.0.1:1"]


def _group(*errors: OSError) -> ExceptionGroup[OSError]:
    """Nested as hypercorn raises them: a nursery's group inside another."""
    return ExceptionGroup("serve", [ExceptionGroup("listeners", list(errors))])


_IN_USE = OSError(errno.EADDRINUSE, "in use")
_NOT_AVAILABLE = OSError(errno.EADDRNOTAVAIL, "not available")
_DENIED = OSError(errno.EACCES, "denied")


@pytest.mark.parametrize(
    ("errors", "expected", "code"),
    [
        ((_IN_USE,), PortInUseError, errno.EADDRINUSE),
        ((_NOT_AVAILABLE, _IN_USE), PortInUseError, errno.EADDRINUSE),
        ((_NOT_AVAILABLE,), BindError, errno.EADDRNOTAVAIL),
        ((_DENIED,), BindError, errno.EACCES),
        ((_DENIED, OSError(errno.EPIPE, "pipe")), None, None),
        ((OSError(errno.ECONNRESET, "reset"),), None, None),
    ],
)
def test_hypercorn_group_to_bind_error(
    errors: tuple[OSError, ...], expected: type[BindError] | None, code: int | None
) -> None:
    """Hypercorn's nested group is one plain error, or None (re-raised as it is)."""
    failure = server._bind_failure(_group(*errors), "127.0.0.1", 9102)
    if expected is None:
        assert failure is None
        return
    assert type(failure) is expected
    assert (failure.errno, failure.host, failure.port) == (code, "127.0.0.1", 9102)
    if expected is BindError:
        assert os.strerror(failure.errno) in str(failure)
