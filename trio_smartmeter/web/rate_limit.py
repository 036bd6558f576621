"""The web configuration file's ``rate_limit``: one token bucket in front of every request.

exporter-toolkit builds ``rate.NewLimiter(rate.Every(interval), burst)`` (golang.org/x/time
/rate) and asks ``Allow()`` for each request before authentication and before anything
else; a refused request is 429. :class:`TokenBucket` is that limiter, pure (the caller
passes the monotonic time): full at the start, ``burst`` tokens at most, one more per
``interval``; a request takes one or is refused. :func:`rate_limited` is the thin ASGI
layer, which adds what Go's answer lacks: ``Retry-After``, the whole seconds until a token.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from trio_smartmeter.web.web_config import RateLimit

if TYPE_CHECKING:
    from trio_smartmeter.web.router import ASGIApp, Receive, Scope, Send

__all__ = ["TokenBucket", "rate_limited"]

_BODY: Final = b"too many requests: rate_limit in the web configuration file\n"


class TokenBucket:
    """``rate.Limiter`` with ``Allow()``: a clock going back is taken as no time passing."""

    def __init__(self, limit: RateLimit) -> None:
        self._interval = limit.interval
        self._burst = float(limit.burst)
        self._tokens = self._burst
        self._last: float | None = None

    def take(self, now: float) -> float | None:
        """Take a token at ``now`` (seconds); None if taken, else the seconds until one is."""
        if self._last is not None and now > self._last:
            self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) * self._interval


def retry_after(wait: float) -> bytes:
    """``Retry-After`` (whole seconds, at least 1) for a wait of ``wait`` seconds.

    A microsecond off is float noise (10 s of a 30 s interval is 10.000000000000002).
    """
    return str(max(1, math.ceil(wait - 1e-6))).encode()


def rate_limited(app: ASGIApp, limit: RateLimit, monotonic: Callable[[], float]) -> ASGIApp:
    """``app`` behind one :class:`TokenBucket` for all its HTTP requests."""
    bucket = TokenBucket(limit)

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        wait = bucket.take(monotonic()) if scope["type"] == "http" else None
        if wait is None:
            await app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(_BODY)).encode()),
            (b"cache-control", b"no-store"),
            (b"retry-after", retry_after(wait)),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        head = scope.get("method") == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else _BODY})

    return limited
