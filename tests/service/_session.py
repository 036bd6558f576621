"""A ModuleSession and a meter client stand-in for the direct Poller/EventRouter tests."""

from __future__ import annotations

import trio

from trio_smartmeter.core import echonet
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.module_session import ModuleSession
from trio_smartmeter.service.settings import SessionSettings
from trio_smartmeter.sim import Meter

METER_IP = "FE80:0000:0000:0000:021C:6400:030C:12A4"
OTHER_IP = "FE80:0000:0000:0000:021C:6400:030C:FFFF"


def module_session(timing: Timing | None = None, interval: float = 60.0) -> ModuleSession:
    settings = SessionSettings(
        rbid=Secret("0" * 24 + "12345678"),
        password=Secret("PASSWORD1234"),
        device="/dev/null",
        interval=interval,
        channel=0x33,
        ipaddr=METER_IP,
        timing=timing if timing is not None else Timing(),
    )
    return ModuleSession(settings, ExporterState(interval=interval), AddressCache(None))


class SimMeterClient:
    """``MeterClient.get`` answered by the simulator's meter, with a settable latency."""

    def __init__(self, latency: float = 0.0) -> None:
        self.meter = Meter()
        self.latency = latency
        self.gets: list[float] = []
        self._tid = 0

    async def get(self, epcs: list[int]) -> echonet.Frame:
        self.gets.append(trio.current_time())
        await trio.sleep(self.latency)
        self._tid += 1
        answer = self.meter.handle(
            echonet.get_request(self._tid, epcs).encode(), trio.current_time()
        )
        assert answer is not None
        return echonet.decode_frame(answer)
