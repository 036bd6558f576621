"""What one /metrics render costs, and what that is per hour at the scrape intervals users run.

.venv/bin/python scripts/exposition_cost.py
"""

import statistics
import time
from decimal import Decimal

from trio_smartmeter.core.model import Reading, SessionState
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.metrics import build_registry, render


def main() -> None:
    state = ExporterState(interval=60.0)
    state.set_session_state(SessionState.READY)
    state.set_session_up(True)
    reading = Reading(1234, Decimal("12.3"), None, Decimal("3600000000"), None, 100.0, 1.7e9)
    state.record_reading(reading, 2.0)
    registry = build_registry(state, lambda: 110.0)
    times = []
    for _ in range(2000):
        start = time.perf_counter()
        render(registry, "")
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"one render: {median * 1e6:.0f} us (median of {len(times)})")
    for every in (15, 30, 60):
        print(f"scraped every {every} s: {median * 3600 / every * 1e3:.0f} ms of CPU an hour")


if __name__ == "__main__":
    main()
