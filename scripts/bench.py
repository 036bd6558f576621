"""Performance bench for trio-smartmeter: one table, each figure next to its floor or peer.

Run ``scripts/bench`` (this file with the project's venv). Not a timed test: it measures
start-up, recovery, air-time, HTTP and footprint against the simulator's own modelled
delays (trio_smartmeter/sim/timing.py), prometheus_client's start_http_server and a bare
trio process, all in the same run. ``--full`` uses the 10-minute RSS/CPU window.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lib import cpulimit, inproc

from trio_smartmeter.sim import DEMO_PASSWORD, DEMO_RBID, MeterConfig, timing
from trio_smartmeter.sim.models import link_local

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
#: the exporter as installed (scripts/bench makes a non-editable venv for it)
EXPORTER = [os.environ.get("BENCH_EXPORTER_PY", PY), "-m", "trio_smartmeter"]
SCAN_D = 4  # floor scan duration: the shortest the exporter uses (the sim detects at any D)
ROWS: list[tuple[str, str, str, str, str]] = []


def row(what: str, value: str, ref: str, ratio: str, goal: str) -> None:
    ROWS.append((what, value, ref, ratio, goal))
    print(f"  {what}: {value} | {ref} | {ratio} | {goal}", file=sys.stderr, flush=True)


def get(url: str, timeout: float = 1.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bytes(r.read())
    except OSError:
        return None


class Sim:
    def __init__(self, tmp: Path, channel: int) -> None:
        self.link = str(tmp / "ttySIM")
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "scripts/bench_lib/simserver.py"), "--link", self.link,
             "--channel", f"{channel:02X}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def ask(self, cmd: str) -> Any:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return json.loads(line) if line.startswith("{") else line.strip()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def start_exporter(
    sim: Sim,
    tmp: Path,
    port: int,
    extra: list[str],
    interval: int = 60,
    wrap: Any = lambda argv: argv,
) -> Any:
    args = [
        "-device", sim.link, "-id", DEMO_RBID, "-password", DEMO_PASSWORD, "-port", str(port),
        "-listen-address", "127.0.0.1", "-interval", str(interval), "-verbosity", "0",
        "-state-file", str(tmp / "state.json"), *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        wrap([*EXPORTER, *args]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_reading(port: int, limit: float = 120.0, step: float = 0.01) -> tuple[float | None, float]:
    """(first /-/healthy answer, first non-empty smartmeter_power_watts), monotonic.

    Every probe costs the exporter CPU: under a CPU quota, probe less often (``step``)."""
    healthy = None
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if healthy is None and get(f"http://127.0.0.1:{port}/-/healthy", 0.2) is not None:
            healthy = time.monotonic()
        if healthy is not None:
            body = get(f"http://127.0.0.1:{port}/metrics", 0.5) or b""
            if re.search(rb"^smartmeter_power_watts -?\d", body, re.M):
                return healthy, time.monotonic()
        time.sleep(step)
    raise RuntimeError("no reading")


def wait_history_filled(port: int, limit: float = 240.0) -> None:
    """Until the backfill has read every missing half-hour: its frames go out back to back
    between polls, and a steady-state figure (frames per poll, poll jitter) must not count
    them as polls."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        body = get(f"http://127.0.0.1:{port}/metrics", 0.5) or b""
        if re.search(rb"^smartmeter_history_missing_slots 0(\.0)?$", body, re.M):
            return
        time.sleep(0.5)
    raise RuntimeError("the history backfill did not complete")


