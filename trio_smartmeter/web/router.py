"""HTTP side: a hand-written ASGI router and ``hypercorn.trio.serve`` with deliberate limits.

Routes (GET and HEAD; anything else on them is 405 with ``Allow``; other paths 404):

``/metrics``     exposition (text, or OpenMetrics by ``Accept``; gzip by ``Accept-Encoding``);
                 200 whether or not the meter is reachable (style.md §3.4)
``/-/healthy``   liveness: the process and its event loop answer -> 200 ``Healthy``
``/-/ready``     200 only while a fresh reading exists, else 503 and a one-line reason
``/``            self-contained status page (no external assets; inline SVG chart of the
                 last hour of power; refreshes itself with a meta refresh)
``/api/status``  the same facts as JSON

The lifespan scope is handled here (prometheus_client's ASGI app asserts ``http``).
Nothing here touches the serial port or polls the meter: everything is read from
``ExporterState`` (never poll on a scrape, design.md §4).
"""

from __future__ import annotations

import errno
import gzip
import html
import json
import logging
import math
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, cast

import hypercorn.config
import hypercorn.trio
import trio

from trio_smartmeter.core.state import ExporterState

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["ASGIApp", "BindError", "PortInUseError", "make_app", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Smallest body worth compressing.
GZIP_MIN: Final = 512
HISTORY_WINDOW: Final = 3600.0
_ALLOW: Final = b"GET, HEAD"
#: h11's ``max_incomplete_event_size`` only bounds a request still incomplete after a read:
#: one that arrives whole in a single 64 KiB read passes it, so the app checks again.
MAX_HEADER_COUNT: Final = 100
MAX_HEADER_BYTES: Final = 16 * 1024
#: How long a scrape that arrives during start-up waits for the registry, which
#: ``app.run_exporter`` builds right after the server listens (prometheus_client's import
#: is kept off the path to the first /-/healthy answer).
REGISTRY_WAIT: Final = 5.0


class BindError(OSError):
    """The HTTP listener could not be opened (address not available, permission, ...)."""

    def __init__(self, host: str, port: int, reason: str, err: int | None = None) -> None:
        super().__init__(err or 0, f"cannot listen on {_bind(host, port)}: {reason}")
        self.host = host
        self.port = port


class PortInUseError(BindError):
    """The HTTP port is already in use by another process."""

    def __init__(self, port: int, host: str = "::") -> None:
        super().__init__(
            host,
            port,
            f"port {port} is already in use (another exporter running? set -port)",
            errno.EADDRINUSE,
        )


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- responses ---------------------------------------------------------------------------


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


# -- status facts ------------------------------------------------------------------------


def _kwh(joules: Decimal | None) -> float | None:
    return None if joules is None else float(joules / Decimal(3_600_000))


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def status_dict(
    state: ExporterState, *, now_monotonic: float, now_unix: float, version: str
) -> dict[str, Any]:
    """Everything the status page shows, as plain JSON-able values (no secrets)."""
    fresh = state.is_fresh(now_monotonic)
    r = state.reading
    reading: dict[str, Any] | None = None
    if r is not None:
        reading = {
            "fresh": fresh,
            "age_seconds": round(max(0.0, now_monotonic - r.received_monotonic), 1),
            "received_unix": r.received_unix,
            "power_watts": r.power_watts,
            "current_r_amperes": _f(r.current_r_amperes),
            "current_t_amperes": _f(r.current_t_amperes),
            "energy_forward_kwh": _kwh(r.energy_forward_joules),
            "energy_reverse_kwh": _kwh(r.energy_reverse_joules),
        }
    today = state.energy_today(now_unix)
    mod, met = state.module_info, state.meter_info
    return {
        "exporter": "trio-smartmeter",
        "version": version,
        "up": fresh,
        "interval_seconds": state.interval,
        "max_age_seconds": state.max_age,
        "session_state": state.session_state.value,
        "session_up": state.session_up,
        "rate_limited": state.rate_limited,
        "credentials_latched": state.credentials_latched,
        "rssi_dbm": state.rssi_dbm,
        "last_success_unix": state.last_success_unix,
        "module": None
        if mod is None
        else {
            "model": mod.model,
            "firmware": mod.firmware,
            "app_version": mod.app_version,
            "dialect": mod.dialect,
            "payload_format": mod.payload_format,
        },
        "meter": None
        if met is None
        else {"manufacturer": met.manufacturer, "standard_version": met.standard_version},
        "reading": reading,
        "today": None
        if today is None
        else {"energy_forward_kwh": _kwh(today[0]), "since_unix": today[1]},
        "history": [
            [t, w] for t, w in state.history if now_unix - HISTORY_WINDOW <= t <= now_unix + 60
        ],
    }


def _ready_reason(state: ExporterState, now_monotonic: float) -> str | None:
    """``None`` when ready, else a one-line reason."""
    if state.is_fresh(now_monotonic):
        return None
    st = state.session_state.value
    if state.credentials_latched:
        return "not ready: the meter rejected the B-route ID/password (latched; slow retry)"
    r = state.reading
    if r is None:
        return f"not ready: no meter reading yet (session state: {st})"
    age = now_monotonic - r.received_monotonic
    return (
        f"not ready: last meter reading is {age:.0f} s old, limit {state.max_age:.0f} s "
        f"(session state: {st})"
    )


# -- landing page ------------------------------------------------------------------------


def _fmt(value: float | int | None, unit: str, digits: int = 1) -> str:
    if value is None:
        return "&ndash;"
    return f"{value:,.{digits}f}&nbsp;{unit}"


def _svg_chart(points: list[list[float]], now_unix: float) -> str:
    w, h, pad = 720, 200, 60  # room for labels such as "-12,345"
    start = now_unix - HISTORY_WINDOW
    if not points:
        return (
            f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="no data">'
            f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle">no readings in the last hour</text>'
            "</svg>"
        )
    values = [p[1] for p in points]
    lo, hi = min(0.0, *values), max(0.0, *values)
    if hi - lo < 1:
        hi = lo + 1
    span = hi - lo

    def x(t: float) -> float:
        return pad + (t - start) / HISTORY_WINDOW * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad / 2 - (v - lo) / span * (h - pad)

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    # A single reading draws no line: mark every point too (at most 360 of them).
    dots = "".join(
        f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" class="dot"/>' for t, v in points
    )
    zero = y(0.0)
    labels = "".join(
        f'<text x="{pad - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>'
        for v in sorted({lo, hi, 0.0})
    )
    ticks = "".join(
        f'<text x="{x(now_unix - m * 60):.1f}" y="{h - 2}" text-anchor="middle">-{m} min</text>'
        for m in (60, 45, 30, 15)
    )
    return (
        f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="power, last hour">'
        f'<line x1="{pad}" x2="{w - pad}" y1="{zero:.1f}" y2="{zero:.1f}" class="axis"/>'
        f'<polyline points="{path}" class="line"/>{dots}{labels}{ticks}'
        f'<text x="{w - pad}" y="{h - 2}" text-anchor="end">now (W)</text></svg>'
    )


_CSS: Final = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:760px;color:#222}"
    "table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left}"
    "th{font-weight:600;color:#555}.big{font-size:2.4em;font-weight:700}"
    ".ok{color:#186a3b}.bad{color:#a93226}svg{width:100%;height:auto;font-size:11px}"
    ".line{fill:none;stroke:#2874a6;stroke-width:2}.axis{stroke:#aaa}.dot{fill:#2874a6}"
)


