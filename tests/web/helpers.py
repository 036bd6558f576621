"""Shared by the web tests: clocks, a reading, the app called directly as ASGI."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trio_smartmeter.core.model import MeterInfo, ModuleInfo, Reading, SessionState
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.metrics import build_registry
from trio_smartmeter.web.router import ASGIApp, ExporterApp
from trio_smartmeter.web.status import PowerLog

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


def connect(state: ExporterState, mono: Clock, firmware: str = "1.2.10") -> PowerLog:
    """A ready session and ten readings one minute apart, energy rising 0.1 kWh each.

    The status page's log of them (an app made before this has its own).
    """
    log = PowerLog.following(state)
    state.set_module_info(ModuleInfo("bp35c2", firmware, "rev26e", "dual-stack", "binary"))
    state.set_meter_info(MeterInfo("000016", "F"))
    state.set_session_state(SessionState.READY)
    state.set_session_up(True)
    state.set_rssi(-61.5)
    for i in range(10):
        t = UNIX - 600 + 60 * i
        state.record_reading(
            reading(mono.now, t, watts=500 + 100 * i, fwd=str(3_600_000_000 + 360_000 * i)), 1.0
        )
    return log


def setup(
    state: ExporterState | None = None,
) -> tuple[ExporterState, Clock, Clock, ASGIApp]:
    state = state or ExporterState(interval=60.0)
    mono, wall = Clock(100.0), Clock(UNIX)
    registry = build_registry(state, mono)

    app = ExporterApp(state, registry, monotonic=mono, version=VERSION, wall=wall)
    return state, mono, wall, app


async def call(
    app: ASGIApp,
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": headers or [],
    }
    await app(scope, receive, send)
    start, body = sent[0], sent[1]
    assert start["type"] == "http.response.start"
    hdrs = {k.lower(): v for k, v in start["headers"]}
    return start["status"], hdrs, body["body"]
