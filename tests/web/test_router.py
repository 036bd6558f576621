"""The ASGI router called directly: routes, methods, negotiation, start-up wait."""

from __future__ import annotations

import gzip
from typing import Any

import trio

from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.metrics import build_registry
from trio_smartmeter.web.router import ExporterApp

from .helpers import UNIX, VERSION, Clock, call, reading, setup


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


async def test_requests_beyond_max_requests_are_503_until_one_finishes() -> None:
    """As node_exporter's --web.max-requests: a bound on requests in flight, 503 beyond it."""
    state = ExporterState(interval=60.0)
    release = trio.Event()

    async def slow_store(since: float, until: float) -> list[Any]:
        await release.wait()
        return []

    app = ExporterApp(
        state,
        build_registry(state, Clock(100.0)),
        monotonic=Clock(100.0),
        version=VERSION,
        history=slow_store,
        max_requests=2,
    )
    answers: list[int] = []

    async def ask(path: str) -> None:
        answers.append((await call(app, path))[0])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, "/api/history")
        nursery.start_soon(ask, "/api/history")
        await trio.testing.wait_all_tasks_blocked()
        assert app.in_flight == 2
        status, headers, body = await call(app, "/-/ready")
        assert (status, body, headers[b"retry-after"]) == (
            503,
            b"too many requests in flight\n",
            b"1",
        )
        assert (await call(app, "/-/healthy"))[0] == 200  # liveness is never refused
        release.set()
    assert answers == [200, 200]
    assert app.in_flight == 0
    assert (await call(app, "/-/ready"))[0] == 503  # not ready (no reading), but answered
    unbounded = ExporterApp(
        state,
        build_registry(state, Clock(100.0)),
        monotonic=Clock(100.0),
        version=VERSION,
        max_requests=0,
    )
    assert (await call(unbounded, "/metrics"))[0] == 200


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
