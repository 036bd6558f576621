"""The composition root: one nursery with the HTTP server, the supervisor and the signals.

```
trio.run(run_exporter)
└─ service nursery
   ├─ signals: SIGTERM/SIGINT → graceful stop; a second one exits at once; SIGHUP logs state
   ├─ link supervisor (service/supervisor.py): starts first, so the device opens and
   │    the join (seconds on the radio) runs while the HTTP stack loads
   └─ http: hypercorn.trio.serve on the socket the CLI bound before trio loaded (its
        stand-in answered /-/healthy meanwhile); /metrics answers without a device
```

Stop order: the supervisor stops polling and sends SKTERM (bounded), closes the port,
then HTTP stops. A stop that has not finished after ``STOP_DEADLINE`` is cut short.
"""

from __future__ import annotations

import functools
import importlib
import os
import random
import signal
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import trio
from loguru import logger

from trio_smartmeter import __version__
from trio_smartmeter.core.config import Config
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.state import ExporterState

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from trio_smartmeter.link.serial_port import SimOpener
    from trio_smartmeter.service.history_store import HistoryStore
    from trio_smartmeter.service.supervisor import LinkSupervisor
    from trio_smartmeter.web.listener import EarlyListener
    from trio_smartmeter.web.web_config import WebConfig

#: Everything (SKTERM, port, HTTP) must be done by then; the issue's bound is 5 s.
STOP_DEADLINE = 4.5


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
    state = state if state is not None else ExporterState(interval=float(cfg.interval))
    registry: CollectorRegistry | None = None
    registry_built = trio.Event()

    async def built_registry() -> CollectorRegistry:
        await registry_built.wait()
        assert registry is not None
        return registry

    store: HistoryStore | None = None
    store_open = trio.Event()
    limiter = trio.CapacityLimiter(1)

    async def history(since: float, until: float) -> list[HalfHour]:
        await store_open.wait()
        assert store is not None
        return await trio.to_thread.run_sync(store.between, since, until, limiter=limiter)

    http_stop = trio.Event()

    async with trio.open_nursery() as nursery:
        # The link stack first: the device opens and the module's reset, identify and join
        # (seconds on the radio) go on while the HTTP stack and prometheus_client load in a
        # worker thread. /-/healthy is answered meanwhile by the CLI's early listener.
        from trio_smartmeter.service.history_store import HistoryStore
        from trio_smartmeter.service.settings import settings_from_config
        from trio_smartmeter.service.supervisor import LinkSupervisor

        settings = settings_from_config(cfg)
        store = HistoryStore(settings.history_file)
        await trio.to_thread.run_sync(store.open, limiter=limiter)
        store_open.set()
        supervisor = LinkSupervisor(settings, state, rng=rng, sim_opener=sim_opener, history=store)
        signal_scope = trio.CancelScope()
        if handle_signals:
            nursery.start_soon(_watch_signals, supervisor, nursery.cancel_scope, signal_scope)
        link_done = trio.Event()

        async def run_link() -> None:
            try:
                await supervisor.run()
            finally:
                link_done.set()

        nursery.start_soon(run_link)
        mqtt_scope = trio.CancelScope()  # MQTT for Home Assistant (issue 23): off unless set
        if cfg.mqtt_url is not None:
            nursery.start_soon(_run_mqtt, cfg, state, mqtt_scope)
        await trio.lowlevel.checkpoint()  # let the link task open the device and start
        server, metrics = await trio.to_thread.run_sync(_import_the_http_stack)
        from trio_smartmeter.web.router import ExporterApp  # loaded by now

        authorized = None
        if web is not None and web.users:  # bcrypt is imported only then
            from trio_smartmeter.web.auth import basic_auth

            authorized = await basic_auth(web.users)
        app = ExporterApp(
            state,
            built_registry,
            monotonic=trio.current_time,
            version=__version__,
            authorized=authorized,
            headers=() if web is None else web.headers,
            history=history,
        )
        registry = metrics.build_registry(state, trio.current_time)
        registry_built.set()
        binds = await nursery.start(
            functools.partial(
                server.serve_http, app, cfg.listen_address, cfg.port, http_stop, web, early=early
            )
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
            nursery.cancel_scope.deadline, trio.current_time() + 2.0
        )


async def _run_mqtt(cfg: Config, state: ExporterState, scope: trio.CancelScope) -> None:
    """The MQTT publisher, fed by every reading; paho is imported only here."""
    from trio_smartmeter.service.mqtt import MqttPublisher, settings_from_config

    settings = settings_from_config(cfg, __version__)
    assert settings is not None
    publisher = MqttPublisher(settings, state)
    state.reading_sinks.append(publisher.reading_taken)
    with scope:
        await publisher.run()


def _import_the_http_stack() -> tuple[ModuleType, ModuleType]:
    return (
        importlib.import_module("trio_smartmeter.service.http"),
        importlib.import_module("trio_smartmeter.web.metrics"),
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
            service.deadline = min(service.deadline, trio.current_time() + STOP_DEADLINE)
            async for again in signals:
                if again != signal.SIGHUP:
                    logger.warning("second signal: exiting at once")
                    os._exit(1)