def stop(proc: Any) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def startup() -> list[float]:
    cfg = MeterConfig()
    join = timing.join_duration()
    gt = timing.get_round_trip(14, cfg.response_latency)
    healthy_times = []
    for name, channel in (("early ch 21", 0x21), ("late ch 3C", 0x3C)):
        for mode in ("cached", "pinned", "cold"):
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d)
                extra: list[str] = []
                if mode == "cached":
                    doc = {"version": 1, "channel": f"{channel:02X}", "pan_id": cfg.mac[-4:],
                           "mac": cfg.mac, "ip": link_local(cfg.mac), "dialect": "single-hop"}  # fmt: skip
                    (tmp / "state.json").write_text(json.dumps(doc))
                    scanned = 0
                elif mode == "pinned":
                    extra = ["-channel", f"{channel:02X}"]
                    scanned = 1
                else:
                    scanned = channel - 0x21 + 1  # a sweep in channel order stops at the meter
                floor = scanned * timing.scan_dwell(SCAN_D) + join + gt
                sim = Sim(tmp, channel)
                port = inproc.free_port()
                t0 = time.monotonic()
                proc = start_exporter(sim, tmp, port, extra)
                try:
                    healthy, got = wait_reading(port)
                    st = sim.ask("stats")
                finally:
                    stop(proc)
                    sim.close()
                assert healthy is not None
                healthy_times.append(healthy - t0)
                print(f"  /-/healthy answered {healthy - t0:.2f} s after exec", file=sys.stderr)
                from_open = got - st["first_byte"]
                row(f"start→reading, {mode}, {name} (from open; from exec {got - t0:.2f} s)",
                    f"{from_open:.2f} s", f"floor {floor:.2f} s", f"{from_open / floor:.2f}×",
                    "≤ 1.10×")  # fmt: skip
    return healthy_times


#: The Go program we replace, built from its source and run side by side on the same
#: emulated stick at a 10-s interval (issue 19 item 15; no Go toolchain here to measure it
#: again): seconds from the fault to a fresh reading. Ours before the 5-s re-auth grace and
#: the 12-s Get deadline: 64.9 s and 80.1 s here (the issue's 66 s and 80 s).
SEED_RECOVERY = {"event29": 21.0, "drop_x3": 62.0}


def recovery(only: tuple[str, ...] = ()) -> None:
    for kind, label, virtual in (
        ("event29_reauth", "EVENT 29 + module re-auth", False),
        ("event29", "EVENT 29, no re-auth", False),
        ("drop_x3", "three dropped responses (interval 10 s)", False),
        ("event26", "EVENT 26", False),
        ("hang", "module hang", False),
        ("unplug", "unplug/replug (2 s)", False),
    ):
        if only and kind not in only:
            continue
        r = inproc.recovery(kind, virtual=virtual)
        ref, ratio, goal = (
            f"floor {r['floor']:.2f} s ({r['rung']})", f"{r['seconds'] / r['floor']:.2f}×",
            "≤ 1.20×",
        )  # fmt: skip
        if kind in SEED_RECOVERY:
            seed = SEED_RECOVERY[kind]
            ref += f"; seed {seed:g} s (issue 19)"
            ratio += f", {r['seconds'] / seed:.2f}× seed"
            goal += ", ≤ seed"
        row(f"recovery {label} [{r['clock']} clock, ts 1]", f"{r['seconds']:.2f} s", ref,
            ratio, goal)  # fmt: skip


