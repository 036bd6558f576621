"""The ASGI application: a route table over ``ExporterState``, one handler per route.

Routes (GET and HEAD; anything else on them is 405 with ``Allow``; other paths 404):

``/metrics``     exposition (text, or OpenMetrics by ``Accept``; gzip by ``Accept-Encoding``);
                 200 whether or not the meter is reachable (style.md §3.4)
``/-/healthy``   liveness: the process and its event loop answer -> 200 ``Healthy``
``/-/ready``     200 only while a fresh reading exists, else 503 and a one-line reason
``/``            self-contained status page (:mod:`trio_smartmeter.web.page`)
``/api/status``  the same facts as JSON (:mod:`trio_smartmeter.web.status`)
``/api/history`` the stored half-hours, JSON or OpenMetrics (:mod:`trio_smartmeter.web.history`)
``/api/bill``    the bill of ``period=current|previous`` as JSON (issue 21; 404 without a tariff)

A new route is one row of :data:`ROUTES` and one ``async def handler(app, request) ->
Response``. What goes around every route is :meth:`ExporterApp.__call__`: the header
limits, at most ``max_requests`` in flight (503 beyond, like node_exporter's
``--web.max-requests``; ``/-/healthy`` is not counted), credentials when ``authorized`` is given (every path, the 404s
and ``/-/healthy`` included; 401 with ``WWW-Authenticate: Basic`` as exporter-toolkit
does), and ``headers`` (the web configuration's ``http_server_config.headers``) on every
response.

The lifespan scope is handled here (prometheus_client's ASGI app asserts ``http``).
Nothing here touches the serial port or polls the meter: everything is read from
``ExporterState`` (never poll on a scrape, design.md §4). Serving it is
:mod:`trio_smartmeter.web.server`.
"""

from __future__ import annotations

import gzip
import json
import math
import time
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final

import attrs
import trio
from prometheus_client import CollectorRegistry

from trio_smartmeter.core.config import DEFAULT_WEB_MAX_REQUESTS
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web import history as history_view
from trio_smartmeter.web.language import negotiate
from trio_smartmeter.web.metrics import render
from trio_smartmeter.web.page import status_page
from trio_smartmeter.web.status import (
    DAY_LOOKAROUND,
    PowerLog,
    ready_reason,
    status_dict,
    status_json,
)

__all__ = ["CHALLENGE", "ROUTES", "ASGIApp", "ExporterApp", "Response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = tuple[tuple[bytes, bytes], ...]
#: The stored half-hours that end in [since, until] (the service's store, in a thread).
HistoryReader = Callable[[float, float], Awaitable[list[HalfHour]]]

TEXT: Final = b"text/plain; charset=utf-8"
JSON: Final = b"application/json"
HTML: Final = b"text/html; charset=utf-8"
OPENMETRICS: Final = b"application/openmetrics-text; version=1.0.0; charset=utf-8"

#: Smallest body worth compressing.
GZIP_MIN: Final = 512
_ALLOW: Final = b"GET, HEAD"
#: h11's ``max_incomplete_event_size`` only bounds a request still incomplete after a read:
#: one that arrives whole in a single 64 KiB read passes it, so the app checks again.
MAX_HEADER_COUNT: Final = 100
MAX_HEADER_BYTES: Final = 16 * 1024
#: The ``WWW-Authenticate`` value of a 401.
CHALLENGE: Final = b'Basic realm="trio-smartmeter", charset="UTF-8"'


@attrs.frozen
class Response:
    status: int
    body: bytes
    content_type: bytes = TEXT
    headers: Headers = ()


def text(status: int, message: str) -> Response:
    """A one-line plain-text answer (errors, health)."""
    return Response(status, f"{message}\n".encode())


@attrs.frozen
class Request:
    scope: Scope

    @property
    def head(self) -> bool:
        return bool(self.scope["method"] == "HEAD")

    def header(self, name: bytes) -> str:
        values = [v for k, v in self.scope.get("headers", []) if k.lower() == name]
        return b", ".join(values).decode("latin-1")

    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.scope.get("query_string", b"").decode("latin-1"))

    def too_large(self) -> bool:
        headers = self.scope.get("headers", [])
        size = len(self.scope.get("raw_path", b"")) + sum(len(k) + len(v) + 4 for k, v in headers)
        return len(headers) > MAX_HEADER_COUNT or size > MAX_HEADER_BYTES


