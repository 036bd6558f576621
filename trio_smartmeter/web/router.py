"""The ASGI application: routing, methods and content negotiation over ``ExporterState``.

Routes (GET and HEAD; anything else on them is 405 with ``Allow``; other paths 404):

``/metrics``     exposition (text, or OpenMetrics by ``Accept``; gzip by ``Accept-Encoding``);
                 200 whether or not the meter is reachable (style.md §3.4)
``/-/healthy``   liveness: the process and its event loop answer -> 200 ``Healthy``
``/-/ready``     200 only while a fresh reading exists, else 503 and a one-line reason
``/``            self-contained status page (:mod:`trio_smartmeter.web.page`)
``/api/status``  the same facts as JSON (:mod:`trio_smartmeter.web.status`)
``/api/history`` the stored half-hours, JSON or OpenMetrics (:mod:`trio_smartmeter.web.history`)

With ``authorized`` (the web configuration file's ``basic_auth_users``), every path, the
404s and ``/-/healthy`` included, first needs credentials it accepts, else 401 with
``WWW-Authenticate: Basic`` (as exporter-toolkit does). ``headers`` (its
``http_server_config.headers``) go on every response.

The lifespan scope is handled here (prometheus_client's ASGI app asserts ``http``).
Nothing here touches the serial port or polls the meter: everything is read from
``ExporterState`` (never poll on a scrape, design.md §4). Serving it is
:mod:`trio_smartmeter.web.server`.
"""

from __future__ import annotations

import gzip
import time
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import trio

