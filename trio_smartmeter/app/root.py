"""The composition root: builds every collaborator once and runs them in one nursery.

```
trio.run(run_exporter)
└─ service nursery
   ├─ signals: SIGTERM/SIGINT → graceful stop; a second one exits at once; SIGHUP logs state
   ├─ link supervisor (service/supervisor.py): starts first, so the device opens and
   │    the join (seconds on the radio) runs while the HTTP stack loads (app/startup.py)
   ├─ http: hypercorn on the socket the CLI bound before trio loaded (its stand-in
   │    answered /-/healthy meanwhile); /metrics answers without a device
   ├─ bill keeper (only with SMARTMETER_TARIFF_FILE): the bills recomputed in a thread
   │    after each store change (service/bill_keeper.py); the backfill reaches its periods
   └─ mqtt (only with SMARTMETER_MQTT_URL): the publisher, fed by each reading
```

The only module that imports both ``service`` and ``web``. Stop order: the supervisor
stops polling and sends SKTERM (bounded), closes the port, MQTT says "offline", then HTTP
stops. A stop that
has not finished after ``Timing.shutdown`` is cut short.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio
from loguru import logger

from trio_smartmeter import __version__
from trio_smartmeter.app.startup import EarlyListener, import_http_stack
from trio_smartmeter.core.config import Config
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.recovery import Ladder
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link import serial_port
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.fault_log import FaultLog
from trio_smartmeter.service.history_filler import HistoryFiller, Offload, in_thread
from trio_smartmeter.service.history_store import HistoryStore
from trio_smartmeter.service.module_session import ModuleSession
from trio_smartmeter.service.poller import Poller
from trio_smartmeter.service.session_supervisor import SessionSupervisor
from trio_smartmeter.service.settings import SessionSettings, settings_from_config
from trio_smartmeter.service.supervisor import LinkSupervisor
from trio_smartmeter.web.status import PowerLog

if TYPE_CHECKING:
    from trio_smartmeter.link.serial_port import SimOpener
    from trio_smartmeter.service.bill_keeper import BillKeeper
    from trio_smartmeter.web.web_config import WebConfig


class StoreReader:
    """The history store's reads for the web, one at a time in a worker thread."""

    def __init__(self, store: HistoryStore, timing: Timing) -> None:
        self.store = store
        #: how long the status page waits for its bars
        self.page_wait = timing.history_read
        self.limiter = trio.CapacityLimiter(1)

    async def open(self) -> None:
        await trio.to_thread.run_sync(self.store.open, limiter=self.limiter)

    async def between(self, since: float, until: float) -> list[HalfHour]:
        return await trio.to_thread.run_sync(self.store.between, since, until, limiter=self.limiter)


async def run_exporter(
    cfg: Config,
    *,
    web: WebConfig | None = None,
    state: ExporterState | None = None,
    sim_opener: SimOpener | None = None,
    on_listening: Callable[[list[str]], None] | None = None,
    handle_signals: bool = True,
    rng: random.Random | None = None,
    early: EarlyListener | None = None,
) -> None:
    """``early``: the port the CLI bound before trio loaded (hypercorn takes it over)."""
    settings = settings_from_config(cfg)
    if state is None:
        state = ExporterState()
    state.interval = settings.interval  # here only: the state's staleness and the poller agree
    power_log = PowerLog.following(state)  # before the link: the page charts every reading
    store = StoreReader(HistoryStore(settings.history_file), settings.timing)
    _progress(early, "opening the history store")
    await store.open()
    _progress(early, "starting the link (the device, the state file)")
    supervisor = link_supervisor(
        settings, state, rng=rng, sim_opener=sim_opener, history=store.store
    )
    bill_keeper = _bill_keeper(cfg, store.store, state)
    if bill_keeper is not None and supervisor.history is not None:
        supervisor.history.reach_back = bill_keeper.reach_back
    http_stop = trio.Event()
    async with trio.open_nursery() as nursery:
        if bill_keeper is not None:
            nursery.start_soon(bill_keeper.run)
        signal_scope = trio.CancelScope()
        if handle_signals:
            nursery.start_soon(_watch_signals, supervisor, nursery.cancel_scope, signal_scope)
        link_done = trio.Event()
        nursery.start_soon(_run_link, supervisor, link_done)
        mqtt_scope = trio.CancelScope()  # MQTT for Home Assistant (issue 23): off unless set
        if cfg.mqtt_url is not None:
            nursery.start_soon(_run_mqtt, cfg, state, mqtt_scope)
        await trio.lowlevel.checkpoint()  # let the link task open the device and start
        binds = await nursery.start(
            _serve_http,
            cfg,
            web,
            state,
            power_log,
            store,
            http_stop,
            early,
            bill_keeper is not None,
        )
        logger.info("trio-smartmeter {} serving metrics on {}", __version__, ", ".join(binds))
        if on_listening is not None:
            on_listening(binds)
        await link_done.wait()
        mqtt_scope.cancel()  # "offline" to the broker (bounded), before HTTP stops
        logger.info("stopped: closing the HTTP server")
        http_stop.set()
        signal_scope.cancel()
        # hypercorn finishes in-flight requests within its graceful_timeout; then it is cut.
        nursery.cancel_scope.deadline = min(
            nursery.cancel_scope.deadline, trio.current_time() + settings.timing.http_drain
        )


