"""The module's radio side: scans, the PANA join, the session and the air time.

Everything here happens on the air between the module and the meter and reaches
the host as EVENT and ERXUDP lines, with the delays of timing.py. Air time is
accounted in a sliding one-hour window; going over the ARIB STD-T108 budget
raises EVENT 32 until enough of it has aged out (EVENT 33, protocol.md §5.4).
"""

from __future__ import annotations

import collections
import functools
import random
from collections.abc import Awaitable, Callable

import attrs

from . import timing
from .clock import ModeledClock
from .faults import FaultBoard
from .meter import Meter
from .models import PANA_COMPLETE, PANA_EAP_PSK, PANA_START, ModelSpec, link_local
from .registers import Registers
from .stats import SimStats
from .tasks import Background
from .uart import Uart

MULTICAST_ALL_NODES = "FF02:0000:0000:0000:0000:0000:0000:0001"
STRAY_SENDER = "FE80:0000:0000:0000:021C:6400:0000:BEEF"

PORT_ECHONET = 0x0E1A
PORT_PANA = 0x02CC
PORT_MLE = 0x4D4C
_TX_WINDOW_S = 3600.0 + 180.0


@attrs.define
class Session:
    """The PANA session and the neighbour cache; a power cycle loses both."""

    peer: str | None = None
    neighbors: set[str] = attrs.field(factory=set)
    last_join: str | None = None  # what SKREJOIN joins again


@attrs.define
class AirTime:
    """Transmit time in the sliding window, as (modeled time, seconds); survives SKRESET."""

    budget_s: float
    log: collections.deque[tuple[float, float]] = attrs.field(factory=collections.deque)
    limited: bool = False  # between EVENT 32 and EVENT 33

    def used(self, now: float) -> float:
        while self.log and self.log[0][0] < now - _TX_WINDOW_S:
            self.log.popleft()
        return sum(seconds for _, seconds in self.log)

    def logged_ms(self) -> int:
        """Register SFD: what the window still holds, in milliseconds."""
        return int(sum(seconds for _, seconds in self.log) * 1000) & 0xFFFFFFFF


