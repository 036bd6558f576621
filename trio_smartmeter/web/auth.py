"""HTTP basic authentication against the web configuration file's bcrypt hashes.

A bcrypt check costs ~50 ms at cost 10 on a PC and several times that on a Raspberry Pi:
it runs in a worker thread (at most :data:`CONCURRENT_CHECKS` at once) so that the event
loop keeps serving meanwhile. A name that is not configured is checked against a dummy
hash of the users' usual cost, so a wrong password takes as long for an unknown user as
for a known one. Credentials that passed once are remembered by a digest (Prometheus
sends the same ones every scrape, exporter-toolkit caches them too); failures never are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import bcrypt
import trio

from trio_smartmeter.web.web_config import bcrypt_cost

__all__ = ["CONCURRENT_CHECKS", "basic_auth", "credentials"]

CONCURRENT_CHECKS: Final = 2
#: Remembered successful credentials at most (then forgotten all at once).
REMEMBERED: Final = 64


def credentials(authorization: str) -> tuple[bytes, bytes] | None:
    """``(user, password)`` of an ``Authorization: Basic ...`` value; None if it is not one."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


async def basic_auth(users: Mapping[str, bytes]) -> Callable[[str], Awaitable[bool]]:
    """``allows(authorization_header) -> bool`` for ``users`` (name -> bcrypt hash).

    Makes the dummy hash first, itself one bcrypt run (in a worker thread).
    """
    known = {name.encode("utf-8"): hashed for name, hashed in users.items()}
    cost = Counter(bcrypt_cost(h) for h in known.values()).most_common(1)[0][0]
    dummy: bytes = await trio.to_thread.run_sync(
        bcrypt.hashpw, secrets.token_bytes(16), bcrypt.gensalt(cost)
    )
    limiter = trio.CapacityLimiter(CONCURRENT_CHECKS)
    passed: set[bytes] = set()

    async def allows(authorization: str) -> bool:
        given = credentials(authorization)
        if given is None:
            return False
        user, password = given
        hashed = known.get(user)
        digest = hashlib.sha256(b"\0".join((user, password, hashed or b""))).digest()
        if hashed is not None and digest in passed:
            return True
        matches = await trio.to_thread.run_sync(
            bcrypt.checkpw, password, hashed or dummy, limiter=limiter
        )
        if not matches or hashed is None:
            return False
        if len(passed) >= REMEMBERED:
            passed.clear()
        passed.add(digest)
        return True

    return allows
