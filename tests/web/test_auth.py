"""Basic authentication: the header parsing, the bcrypt check (in a worker thread, as long
for an unknown user as for a wrong password), the router's 401 and configured headers."""

from __future__ import annotations

import base64
import statistics
import time

import bcrypt
import pytest
import trio

from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web import auth
from trio_smartmeter.web.auth import basic_auth, credentials
from trio_smartmeter.web.metrics import build_registry
from trio_smartmeter.web.router import ASGIApp, ExporterApp

from .helpers import UNIX, VERSION, Clock, call

COST = 10
HASH = bcrypt.hashpw(b"right horse", bcrypt.gensalt(COST))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("alice", "pw"), (b"alice", b"pw")),
        (basic("alice", "p:w:"), (b"alice", b"p:w:")),
        (basic("", ""), (b"", b"")),
        ("basic " + base64.b64encode(b"a:b").decode(), (b"a", b"b")),
        ("  Basic   " + base64.b64encode(b"a:b").decode() + " ", (b"a", b"b")),
        ("", None),
        ("Bearer abc", None),
        ("Basic", None),
        ("Basic !!!notbase64", None),
        ("Basic " + base64.b64encode(b"no colon").decode(), None),
    ],
)
def test_credentials(header: str, expected: tuple[bytes, bytes] | None) -> None:
    assert credentials(header) == expected


async def test_right_wrong_and_unknown() -> None:
    allows = await basic_auth({"alice": HASH})
    assert await allows(basic("alice", "right horse"))
    assert not await allows(basic("alice", "wrong horse"))
    assert not await allows(basic("bob", "right horse"))
    assert not await allows(basic("Alice", "right horse"))
    assert not await allows("")


async def test_an_unknown_user_costs_a_check_of_the_same_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    allows = await basic_auth({"alice": HASH, "bob": bcrypt.hashpw(b"x", bcrypt.gensalt(4))})
    monkeypatch.setattr(auth.bcrypt, "checkpw", spy)
    assert not await allows(basic("mallory", "right horse"))
    assert not await allows(basic("alice", "guess"))
    assert len(checked) == 2
    dummy, alices = checked
    assert dummy != HASH and alices == HASH
    assert dummy[:7] == b"$2b$10$"  # the cost most users' hashes have (alice's; bob's is 04)


async def test_unknown_and_known_take_the_same_time() -> None:
    allows = await basic_auth({"alice": HASH})

    async def median(header: str) -> float:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            assert not await allows(header)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    unknown = await median(basic("nobody", "guess"))
    known = await median(basic("alice", "guess"))
    assert unknown > 0.01 and known > 0.01  # a real bcrypt check, both times
    assert 0.5 < unknown / known < 2.0, (unknown, known)


async def test_passed_credentials_are_remembered_and_failures_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        nonlocal calls
        calls += 1
        return real(password, hashed)

    allows = await basic_auth({"alice": HASH})
    monkeypatch.setattr(auth.bcrypt, "checkpw", counting)
    for _ in range(3):
        assert await allows(basic("alice", "right horse"))
        assert not await allows(basic("alice", "wrong horse"))
    assert calls == 1 + 3


async def test_the_check_does_not_hold_the_event_loop() -> None:
    slow = bcrypt.hashpw(b"pw", bcrypt.gensalt(12))  # ~0.2 s
    allows = await basic_auth({"alice": slow})
    ticks = 0
    done = trio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await trio.sleep(0.01)
            ticks += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        start = time.perf_counter()
        assert await allows(basic("alice", "pw"))
        took = time.perf_counter() - start
        done.set()
    assert took > 0.05
    assert ticks >= 3, (ticks, took)


def protected_app(headers: tuple[tuple[str, str], ...] = ()) -> ASGIApp:
    state = ExporterState(interval=60.0)
    mono = Clock(100.0)
    registry = build_registry(state, mono)

    async def authorized(header: str) -> bool:
        return header == basic("alice", "right horse")

    return ExporterApp(
        state,
        registry,
        monotonic=mono,
        version=VERSION,
        wall=Clock(UNIX),
        authorized=authorized,
        headers=headers,
    )


@pytest.mark.parametrize("path", ["/metrics", "/-/healthy", "/-/ready", "/", "/api/status", "/x"])
async def test_every_path_needs_credentials(path: str) -> None:
    app = protected_app()
    for header in [], [(b"authorization", basic("alice", "wrong").encode())]:
        status, headers, body = await call(app, path, headers=header)
        assert status == 401
        assert headers[b"www-authenticate"].startswith(b"Basic realm=")
        assert body == b"unauthorized\n"
    status, _, _ = await call(
        app, path, headers=[(b"authorization", basic("alice", "right horse").encode())]
    )
    assert status == (404 if path == "/x" else 503 if path == "/-/ready" else 200)


async def test_head_and_other_methods_are_refused_too() -> None:
    app = protected_app()
    status, headers, body = await call(app, "/metrics", method="HEAD")
    assert (status, body) == (401, b"")
    assert b"www-authenticate" in headers
    status, _, _ = await call(app, "/metrics", method="POST")
    assert status == 401


async def test_the_configured_headers_are_on_every_response() -> None:
    app = protected_app((("Strict-Transport-Security", "max-age=60"), ("X-Frame-Options", "deny")))
    good = [(b"authorization", basic("alice", "right horse").encode())]
    for path, header in [("/metrics", good), ("/nowhere", good), ("/metrics", [])]:
        _, headers, _ = await call(app, path, headers=header)
        assert headers[b"strict-transport-security"] == b"max-age=60"
        assert headers[b"x-frame-options"] == b"deny"