def airtime(tmp: Path) -> None:
    sim = Sim(tmp, MeterConfig().channel)
    port = inproc.free_port()
    cfg = MeterConfig()
    proc = start_exporter(sim, tmp, port,
                          ["-channel", f"{cfg.channel:02X}", "-ipaddr", link_local(cfg.mac)],
                          interval=10)  # fmt: skip
    try:
        wait_reading(port)
        a0 = sim.ask("stats")  # the start-up's frames
        wait_history_filled(port)
        time.sleep(10.5)  # to the next poll after the backfill's last frame
        a = sim.ask("stats")
        time.sleep(30.5)
        b = sim.ask("stats")
    finally:
        stop(proc)
        sim.close()
    polls = 3
    frames = (b["sendto"] - a["sendto"]) / polls
    nbytes = (b["payload_bytes"] - a["payload_bytes"]) / polls
    ha_bytes = 14  # one EPC per Get: 12-byte header + EPC + PDC
    row("air-time: SKSENDTO frames per steady poll (3 polls)", f"{frames:g}",
        "seed 1; Home Assistant 3", f"{frames / 3:.2f}× HA", "= 1")  # fmt: skip
    row("air-time: payload bytes per poll / per hour @60 s", f"{nbytes:g} / {nbytes * 60:g}",
        f"HA {3 * ha_bytes} / {3 * ha_bytes * 60}", f"{nbytes / (3 * ha_bytes):.2f}× HA", "—")  # fmt: skip
    air = frames * 60 * timing.airtime(int(nbytes / max(frames, 1)))
    ha_air = 3 * 60 * timing.airtime(ha_bytes)
    row("air-time: radio seconds per hour @60 s (sim model)", f"{air:.2f} s",
        f"HA {ha_air:.2f} s", f"{air / ha_air:.2f}× HA", "—")  # fmt: skip
    row("air-time: frames per start-up (join → first reading)", f"{a0['sendto']}", "floor 1",
        f"{a0['sendto']:g}×", "—")  # fmt: skip


