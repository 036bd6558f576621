"""``trio-smartmeter simulate``: a simulated module on a pty for other programs.

Output is machine-parsable (``key: value`` lines) so that tests and scripts can
start it as a subprocess; ``--state-json`` publishes the simulator's truth so an
out-of-process test can compare an exporter's /metrics with what was answered.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from .faults import Scenario
from .meter import MeterConfig
from .models import DEMO_PASSWORD, DEMO_RBID, MODELS
from .module import SimulatedModule
from .pty import serve_pty


def state_of(module: SimulatedModule) -> dict[str, Any]:
    """The truth the state file carries (see the report / README for the keys)."""
    meter = module.meter
    return {
        "model": module.model,
        "power_watts": meter.last_power_watts,
        "current_r_amperes": meter.last_current_r_amperes,
        "current_t_amperes": meter.last_current_t_amperes,
        "energy_forward_raw": meter.last_energy_forward_raw,
        "energy_reverse_raw": meter.last_energy_reverse_raw,
        "coefficient": meter.config.coefficient,
        "unit_code": meter.config.unit_code,
        "unit_kwh": str(meter.unit_kwh),
        "digits": meter.config.digits,
        "last_answers": {
            f"{epc:02X}": edt.hex().upper() for epc, edt in meter.last_answers.items()
        },
        "session_established": module.session_peer is not None,
        "skterm_seen": module.stats.skterm_seen,
        "sendto_count": module.stats.sendto_count,
        "payload_bytes": module.stats.payload_bytes,
        "commands": dict(module.stats.commands),
    }


def write_state(path: Path, module: SimulatedModule) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state_of(module), sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def parser() -> argparse.ArgumentParser:
    """``simulate``'s options; ``scripts/bench_lib/simserver.py`` takes the same."""
    p = argparse.ArgumentParser(prog="trio-smartmeter simulate", description=__doc__)
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument(
        "--channel",
        type=lambda text: int(text, 16),
        help="the meter's Wi-SUN channel, hex 21-3C (default: 33)",
    )
    p.add_argument("--link", help="symlink to create for the pty (stable across unplug)")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--scenario", type=Path, help="JSON or TOML fault scenario")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rbid", default=DEMO_RBID)
    p.add_argument("--password", default=DEMO_PASSWORD)
    p.add_argument("--state-json", type=Path)
    p.add_argument("--solar-peak", type=float, default=0.0, help="PV peak watts (0 = none)")
    p.add_argument("--meter-start", type=datetime.fromisoformat, help="meter clock start (JST)")
    p.add_argument("--no-coefficient", action="store_true", help="answer Get_SNA for D3")
    p.add_argument("--two-wire", action="store_true", help="single-phase two-wire (T = no data)")
    p.add_argument("--session-lifetime", type=float, default=86400.0)
    p.add_argument(
        "--history-days",
        type=int,
        default=0,
        choices=range(100),
        metavar="N",
        help="fabricate N days of past half-hour registers (0-99), so history shows at once",
    )
    return p


def module_from(args: argparse.Namespace) -> SimulatedModule:
    """The module :func:`parser`'s options describe; raises OSError, ValueError or
    TypeError for a scenario file or a value it cannot use."""
    placed = {"channel": args.channel} if args.channel is not None else {}
    meter = MeterConfig(
        solar_peak_watts=args.solar_peak,
        coefficient=None if args.no_coefficient else 1,
        two_wire=args.two_wire,
        history_days=args.history_days,
        **placed,
    )
    if args.meter_start is not None:
        meter.start = args.meter_start
    scenario = Scenario.load(args.scenario) if args.scenario else None
    return SimulatedModule(
        args.model,
        rbid=args.rbid,
        password=args.password,
        seed=args.seed,
        time_scale=args.time_scale,
        meter=meter,
        scenario=scenario,
        session_lifetime=args.session_lifetime,
    )


def simulate_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        module = module_from(args)
    except (OSError, ValueError, TypeError) as err:
        print(f"simulate: {err}", file=sys.stderr)
        return 2
    if args.state_json is not None:
        state_path: Path = args.state_json
        module.on_answer.append(lambda m: write_state(state_path, m))
        write_state(state_path, module)

    def announce(path: str) -> None:
        print(f"pty: {path}", flush=True)

    async def run() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                device = await nursery.start(
                    functools.partial(serve_pty, module, args.link, on_path=announce)
                )
                print(f"device: {device}", flush=True)
                print(f"model: {module.model}", flush=True)
                print(f"rbid: {module.rbid}", flush=True)
                print(f"password: {module.password}", flush=True)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    trio.run(run)
    if args.state_json is not None:
        write_state(args.state_json, module)  # final truth, e.g. whether SKTERM was seen
    return 0
