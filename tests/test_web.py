"""HTTP: the ASGI router called directly, then served by hypercorn on loopback (real HTTP)."""

from __future__ import annotations

import gc
import gzip
import json
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry

from trio_smartmeter.core.model import MeterInfo, ModuleInfo, Reading, SessionState
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web import router as web
from trio_smartmeter.web.metrics import build_registry
from trio_smartmeter.web.router import BindError, PortInUseError, make_app, serve

VERSION = "9.8.7-test"
UNIX = 1_764_000_000.0  # 2025-11-25 01:00 JST
RBID = "0123456789ABCDEF0123456789ABCDEF"
PWD = "Pa55w0rdXyZq"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reading(mono: float, unix: float, watts: int = 1234, fwd: str = "3600000000") -> Reading:
    return Reading(
        power_watts=watts,
        current_r_amperes=Decimal("12.3"),
        current_t_amperes=None,
        energy_forward_joules=Decimal(fwd),
        energy_reverse_joules=None,
        received_monotonic=mono,
        received_unix=unix,
    )


def setup(
    state: ExporterState | None = None,
) -> tuple[ExporterState, Clock, Clock, web.ASGIApp]:
    state = state or ExporterState(interval=60.0)
    mono, wall = Clock(100.0), Clock(UNIX)
    registry = build_registry(state, mono)

    async def built() -> CollectorRegistry:
        return registry

    app = make_app(state, built, monotonic=mono, version=VERSION, wall=wall)
    return state, mono, wall, app


async def call(
    app: web.ASGIApp,
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": headers or [],
    }
    await app(scope, receive, send)
    start, body = sent[0], sent[1]
    assert start["type"] == "http.response.start"
    hdrs = {k.lower(): v for k, v in start["headers"]}
    return start["status"], hdrs, body["body"]


# -- direct ASGI -------------------------------------------------------------------------


async def test_lifespan() -> None:
    *_, app = setup()
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_metrics_without_reading() -> None:
    *_, app = setup()
    status, headers, body = await call(app, "/metrics")
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
    assert b"smartmeter_up 0.0" in body
    assert b"smartmeter_power_watts" not in body
    assert int(headers[b"content-length"]) == len(body)


async def test_a_scrape_during_start_up_waits_for_the_registry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """run_exporter builds the registry after listening; an early scrape waits, then 503."""
    state = ExporterState(interval=60.0)
    built = trio.Event()
    registry = build_registry(state, Clock(100.0))

    async def when_built() -> CollectorRegistry:
        await built.wait()
        return registry

    app = make_app(state, when_built, monotonic=Clock(100.0), version=VERSION)
    assert (await call(app, "/-/healthy"))[0] == 200  # never waits for the registry
    async with trio.open_nursery() as nursery:
        answers: list[int] = []

        async def scrape() -> None:
            answers.append((await call(app, "/metrics"))[0])

        nursery.start_soon(scrape)
        await trio.sleep(1.0)
        assert answers == []  # still waiting
        built.set()
    assert answers == [200]

    never = make_app(state, trio.Event().wait, monotonic=Clock(100.0), version=VERSION)  # type: ignore[arg-type]
    started = trio.current_time()
    status, _, body = await call(never, "/metrics")
    assert (status, body) == (503, b"starting\n")
    assert trio.current_time() - started == pytest.approx(web.REGISTRY_WAIT)


async def test_metrics_gzip_and_openmetrics() -> None:
    *_, app = setup()
    status, headers, body = await call(
        app,
        "/metrics",
        headers=[
            (b"accept", b"application/openmetrics-text; version=1.0.0"),
            (b"accept-encoding", b"br, gzip"),
        ],
    )
    assert status == 200
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"content-type"].startswith(b"application/openmetrics-text")
    text = gzip.decompress(body)
    assert text.endswith(b"# EOF\n")
    _, headers, _ = await call(app, "/metrics", headers=[(b"accept-encoding", b"gzip;q=0")])
    assert b"content-encoding" not in headers


