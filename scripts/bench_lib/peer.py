"""The peer for the HTTP comparison: prometheus_client's own start_http_server serving
the same registry (build_registry over an ExporterState holding one reading)."""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from prometheus_client import start_http_server

from trio_smartmeter.core.model import MeterScaling, ModuleInfo, Reading, SessionState
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.web.metrics import build_registry


def main(port: int) -> None:
    state = ExporterState(interval=86400.0)  # the reading stays fresh for the whole run
    state.set_module_info(ModuleInfo("ROHM BP35A1", "1.2.10", "rev26e", "single-hop", "binary"))
    state.set_scaling(
        MeterScaling(coefficient=1, unit_kwh=Decimal("0.1"), digits=6, has_reverse=False)
    )
    state.set_session_up(True)
    state.set_session_state(SessionState.READY)
    reading = Reading(312, Decimal("3.1"), Decimal("1.2"), Decimal("44444160000"), None,
                      time.monotonic(), time.time())  # fmt: skip
    state.record_reading(reading, 0.33)
    start_http_server(port, addr="127.0.0.1", registry=build_registry(state, time.monotonic))
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))