def landing_page(status: dict[str, Any], *, now_unix: float) -> bytes:
    e = html.escape
    r = status["reading"] or {}
    fresh = status["up"]
    mod = status["module"]
    refresh = int(min(max(status["interval_seconds"], 10), 60))
    state_cls = "ok" if fresh else "bad"
    module = (
        "&ndash;"
        if mod is None
        else e(
            f"{mod['model']} firmware {mod['firmware']}, {mod['dialect']}, {mod['payload_format']}"
        )
    )
    today = status["today"]
    if today is None:
        today_txt = "&ndash;"
    else:
        since = time.strftime("%H:%M", time.gmtime(today["since_unix"] + 9 * 3600))
        today_txt = _fmt(today["energy_forward_kwh"], "kWh", 2) + (
            f" (since {since} JST)" if since != "00:00" else ""
        )
    age = r.get("age_seconds")
    link = e(status["session_state"]) + (" (session up)" if status["session_up"] else "")
    if status["credentials_latched"]:
        link += " &mdash; B-route ID/password rejected"
    if status["rate_limited"]:
        link += " &mdash; transmit-time limit active"
    power = r.get("power_watts") if fresh else None
    rows = [
        ("Link / session", link),
        ("Module", module),
        (
            "Current R / T",
            f"{_fmt(r.get('current_r_amperes') if fresh else None, 'A')} / "
            f"{_fmt(r.get('current_t_amperes') if fresh else None, 'A')}",
        ),
        ("Energy today (bought)", today_txt),
        ("Link quality", _fmt(status["rssi_dbm"], "dBm", 0)),
        (
            "Last reading",
            "never" if age is None else f"{age:.0f} s ago" + ("" if fresh else " (stale)"),
        ),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="{refresh}">
<title>trio-smartmeter</title><style>{_CSS}</style></head>
<body><h1>trio-smartmeter <small>{e(status["version"])}</small></h1>
<p>Prometheus exporter for a Japanese smart electricity meter (Wi-SUN B-route).
Metrics: <a href="metrics">/metrics</a> &middot; <a href="api/status">status JSON</a>
&middot; <a href="-/ready">ready</a></p>
<p class="big {state_cls}">{_fmt(power, "W", 0)}</p>
<p class="{state_cls}">{"meter data fresh" if fresh else "no fresh meter data"}</p>
<table>{table}</table>
<h2>Power, last hour</h2>
{_svg_chart(status["history"], now_unix)}
</body></html>
"""
    return page.encode()


# -- the app -----------------------------------------------------------------------------


def make_app(
    state: ExporterState,
    registry: Callable[[], Awaitable[CollectorRegistry]],
    *,
    monotonic: Callable[[], float],
    version: str,
    wall: Callable[[], float] = time.time,
) -> ASGIApp:
    """The ASGI application. ``wall`` (Unix time) only picks the last hour for the chart.

    ``registry`` returns the metrics registry once it exists (see :data:`REGISTRY_WAIT`).
    """

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
        reason = _ready_reason(state, monotonic())
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
        await _respond(
            send, 200, landing_page(st, now_unix=now_unix), b"text/html; charset=utf-8", head=head
        )

    async def api_status(scope: Scope, send: Send, head: bool) -> None:
        st, _ = _status()
        body = json.dumps(st, allow_nan=False, default=_json_default).encode()
        await _respond(send, 200, body, b"application/json", head=head)

    routes: dict[str, Callable[[Scope, Send, bool], Awaitable[None]]] = {
        "/metrics": metrics,
        "/-/healthy": healthy,
        "/-/ready": ready,
        "/": index,
        "/api/status": api_status,
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
        headers = scope.get("headers", [])
        if (
            len(headers) > MAX_HEADER_COUNT
            or len(scope.get("raw_path", b"")) + sum(len(k) + len(v) + 4 for k, v in headers)
            > MAX_HEADER_BYTES
        ):
            await _respond(
                send, 431, b"request header fields too large\n", b"text/plain; charset=utf-8"
            )
            return
        handler = routes.get(scope["path"])
        method = scope["method"]
        head = method == "HEAD"
        if handler is None:
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


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


# -- serving -----------------------------------------------------------------------------


def hypercorn_config(host: str, port: int) -> hypercorn.config.Config:
    """Deliberate limits for a small, long-running metrics endpoint."""
    cfg = hypercorn.config.Config()
    cfg.bind = [_bind(host, port)]  # "[::]:P" alone serves IPv4 too (dual-stack)
    cfg.backlog = 64
    cfg.h11_max_incomplete_size = 16 * 1024  # request line + headers; bounds header count too
    cfg.h2_max_header_list_size = 16 * 1024
    cfg.h2_max_concurrent_streams = 16
    cfg.keep_alive_timeout = 30.0  # > Prometheus' 15 s default scrape interval
    cfg.keep_alive_max_requests = 10_000
    cfg.read_timeout = 30  # slow clients cannot hold a connection forever
    cfg.graceful_timeout = 1.0
    cfg.max_app_queue_size = 10
    cfg.wsgi_max_body_size = 64 * 1024
    cfg.websocket_max_message_size = 64 * 1024
    cfg.include_server_header = False
    # Logger objects, never "-": hypercorn would otherwise attach its own StreamHandler to
    # the global loggers and every line would appear twice (stack.md §4).
    cfg.errorlog = logging.getLogger("hypercorn.error")
    access = logging.getLogger("hypercorn.access")
    # No access logger when its lines are not shown (verbosity < 2, see log.setup_logging):
    # hypercorn would still format every request's atoms (incl. the whole environment).
    cfg.accesslog = access if access.isEnabledFor(logging.INFO) else None
    return cfg


def _effective_host(host: str) -> str:
    """``::`` on a host without IPv6 (some containers) falls back to ``0.0.0.0``."""
    if host != "::":
        return host
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::", 0))
    except OSError:
        return "0.0.0.0"
    return host


def _precheck(host: str, port: int) -> None:
    """Bind a throwaway socket as hypercorn will, to report a busy port cleanly.

    Hypercorn reports bind errors wrapped in nested ExceptionGroups and leaks the
    listening sockets in that path; this check catches the common case first. The
    race with another process remains and is handled in :func:`serve` with ``except*``.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise BindError(host, port, f"cannot resolve the address: {exc}", exc.errno) from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port, host) from None
            raise BindError(host, port, exc.strerror or str(exc), exc.errno) from None


async def serve(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns; ``task_status.started(binds)``.

    ``host`` is a literal or host name without brackets; ``"::"`` means all interfaces,
    IPv4 included (one dual-stack socket; never ``0.0.0.0`` and ``[::]`` together).
    Raises :class:`PortInUseError` or :class:`BindError` (plain, not in a group).
    """
    host = _effective_host(host)
    _precheck(host, port)
    cfg = hypercorn_config(host, port)
    failure: BindError | None = None
    try:
        await hypercorn.trio.serve(
            cast(Any, app), cfg, shutdown_trigger=shutdown_trigger, task_status=task_status
        )
    except* OSError as group:
        errs = [e for e in _leaves(group) if isinstance(e, OSError)]
        if any(e.errno == errno.EADDRINUSE for e in errs):
            failure = PortInUseError(port, host)
        elif errs and all(e.errno in (errno.EADDRNOTAVAIL, errno.EACCES) for e in errs):
            failure = BindError(host, port, errs[0].strerror or str(errs[0]), errs[0].errno)
        else:
            raise
    if failure is not None:
        raise failure


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for sub in exc.exceptions:
            out.extend(_leaves(sub))
        return out
    return [exc]
