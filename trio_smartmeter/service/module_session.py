"""The module's session with the meter: reset → identify → locate → join, and SKTERM.

Each step is one method that either completes or raises one of the failures in
``core.errors``; what to do about a failure is the session supervisor's business (and
the recovery ladder's), never a step's. The facts the steps learn (dialect, payload
format, the meter's address and whether this process has confirmed it) outlive a
reopen of the device: a replugged stick is the same stick in front of the same meter.
"""

from __future__ import annotations

import functools

import trio
from loguru import logger

from trio_smartmeter.core import skstack
from trio_smartmeter.core.address import MeterAddress, pinned_address
from trio_smartmeter.core.errors import (
    CommandFailed,
    ExporterError,
    JoinFailed,
    MalformedResponse,
    ModuleTimeout,
    ScanEmpty,
    SessionLost,
)
from trio_smartmeter.core.model import MeterScaling, ModuleInfo, SessionState
from trio_smartmeter.core.session import (
    JOIN_OUTCOMES,
    TERM_OUTCOMES,
    Event,
    SessionSignal,
    choose_pan,
    pair_id,
    scan_plan,
    session_end,
)
from trio_smartmeter.core.skstack import Dialect, PayloadFormat
from trio_smartmeter.core.state import Counter, ExporterState
from trio_smartmeter.link.meter_client import MeterClient
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.settings import SessionSettings


