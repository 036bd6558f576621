"""The link supervisor, the session supervisor and the poller (design.md §4).

```
link supervisor: open the device → run the link → on loss back off and reopen
└─ link nursery (shielded from a stop request until SKTERM has been sent)
   ├─ serial reader (SkStackClient.run): the only task that reads the port
   ├─ INFC responder: answers the meter's INFC with INFC_Res
   └─ session supervisor: reset → identify → credentials → scan → join → poll,
        climbing the recovery ladder (recovery.py) on every failure
```

What happens on each failure is decided by ``recovery.Ladder`` (pure); this module only
carries it out, keeps ``ExporterState`` current, and logs one line per state change.
"""

from __future__ import annotations

import functools
import os
import random
import tempfile
from collections.abc import Callable
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path

import attrs
import trio
from loguru import logger

from trio_smartmeter.core import echonet, skstack
from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.errors import (
    CommandFailed,
    ExporterError,
    JoinFailed,
    LinkLost,
    MalformedResponse,
    ModuleTimeout,
    RequestTimeout,
    ScanEmpty,
    SendFailed,
    SessionLost,
    UnsupportedModule,
)
from trio_smartmeter.core.model import (
    FixedTimeEnergy,
    MeterInfo,
    MeterScaling,
    ModuleInfo,
    Reading,
    SessionState,
)
from trio_smartmeter.core.recovery import Fault, Ladder, Rung
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.core.session import (
    MeterAddress,
    SessionSignal,
    choose_pan,
    pair_id,
    scan_plan,
    signal_for,
)
from trio_smartmeter.core.skstack import Dialect, Message, PayloadFormat
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.meter_client import MeterClient, Timing, readable
from trio_smartmeter.link.serial_port import SimOpener, open_device
from trio_smartmeter.link.skstack_client import SkStackClient

JST = timezone(timedelta(hours=9))

#: Static properties, read once per session: they ride in the session's first poll frame
#: (STATIC_EPCS + POLL_EPCS + E3, one SKSENDTO; Get_SNA for some is fine).
STATIC_EPCS = (
    epc.EPC_STANDARD_VERSION,
    epc.EPC_MANUFACTURER,
    epc.EPC_COEFFICIENT,
    epc.EPC_DIGITS,
    epc.EPC_UNIT,
    epc.EPC_GET_MAP,
    epc.EPC_FIXED_FORWARD,
)
#: Every poll is ONE Get frame carrying these (E3 only when the meter has it).
POLL_EPCS = (epc.EPC_POWER, epc.EPC_CURRENTS, epc.EPC_FORWARD)

#: Bound on SKTERM + EVENT 27 at shutdown.
STOP_SKTERM_DEADLINE = 3.0
#: Backoff between reopen attempts of the serial device.
REOPEN_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
#: After an unsupported (J11) stick: look again this rarely.
UNSUPPORTED_RETRY = 300.0


@attrs.frozen
class SessionSettings:
    rbid: Secret
    password: Secret
    device: str
    interval: float = 60.0
    channel: int | None = None
    ipaddr: str | None = None
    dialect: Dialect | None = None  # None = detect
    state_file: Path | None = None
    timing: Timing = attrs.field(factory=Timing)
    latch_delay: float = 600.0


class _FaultLog:
    """One log line per fault kind and one per recovery; repeats only counted (no flood)."""

    def __init__(self) -> None:
        self.open_since: float | None = None
        self.seen: dict[str, int] = {}

    def fault(self, kind: str, message: str, now: float) -> None:
        n = self.seen.get(kind, 0)
        self.seen[kind] = n + 1
        if self.open_since is None:
            self.open_since = now
        if n == 0:
            logger.warning("{}", message)
        else:
            logger.debug("{} (again, {} times)", message, n + 1)

    def recovered(self, rung: str, now: float) -> None:
        if self.open_since is None:
            return
        faults = ", ".join(f"{k} ×{v}" for k, v in self.seen.items())
        logger.info("recovered by {} after {:.1f} s ({})", rung, now - self.open_since, faults)
        self.open_since = None
        self.seen.clear()


