"""One-shot commands for setting up: ``scan`` finds meters, ``read`` dumps every property.

Both drive the same steps as the exporter (``ModuleSession.initialise/locate/join``), so
what they show is what the service will do.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from loguru import logger

from trio_smartmeter.cli.simulator import opener_for
from trio_smartmeter.core import skstack
from trio_smartmeter.core.config import Config
from trio_smartmeter.core.echonet import meter as epc
from trio_smartmeter.core.errors import ExporterError, JoinFailed, ScanEmpty
from trio_smartmeter.core.session import pair_id
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.i18n import N_, _
from trio_smartmeter.link.meter_client import readable
from trio_smartmeter.link.serial_port import open_device
from trio_smartmeter.link.skstack_client import SkStackClient
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.module_session import ModuleSession
from trio_smartmeter.service.settings import settings_from_config

#: ``scan`` found nothing: what to check (ScanEmpty's own text is the log's, in English).
NO_METER = N_(
    "no meter found: check SMARTMETER_ID, the distance to the meter,"
    " or that the B-route service is active"
)

#: What ``read`` asks for, a few EPCs per Get (protocol.md §9.19).
READ_GROUPS = (
    (0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D),
    (0x97, 0x98, 0x9D, 0x9E, 0x9F),
    (0xD3, 0xD7, 0xE0, 0xE1, 0xE3),
    (0xE7, 0xE8, 0xEA, 0xEB),
)


def _session(cfg: Config, *, cached: bool) -> ModuleSession:
    """``cached``: start from the state file's meter address (``scan`` never does: it
    is asked to look)."""
    settings = settings_from_config(cfg)
    cache = AddressCache(settings.state_file if cached else None)
    return ModuleSession(settings, ExporterState(interval=settings.interval), cache)


@asynccontextmanager
async def _link(cfg: Config) -> AsyncIterator[SkStackClient]:
    """The device with its reader task running; failures come out as one ExporterError."""
    async with (
        open_device(cfg.device, sim_opener=opener_for(cfg)) as stream,
        SkStackClient(stream, skstack.Decoder()).reading() as client,
    ):
        yield client


async def scan_main(cfg: Config) -> int:
    """The exporter's own scan (``ModuleSession.locate``), then every PAN it saw."""
    session = _session(cfg, cached=False)
    try:
        async with _link(cfg) as client:
            await session.initialise(client)
            print(_("scanning ..."), file=sys.stderr)
            try:
                await session.locate(client, prefer_channel=False)
            except ScanEmpty as exc:
                if not session.seen:
                    logger.debug("scan: {}", exc)
                    print(_(NO_METER), file=sys.stderr)
                    return 1
    except ExporterError as exc:
        print(_("scan failed: {error}").format(error=exc), file=sys.stderr)
        return 1
    _print_found(session.seen, pair_id(cfg.id.reveal()))
    return 0


def _print_found(found: list[skstack.PanDesc], wanted: str) -> None:
    channel, address, pairing = _("channel"), _("address"), _("pairing")
    print(f"{channel:>7} {'PAN ID':>6} {address:<39} {'LQI':>3} {'RSSI':>8}  {pairing}")
    for d in found:
        ip = skstack.mac_to_link_local(d.addr)
        mine = _("ours") if (d.pair_id or "").upper() == wanted else _("other")
        rssi = skstack.rssi_from_lqi(d.lqi)
        print(f"{d.channel:>7X} {d.pan_id:>6X} {ip:<39} {d.lqi:>3} {rssi:>5.1f} dBm  {mine}")
    best = max(found, key=lambda d: ((d.pair_id or "").upper() == wanted, d.lqi))
    print("\n" + _("to skip the scan at start, set:"))
    print(f"SMARTMETER_CHANNEL={best.channel:02X}")
    print(f"SMARTMETER_IPADDR={skstack.mac_to_link_local(best.addr)}")


async def read_main(cfg: Config, json_out: bool) -> int:
    session = _session(cfg, cached=True)
    props: dict[int, bytes] = {}
    try:
        async with _link(cfg) as client:
            await session.initialise(client)
            if session.address is None:
                await session.locate(client, prefer_channel=False)
            try:
                meter = await session.join(client, terminate_first=False)
            except JoinFailed:
                if session.address_verified:  # a scan of this run found it: no use looking again
                    raise
                # the session's own rule: an address not confirmed in this run may be stale
                print(_("join failed; scanning for the meter ..."), file=sys.stderr)
                session.forget_address()
                await session.locate(client, prefer_channel=False)
                meter = await session.join(client, terminate_first=False)
            for group in READ_GROUPS:
                props |= {c: v for c, v in readable(await meter.get(group)).items() if c in group}
            timeout = session.settings.timing.tool_term
            await client.command(skstack.sk_term(), timeout=timeout, check=False)
    except ExporterError as exc:
        print(_("read failed: {error}").format(error=exc), file=sys.stderr)
        return 1
    codes = [code for group in READ_GROUPS for code in group]
    if json_out:
        print(json.dumps([_as_json(code, props.get(code)) for code in codes], indent=2))
        return 0
    rows = [(f"0x{c:02X}", *_described(c, props.get(c))) for c in codes]
    width = max(len(n) for _, n, _ in rows)
    for c, n, v in rows:
        print(f"{c}  {n:<{width}}  {v}")
    return 0


def _described(code: int, edt: bytes | None) -> tuple[str, str]:
    if edt is None:
        return epc.describe(code, b"")[0], _("(not available)")
    return epc.describe(code, edt)


def _as_json(code: int, edt: bytes | None) -> dict[str, Any]:
    """One property as numbers with their unit in the key (``power_watts``); what is not
    a quantity (a date, a maker code) as text under ``text``; None = "no data"."""
    name, text = _described(code, edt)
    row: dict[str, Any] = {"epc": f"0x{code:02X}", "name": name, "available": edt is not None}
    if edt is None:
        return row
    decode = _QUANTITIES.get(code)
    return row | (decode(edt) if decode is not None else {"text": text})


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _currents(edt: bytes) -> dict[str, Any]:
    r, t = epc.decode_currents(edt)
    return {"current_r_amperes": _number(r), "current_t_amperes": _number(t)}


def _fixed_time(edt: bytes) -> dict[str, Any]:
    fixed = epc.decode_fixed_time(edt)
    if fixed is None:
        return {"at": None, "energy_raw": None}
    return {"at": fixed.at.isoformat(), "energy_raw": fixed.raw}


def _property_map(edt: bytes) -> dict[str, Any]:
    return {"epcs": [f"0x{c:02X}" for c in sorted(epc.decode_property_map(edt))]}


#: The quantities ``read --json`` gives as numbers, by EPC.
_QUANTITIES: dict[int, Callable[[bytes], dict[str, Any]]] = {
    0x9D: _property_map,
    0x9E: _property_map,
    0x9F: _property_map,
    0xD3: lambda edt: {"coefficient": epc.decode_coefficient(edt)},
    0xD7: lambda edt: {"digits": epc.decode_digits(edt)},
    0xE0: lambda edt: {"energy_raw": epc.decode_cumulative(edt)},
    0xE1: lambda edt: {"unit_kwh": _number(epc.decode_unit(edt))},
    0xE3: lambda edt: {"energy_raw": epc.decode_cumulative(edt)},
    0xE7: lambda edt: {"power_watts": epc.decode_power(edt)},
    0xE8: _currents,
    0xEA: _fixed_time,
    0xEB: _fixed_time,
}
