"""``rate_limit`` of the web configuration file: golang.org/x/time/rate's limiter as
exporter-toolkit uses it (``Allow()`` per request, before authentication), on a fake clock;
then the same through the HTTP server task on loopback."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry

from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.rate_limit import TokenBucket, rate_limited, retry_after
from trio_smartmeter.web.router import ExporterApp
from trio_smartmeter.web.server import serve
from trio_smartmeter.web.web_config import RateLimit

from .helpers import Clock, call, setup


def test_the_bucket_starts_full_and_refills_one_token_per_interval() -> None:
    bucket = TokenBucket(RateLimit(interval=2.0, burst=3))
    assert [bucket.take(10.0) for _ in range(3)] == [None, None, None]
    assert bucket.take(10.0) == pytest.approx(2.0)  # a whole interval until the next token
    assert bucket.take(11.5) == pytest.approx(0.5)  # refused requests take nothing
    assert bucket.take(12.0) is None
    assert bucket.take(12.0) == pytest.approx(2.0)
    # idle for long: back to the burst, never more
    assert [bucket.take(1000.0) for _ in range(4)] == [None, None, None, pytest.approx(2.0)]


def test_a_steady_client_at_the_rate_is_never_refused() -> None:
    bucket = TokenBucket(RateLimit(interval=15.0, burst=1))  # one Prometheus, 15 s interval
    assert all(bucket.take(15.0 * i) is None for i in range(100))
    assert bucket.take(1500.0 - 1.0) is not None  # a second scraper in between is not


def test_a_clock_going_back_gives_no_tokens() -> None:
    bucket = TokenBucket(RateLimit(interval=1.0, burst=1))
    assert bucket.take(100.0) is None
    assert bucket.take(50.0) == pytest.approx(1.0)
    assert bucket.take(100.5) == pytest.approx(0.5)
    assert bucket.take(101.0) is None


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, b"1"), (1.0, b"1"), (1.01, b"2"), (59.5, b"60")]
)
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: bytes) -> None:
    assert retry_after(wait) == header


async def test_the_app_answers_429_with_retry_after_once_the_burst_is_spent() -> None:
    _, _, _, inner = setup()
    clock = Clock(5.0)
    app = rate_limited(inner, RateLimit(interval=30.0, burst=2), clock)
    assert [(await call(app, "/-/healthy"))[0] for _ in range(2)] == [200, 200]
    status, headers, body = await call(app, "/metrics")
    assert status == 429
    assert headers[b"retry-after"] == b"30"
    assert b"rate_limit" in body
    clock.now += 20.0
    status, headers, body = await call(app, "/-/healthy", method="HEAD")
    assert (status, headers[b"retry-after"], body) == (429, b"10", b"")
    clock.now += 10.0
    assert (await call(app, "/-/healthy"))[0] == 200


async def test_lifespan_passes_through_and_takes_no_token() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    app = rate_limited(inner, RateLimit(interval=60.0, burst=1), Clock(0.0))
    for _ in range(3):
        await app({"type": "lifespan"}, _never, _ignore)
    assert (await call(app, "/"))[0] == 204
    assert (await call(app, "/"))[0] == 429
    assert seen == ["lifespan", "lifespan", "lifespan", "http"]


async def _never() -> Any:
    raise AssertionError("not called")


async def _ignore(message: Any) -> None:
    pass


@pytest.mark.slow
async def test_the_http_server_limits_every_request_before_authentication() -> None:
    """The web configuration's limit reaches the server: real HTTP on loopback."""
    state = ExporterState(interval=60.0)

    async def refuse_all(authorization: str) -> bool:
        return False

    app = ExporterApp(
        state, CollectorRegistry(), monotonic=trio.current_time, version="t", authorized=refuse_all
    )
    limit = RateLimit(interval=60.0, burst=2)
    stop = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, httpx.AsyncClient(timeout=5) as client:
            binds = await nursery.start(
                partial(
                    serve,
                    rate_limited(app, limit, trio.current_time),
                    host="127.0.0.1",
                    port=0,
                    shutdown_trigger=stop.wait,
                )
            )
            statuses = [(await client.get(binds[0] + "/-/healthy")).status_code for _ in range(2)]
            refused = await client.get(binds[0] + "/metrics")
            stop.set()
    assert statuses == [401, 401]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] in ("59", "60")