Handler = Callable[["ExporterApp", Request], Awaitable[Response]]


class ExporterApp:
    """The ASGI application. ``wall`` (Unix time) only picks the last hour for the chart.

    ``registry``: what ``/metrics`` renders (:func:`trio_smartmeter.web.metrics.build_registry`).
    ``authorized(authorization_header)`` says whether a request's credentials are accepted.
    ``max_requests``: requests in flight at once, ``0`` for no bound. ``power_log``: the
    readings the page charts (by default one that follows ``state`` from now on).
    ``history_wait``: how long the page waits for the store's bars (the root's
    ``Timing.history_read``; a store slow to answer gives a page without them).
    ``billing``: a tariff is configured (``/api/bill`` answers; the bills themselves are
    ``state.bills``, kept by the service).
    """

    def __init__(
        self,
        state: ExporterState,
        registry: CollectorRegistry,
        *,
        monotonic: Callable[[], float],
        version: str,
        wall: Callable[[], float] = time.time,
        authorized: Callable[[str], Awaitable[bool]] | None = None,
        headers: Sequence[tuple[str, str]] = (),
        history: HistoryReader | None = None,
        history_wait: float = math.inf,
        max_requests: int = DEFAULT_WEB_MAX_REQUESTS,
        power_log: PowerLog | None = None,
        device: str | None = None,
        billing: bool = False,
    ) -> None:
        self.state = state
        self.power_log = power_log if power_log is not None else PowerLog.following(state)
        self.registry = registry
        self.monotonic = monotonic
        self.version = version
        self.wall = wall
        self.authorized = authorized
        self.history = history
        self.history_wait = history_wait
        self.max_requests = max_requests
        self.device = device
        self.billing = billing  # a tariff is configured: ``state.bills`` will come
        self.in_flight = 0
        self._added: Headers = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":  # websocket etc.: not served (hypercorn closes it)
            request = Request(scope)
            bounded = scope["path"] not in _UNBOUNDED
            if bounded and self.max_requests and self.in_flight >= self.max_requests:
                response = Response(503, b"too many requests in flight\n", headers=_RETRY)
                await self._send(send, response, head=request.head)
                return
            self.in_flight += bounded
            try:
                response = await self.respond(request)
                await self._send(send, response, head=request.head)
            finally:
                self.in_flight -= bounded

    async def respond(self, request: Request) -> Response:
        """What every route shares: header limits, credentials, 404, 405; then the handler."""
        if request.too_large():
            return text(431, "request header fields too large")
        if self.authorized is not None and not await self.authorized(
            request.header(b"authorization")
        ):
            return Response(401, b"unauthorized\n", headers=((b"www-authenticate", CHALLENGE),))
        handler = ROUTES.get(request.scope["path"])
        if handler is None:
            return text(404, "not found")
        if request.scope["method"] not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", headers=((b"allow", _ALLOW),))
        return await handler(self, request)

    async def _send(self, send: Send, response: Response, *, head: bool) -> None:
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"cache-control", b"no-store"),
            *response.headers,
            *self._added,
        ]
        body = b"" if head and response.status not in _BODY_EVEN_TO_HEAD else response.body
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def status(self) -> tuple[dict[str, Any], float]:
        """The status facts and the wall time they are for; "energy today" from the
        store's half-hours around now (none when the store is slow to answer)."""
        now_unix = self.wall()
        rows: list[HalfHour] = []
        if self.history is not None:
            with trio.move_on_after(self.history_wait):
                rows = await self.history(now_unix - DAY_LOOKAROUND, now_unix + DAY_LOOKAROUND)
        facts = status_dict(
            self.state,
            self.power_log,
            now_monotonic=self.monotonic(),
            now_unix=now_unix,
            version=self.version,
            rows=rows,
            device=self.device,
        )
        return facts, now_unix


