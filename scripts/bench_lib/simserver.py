"""``trio-smartmeter simulate`` driven over stdin (one command per line), for the bench.

The module is the one ``simulate`` builds from the same options (``sim.cli.parser`` and
``module_from``; default ``--model bp35a1``); this adds only what the bench measures: the
first byte's time, each SKSENDTO's time and the modelled floors, on request.

stdin: ``stats`` -> one JSON line; ``inject KIND [DURATION]`` -> ``ok``; ``quit``.
stdout: ``ready`` once the pty link exists, then one JSON line per ``stats``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time

import trio

from trio_smartmeter.sim import Fault, SimulatedModule, timing
from trio_smartmeter.sim.cli import module_from, parser
from trio_smartmeter.sim.pty import serve_pty


def stats_of(module: SimulatedModule, first_byte: float | None) -> dict[str, object]:
    s = module.stats
    return {
        "sendto": s.sendto_count,
        "payload_bytes": s.payload_bytes,
        "airtime_s": s.airtime_s,
        "scans": s.scans,
        "joins": s.joins,
        "resets": s.resets,
        "commands": dict(s.commands),
        "modeled_now": module.modeled_now(),
        "first_byte": first_byte,
        "channel": module.meter.config.channel,
        "dwell": {str(d): timing.scan_dwell(d) for d in range(0, 9)},
        "floor_join": module.floor_join(),
        "floor_get": module.floor_get(),
    }


async def main(args: argparse.Namespace) -> None:
    module = module_from(args)
    first: list[float] = []
    original = module._process

    async def process(buf: bytearray) -> None:
        if not first:
            first.append(time.monotonic())
        await original(buf)

    module._process = process  # type: ignore[method-assign]
    sends: list[float] = []
    original_send = module._sendto

    async def sendto(pending: object) -> None:
        sends.append(time.monotonic())
        await original_send(pending)  # type: ignore[arg-type]

    module._sendto = sendto  # type: ignore[method-assign]
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(serve_pty, module, args.link))
        print("ready", flush=True)
        buf = b""
        while True:
            data = await stdin.receive_some(4096)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = line.decode().split()
                if not cmd:
                    continue
                if cmd[0] == "quit":
                    nursery.cancel_scope.cancel()
                    return
                if cmd[0] == "stats":
                    t0 = first[0] if first else None
                    print(json.dumps(stats_of(module, t0) | {"sendto_times": sends}), flush=True)
                elif cmd[0] == "now":
                    print(json.dumps({"now": trio.current_time()}), flush=True)
                elif cmd[0] == "inject":
                    duration = float(cmd[2]) if len(cmd) > 2 else None
                    module.inject(Fault(cmd[1]), duration=duration)
                    print("ok", flush=True)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main, parser().parse_args(["--model", "bp35a1", *sys.argv[1:]]))