class SessionWatch:
    """What the module said about the session since the last join.

    The event router writes it as EVENT lines arrive; the poller sleeps on it between
    polls, so a lost session wakes it at once instead of at the next tick.
    """

    def __init__(self) -> None:
        self.lost: SessionSignal | None = None
        self.lost_event = trio.Event()
        #: Set by the module's own EVENT 25 (re-authentication after EVENT 29).
        self.reauthed = trio.Event()

    def renew(self) -> None:
        """A join or the module's own re-authentication: the session goes on."""
        self.lost = None
        self.lost_event = trio.Event()

    def lose(self, signal: SessionSignal) -> None:
        self.lost = signal
        self.lost_event.set()
        self.reauthed = trio.Event()

    def raise_if_lost(self) -> None:
        if self.lost is not None:
            raise session_end(self.lost)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``deadline``; raises :class:`SessionLost` as soon as it is lost."""
        with trio.move_on_at(deadline):
            await self.lost_event.wait()
        self.raise_if_lost()


class ModuleSession:
    def __init__(
        self, settings: SessionSettings, state: ExporterState, cache: AddressCache
    ) -> None:
        self.settings = settings
        self.state = state
        self.cache = cache
        self.dialect: Dialect | None = settings.dialect
        self.payload: PayloadFormat | None = None
        if settings.channel is not None and settings.ipaddr is not None:
            self.address: MeterAddress | None = pinned_address(settings.channel, settings.ipaddr)
        else:
            self.address = cache.load()
        #: True once a scan in this process saw the meter answer our pairing ID, or a join
        #: with this address succeeded: only then does EVENT 24 point at the password (a
        #: cached or pinned address may be stale, and a rescan is cheaper than a rejoin).
        self.address_verified = False
        #: The session's meter client; None until a join succeeds on the current link.
        self.meter: MeterClient | None = None
        #: Scaling from the session's first Get (None until then: it rides in that frame).
        self.scaling: MeterScaling | None = None
        self.watch = SessionWatch()
        self.terminated = False
        #: SKSETPWD and SKSETRBID reached the module since its last reset: only then can
        #: an EVENT 24 mean a wrong password.
        self.credentials_set = False
        #: SKJOIN was sent and neither EVENT 25 nor 24 has come: a stop now must end it.
        self.joining = False
        #: Every PAN the last scan step saw, ours or not (what ``scan`` shows).
        self.seen: list[skstack.PanDesc] = []

    def forget_address(self) -> None:
        self.address = None
        self.address_verified = False
        self.cache.forget()

    def link_lost(self) -> None:
        """The device went away: no session, no meter client on it."""
        self.meter = None

    # -- reset and identify --------------------------------------------------------------
    async def initialise(self, client: SkStackClient) -> None:
        s = self.settings
        self.state.set_session_state(SessionState.INITIALISING)
        self.state.set_session_up(False)
        await client.write_raw(b"\r\n")
        # Drain what a previous run left (protocol.md §5.1). Quiet counts from the last byte
        # received, so a burst still arriving extends it (Timing.drain_quiet/drain_limit).
        await client.drain(quiet=s.timing.drain_quiet, limit=s.timing.drain_limit)
        self.credentials_set = False
        client.echo_expected = True  # until SFE 0: a reset module echoes
        await client.command(skstack.sk_reset(), timeout=s.timing.reset)
        self.state.bump(Counter.MODULE_RESETS)
        await client.command(skstack.sk_sreg("SFE", "0"), timeout=s.timing.command)
        client.echo_expected = False
        ver = (await client.command(skstack.sk_ver(), timeout=s.timing.command)).first(
            skstack.Version
        )
        appver = (
            await client.command(skstack.sk_appver(), timeout=s.timing.command, check=False)
        ).first(skstack.AppVersion)
        info = (await client.command(skstack.sk_info(), timeout=s.timing.command)).first(
            skstack.Info
        )
        if s.dialect is not None:
            self.dialect = s.dialect
        elif info is not None:
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
        client.configure(self.dialect, self.payload)
        if self.dialect is Dialect.DUAL_STACK:
            # RSSI on every ERXUDP (DSE only: on single-hop modules SA2 is TX power).
            await client.command(skstack.sk_sreg("SA2", "1"), timeout=s.timing.command, check=False)
        await client.command(skstack.sk_setpwd(s.password), timeout=s.timing.command)
        await client.command(skstack.sk_setrbid(s.rbid), timeout=s.timing.command)
        self.credentials_set = True
        firmware = ver.text if ver is not None else ""
        self.state.set_module_info(
            ModuleInfo(
                model=guess_model(info, self.dialect),
                firmware=firmware,
                app_version=appver.text if appver is not None else "",
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

    # -- locate --------------------------------------------------------------------------
    async def locate(self, client: SkStackClient, *, prefer_channel: bool) -> None:
        """Scan for the meter with our pairing ID, rising in duration (core.session)."""
        assert self.dialect is not None
        self.state.set_session_state(SessionState.SCANNING)
        channel = self.settings.channel
        if prefer_channel and self.address is not None:
            channel = self.address.channel
        wanted = pair_id(self.settings.rbid.reveal())
        meter = MeterClient(client, self.dialect, self.settings.timing)

        def ours(descs: list[skstack.PanDesc]) -> bool:  # a sweep stops at our meter
            return choose_pan(descs, wanted) is not None

        for step in scan_plan(channel):
            sweep = functools.partial(
                MeterClient.sweep, duration=step.duration, channels=step.channels, done=ours
            )
            self.state.bump(Counter.SCANS)  # one scan, however many channels its sweep has
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
                client.configure(other, self.payload)
                meter = MeterClient(client, self.dialect, self.settings.timing)
                descs = await sweep(meter)
            self.seen = descs
            chosen = choose_pan(descs, wanted)
            if chosen is not None:
                ip = skstack.mac_to_link_local(chosen.addr)
                self.address = MeterAddress(
                    chosen.channel, chosen.pan_id, chosen.addr, ip, chosen.lqi
                )
                self.address_verified = True
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

    # -- join ----------------------------------------------------------------------------
    async def join(self, client: SkStackClient, *, terminate_first: bool) -> MeterClient:
        assert self.dialect is not None
        assert self.address is not None
        timing = self.settings.timing
        self.state.set_session_state(SessionState.JOINING)
        if terminate_first:
            try:
                await client.command(skstack.sk_term(), timeout=timing.command, check=False)
            except ModuleTimeout:
                pass
        await client.command(
            skstack.sk_sreg("S2", f"{self.address.channel:02X}"), timeout=timing.command
        )
        await client.command(
            skstack.sk_sreg("S3", f"{self.address.pan_id:04X}"), timeout=timing.command
        )
        meter = MeterClient(client, self.dialect, timing)
        self.meter = None
        self.scaling = None
        self.watch.renew()
        self.state.bump(Counter.JOINS)
        self.joining = True
        try:
            await meter.join(self.address.ip)
        except JoinFailed:
            self.joining = False
            self.state.bump(Counter.JOIN_FAILURES)
            raise
        # (a cancelled join leaves ``joining`` set: the stop must not let it finish alone)
        self.joining = False
        self.meter = meter
        self.address_verified = True
        self.state.set_session_up(True)
        self.state.set_credentials_latched(False)
        self.cache.save(self.address, self.dialect)
        logger.info("joined the meter {} (PANA session up)", self.address.mac)
        return meter

    async def wait_reauth(self) -> None:
        """After EVENT 29: wait for the module's own re-authentication (EVENT 25)."""
        self.state.set_session_state(SessionState.REAUTH)
        if not self.state.session_up:
            with trio.move_on_after(self.settings.timing.reauth):
                await self.watch.reauthed.wait()
        if not self.state.session_up:
            raise SessionLost(
                "the module did not re-authenticate after EVENT 29", expired=False, counted=True
            )
        self.watch.renew()

    # -- terminate -----------------------------------------------------------------------
    async def end_join(self, client: SkStackClient) -> None:
        """A stop during SKJOIN: the module would finish PANA alone and leave the meter
        holding a session for a peer that is gone (it accepts one at a time). Wait briefly
        for EVENT 25/24; a session that came up is ended by SKTERM, one that did not come
        up in time by a reset (the module abandons the join)."""
        if self.state.session_up:  # its EVENT 25 came before the stop did
            self.joining = False
            await self.terminate(client)
            return
        with client.subscribe(
            lambda m: isinstance(m, skstack.ModuleEvent) and m.code in JOIN_OUTCOMES
        ) as inbox:
            outcome = None
            with trio.move_on_after(self.settings.timing.join_end):
                outcome = await inbox.receive()
        self.joining = False
        if isinstance(outcome, skstack.ModuleEvent) and outcome.code == Event.JOIN_REJECTED:
            return
        if isinstance(outcome, skstack.ModuleEvent):
            self.state.set_session_up(True)
            await self.terminate(client)
            return
        try:
            await client.command(skstack.sk_reset(), timeout=self.settings.timing.stop_command)
            logger.info("join abandoned at stop (SKRESET)")
        except ExporterError as exc:
            logger.debug("SKRESET at stop not acknowledged: {}", exc)

    async def terminate(self, client: SkStackClient) -> None:
        """SKTERM and its EVENT 27/28, so the meter accepts the next join at once
        (protocol.md §9.18: it holds one B-route session at a time)."""
        timing = self.settings.timing
        with client.subscribe(
            lambda m: isinstance(m, skstack.ModuleEvent) and m.code in TERM_OUTCOMES
        ) as inbox:
            try:
                await client.command(skstack.sk_term(), timeout=timing.stop_command)
            except ExporterError as exc:
                logger.debug("SKTERM not acknowledged: {}", exc)
                return
            with trio.move_on_after(timing.stop - timing.stop_command):
                await inbox.receive()
        self.terminated = True
        self.state.set_session_up(False)
        logger.info("session terminated (SKTERM)")


def guess_model(info: skstack.Info | None, dialect: Dialect) -> str:
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
