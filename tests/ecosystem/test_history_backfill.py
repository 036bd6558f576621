"""Backfill as the README says: ``/api/history?format=openmetrics`` through the real
``promtool tsdb create-blocks-from openmetrics``, then a real Prometheus started on that
data directory answers, at each slot's time, the register the exporter served.

The exporter runs in process on the demo meter (a week of fabricated past) under a
Trio clock that runs ``RATE`` times faster than real time, so its one history frame
between two polls (60 s apart) comes every few real seconds. Only slots that ended at
least ``HEAD_MARGIN`` ago are backfilled: Prometheus' head block covers the last ~3 h.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support import free_port
from trio_smartmeter.app.root import run_exporter
from trio_smartmeter.cli.entry import parse
from trio_smartmeter.cli.simulator import opener_for
from trio_smartmeter.core.state import ExporterState

from .helpers import Prometheus, dashboard_exprs, http_get, running_prometheus, which

pytestmark = pytest.mark.slow

#: How much faster than real time the exporter's Trio clock runs (a poll every 3 s).
RATE = 20.0
#: Newer samples would fall into the time Prometheus' head block covers.
HEAD_MARGIN = 3.5 * 3600
#: Slots to check (the newest old-enough ones), at least.
WANTED = 4
#: Real seconds for the store to hold them (today's half-hours come with the 2nd frame).
FILL_DEADLINE = 40.0
SLOT = 1800


def _get(url: str) -> str:
    status, body = http_get(url, timeout=5)
    assert status == 200, f"{url}: {status} {body[:300]}"
    return body


async def _history(tmp: Path, since: float, until: float) -> tuple[str, str]:
    """(JSON, OpenMetrics) of ``[since, until]`` once the demo exporter has stored
    ``WANTED`` slots in it."""
    port = free_port()
    cfg = parse(
        [
            "--demo",
            "-port",
            str(port),
            "-listen-address",
            "127.0.0.1",
            "-state-file",
            str(tmp / "state.json"),
            "-verbosity",
            "0",
        ],
        {},
    )
    listening = trio.Event()
    base = f"http://127.0.0.1:{port}/api/history?" + urllib.parse.urlencode(
        {"since": repr(since), "until": repr(until)}
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            functools.partial(
                run_exporter,
                cfg,
                state=ExporterState(interval=60.0),
                sim_opener=opener_for(cfg),
                handle_signals=False,
                on_listening=lambda _binds: listening.set(),
            )
        )
        with trio.fail_after(10 * RATE):  # ten real seconds
            await listening.wait()
        real_deadline = time.monotonic() + FILL_DEADLINE
        while True:
            doc = json.loads(await trio.to_thread.run_sync(_get, base))
            if len(doc["slots"]) >= WANTED:
                break
            assert time.monotonic() < real_deadline, (
                f"the store has {len(doc['slots'])} slots older than {HEAD_MARGIN} s "
                f"after {FILL_DEADLINE} s"
            )
            await trio.sleep(RATE * 0.25)  # a quarter of a real second
        answers = await trio.to_thread.run_sync(
            lambda: (_get(base), _get(base + "&format=openmetrics"))
        )
        nursery.cancel_scope.cancel()
    return answers


@pytest.fixture
def prometheus_on(tmp_path: Path) -> Iterator[Callable[[Path], Prometheus]]:
    """A function that starts the real Prometheus on a data directory (stopped after)."""
    with contextlib.ExitStack() as running:

        def start(data: Path) -> Prometheus:
            config = {"global": {"scrape_interval": "1m"}}
            return running.enter_context(
                running_prometheus(tmp_path, config, data=data, retention="30d")
            )

        yield start


def value_at(prom: Prometheus, expr: str, at: float) -> float | None:
    result = prom.query(expr, at=at)
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def test_the_openmetrics_answer_backfills_prometheus(
    tmp_path: Path, prometheus_on: Callable[[Path], Prometheus]
) -> None:
    promtool = which("promtool")
    which("prometheus")
    until = time.time() - HEAD_MARGIN
    since = until - 2 * 86400
    doc_text, om = trio.run(
        _history, tmp_path, since, until, clock=trio.testing.MockClock(rate=RATE)
    )
    slots = json.loads(doc_text)["slots"]
    assert om.endswith("# EOF\n")

    (tmp_path / "history.om").write_text(om)
    data = tmp_path / "data"
    made = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "history.om", str(data)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert any(data.glob("*/meta.json")), f"no block made: {made.stdout}"

    prom = prometheus_on(data)
    checked = slots[-WANTED:]
    for s in checked:
        at = s["end_unix"]
        got = value_at(prom, "smartmeter_history_energy_forward_joules", at)
        assert got == s["forward_joules"], (s, got)
        if s["reverse_joules"] is not None:
            got = value_at(prom, "smartmeter_history_energy_reverse_joules", at)
            assert got == s["reverse_joules"], (s, got)

    # The dashboard's half-hour panel on the backfilled series (no job/instance labels).
    bought = next(
        expr for where, expr in dashboard_exprs() if where.startswith("panel 'Meter history")
    )
    by_end = {s["end_unix"]: s["forward_joules"] for s in slots}
    pairs = [s["end_unix"] for s in checked if s["end_unix"] - SLOT in by_end]
    assert pairs, checked
    for at in pairs:
        kwh = (by_end[at] - by_end[at - SLOT]) / 3.6e6
        assert value_at(prom, bought, at) == pytest.approx(kwh), at
