"""A connection flood against the running exporter: memory stays bounded (issue 20, item 4).

The exporter runs as a user runs it (``--demo``, a subprocess); another process opens and
closes 2 000 connections and runs 300 keep-alive scrapers at once, 10 scrapes each. The
exporter's RSS is sampled from ``/proc`` before, during (the peak) and after. With
``-web-max-requests`` (default 40, as node_exporter's ``--web.max-requests``) requests
beyond the bound are answered 503 at once instead of each holding a rendered exposition.
Bounded in time: the flood client gives up after 120 s, its process after 150 s.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import attrs
import pytest

from tests.support import free_port

from .harness import exporter, first_reading

pytestmark = pytest.mark.slow

CONNECTS = 2000
SCRAPERS = 300
SCRAPES_EACH = 10
#: The bound on RSS growth under the flood (issue 20).
GROWTH_BOUND_MB = 20.0

FLOOD_CLIENT = r"""
import asyncio, sys

PORT, CONNECTS, SCRAPERS, EACH = map(int, sys.argv[1:5])
REQ = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

async def connect_close(sem, stats):
    async with sem:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", PORT)
            w.close()
            await w.wait_closed()
        except OSError:
            stats["refused"] += 1

async def read_response(r):
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await r.readexactly(length)
    return int(head[9:12]), b"connection: close" in head.lower()

async def scraper(stats):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", PORT)
        for _ in range(EACH):
            w.write(REQ)
            await w.drain()
            status, closed = await read_response(r)
            stats[status] = stats.get(status, 0) + 1
            if closed:
                break
        w.close()
    except (OSError, asyncio.IncompleteReadError):
        stats["broken"] += 1

async def main():
    stats = {"refused": 0, "broken": 0}
    sem = asyncio.Semaphore(200)
    await asyncio.wait_for(asyncio.gather(
        *(connect_close(sem, stats) for _ in range(CONNECTS)),
        *(scraper(stats) for _ in range(SCRAPERS)),
    ), timeout=120)
    print(" ".join(f"{k}={v}" for k, v in sorted(stats.items(), key=str)), flush=True)

asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@attrs.define
class Flood:
    before: float
    peak: float
    after: float
    answers: str


def flood(tmp_path: Path, *args: str) -> Flood:
    port = free_port()
    with exporter("--demo", "-state-file", str(tmp_path / "s.json"), *args, port=port) as (
        base,
        proc,
    ):
        first_reading(base)
        before = rss_mb(proc.pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], rss_mb(proc.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            argv = [str(port), str(CONNECTS), str(SCRAPERS), str(SCRAPES_EACH)]
            out = subprocess.run(
                [sys.executable, "-c", FLOOD_CLIENT, *argv],
                capture_output=True,
                text=True,
                timeout=150,
                check=True,
            )
        finally:
            done.set()
            sampler.join()
        first_reading(base)  # still serving
        return Flood(before, peak[0], rss_mb(proc.pid), out.stdout.strip())


def test_a_connection_flood_grows_rss_by_at_most_20_mb(tmp_path: Path) -> None:
    limited = flood(tmp_path)
    print(f"with -web-max-requests 40: {limited}")
    assert "503=" in limited.answers or "200=" in limited.answers
    assert limited.peak - limited.before <= GROWTH_BOUND_MB, limited
    assert limited.after - limited.before <= GROWTH_BOUND_MB, limited