class Supervisor:
    def __init__(
        self,
        settings: SessionSettings,
        state: ExporterState,
        *,
        rng: random.Random | None = None,
        sim_opener: SimOpener | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        state.interval = settings.interval
        self.rng = rng if rng is not None else random.Random()
        self.ladder = Ladder(rng=self.rng, latch_delay=settings.latch_delay)
        self.sim_opener = sim_opener
        self._wall = wall_clock
        self._run_scope: trio.CancelScope | None = None
        self._session_scope: trio.CancelScope | None = None
        self._active_scope: trio.CancelScope | None = None
        self._stopping = False
        self._faults = _FaultLog()
        self._last_rung = "start"
        # session facts
        self.dialect: Dialect | None = settings.dialect
        self.payload: PayloadFormat | None = None
        self.address: MeterAddress | None = self._initial_address()
        #: True once a scan in this process saw the meter answer our pairing ID, or a join
        #: with this address succeeded: only then does EVENT 24 point at the password (a
        #: cached or pinned address may be stale, and a rescan is cheaper than a rejoin).
        self._address_verified = False
        self.meter: MeterClient | None = None
        self.client: SkStackClient | None = None
        self._scanned_this_cycle = False
        self._lost: SessionSignal | None = None
        self._lost_event = trio.Event()
        self._reauthed = trio.Event()
        self._rate_released = trio.Event()
        self._infc_send: trio.MemorySendChannel[echonet.Frame] | None = None
        self._last_forward_raw: int | None = None
        self._scaling: MeterScaling | None = None
        self.terminated = False
        self._unsupported_reported = False

    # -- clocks ------------------------------------------------------------------------
    def _unix(self) -> float:
        if self._wall is not None:
            return self._wall()
        import time

        return time.time()

    # -- addresses and the state file --------------------------------------------------
    def _initial_address(self) -> MeterAddress | None:
        s = self.settings
        if s.channel is not None and s.ipaddr is not None:
            ip = skstack.format_ipv6(s.ipaddr)
            mac = _mac_from_link_local(ip)
            # SKJOIN needs S3 too; these meters use the last 4 hex digits of the MAC as PAN ID
            # (protocol.md T05 note). A wrong guess fails the join and the ladder rescans.
            return MeterAddress(channel=s.channel, pan_id=int(mac[-4:], 16), mac=mac, ip=ip)
        if s.state_file is not None:
            try:
                text = s.state_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
            except OSError as exc:
                logger.warning("cannot read state file {}: {}", s.state_file, exc.strerror)
                return None
            try:
                addr, dialect = MeterAddress.from_json(text)
            except ValueError as exc:
                logger.warning("ignoring state file {}: {}", s.state_file, exc)
                return None
            if self.dialect is None and dialect in ("single-hop", "dual-stack"):
                pass  # detection is cheap and authoritative; the cached value is informative
            logger.info("using cached meter address from {} (skipping the scan)", s.state_file)
            return addr
        return None

    def _save_address(self) -> None:
        path = self.settings.state_file
        if path is None or self.address is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.address.to_json(self.dialect.value if self.dialect else None))
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("cannot write state file {}: {}", path, exc.strerror or exc)

    def _forget_address(self) -> None:
        self.address = None
        self._address_verified = False
        path = self.settings.state_file
        if path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("cannot remove state file {}: {}", path, exc.strerror or exc)

    # -- control -----------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop polling, send SKTERM if a session exists (bounded), close the port, return."""
        self._stopping = True
        self.state.set_session_state(SessionState.STOPPING)
        if self._session_scope is not None:
            self._session_scope.cancel()
        if self._run_scope is not None:
            self._run_scope.cancel()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The link supervisor: runs until :meth:`request_stop` (or cancellation)."""
        with trio.CancelScope() as self._run_scope:
            task_status.started()
            if self._stopping:
                return
            await self._link_loop()

    async def _link_loop(self) -> None:
        attempt = 0
        opened_before = False
        while True:
            self.state.set_session_state(
                SessionState.STARTING if not opened_before else SessionState.BACKOFF
            )
            delay: float
            try:
                async with open_device(self.settings.device, sim_opener=self.sim_opener) as stream:
                    if opened_before:
                        self.state.bump("serial_reopens")
                    opened_before = True
                    logger.info("opened {}", self.settings.device)
                    polls_before = self.state.polls
                    try:
                        await self._run_link(stream)
                    finally:
                        # the link worked for a while: the next loss starts the backoff anew
                        if self.state.polls > polls_before:
                            attempt = 0
                    if self._stopping:
                        return
                delay = REOPEN_BACKOFF[min(attempt, len(REOPEN_BACKOFF) - 1)]
                self._faults.fault(
                    "reopen",
                    f"reopening {self.settings.device} (recovery ladder)",
                    trio.current_time(),
                )
            except LinkLost as exc:
                self.state.count_error("serial")
                self.state.set_session_up(False)
                self.state.set_session_state(SessionState.NO_DEVICE)
                self._faults.fault("serial", f"serial device: {exc}", trio.current_time())
                delay = REOPEN_BACKOFF[min(attempt, len(REOPEN_BACKOFF) - 1)]
            except UnsupportedModule as exc:
                self.state.set_session_state(SessionState.UNSUPPORTED)
                if not self._unsupported_reported:
                    self._unsupported_reported = True
                    logger.error(
                        "{}: this exporter needs a stick with SKSTACK IP firmware (ROHM BP35A1, "
                        "BP35C0/BP35C2, RATOC RS-WSUHA-P, Tessera RL7023); looking again every {:.0f} s",
                        exc,
                        UNSUPPORTED_RETRY,
                    )
                delay = UNSUPPORTED_RETRY
            self.client = None
            self.meter = None
            if self._stopping:
                return
            attempt += 1
            self._last_rung = "reopen"
            await trio.sleep(self._jitter(delay))

    def _jitter(self, delay: float) -> float:
        return delay * (1.0 + 0.1 * (2 * self.rng.random() - 1))

    async def _run_link(self, stream: trio.abc.Stream) -> None:
        client = SkStackClient(stream, skstack.Decoder(self.dialect, None), on_async=self._on_async)
        self.client = client
        send, receive = trio.open_memory_channel[echonet.Frame](8)
        self._infc_send = send
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(client.run)
                nursery.start_soon(self._infc_responder, client, receive)
                with trio.CancelScope() as scope:
                    self._session_scope = scope
                    if self._stopping:
                        scope.cancel()
                    await self._session_loop(client)
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            leaf = unwrap_group(group)
            if isinstance(leaf, LinkLost):
                self.state.set_session_up(False)  # nothing to SKTERM on a vanished port
            raise leaf from None
        finally:
            self._session_scope = None
            self._infc_send = None
            if self.state.session_up:
                # Stopping (or cancelled from outside) with a session: end it, or the meter
                # refuses the next join until the session expires (protocol.md §9.18).
                with trio.CancelScope(shield=True) as cleanup:
                    cleanup.deadline = trio.current_time() + STOP_SKTERM_DEADLINE
                    await self._terminate_with_reader(client)

    async def _terminate_with_reader(self, client: SkStackClient) -> None:
        client.abandon_orphan()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.run)
                await self._terminate(client)
                nursery.cancel_scope.cancel()
        except (ExporterError, BaseExceptionGroup) as exc:
            logger.debug("no SKTERM at shutdown: {!r}", exc)

    async def _terminate(self, client: SkStackClient) -> None:
        with client.subscribe(
            lambda m: isinstance(m, skstack.ModuleEvent) and m.code in (0x27, 0x28)
        ) as inbox:
            try:
                await client.command(skstack.sk_term(), timeout=1.0)
            except ExporterError as exc:
                logger.debug("SKTERM not acknowledged: {}", exc)
                return
            with trio.move_on_after(STOP_SKTERM_DEADLINE - 1.0):
                await inbox.receive()
        self.terminated = True
        self.state.set_session_up(False)
        logger.info("session terminated (SKTERM)")

    # -- the session supervisor --------------------------------------------------------
    async def _session_loop(self, client: SkStackClient) -> None:
        rung = Rung.RESET
        initialised = False
        joined = False
        while True:
            try:
                if rung is Rung.REOPEN:
                    return
                if rung is Rung.RESET or not initialised:
                    joined = False
                    initialised = False
                    await self.initialise(client)
                    initialised = True
                self._scanned_this_cycle = False
                if rung is Rung.RESCAN_ALL:
                    self._forget_address()
                if rung is Rung.RESCAN_CHANNEL or self.address is None:
                    await self.locate(client, prefer_channel=rung is Rung.RESCAN_CHANNEL)
                if rung in (Rung.REJOIN, Rung.RESCAN_CHANNEL, Rung.RESCAN_ALL) or not joined:
                    joined = False
                    await self.join(client, terminate_first=rung is Rung.REJOIN)
                    joined = True
                if rung is Rung.WAIT_REAUTH:
                    await self._wait_reauth()
                await self._poll_loop()
            except (ModuleTimeout, CommandFailed) as exc:
                rung = await self._on_fault(Fault.MODULE_SILENT, "serial", f"module: {exc}")
            except ScanEmpty as exc:
                rung = await self._on_fault(Fault.SCAN_EMPTY, "ip_resolve", str(exc))
            except JoinFailed as exc:
                if not self._address_verified:
                    rung = await self._on_fault(Fault.UNCONFIRMED_ADDRESS, "auth", str(exc))
                elif exc.rejected:
                    rung = await self._on_fault(Fault.AUTH_REJECTED, "auth", str(exc))
                else:
                    rung = await self._on_fault(Fault.JOIN_FAILED, "auth", str(exc))
            except SessionLost as exc:
                fault = Fault.SESSION_EXPIRED if exc.expired else Fault.SESSION_ENDED
                rung = await self._on_fault(fault, None if exc.counted else "auth", str(exc))
            except SendFailed as exc:
                rung = await self._on_fault(Fault.SEND_FAILED, "query", str(exc))
            except RequestTimeout as exc:
                rung = await self._on_fault(Fault.TIMEOUT, "query", str(exc))
            except MalformedResponse as exc:
                rung = await self._on_fault(Fault.TIMEOUT, "parse", str(exc))

    async def _on_fault(self, fault: Fault, error_type: str | None, message: str) -> Rung:
        now = trio.current_time()
        if error_type is not None:
            self.state.count_error(error_type)
        if fault not in (Fault.TIMEOUT, Fault.SEND_FAILED):
            self.state.set_session_up(False)
        decision = self.ladder.on_fault(fault)
        self._faults.fault(fault.value, message, now)
        if decision.latch:
            self.state.set_credentials_latched(True)
            self.state.set_session_state(SessionState.LATCHED)
            logger.error(
                "the meter keeps rejecting the B-route ID/password (EVENT 24): retrying only every "
                "{:.0f} s; check SMARTMETER_ID and SMARTMETER_PASSWORD",
                decision.delay,
            )
        else:
            self.state.set_session_state(SessionState.BACKOFF)
        logger.debug(
            "recovery: {} in {:.1f} s ({})", decision.rung.value, decision.delay, decision.reason
        )
        await trio.sleep(decision.delay)
        self._last_rung = decision.rung.value
        return decision.rung

    # -- steps -------------------------------------------------------------------------
    async def initialise(self, client: SkStackClient) -> None:
        s = self.settings
        self.state.set_session_state(SessionState.INITIALISING)
        self.state.set_session_up(False)
        await client.write_raw(b"\r\n")
        # Drain what a previous run left (protocol.md §5.1). Quiet counts from the last byte
        # received, so a burst still arriving extends it; at 115200 baud the module's lines
        # (and its reply to the CRLF) come back within milliseconds, so 0.1 s of silence
        # means it is done (0.2 s only added 0.1 s to every start and every reset).
        await client.drain(quiet=0.1, limit=2.0)
        await client.command(skstack.sk_reset(), timeout=s.timing.reset)
        self.state.bump("module_resets")
        await client.command(skstack.sk_sreg("SFE", "0"), timeout=s.timing.command)
        ver = (await client.command(skstack.sk_ver(), timeout=s.timing.command)).first(
            skstack.Version
        )
        appver = (
            await client.command(skstack.sk_appver(), timeout=s.timing.command, check=False)
        ).first(skstack.AppVersion)
        info = (await client.command(skstack.sk_info(), timeout=s.timing.command)).first(
            skstack.Info
        )
        if self.settings.dialect is not None:
            self.dialect = self.settings.dialect
        elif isinstance(info, skstack.Info):
            self.dialect = skstack.dialect_from_info(info)
        else:
            self.dialect = Dialect.SINGLE_HOP
        ropt = (await client.command(skstack.ropt(), timeout=s.timing.command, check=False)).final
        try:
            self.payload = (
                skstack.payload_from_ropt(ropt)
                if isinstance(ropt, skstack.Ok | skstack.Fail)
                else None
            )
        except ValueError as exc:  # e.g. a stray "OK" taken as ROPT's reply: re-initialise
            raise MalformedResponse(str(exc)) from None
        client.decoder.dialect = self.dialect
        client.decoder.payload = self.payload
        if self.dialect is Dialect.DUAL_STACK:
            # RSSI on every ERXUDP (DSE only: on single-hop modules SA2 is TX power).
            await client.command(skstack.sk_sreg("SA2", "1"), timeout=s.timing.command, check=False)
        await client.command(skstack.sk_setpwd(s.password), timeout=s.timing.command)
        await client.command(skstack.sk_setrbid(s.rbid), timeout=s.timing.command)
        firmware = ver.text if isinstance(ver, skstack.Version) else ""
        self.state.set_module_info(
            ModuleInfo(
                model=_guess_model(info if isinstance(info, skstack.Info) else None, self.dialect),
                firmware=firmware,
                app_version=appver.text if isinstance(appver, skstack.AppVersion) else "",
                dialect=self.dialect.value,
                payload_format=self.payload.value if self.payload else "unknown",
            )
        )
        logger.info(
            "module ready: firmware {} ({}, {} payloads)",
            firmware or "?",
            self.dialect.value,
            self.payload.value if self.payload else "auto-detected",
        )

    async def locate(self, client: SkStackClient, *, prefer_channel: bool) -> None:
        assert self.dialect is not None
        self.state.set_session_state(SessionState.SCANNING)
        channel = self.settings.channel
        if prefer_channel and self.address is not None:
            channel = self.address.channel
        wanted = pair_id(self.settings.rbid.reveal())
        meter = MeterClient(client, self.dialect, self.settings.timing)

        def ours(descs: list[skstack.PanDesc]) -> bool:  # a sweep stops at our meter
            return choose_pan(descs, wanted) is not None

        def counted(_channel: int) -> None:  # smartmeter_scans_total counts SKSCANs
            self.state.bump("scans")

        for step in scan_plan(channel):
            sweep = functools.partial(
                MeterClient.sweep, duration=step.duration, channels=step.channels, done=ours,
                on_scan=counted,
            )  # fmt: skip
            try:
                descs = await sweep(meter)
            except CommandFailed as exc:
                other = skstack.dialect_from_scan_failure(skstack.Fail(exc.code), self.dialect)
                if other is None or self.settings.dialect is not None:
                    raise
                logger.info(
                    "SKSCAN answered ER{:02d}: switching to the {} dialect", exc.code, other.value
                )
                self.dialect = other
                client.decoder.dialect = other
                meter = MeterClient(client, self.dialect, self.settings.timing)
                descs = await sweep(meter)
            chosen = choose_pan(descs, wanted)
            if chosen is not None:
                ip = skstack.mac_to_link_local(chosen.addr)
                self.address = MeterAddress(
                    chosen.channel, chosen.pan_id, chosen.addr, ip, chosen.lqi
                )
                self._scanned_this_cycle = True
                self._address_verified = True
                self.state.set_rssi(skstack.rssi_from_lqi(chosen.lqi))
                logger.info(
                    "found the meter on channel {:02X}, PAN {:04X}, LQI {} (scan duration {})",
                    chosen.channel,
                    chosen.pan_id,
                    chosen.lqi,
                    step.duration,
                )
                return
        raise ScanEmpty(
            "no meter answered with our pairing ID: check SMARTMETER_ID, the distance to the meter, "
            "or that the B-route service is active"
        )

    async def join(self, client: SkStackClient, *, terminate_first: bool) -> None:
        assert self.dialect is not None
        assert self.address is not None
        s = self.settings
        self.state.set_session_state(SessionState.JOINING)
        if terminate_first:
            try:
                await client.command(skstack.sk_term(), timeout=s.timing.command, check=False)
            except ModuleTimeout:
                pass
        await client.command(
            skstack.sk_sreg("S2", f"{self.address.channel:02X}"), timeout=s.timing.command
        )
        await client.command(
            skstack.sk_sreg("S3", f"{self.address.pan_id:04X}"), timeout=s.timing.command
        )
        meter = MeterClient(client, self.dialect, s.timing)
        self.meter = None
        self._scaling = None
        self._lost = None
        self._lost_event = trio.Event()
        self._rate_released = trio.Event()
        self.state.bump("joins")
        try:
            await meter.join(self.address.ip)
        except JoinFailed:
            self.state.bump("join_failures")
            raise
        self.meter = meter
        self._address_verified = True
        self.state.set_session_up(True)
        self.state.set_credentials_latched(False)
        self._save_address()
        logger.info("joined the meter {} (PANA session up)", self.address.mac)

    async def _wait_reauth(self) -> None:
        self.state.set_session_state(SessionState.REAUTH)
        if not self.state.session_up:
            with trio.move_on_after(self.settings.timing.reauth):
                await self._reauthed.wait()
        if not self._session_is_up():
            raise SessionLost(
                "the module did not re-authenticate after EVENT 29", expired=False, counted=True
            )
        # the module re-authenticated by itself: the session (and its meter address) goes on
        self._lost = None
        self._lost_event = trio.Event()

    def _session_is_up(self) -> bool:
        return self.state.session_up

    # -- the poller ----------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        meter = self.meter
        if meter is None:
            raise SessionLost("no session", expired=False)
        self.state.set_session_state(SessionState.READY)
        scaling = self._scaling  # None until the session's first Get (it carries STATIC_EPCS)
        next_tick = trio.current_time()
        while True:
            await self._sleep_until(next_tick)
            if self.state.rate_limited:
                self.state.count_error("rate_limit")
                self.state.set_session_state(SessionState.RATE_LIMITED)
                logger.debug("transmit-time limit active (EVENT 32): poll skipped")
            else:
                self.state.set_session_state(SessionState.READY)
                scaling = await self._poll_once(meter, scaling)
            now = trio.current_time()
            next_tick += self.settings.interval
            if next_tick <= now:  # we overran: skip the missed ticks, keep the phase
                missed = int((now - next_tick) // self.settings.interval) + 1
                next_tick += missed * self.settings.interval

    async def _sleep_until(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._lost_event.wait()
        self._raise_if_lost()

    def _raise_if_lost(self) -> None:
        lost = self._lost
        if lost is SessionSignal.SESSION_EXPIRED:
            raise SessionLost("the PANA session expired (EVENT 29)", expired=True)
        if lost is not None:
            raise SessionLost(f"the session ended ({lost.value})", expired=False)

    async def _guarded_get(self, meter: MeterClient, epcs: tuple[int, ...]) -> echonet.Frame:
        with trio.CancelScope() as scope:
            self._active_scope = scope
            try:
                return await meter.get(epcs)
            finally:
                self._active_scope = None
        self._raise_if_lost()
        raise SessionLost("the session ended during a request", expired=False)

    def _apply_static(self, props: dict[int, bytes]) -> MeterScaling:
        """Scaling and meter facts from the static EPCs of a session's first Get frame."""
        prop_map = (
            epc.decode_property_map(props[epc.EPC_GET_MAP]) if epc.EPC_GET_MAP in props else None
        )
        unit = epc.decode_unit(props[epc.EPC_UNIT]) if epc.EPC_UNIT in props else None
        if unit is None:
            raise MalformedResponse("the meter did not give the unit of cumulative energy (EPC E1)")
        scaling = MeterScaling(
            coefficient=epc.decode_coefficient(props.get(epc.EPC_COEFFICIENT, b"")),
            unit_kwh=unit,
            digits=epc.decode_digits(props[epc.EPC_DIGITS]) if epc.EPC_DIGITS in props else None,
            has_reverse=prop_map is None or epc.EPC_REVERSE in prop_map,
        )
        self.state.set_scaling(scaling)
        if epc.EPC_MANUFACTURER in props or epc.EPC_STANDARD_VERSION in props:
            self.state.set_meter_info(
                MeterInfo(
                    manufacturer=epc.decode_manufacturer(props.get(epc.EPC_MANUFACTURER, b"")),
                    standard_version=epc.decode_standard_version(
                        props.get(epc.EPC_STANDARD_VERSION, b"")
                    )
                    or "",
                )
            )
        if epc.EPC_FIXED_FORWARD in props:
            self._record_fixed(epc.EPC_FIXED_FORWARD, props[epc.EPC_FIXED_FORWARD], scaling)
        return scaling

    async def _poll_once(self, meter: MeterClient, scaling: MeterScaling | None) -> MeterScaling:
        """One Get frame and one reading. A session's first frame (``scaling`` None) also
        carries STATIC_EPCS: the scaling comes from the same frame as the reading, so the
        first reading costs one round trip, not two; E3 stays only if it was readable."""
        epcs: tuple[int, ...]
        if scaling is None:
            epcs = STATIC_EPCS + POLL_EPCS + (epc.EPC_REVERSE,)
        else:
            epcs = POLL_EPCS + ((epc.EPC_REVERSE,) if scaling.has_reverse else ())
        started = trio.current_time()
        frame = await self._guarded_get(meter, epcs)
        duration = trio.current_time() - started
        props = readable(frame)
        if scaling is None:
            scaling = self._scaling = self._apply_static(props)
        if scaling.has_reverse and epc.EPC_REVERSE not in props:
            scaling = self._scaling = attrs.evolve(scaling, has_reverse=False)
            self.state.set_scaling(scaling)
        power = epc.decode_power(props[epc.EPC_POWER]) if epc.EPC_POWER in props else None
        r, t = (
            epc.decode_currents(props[epc.EPC_CURRENTS])
            if epc.EPC_CURRENTS in props
            else (None, None)
        )
        forward_raw = (
            epc.decode_cumulative(props[epc.EPC_FORWARD]) if epc.EPC_FORWARD in props else None
        )
        reverse_raw = (
            epc.decode_cumulative(props[epc.EPC_REVERSE]) if epc.EPC_REVERSE in props else None
        )
        if power is None and r is None and forward_raw is None:
            self.state.record_failed_poll("parse", duration)
            raise MalformedResponse("the meter answered without any readable value")
        if (
            forward_raw is not None
            and self._last_forward_raw is not None
            and forward_raw < self._last_forward_raw
        ):
            kind = epc.classify_decrease(self._last_forward_raw, forward_raw, scaling.digits)
            if kind == "reset":
                self.state.bump("energy_resets")
            logger.info("cumulative energy went down ({}): the counter restarts", kind)
        if forward_raw is not None:
            self._last_forward_raw = forward_raw
        reading = Reading(
            power_watts=power,
            current_r_amperes=r,
            current_t_amperes=t,
            energy_forward_joules=_joules(forward_raw, scaling),
            energy_reverse_joules=_joules(reverse_raw, scaling),
            received_monotonic=trio.current_time(),
            received_unix=self._unix(),
        )
        self.state.record_reading(reading, duration)
        self.ladder.on_success()
        self._faults.recovered(self._last_rung, trio.current_time())
        logger.debug("reading: {} W", power)
        return scaling

    def _record_fixed(self, which: int, edt: bytes, scaling: MeterScaling | None) -> None:
        fixed = epc.decode_fixed_time(edt)
        if fixed is None or fixed.raw is None or scaling is None:
            return
        energy = FixedTimeEnergy(
            joules=epc.energy_joules(fixed.raw, scaling.coefficient, scaling.unit_kwh),
            meter_timestamp_unix=fixed.at.replace(tzinfo=JST).timestamp(),
            received_monotonic=trio.current_time(),
        )
        if which == epc.EPC_FIXED_FORWARD:
            self.state.set_fixed(forward=energy)
        else:
            self.state.set_fixed(reverse=energy)

    # -- asynchronous lines --------------------------------------------------------------
    def _on_async(self, msg: Message) -> None:
        if isinstance(msg, skstack.ModuleEvent):
            self.state.count_module_event(msg.code)
            self._on_event(msg)
        elif isinstance(msg, skstack.RxUdp):
            if msg.rssi is not None:
                self.state.set_rssi(skstack.rssi_from_lqi(msg.rssi))
            if msg.rport == 0x0E1A and self.address is not None and msg.sender == self.address.ip:
                self._on_echonet(msg.data)

    def _on_event(self, event: skstack.ModuleEvent) -> None:
        ip = self.address.ip if self.address is not None else None
        signal = signal_for(event, ip)
        if signal is None:
            return
        if signal is SessionSignal.SESSION_UP:
            if not self.state.session_up and self.meter is not None:
                logger.info("session re-established by the module (EVENT 25)")
            self.state.set_session_up(True)
            self._reauthed.set()
        elif signal is SessionSignal.RATE_LIMITED:
            if not self.state.rate_limited:
                logger.warning("transmit-time limit reached (EVENT 32): polls pause until EVENT 33")
            self.state.set_rate_limited(True)
        elif signal is SessionSignal.RATE_RELEASED:
            if self.state.rate_limited:
                logger.info("transmit-time limit released (EVENT 33)")
            self.state.set_rate_limited(False)
            self._rate_released.set()
        elif signal is SessionSignal.AUTH_FAILED:
            if self.meter is not None and self.state.session_up:
                self._lose(SessionSignal.SESSION_ENDED)
        else:
            if self.meter is not None:
                self._lose(signal)

    def _lose(self, signal: SessionSignal) -> None:
        self.state.set_session_up(False)
        self._reauthed = trio.Event()
        self._lost = signal
        self._lost_event.set()
        if self._active_scope is not None:
            self._active_scope.cancel()

    def _on_echonet(self, data: bytes) -> None:
        try:
            frame = echonet.decode_frame(data)
        except echonet.FrameError as exc:
            logger.debug("ignored an undecodable frame from the meter: {}", exc)
            return
        if frame.esv not in (echonet.ESV.INF, echonet.ESV.INFC):
            return
        if frame.seoj == echonet.SMART_METER:
            for prop in frame.properties:
                if prop.epc in (epc.EPC_FIXED_FORWARD, epc.EPC_FIXED_REVERSE):
                    self._record_fixed(prop.epc, prop.edt, self.state.scaling)
        if frame.esv == echonet.ESV.INFC and self._infc_send is not None:
            try:
                self._infc_send.send_nowait(frame)
            except trio.WouldBlock:
                logger.debug("INFC backlog full: one notification left unanswered")

    async def _infc_responder(
        self, client: SkStackClient, receive: trio.MemoryReceiveChannel[echonet.Frame]
    ) -> None:
        async for frame in receive:
            if self.address is None or self.dialect is None or not self.state.session_up:
                continue
            response = echonet.infc_response(frame).encode()
            try:
                await client.command(
                    skstack.sk_sendto(self.dialect, self.address.ip, response),
                    timeout=self.settings.timing.send_ack,
                    check=False,
                )
            except ModuleTimeout:
                logger.debug("INFC_Res not acknowledged by the module")