_RETRY: Final[Headers] = ((b"retry-after", b"1"),)
_VARY_LANGUAGE: Final = (b"vary", b"Accept-Language")
#: Not counted against ``max_requests``: liveness must not fail because others flood.
_UNBOUNDED: Final = frozenset({"/-/healthy"})
#: Answers about the request itself, not the resource: their body goes even to a HEAD.
_BODY_EVEN_TO_HEAD: Final = frozenset({405, 431})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


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


# -- the handlers, one per route ------------------------------------------------------------


async def metrics(app: ExporterApp, request: Request) -> Response:
    body, ctype = render(app.registry, request.header(b"accept"))
    extra: Headers = ((b"vary", b"Accept, Accept-Encoding"),)
    if len(body) >= GZIP_MIN and _accepts_gzip(request.header(b"accept-encoding")):
        body = gzip.compress(body, compresslevel=6, mtime=0)
        extra += ((b"content-encoding", b"gzip"),)
    return Response(200, body, ctype.encode(), extra)


async def healthy(app: ExporterApp, request: Request) -> Response:
    return text(200, "Healthy")


async def ready(app: ExporterApp, request: Request) -> Response:
    reason = ready_reason(app.state, app.monotonic())
    return text(200, "Ready") if reason is None else text(503, reason)


async def index(app: ExporterApp, request: Request) -> Response:
    facts, now_unix = await app.status()
    lang = negotiate(request.header(b"accept-language"), request.query().get("lang", [""])[-1])
    page = status_page(facts, now_unix=now_unix, language=lang, bills=app.state.bills)
    return Response(200, page, HTML, ((b"content-language", lang.encode()), _VARY_LANGUAGE))


async def api_status(app: ExporterApp, request: Request) -> Response:
    facts, _ = await app.status()
    return Response(200, status_json(facts), JSON)


async def api_history(app: ExporterApp, request: Request) -> Response:
    query = request.query()
    try:
        since, until = history_view.window(query, app.wall())
    except history_view.BadParameter as exc:
        return text(400, str(exc))
    fmt = query.get("format", ["json"])[-1]
    if fmt not in ("json", "openmetrics"):
        return text(400, "format: expected json or openmetrics")
    if app.history is None:
        return text(404, "no history store")
    rows = await app.history(since, until)
    if fmt == "openmetrics":
        return Response(200, history_view.as_openmetrics(rows), OPENMETRICS)
    return Response(200, history_view.as_json(rows, since, until), JSON)


async def api_bill(app: ExporterApp, request: Request) -> Response:
    if not app.billing:
        return text(404, "no bill: no tariff file configured (SMARTMETER_TARIFF_FILE)")
    which = request.query().get("period", ["current"])[-1]
    if which not in ("current", "previous"):
        return text(400, "period: expected current or previous")
    bills = app.state.bills
    if bills is None:
        return Response(
            503,
            b"no bill yet: waiting for the meter's clock (its first fixed-time value)\n",
            headers=_RETRY,
        )
    from trio_smartmeter.core.bill import bill_document  # loaded with a tariff only

    bill = bills.current if which == "current" else bills.previous
    body = json.dumps(bill_document(bills.tariff, bill), ensure_ascii=False).encode()
    return Response(200, body, JSON)


#: Path -> handler. Every route answers GET and HEAD.
ROUTES: Final[dict[str, Handler]] = {
    "/metrics": metrics,
    "/-/healthy": healthy,
    "/-/ready": ready,
    "/": index,
    "/api/status": api_status,
    "/api/history": api_history,
    "/api/bill": api_bill,
}