def link_supervisor(
    settings: SessionSettings,
    state: ExporterState,
    *,
    rng: random.Random | None = None,
    sim_opener: SimOpener | None = None,
    wall_clock: Callable[[], float] = time.time,
    device_present: Callable[[], bool] | None = None,
    history: HistoryStore | None = None,
    history_offload: Offload = in_thread,
) -> LinkSupervisor:
    """The link's collaborators, each built once; ``rng``, the clocks and ``device_present``
    are a test's to replace."""
    ladder = Ladder(rng=rng if rng is not None else random.Random())
    session = ModuleSession(settings, state, AddressCache(settings.state_file))
    filler = (
        HistoryFiller(history, state, settings.timing, offload=history_offload)
        if history is not None
        else None
    )
    poller = Poller(
        session=session,
        state=state,
        interval=settings.interval,
        wall_clock=wall_clock,
        history=filler,
    )
    return LinkSupervisor(
        settings,
        state,
        sessions=SessionSupervisor(session, poller, state, ladder, FaultLog()),
        history=filler,
        device_present=device_present
        or functools.partial(serial_port.device_present, settings.device),
        sim_opener=sim_opener,
    )


def _bill_keeper(cfg: Config, store: HistoryStore, state: ExporterState) -> BillKeeper | None:
    """The bill keeper with the tariff file (issue 21), checked at start-up already; the
    bill's modules (and the holiday table) are imported only then."""
    if cfg.tariff_file is None:
        return None
    from trio_smartmeter.core.tariff import TariffError
    from trio_smartmeter.service.bill_keeper import BillKeeper
    from trio_smartmeter.service.tariff_file import read_tariff

    try:
        tariff = read_tariff(cfg.tariff_file)
    except TariffError as exc:  # changed since the start-up check: run without a bill
        for line in exc.problems:
            logger.error("no bill: {}", line)
        return None
    return BillKeeper(tariff, store, state)


def _progress(early: EarlyListener | None, step: str) -> None:
    if early is not None:
        early.progress(step)


async def _run_link(supervisor: LinkSupervisor, done: trio.Event) -> None:
    try:
        await supervisor.run()
    finally:
        done.set()


async def _run_mqtt(cfg: Config, state: ExporterState, scope: trio.CancelScope) -> None:
    """The MQTT publisher, fed by every reading; paho is imported only here."""
    from trio_smartmeter.service.mqtt import MqttPublisher, settings_from_config

    settings = settings_from_config(cfg, __version__)
    assert settings is not None
    publisher = MqttPublisher(settings, state)
    state.reading_sinks.append(publisher.reading_taken)
    with scope:
        await publisher.run()


async def _serve_http(
    cfg: Config,
    web: WebConfig | None,
    state: ExporterState,
    power_log: PowerLog,
    store: StoreReader,
    stop: trio.Event,
    early: EarlyListener | None,
    billing: bool,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The web half: the HTTP stack imported in a thread, the app built, hypercorn serving."""
    _progress(early, "importing the HTTP stack")
    server, metrics, router = await trio.to_thread.run_sync(import_http_stack)
    authorized = None
    if web is not None and web.users:  # bcrypt is imported only then
        from trio_smartmeter.web.auth import basic_auth

        _progress(early, "loading the web configuration's users")
        authorized = await basic_auth(web.users)
    app = router.ExporterApp(
        state,
        metrics.build_registry(state, trio.current_time),
        monotonic=trio.current_time,
        version=__version__,
        authorized=authorized,
        headers=() if web is None else web.headers,
        history=store.between,
        history_wait=store.page_wait,
        max_requests=cfg.web_max_requests,
        power_log=power_log,
        device=str(cfg.device),
        billing=billing,
    )
    if web is not None and web.rate_limit is not None:  # outermost, as exporter-toolkit's
        from trio_smartmeter.web.rate_limit import rate_limited

        app = rate_limited(app, web.rate_limit, trio.current_time)
    _progress(early, "starting the HTTP server")
    await server.serve(
        app,
        addresses=cfg.listen_binds(),
        shutdown_trigger=stop.wait,
        tls=None if web is None else web.tls,
        http2=True if web is None else web.http2,
        fds=() if early is None else early.hand_over(),
        task_status=task_status,
    )


async def _watch_signals(
    supervisor: LinkSupervisor, service: trio.CancelScope, own: trio.CancelScope
) -> None:
    with own, trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            if signum == signal.SIGHUP:
                s = supervisor.state
                logger.info(
                    "SIGHUP: state {}, session {}, last reading {} (SIGHUP does not stop the exporter)",
                    s.session_state.value,
                    "up" if s.session_up else "down",
                    "none" if s.reading is None else f"{s.reading.power_watts} W",
                )
                continue
            logger.info(
                "{} received: stopping (again to exit at once)", signal.Signals(signum).name
            )
            supervisor.request_stop()
            service.deadline = min(
                service.deadline, trio.current_time() + supervisor.settings.timing.shutdown
            )
            async for again in signals:
                if again != signal.SIGHUP:
                    logger.warning("second signal: exiting at once")
                    os._exit(1)