def _joules(raw: int | None, scaling: MeterScaling) -> Decimal | None:
    if raw is None:
        return None
    return epc.energy_joules(raw, scaling.coefficient, scaling.unit_kwh)


def _mac_from_link_local(ip: str) -> str:
    groups = ip.split(":")[4:]
    iid = bytearray(bytes.fromhex("".join(groups)))
    iid[0] ^= 0x02
    return iid.hex().upper()


def _guess_model(info: skstack.Info | None, dialect: Dialect) -> str:
    mac = info.mac.upper() if info is not None else ""
    if mac.startswith("001D129"):
        return "ROHM BP35A1" if dialect is Dialect.SINGLE_HOP else "ROHM BP35C0/BP35C2"
    if info is not None and "1207:23FF" in info.ip.upper():
        return (
            "Tessera RL7023 Stick-D/IPS"
            if dialect is Dialect.SINGLE_HOP
            else "Tessera RL7023 Stick-D/DSS"
        )
    return "unknown SKSTACK IP module"


def unwrap_group(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Unwrap a nursery's group into the one failure the link supervisor understands."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    if any(isinstance(e, trio.Cancelled) for e in leaves) or not leaves:
        return group
    for kind in (LinkLost, UnsupportedModule, ExporterError):
        for e in leaves:
            if isinstance(e, kind):
                return e
    return group


__all__ = ["POLL_EPCS", "STATIC_EPCS", "SessionSettings", "Supervisor"]
