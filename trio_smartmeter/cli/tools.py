"""One-shot commands for setting up: ``scan`` finds meters, ``read`` dumps every property.

Both drive the same steps as the exporter (``ModuleSession.initialise/locate/join``), so
what they show is what the service will do.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from trio_smartmeter.core import skstack
from trio_smartmeter.core.config import Config
from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.errors import ExporterError, JoinFailed
from trio_smartmeter.core.session import ScanStep, pair_id, scan_plan
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.meter_client import MeterClient, readable
from trio_smartmeter.link.serial_port import open_device
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.module_session import ModuleSession
from trio_smartmeter.service.settings import settings_from_config

#: What ``read`` asks for, a few EPCs per Get (protocol.md §9.19).
READ_GROUPS = (
    (0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D),
    (0x97, 0x98, 0x9D, 0x9E, 0x9F),
    (0xD3, 0xD7, 0xE0, 0xE1, 0xE3),
    (0xE7, 0xE8, 0xEA, 0xEB),
)


def _session(cfg: Config) -> ModuleSession:
    settings = settings_from_config(cfg)
    return ModuleSession(
        settings, ExporterState(interval=settings.interval), AddressCache(settings.state_file)
    )


@asynccontextmanager
async def _link(cfg: Config) -> AsyncIterator[SkStackClient]:
    """The device with its reader task running; failures come out as one ExporterError."""
    async with (
        open_device(cfg.device) as stream,
        SkStackClient(stream, skstack.Decoder()).reading() as client,
    ):
        yield client


async def scan_main(cfg: Config) -> int:
    session = _session(cfg)
    wanted = pair_id(cfg.id.reveal())
    try:
        async with _link(cfg) as client:
            await session.initialise(client)
            assert session.dialect is not None
            meter = MeterClient(client, session.dialect, session.settings.timing)
            steps: list[ScanStep] = list(scan_plan(cfg.channel))
            found: list[skstack.PanDesc] = []
            for step in steps:
                print(
                    f"scanning {f'channel {step.channel:02X}' if step.channel else 'all channels'}"
                    f" (duration {step.duration}) ...",
                    file=sys.stderr,
                )
                found = await meter.scan(duration=step.duration, channel=step.channel)
                if found:
                    break
    except ExporterError as exc:
        print(f"scan failed: {exc}", file=sys.stderr)
        return 1
    if not found:
        print("no meter found: check SMARTMETER_ID and the distance to the meter", file=sys.stderr)
        return 1
    print(f"{'channel':>7} {'PAN ID':>6} {'address':<39} {'LQI':>3} {'RSSI':>8}  pairing")
    for d in found:
        ip = skstack.mac_to_link_local(d.addr)
        mine = "ours" if (d.pair_id or "").upper() == wanted else "other"
        rssi = skstack.rssi_from_lqi(d.lqi)
        print(f"{d.channel:>7X} {d.pan_id:>6X} {ip:<39} {d.lqi:>3} {rssi:>5.1f} dBm  {mine}")
    best = max(found, key=lambda d: ((d.pair_id or "").upper() == wanted, d.lqi))
    print("\nto skip the scan at start, set:")
    print(f"SMARTMETER_CHANNEL={best.channel:02X}")
    print(f"SMARTMETER_IPADDR={skstack.mac_to_link_local(best.addr)}")
    return 0


async def read_main(cfg: Config, json_out: bool) -> int:
    session = _session(cfg)
    rows: list[tuple[str, str, str]] = []
    try:
        async with _link(cfg) as client:
            await session.initialise(client)
            if session.address is None:
                await session.locate(client, prefer_channel=False)
            try:
                meter = await session.join(client, terminate_first=False)
            except JoinFailed:
                if cfg.channel is not None and cfg.ipaddr is not None:
                    raise
                # a cached address may be stale (the meter moved channel): look again
                print("join with the cached address failed; scanning ...", file=sys.stderr)
                await session.locate(client, prefer_channel=False)
                meter = await session.join(client, terminate_first=False)
            for group in READ_GROUPS:
                frame = await meter.get(group)
                props = readable(frame)
                for code in group:
                    if code in props:
                        name, value = epc.describe(code, props[code])
                        rows.append((f"0x{code:02X}", name, value))
                    else:
                        rows.append(
                            (f"0x{code:02X}", epc.describe(code, b"")[0], "(not available)")
                        )
            await client.command(skstack.sk_term(), timeout=2.0, check=False)
    except ExporterError as exc:
        print(f"read failed: {exc}", file=sys.stderr)
        return 1
    if json_out:
        print(json.dumps([{"epc": c, "name": n, "value": v} for c, n, v in rows], indent=2))
    else:
        width = max(len(n) for _, n, _ in rows)
        for c, n, v in rows:
            print(f"{c}  {n:<{width}}  {v}")
    return 0
