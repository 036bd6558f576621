"""The HTTP server task: hypercorn on the exporter's ASGI app, with the web configuration
file's TLS. Its own module so that hypercorn (seconds of imports on a Pi Zero) loads in a
worker thread while the link stack already talks to the module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from trio_smartmeter.web.rate_limit import rate_limited
from trio_smartmeter.web.router import ASGIApp
from trio_smartmeter.web.server import serve

if TYPE_CHECKING:
    from trio_smartmeter.web.listener import EarlyListener
    from trio_smartmeter.web.web_config import WebConfig


async def serve_http(
    app: ASGIApp,
    host: str,
    port: int,
    stop: trio.Event,
    web: WebConfig | None,
    *,
    early: EarlyListener | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    if web is not None and web.rate_limit is not None:  # outermost, as exporter-toolkit's
        app = rate_limited(app, web.rate_limit, trio.current_time)
    await serve(
        app,
        host=host,
        port=port,
        shutdown_trigger=stop.wait,
        tls=None if web is None else web.tls,
        http2=True if web is None else web.http2,
        early=early,
        task_status=task_status,
    )