class Radio:
    """The module's link to the one meter in range, with B-route credentials ``rbid``/``password``."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        ip: str,
        meter: Meter,
        rbid: str,
        password: str,
        session_lifetime: float,
        tx_budget_s: float,
        clock: ModeledClock,
        background: Background,
        uart: Uart,
        faults: FaultBoard,
        registers: Registers,
        stats: SimStats,
        rng: random.Random,
        on_answer: Callable[[], None],
    ) -> None:
        self._spec = spec
        self._ip = ip
        self.meter = meter
        self.meter_ip = link_local(meter.config.mac)
        self.rbid = rbid
        self.password = password
        self.session_lifetime = session_lifetime
        self._clock = clock
        self._uart = uart
        self._faults = faults
        self._registers = registers
        self._stats = stats
        self._rng = rng
        self._on_answer = on_answer
        self._commands = background.group()  # what a command started: scans, joins, ...
        self._session_tasks = background.group()  # what ends with the session
        self.session = Session()
        self.airtime = AirTime(tx_budget_s)

    def stop(self) -> None:
        """Cancel everything in flight (SKRESET, a replug, the host going away)."""
        self._commands.cancel()
        self._session_tasks.cancel()

    def power_on(self) -> None:
        self.session = Session()
        self.stop()

    # ------------------------------------------------------------------ meter frames
    async def from_meter(self, port: int, secured: int, data: bytes, dst: str = "") -> None:
        mac = self.meter.config.mac
        await self._uart.erxudp(
            self.meter_ip, dst or self._ip, port, mac, secured, data, lqi=self._lqi()
        )

    def _lqi(self) -> int | None:
        """ERXUDP's RSSI token: DSE modules with SA2 1 only."""
        return self.meter.config.lqi if self._spec.dse and self._registers.rssi_switch else None

    async def half_hourly_pushes(self) -> None:
        """The meter's fixed-time EA notification, a little after every hh:00 and hh:30."""
        while True:
            meter_now = self.meter.now(self._clock.now())
            boundary = meter_now.replace(minute=0 if meter_now.minute < 30 else 30, second=0)
            boundary = boundary.replace(microsecond=0)
            wait = 1800 - (meter_now - boundary).total_seconds() + timing.PUSH_DELAY_S
            await self._clock.sleep(wait)
            if self.session.peer is not None:
                push = self.meter.fixed_time_push(self._clock.now())
                await self.from_meter(PORT_ECHONET, 1, push)

    async def stray_frames(self) -> None:
        """Another sender, a GET_RES with a TID nobody asked for, and MLE on 4D4C."""
        last = self.meter.answered_log[-1].tid if self.meter.answered_log else 1
        get_res = bytes.fromhex(f"1081{last ^ 0x5A5A:04X}02880105FF017201E704000004A8")
        other = bytes.fromhex("1081000102880105FF017201E704000001F8")
        await self._uart.erxudp(
            STRAY_SENDER, self._ip, PORT_ECHONET, "001C64000000BEEF", 1, other, lqi=self._lqi()
        )
        await self.from_meter(PORT_ECHONET, 1, get_res)
        mle = bytes(self._rng.randrange(256) for _ in range(24))
        await self.from_meter(PORT_MLE, 0, mle, MULTICAST_ALL_NODES)

    # ------------------------------------------------------------------ scan
    def start_scan(self, mode: int, mask: int, duration: int) -> None:
        self._commands.spawn(functools.partial(self._scan, mode, mask, duration))

    async def _scan(self, mode: int, mask: int, duration: int) -> None:
        channels = timing.scanned_channels(mask)
        dwell = timing.scan_dwell(duration)
        if mode == 0:
            await self._clock.sleep(dwell * len(channels))
            await self._uart.event(0x1F, self._ip)
            pairs = " ".join(f"{ch:02X} {self._rng.randint(2, 0x11):02X}" for ch in channels)
            extra = [""] if self._spec.name == "bp35a1" else []
            await self._uart.lines("EEDSCAN", pairs, *extra)
            return
        cfg = self.meter.config
        found = (
            cfg.channel in channels
            and not self._faults.hides_beacon()
            and (mode == 3 or self._registers.pairing_id == self.rbid[-8:])
        )
        done = 0
        if found:
            done = channels.index(cfg.channel) + 1
            await self._clock.sleep(dwell * done)
            block = [
                "EPANDESC",
                f"  Channel:{cfg.channel:02X}",
                "  Channel Page:09",
                f"  Pan ID:{cfg.pan_id:04X}",
                f"  Addr:{cfg.mac}",
                f"  LQI:{cfg.lqi:02X}",
            ]
            if self._spec.dse:
                block.append("  Side:0")
            if mode == 2:
                block.append(f"  PairID:{self._registers.pairing_id}")
            await self._uart.event(0x20, self._ip, block=block)
        await self._clock.sleep(dwell * (len(channels) - done))
        await self._uart.event(0x22, self._ip)

    # ------------------------------------------------------------------ join
    def start_join(self, target: str, *, rejoin: bool) -> None:
        self._commands.spawn(functools.partial(self._join, target, rejoin))

    async def _join(self, target: str, rejoin: bool) -> None:
        steps = iter(timing.JOIN_STEPS)

        async def step() -> None:
            await self._clock.sleep(next(steps)[0])

        started = self._clock.now()

        async def give_up() -> None:  # after PANA's retransmissions
            await self._clock.sleep(timing.PANA_FAILURE_S - (self._clock.now() - started))
            await self._uart.event(0x24, target)

        await step()
        await self._uart.event(0x21, target, 0x02)
        reachable = (
            target == self.meter_ip
            and self._registers.channel == self.meter.config.channel
            and self._registers.pan_id == self.meter.config.pan_id
        )
        if not reachable:
            await give_up()
            return
        await step()
        self.session.neighbors.add(target)
        await self._uart.event(0x02, target)
        await self._pana_round(step, PANA_START)
        credentials_ok = (
            self._registers.rbid == self.rbid
            and self._registers.password == self.password
            and not self._faults.rejects_password()
        )
        if not credentials_ok:
            await give_up()
            return
        await self._pana_round(step, PANA_EAP_PSK)
        await self._pana_round(step, PANA_COMPLETE)
        await step()
        self.establish(target)
        await self._uart.event(0x25, target)
        if not rejoin:
            self._session_tasks.spawn(self._instance_list)

    async def _pana_round(self, step: Callable[[], Awaitable[None]], message: bytes) -> None:
        await step()
        await self.from_meter(PORT_PANA, 0, message)
        await step()
        await self._uart.event(0x21, self.meter_ip, 0x00)

    async def _instance_list(self) -> None:
        await self._clock.sleep(timing.INSTANCE_LIST_DELAY_S)
        inf = self.meter.instance_list_inf()
        await self.from_meter(PORT_ECHONET, 1, inf, MULTICAST_ALL_NODES)

    # ------------------------------------------------------------------ session
    def establish(self, peer: str) -> None:
        self._session_tasks.cancel()
        self.session.peer = peer
        self._session_tasks.spawn(self._lifetime)

    def end_session(self) -> None:
        self.session.peer = None
        self._session_tasks.cancel()

    async def end_session_with(self, event: int) -> None:
        """The meter or the lifetime ends the session: EVENT 26 or 29 (no-op without one)."""
        peer = self.session.peer
        if peer is None:
            return
        self.end_session()
        await self._uart.event(event, peer)

    def announce_termination(self, peer: str) -> None:
        """SKTERM's EVENT 27, once the meter has acknowledged."""

        async def terminated() -> None:
            await self._clock.sleep(timing.TERM_DELAY_S)
            await self._uart.event(0x27, peer)

        self._commands.spawn(terminated)

    async def _lifetime(self) -> None:
        peer = self.session.peer
        assert peer is not None
        await self._clock.sleep(self.session_lifetime * 0.8)
        if self._registers.auto_reauth and not self._faults.blocks_reauth():
            # the module's own re-authentication: PANA on 02CC, then an unsolicited EVENT 25
            await self.from_meter(PORT_PANA, 0, PANA_START)
            await self._uart.event(0x21, peer, 0x00)
            await self._clock.sleep(0.8)
            await self.from_meter(PORT_PANA, 0, PANA_COMPLETE)
            await self._uart.event(0x21, peer, 0x00)
            await self._clock.sleep(0.3)
            await self._uart.event(0x25, peer)
            self._session_tasks.spawn(self._lifetime)  # a new lifetime; this one returns
            return
        await self._clock.sleep(self.session_lifetime * 0.2)
        self.session.peer = None
        await self._uart.event(0x29, peer)
        self._session_tasks.cancel()

    # ------------------------------------------------------------------ transmit
    async def send(self, dest: str, port: int, payload: bytes, *, secured: bool) -> None:
        """SKSENDTO on the air: EVENT 21 with the outcome, then the command's OK.

        Both come from here because what follows (the meter's answer, EVENT 32)
        depends on the outcome and must come after the OK.
        """
        if self.airtime.limited:
            # ARIB limit: the send is cancelled internally; we report it as 01 (failed)
            await self._uart.event(0x21, dest, 0x01)
            await self._uart.lines("OK")
            return
        storm = self._faults.storm_status()
        if storm is not None:
            await self._uart.event(0x21, dest, storm)
            await self._uart.lines("OK")
            return
        if dest.startswith("FE80") and dest not in self.session.neighbors:
            # not sent: a neighbour solicitation went out instead
            await self._uart.event(0x21, dest, 0x02)
            await self._uart.lines("OK")
            if dest == self.meter_ip:
                self._commands.spawn(functools.partial(self._neighbor_advert, dest))
            return
        await self._clock.sleep(timing.tx_delay(len(payload)))
        seconds = timing.airtime(len(payload))
        self._stats.airtime_s += seconds
        self.airtime.log.append((self._clock.now(), seconds))
        await self._uart.event(0x21, dest, 0x00)
        await self._uart.lines("OK")
        if dest == self.meter_ip and port == PORT_ECHONET and secured:
            self._session_tasks.spawn(functools.partial(self._meter_answer, payload))
        if (
            self.airtime.used(self._clock.now()) > self.airtime.budget_s
            and not self.airtime.limited
        ):
            await self.start_limit(None)

    async def _neighbor_advert(self, dest: str) -> None:
        await self._clock.sleep(0.2)
        self.session.neighbors.add(dest)
        await self._uart.event(0x02, dest)

    async def _meter_answer(self, payload: bytes) -> None:
        latency = self.meter.config.response_latency
        if self._faults.drops_response():
            return
        latency += self._faults.response_delay()
        await self._clock.sleep(latency)
        self.meter.sna_epcs = self._faults.unavailable_epcs()
        answer = self.meter.handle(payload, self._clock.now())
        if answer is None:
            return
        await self.from_meter(PORT_ECHONET, 1, answer)
        if self._faults.duplicates_response():
            await self._clock.sleep(0.05)
            await self.from_meter(PORT_ECHONET, 1, answer)
        self._on_answer()

    # ------------------------------------------------------------------ transmit-time limit
    async def start_limit(self, duration: float | None) -> None:
        """EVENT 32 now; EVENT 33 after ``duration``, or once the window is under budget."""
        self.airtime.limited = True
        await self._uart.event(0x32, self._ip)
        self._commands.spawn(functools.partial(self._release_limit, duration))

    async def _release_limit(self, duration: float | None) -> None:
        if duration is not None:
            await self._clock.sleep(duration)
        else:
            while self.airtime.used(self._clock.now()) > self.airtime.budget_s:
                oldest = self.airtime.log[0][0]
                await self._clock.sleep(oldest + _TX_WINDOW_S - self._clock.now() + 1e-6)
        self.airtime.limited = False
        await self._uart.event(0x33, self._ip)