def wrk(url: str, conns: int, seconds: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert m is not None
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return rps, p99


def http(tmp: Path, seconds: int) -> None:
    cfg = MeterConfig()
    sim = Sim(tmp, cfg.channel)
    port, peer_port = inproc.free_port(), inproc.free_port()
    proc = start_exporter(sim, tmp, port,
                          ["-channel", f"{cfg.channel:02X}", "-ipaddr", link_local(cfg.mac)],
                          interval=10)  # fmt: skip
    peer = subprocess.Popen([PY, str(ROOT / "scripts/bench_lib/peer.py"), str(peer_port)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert peer.stdout is not None
        assert peer.stdout.readline().strip() == "ready"
        wait_reading(port)
        wait_history_filled(port)
        before = len(sim.ask("stats")["sendto_times"])
        results = {}
        for conns in (1, 10, 50):
            results[conns] = (wrk(f"http://127.0.0.1:{port}/metrics", conns, seconds),
                              wrk(f"http://127.0.0.1:{peer_port}/metrics", conns, seconds))  # fmt: skip
        times = sim.ask("stats")["sendto_times"]
    finally:
        stop(proc)
        peer.kill()
        peer.wait()
        sim.close()
    for conns, ((rps, p99), (prps, pp99)) in results.items():
        goal = "≥ 2× rps, lower p99" if conns == 50 else "—"
        row(f"HTTP /metrics {conns} conn: req/s", f"{rps:.0f}", f"start_http_server {prps:.0f}",
            f"{rps / prps:.2f}×", goal)  # fmt: skip
        row(f"HTTP /metrics {conns} conn: p99", f"{p99:.1f} ms", f"start_http_server {pp99:.1f} ms",
            f"{p99 / pp99:.2f}×", "< 1×" if conns == 50 else "—")  # fmt: skip
    flood = times[before - 1 :]
    gaps = [b - a for a, b in itertools.pairwise(flood)]
    jitter = max((abs(g - 10.0) for g in gaps), default=float("nan"))
    row(f"poll jitter while /metrics is flooded ({len(gaps)} intervals of 10 s)",
        f"max {jitter * 1000:.0f} ms", "interval 10 s", f"{jitter / 10:.4f}", "—")  # fmt: skip


def pi_class(tmp: Path) -> None:
    """Start-up, scrapes under a poll, recovery and footprint with the exporter held to a
    share of one core (a Pi Zero is ~10× slower than this machine)."""
    why = cpulimit.available()
    if why is not None:
        row("Pi-class section", "not measured", why, "—", "—")
        return
    cfg = MeterConfig()
    floor = timing.join_duration() + timing.get_round_trip(14, cfg.response_latency)
    goals = {100: ("≤ 1.10×", "—", "—"), 25: ("—", "—", "—"), 10: ("≤ 1.5×", "≤ 1 s", "≤ 100 ms")}
    for percent in (100, 25, 10):
        where = tmp / f"pi-{percent}"
        where.mkdir()
        doc = {"version": 1, "channel": f"{cfg.channel:02X}", "pan_id": cfg.mac[-4:],
               "mac": cfg.mac, "ip": link_local(cfg.mac), "dialect": "single-hop"}  # fmt: skip
        (where / "state.json").write_text(json.dumps(doc))
        sim = Sim(where, cfg.channel)
        port = inproc.free_port()
        with cpulimit.quota(percent, f"trio-smartmeter-bench-{os.getpid()}-{percent}") as procs:
            t0 = time.monotonic()
            proc = start_exporter(
                sim, where, port, [], interval=10, wrap=lambda a: cpulimit.wrap(a, procs)
            )
            try:
                # 20 probes a second: at 10 % of a core, 100 would cost the exporter ~0.1 s
                healthy, got = wait_reading(port, step=0.05 if percent < 100 else 0.01)
                polls_before = sim.ask("stats")["sendto"]
                latencies = scrape_latencies(port, seconds=12.0)
                polls = sim.ask("stats")["sendto"] - polls_before
                rss, cpu = proc_stats(proc.pid)
            finally:
                stop(proc)
                sim.close()
            recovered = {kind: quota_recovery(kind, procs) for kind in ("event26", "unplug")}
        assert healthy is not None
        first, health_goal, p99_goal = goals[percent]
        share = f"{percent} % of a core"
        row(f"[{share}] exec→first reading, cached address", f"{got - t0:.2f} s",
            f"floor {floor:.2f} s", f"{(got - t0) / floor:.2f}×", first)  # fmt: skip
        row(f"[{share}] exec→/-/healthy", f"{healthy - t0:.2f} s", "—", "—", health_goal)
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        row(f"[{share}] /metrics p99 over {len(latencies)} scrapes, {polls} polls meanwhile",
            f"{p99:.1f} ms", f"median {latencies[len(latencies) // 2] * 1000:.1f} ms", "—", p99_goal)  # fmt: skip
        for kind, r in recovered.items():
            row(f"[{share}] recovery {kind} (exporter and in-process sim held together)",
                f"{r['seconds']:.2f} s", f"floor {r['floor']:.2f} s ({r['rung']})",
                f"{r['seconds'] / r['floor']:.2f}×", "—")  # fmt: skip
        row(f"[{share}] RSS / CPU s after start-up and {len(latencies)} scrapes", f"{rss:.1f} MB",
            f"{cpu:.2f} CPU s", "—", "—")  # fmt: skip


def scrape_latencies(port: int, seconds: float) -> list[float]:
    """Sequential /metrics scrapes for ``seconds`` (at interval 10 they straddle a poll)."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        if get(f"http://127.0.0.1:{port}/metrics", 5.0) is not None:
            out.append(time.monotonic() - t)
    return sorted(out)


def quota_recovery(kind: str, procs: Path) -> dict[str, Any]:
    """``inproc.recovery`` in a child process inside the quota's group."""
    code = (
        "import json, sys; sys.path.insert(0, 'scripts'); from bench_lib import inproc; "
        f"print(json.dumps(inproc.recovery({kind!r}, virtual=False)))"
    )
    out = subprocess.run(cpulimit.wrap([PY, "-c", code], procs), capture_output=True,
                         text=True, check=True, cwd=ROOT)  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS MB, CPU seconds) of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return rss, cpu


WAITS = ("epoll_wait", "epoll_pwait", "poll", "ppoll", "select", "pselect6")


FILE_WRITES = ("write", "pwrite64", "writev", "fsync", "fdatasync", "rename", "renameat2")


def wakeups(pid: int, seconds: float, state_dir: str = "") -> tuple[float, float, float, float]:
    """(wake-ups per minute, SKSENDTO writes per minute, file writes per hour, bytes
    written to files per hour), from strace.

    A wake-up is a wait that slept (a non-zero timeout): Trio also calls epoll_wait with
    a zero timeout between runnable tasks, which never sleeps and so never wakes anything.
    File writes are the calls on files under ``state_dir`` (the SD card's share).
    """
    out = subprocess.run(
        ["timeout", "-s", "INT", str(seconds), "strace", "-f", "-qq", "-y", "-p", str(pid),
         "-e", "trace=" + ",".join(WAITS + FILE_WRITES)],
        capture_output=True, text=True,
    ).stderr  # fmt: skip
    sleeps = polls = file_calls = file_bytes = 0
    for line in out.splitlines():
        m = re.search(r"(\w+)\((.*)\)\s+=\s*(-?\d+)?", line)
        if m is None:
            continue
        if state_dir and m[1] in FILE_WRITES and state_dir in m[2]:
            file_calls += 1
            if m[1] in ("write", "pwrite64", "writev") and m[3]:
                file_bytes += max(0, int(m[3]))
            continue
        if m[1] == "write":
            polls += "SKSENDTO" in m[2]
        elif m[1] in WAITS and m[2].rsplit(",", 1)[-1].strip() not in (
            "0",
            "{tv_sec=0, tv_nsec=0}",
        ):
            sleeps += 1
    per_hour = 3600.0 / seconds
    return (
        sleeps * 60.0 / seconds,
        polls * 60.0 / seconds,
        file_calls * per_hour,
        file_bytes * per_hour,
    )


class Footprint:
    """An idle exporter (and a bare trio process) that live through the whole bench.

    They start first and are measured last, so the RSS window overlaps the other sections
    instead of adding to the wall time; their own CPU time and wake-ups are per process.
    """

    def __init__(self, tmp: Path) -> None:
        tmp.mkdir()
        self.dir = tmp
        cfg = MeterConfig()
        self.sim = Sim(tmp, cfg.channel)
        self.port = inproc.free_port()
        self.proc = start_exporter(self.sim, tmp, self.port,
                                   ["-channel", f"{cfg.channel:02X}", "-ipaddr", link_local(cfg.mac)])  # fmt: skip
        bare_src = ("import trio\nasync def main():\n    print('ready', flush=True)\n"
                    "    await trio.sleep_forever()\ntrio.run(main)\n")  # fmt: skip
        t0 = time.monotonic()
        self.bare = subprocess.Popen([PY, "-c", bare_src], stdout=subprocess.PIPE, text=True)
        assert self.bare.stdout is not None
        self.bare.stdout.readline()
        self.bare_start = time.monotonic() - t0
        self.t_start = time.monotonic()
        wait_reading(self.port)
        _, self.cpu0 = proc_stats(self.proc.pid)
        _, self.bcpu0 = proc_stats(self.bare.pid)
        self.w0 = time.monotonic()

    def close(self) -> None:
        stop(self.proc)
        self.bare.kill()
        self.bare.wait()
        self.sim.close()

    def finish(self, window: float, healthy: list[float]) -> None:
        strace_s = min(120.0, window / 2)  # two polls at the default 60 s interval
        time.sleep(max(0.0, window - strace_s - (time.monotonic() - self.t_start)))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            wk_f = pool.submit(wakeups, self.proc.pid, strace_s, str(self.dir))
            bwk_f = pool.submit(wakeups, self.bare.pid, strace_s)
            (wk, polls, file_calls, file_bytes), (bwk, *_) = wk_f.result(), bwk_f.result()
        time.sleep(max(0.0, window - (time.monotonic() - self.t_start)))
        rss, cpu1 = proc_stats(self.proc.pid)
        brss, bcpu1 = proc_stats(self.bare.pid)
        elapsed = time.monotonic() - self.w0
        cpu0, bcpu0, bare_start = self.cpu0, self.bcpu0, self.bare_start
        label = f"{window / 60:g} min" if window >= 60 else f"{window:g} s"
        row(f"RSS after {label}", f"{rss:.1f} MB", f"bare trio {brss:.1f} MB", f"{rss / brss:.2f}×",
            "≤ 45 MB")  # fmt: skip
        cph, bcph = (cpu1 - cpu0) * 3600 / elapsed, (bcpu1 - bcpu0) * 3600 / elapsed
        tick = 0.01 * 3600 / elapsed  # /proc counts CPU time in 10 ms ticks
        row(f"CPU s per idle hour @60 s (from {elapsed:.0f} s, ±{tick:.2f} s, incl. strace attach)",
            f"{cph:.2f} s", f"bare trio {bcph:.2f} s", f"{cph / max(bcph, 0.01):.1f}×", "≤ 1 s")  # fmt: skip
        per_poll = f"{wk / polls:.1f} per poll" if polls else "no poll seen"
        row(f"wake-ups per idle minute (strace, {strace_s:.0f} s; {polls:.1f} polls/min, {per_poll})",
            f"{wk:.1f}", f"bare trio {bwk:.1f}", "—", "poll + deadlines only")  # fmt: skip
        row(f"disk writes per steady hour (strace, {strace_s:.0f} s; state file and history store)",
            f"{file_calls:.0f} calls, {file_bytes:.0f} B", "needed: 2 store rows per hour (EA at :00/:30)",
            "—", "no state-file write; ≤ 1 commit per half-hour")  # fmt: skip
        worst = max(healthy)
        median = sorted(healthy)[len(healthy) // 2]
        row(f"exec→/-/healthy (worst of {len(healthy)} starts; median {median:.2f} s)", f"{worst:.2f} s",
            f"bare trio import+run {bare_start:.2f} s", f"{worst / bare_start:.2f}×", "≤ 0.5 s")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--full", action="store_true", help="10-minute RSS/CPU window (default 5 minutes)"
    )
    p.add_argument("--wrk-seconds", type=int, default=5)
    p.add_argument("--skip", action="append", default=[],
                   help="startup, recovery, airtime, http, pi, footprint, mqtt")  # fmt: skip
    p.add_argument("--recovery-only", action="append", default=[], metavar="KIND",
                   help="run only these recovery cases (event29, drop_x3, …) and nothing else")  # fmt: skip
    args = p.parse_args()
    started = time.monotonic()
    if args.recovery_only:
        recovery(tuple(args.recovery_only))
        print_table(started)
        return 0
    healthy: list[float] = [float("nan")]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        fp = None if "footprint" in args.skip else Footprint(tmp / "footprint")
        # MQTT on and off side by side (bench_lib/mqtt.py), in the footprint's window
        pool = concurrent.futures.ThreadPoolExecutor(1)
        mqtt_rows = None
        if "mqtt" not in args.skip:
            from bench_lib.mqtt import mqtt_footprint

            mqtt_rows = pool.submit(mqtt_footprint, 600.0 if args.full else 300.0, EXPORTER)
        try:
            if "startup" not in args.skip:
                healthy = startup()
            if "recovery" not in args.skip:
                recovery()
            if "airtime" not in args.skip:
                airtime(tmp)
            if "http" not in args.skip:
                http(tmp, args.wrk_seconds)
            if "pi" not in args.skip:
                pi_class(tmp)
            if fp is not None:
                fp.finish(600.0 if args.full else 300.0, healthy)
            for r in mqtt_rows.result() if mqtt_rows is not None else ():
                row(*r)
        finally:
            pool.shutdown()
            if fp is not None:
                fp.close()
    print_table(started)
    return 0


def print_table(started: float) -> None:
    print("| measurement | value | floor / peer | ratio | goal |")
    print("|---|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")
    print(f"\nbench wall time {time.monotonic() - started:.0f} s; python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs; simulator time scale 1")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