from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web import history as history_view
from trio_smartmeter.web.page import status_page
from trio_smartmeter.web.status import (
    DAY_LOOKAROUND,
    half_hours_of_day,
    ready_reason,
    status_dict,
    status_json,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["CHALLENGE", "ASGIApp", "make_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: The stored half-hours that end in [since, until] (the service's store, in a thread).
HistoryReader = Callable[[float, float], Awaitable[list[HalfHour]]]
OPENMETRICS = b"application/openmetrics-text; version=1.0.0; charset=utf-8"

#: Smallest body worth compressing.
GZIP_MIN: Final = 512
_ALLOW: Final = b"GET, HEAD"
#: h11's ``max_incomplete_event_size`` only bounds a request still incomplete after a read:
#: one that arrives whole in a single 64 KiB read passes it, so the app checks again.
MAX_HEADER_COUNT: Final = 100
MAX_HEADER_BYTES: Final = 16 * 1024
#: How long a scrape that arrives during start-up waits for the registry, which
#: ``app.run_exporter`` builds right after the server listens (prometheus_client's import
#: is kept off the path to the first /-/healthy answer).
REGISTRY_WAIT: Final = 5.0
#: The ``WWW-Authenticate`` value of a 401.
CHALLENGE: Final = b'Basic realm="trio-smartmeter", charset="UTF-8"'


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    *,
    head: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _header(scope: Scope, name: bytes) -> str:
    values = [v for k, v in scope.get("headers", []) if k.lower() == name]
    return b", ".join(values).decode("latin-1")


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = params.strip().replace(" ", "")
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)

    return send_with_headers


def make_app(
    state: ExporterState,
    registry: Callable[[], Awaitable[CollectorRegistry]],
    *,
    monotonic: Callable[[], float],
    version: str,
    wall: Callable[[], float] = time.time,
    authorized: Callable[[str], Awaitable[bool]] | None = None,
    headers: Sequence[tuple[str, str]] = (),
    history: HistoryReader | None = None,
) -> ASGIApp:
    """The ASGI application. ``wall`` (Unix time) only picks the last hour for the chart.

    ``registry`` returns the metrics registry once it exists (see :data:`REGISTRY_WAIT`).
    ``authorized(authorization_header)`` says whether a request's credentials are accepted.
    """
    added = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]

    async def metrics(scope: Scope, send: Send, head: bool) -> None:
        reg: CollectorRegistry | None = None
        with trio.move_on_after(REGISTRY_WAIT):
            reg = await registry()
        if reg is None:
            await _respond(send, 503, b"starting\n", b"text/plain; charset=utf-8", head=head)
            return
        from trio_smartmeter.web.metrics import (
            render,  # imported by now: the registry comes from it
        )

        body, ctype = render(reg, _header(scope, b"accept"))
        extra = [(b"vary", b"Accept, Accept-Encoding")]
        if len(body) >= GZIP_MIN and _accepts_gzip(_header(scope, b"accept-encoding")):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            extra.append((b"content-encoding", b"gzip"))
        await _respond(send, 200, body, ctype.encode(), head=head, extra=extra)

    async def healthy(scope: Scope, send: Send, head: bool) -> None:
        await _respond(send, 200, b"Healthy\n", b"text/plain; charset=utf-8", head=head)

    async def ready(scope: Scope, send: Send, head: bool) -> None:
        reason = ready_reason(state, monotonic())
        if reason is None:
            await _respond(send, 200, b"Ready\n", b"text/plain; charset=utf-8", head=head)
        else:
            await _respond(
                send, 503, reason.encode() + b"\n", b"text/plain; charset=utf-8", head=head
            )

    def _status() -> tuple[dict[str, Any], float]:
        now_unix = wall()
        return status_dict(
            state, now_monotonic=monotonic(), now_unix=now_unix, version=version
        ), now_unix

    async def index(scope: Scope, send: Send, head: bool) -> None:
        st, now_unix = _status()
        rows: list[HalfHour] = []
        if history is not None:
            with trio.move_on_after(REGISTRY_WAIT):  # a store still opening: no bars yet
                rows = await history(now_unix - DAY_LOOKAROUND, now_unix + DAY_LOOKAROUND)
        page = status_page(st, now_unix=now_unix, half_hours=half_hours_of_day(rows))
        await _respond(send, 200, page, b"text/html; charset=utf-8", head=head)

    async def api_status(scope: Scope, send: Send, head: bool) -> None:
        st, _ = _status()
        await _respond(send, 200, status_json(st), b"application/json", head=head)

    async def api_history(scope: Scope, send: Send, head: bool) -> None:
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        text = b"text/plain; charset=utf-8"
        try:
            since, until = history_view.window(query, wall())
        except history_view.BadParameter as exc:
            await _respond(send, 400, f"{exc}\n".encode(), text, head=head)
            return
        fmt = query.get("format", ["json"])[-1]
        if fmt not in ("json", "openmetrics"):
            await _respond(send, 400, b"format: expected json or openmetrics\n", text, head=head)
            return
        if history is None:
            await _respond(send, 404, b"no history store\n", text, head=head)
            return
        rows = await history(since, until)
        if fmt == "openmetrics":
            body, ctype = history_view.as_openmetrics(rows), OPENMETRICS
        else:
            body, ctype = history_view.as_json(rows, since, until), b"application/json"
        await _respond(send, 200, body, ctype, head=head)

    routes: dict[str, Callable[[Scope, Send, bool], Awaitable[None]]] = {
        "/metrics": metrics,
        "/-/healthy": healthy,
        "/-/ready": ready,
        "/": index,
        "/api/status": api_status,
        "/api/history": api_history,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return  # websocket etc.: not served (hypercorn closes the connection)
        if added:
            send = _with_headers(send, added)
        request_headers = scope.get("headers", [])
        if (
            len(request_headers) > MAX_HEADER_COUNT
            or len(scope.get("raw_path", b""))
            + sum(len(k) + len(v) + 4 for k, v in request_headers)
            > MAX_HEADER_BYTES
        ):
            await _respond(
                send, 431, b"request header fields too large\n", b"text/plain; charset=utf-8"
            )
            return
        handler = routes.get(scope["path"])
        method = scope["method"]
        head = method == "HEAD"
        if authorized is not None and not await authorized(_header(scope, b"authorization")):
            await _respond(
                send,
                401,
                b"unauthorized\n",
                b"text/plain; charset=utf-8",
                head=head,
                extra=[(b"www-authenticate", CHALLENGE)],
            )
        elif handler is None:
            await _respond(send, 404, b"not found\n", b"text/plain; charset=utf-8", head=head)
        elif method not in ("GET", "HEAD"):
            await _respond(
                send,
                405,
                b"method not allowed\n",
                b"text/plain; charset=utf-8",
                extra=[(b"allow", _ALLOW)],
            )
        else:
            await handler(scope, send, head)

    return app