async def test_head_has_headers_and_no_body() -> None:
    *_, app = setup()
    status, headers, body = await call(app, "/metrics", "HEAD")
    assert status == 200
    assert body == b""
    assert int(headers[b"content-length"]) > 100


async def test_healthy_ready_404_405() -> None:
    state, mono, _, app = setup()
    assert (await call(app, "/-/healthy"))[::2] == (200, b"Healthy\n")
    status, _, body = await call(app, "/-/ready")
    assert status == 503
    assert body.count(b"\n") == 1
    assert b"no meter reading yet" in body
    state.record_reading(reading(mono.now, UNIX), 1.0)
    assert (await call(app, "/-/ready"))[::2] == (200, b"Ready\n")
    mono.now += state.max_age + 1
    status, _, body = await call(app, "/-/ready")
    assert status == 503
    assert b"old" in body
    state.set_credentials_latched(True)
    assert b"rejected" in (await call(app, "/-/ready"))[2]
    assert (await call(app, "/nope"))[0] == 404
    status, headers, _ = await call(app, "/metrics", "POST")
    assert status == 405
    assert headers[b"allow"] == b"GET, HEAD"


async def test_landing_page_and_status_json() -> None:
    state, mono, wall, app = setup()
    state.set_module_info(ModuleInfo("bp35c2", "1.2.10", "rev26e", "dual-stack", "binary"))
    state.set_meter_info(MeterInfo("000016", "F"))
    state.set_session_state(SessionState.READY)
    state.set_session_up(True)
    state.set_rssi(-61.5)
    for i in range(10):  # ten readings one minute apart, energy rising 0.1 kWh each
        t = UNIX - 600 + 60 * i
        state.record_reading(
            reading(mono.now, t, watts=500 + 100 * i, fwd=str(3_600_000_000 + 360_000 * i)), 1.0
        )
    status, headers, body = await call(app, "/")
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/html")
    page = body.decode()
    assert VERSION in page
    assert 'href="metrics"' in page
    assert "<svg" in page
    assert "<polyline" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "1,400" in page  # current power
    assert "ready" in page
    assert "bp35c2" in page
    assert "-62&nbsp;dBm" in page  # -61.5 rounded
    assert "0.90" in page  # energy today: 9 x 0.1 kWh
    for secret in (RBID, PWD):
        assert secret not in page
    status, headers, body = await call(app, "/api/status")
    data = json.loads(body)
    assert headers[b"content-type"] == b"application/json"
    assert data["version"] == VERSION
    assert data["up"] is True
    assert data["reading"]["power_watts"] == 1400
    assert data["reading"]["current_t_amperes"] is None
    assert len(data["history"]) == 10
    assert data["today"]["energy_forward_kwh"] == pytest.approx(0.9)
    # an hour later the old points fall out of the chart
    wall.now += 3600
    data = json.loads((await call(app, "/api/status"))[2])
    assert len(data["history"]) <= 1


async def test_landing_page_without_anything() -> None:
    *_, app = setup()
    status, _, body = await call(app, "/")
    assert status == 200
    assert b"no readings in the last hour" in body
    assert b"never" in body


# -- real HTTP on loopback ---------------------------------------------------------------


async def _serving(
    nursery: trio.Nursery, app: web.ASGIApp, host: str, port: int = 0
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
    monkeypatch.setattr(web, "_precheck", lambda host, port: None)
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
    cfg = web.hypercorn_config("::", 9102)
    assert cfg.bind == ["[::]:9102"]
    assert cfg.graceful_timeout <= 1.0
    assert cfg.h11_max_incomplete_size <= 16 * 1024
    assert cfg.backlog == 64
    assert not isinstance(cfg.errorlog, str)
    assert web.hypercorn_config("127.0.0.1", 1).bind == ["127.0.0.1:1"]
