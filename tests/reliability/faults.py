"""The fault matrix as data: what is injected, how the service detects it, which rung of
the ladder recovers it, the recovery bound derived from the deadlines, and the counters
that must move (every other error type must stay put)."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from trio_smartmeter.sim import Fault, FaultSpec, MeterConfig
from trio_smartmeter.sim import timing as sim_timing

from .harness import (
    INTERVAL,
    POLICY,
    T_COLD_START,
    T_GET,
    T_INIT,
    T_JOIN,
    T_RESCAN_KNOWN,
    T_SCAN_FIRST,
    T_SCAN_PLAN,
    T_WARM_START,
    T,
    backoff_max,
)


def _backoffs(n: int) -> float:
    return sum(backoff_max(i) for i in range(n))


def _reopens_until(seconds: float) -> float:
    """Worst case until the first reopen attempt after ``seconds`` of absence (the ladder's
    own bound: the tests never re-derive its schedule)."""
    return POLICY.worst_reopen_after(seconds)


def _replugged(seconds: float) -> float:
    """Worst case until the reopen after a replug: the path is looked at every
    ``replug_check`` seconds while it is missing, whatever the backoff has grown to."""
    return seconds + POLICY.replug_check


@attrs.frozen
class Case:
    name: str
    fault: str  # the row label for the table
    detection: str
    rung: str
    bound: float  # virtual seconds from injection (or from start) to a fresh reading
    errors: dict[str, int] = attrs.field(factory=dict)  # exact deltas; others must be 0
    events: dict[str, int] = attrs.field(factory=dict)  # minimum deltas of module events
    at_start: tuple[FaultSpec, ...] = ()  # scenario faults (measured from t=0)
    inject: FaultSpec | None = None  # injected right after a reading
    sim: dict[str, object] = attrs.field(factory=dict)
    outage: bool = False  # long enough that smartmeter_up must have been 0
    logs_fault: bool = True  # a WARNING for the fault and an INFO for the recovery
    custom: str | None = None  # special driver in the test (unplug, permission, lifetime)
    state_file: str | None = None  # the state file's content at start (a cached address)
    after: Callable[..., None] | None = None
    #: the seed's (the Go program's) measured recovery in the same situation (issue 19):
    #: ours must be no slower
    seed: float | None = None


RESEND = T.response + T_GET
#: the poll interval of the seed's side-by-side figures (issue 19: the fault right after
#: a reading, the next poll 10 s away)
SEED_INTERVAL = 10.0
#: EVENT 29 without re-auth: the module's grace, then the session row's first rung
#: (the WAIT_REAUTH decision itself waits 0 s, the REJOIN after it attempt 1's backoff)
EVENT29_NO_REAUTH = T.reauth + backoff_max(1) + T.command + T_JOIN + 2 * T_GET
#: a state file from another meter (same channel 0x21 is not assumed: the PAN and MAC differ)
STALE_ADDRESS = (
    '{"version": 1, "channel": "2A", "pan_id": "1234", "mac": "001C640003001234",'
    ' "ip": "FE80:0000:0000:0000:021C:6400:0300:1234", "dialect": null}'
)
CASES: tuple[Case, ...] = (
    Case(
        "wrong_password",
        "wrong password (then corrected)",
        "EVENT 24 after SKJOIN",
        "REJOIN, then RESET (latch after 3)",
        T_INIT + T_SCAN_FIRST + 2 * sim_timing.PANA_FAILURE_S + _backoffs(2) + T_WARM_START,
        errors={"auth": 2},
        events={"24": 2},
        at_start=(FaultSpec(Fault.WRONG_PASSWORD, duration=60.0),),
    ),
    Case(
        "stale_address",
        "stale cached address (meter replaced)",
        "EVENT 24 for an address no scan confirmed",
        "RESCAN_CHANNEL",
        T_INIT
        + sim_timing.PANA_FAILURE_S
        + _backoffs(1)
        + T_RESCAN_KNOWN
        + T_SCAN_FIRST
        + T_JOIN
        + 2 * T_GET,
        errors={"auth": 1},
        events={"24": 1},
        state_file=STALE_ADDRESS,
    ),
    Case(
        "no_beacon",
        "no beacon",
        "no EPANDESC up to D=8 (ScanEmpty)",
        "RESCAN_ALL",
        T_INIT + T_SCAN_PLAN + _backoffs(1) + T_SCAN_FIRST + T_JOIN + 2 * T_GET + T.command,
        errors={"ip_resolve": 1},
        # long enough that every sweep of the first plan misses the meter's channel
        at_start=(FaultSpec(Fault.NO_BEACON, duration=0.9 * T_SCAN_PLAN),),
    ),
    Case(
        "drop_response",
        "dropped response (×1)",
        f"no Get_Res within {T.response:g} s",
        "RESEND",
        INTERVAL + RESEND + _backoffs(1) + T_GET,
        errors={"query": 1},
        inject=FaultSpec(Fault.DROP_RESPONSE, count=1),
    ),
    Case(
        "drop_response_x3",
        "dropped responses (×3)",
        f"3 × no Get_Res within {T.response:g} s",
        "RESEND ×2 → REJOIN",
        INTERVAL + 3 * RESEND + _backoffs(3) + T.command + T_JOIN + 2 * T_GET,
        errors={"query": 3},
        inject=FaultSpec(Fault.DROP_RESPONSE, count=3),
    ),
    Case(
        "drop_response_x3_seed",
        f"dropped responses (×3), interval {SEED_INTERVAL:g} s as in the seed's figure",
        f"3 × no Get_Res within {T.response:g} s",
        "RESEND ×2 → REJOIN",
        SEED_INTERVAL + 3 * RESEND + _backoffs(3) + T.command + T_JOIN + 2 * T_GET,
        errors={"query": 3},
        inject=FaultSpec(Fault.DROP_RESPONSE, count=3),
        sim={"interval": SEED_INTERVAL},
        seed=62.0,
    ),
    Case(
        "delay_response",
        "response delayed past the deadline",
        f"no Get_Res within {T.response:g} s; the late one is ignored (TID)",
        "RESEND",
        INTERVAL + RESEND + _backoffs(1) + T_GET,
        errors={"query": 1},
        inject=FaultSpec(Fault.DELAY_RESPONSE, count=1, delay=T.response + 5),
    ),
    Case(
        "duplicate_response",
        "duplicated responses",
        "second copy matches no pending Get",
        "none needed",
        INTERVAL + T_GET,
        inject=FaultSpec(Fault.DUPLICATE_RESPONSE, count=3),
        logs_fault=False,
    ),
    Case(
        "stray_frames",
        "stray frames (other sender, wrong TID, MLE port)",
        "sender/port/TID/SEOJ matching",
        "none needed",
        INTERVAL + T_GET,
        inject=FaultSpec(Fault.STRAY_FRAMES),
        logs_fault=False,
    ),
    Case(
        "garbage",
        "garbage and non-UTF-8 bytes",
        "decoder: Garbage line, resync at the next line end",
        "none needed",
        INTERVAL + T_GET,
        inject=FaultSpec(Fault.GARBAGE),
        logs_fault=False,
    ),
    Case(
        "split_writes",
        "module output in 1–4-byte chunks (start-up and polls)",
        "decoder buffers lines and DATALEN payloads",
        "none needed",
        T_COLD_START,
        at_start=(FaultSpec(Fault.SPLIT_WRITES, duration=3 * INTERVAL),),
        logs_fault=False,
    ),
    Case(
        "event21_storm",
        "EVENT 21 01/02 storm (×2)",
        "EVENT 21 PARAM 01/02 (SendFailed)",
        "RESEND",
        INTERVAL + 3 * T_GET + _backoffs(2),
        errors={"query": 2},
        events={"21": 2},
        inject=FaultSpec(Fault.EVENT21_STORM, count=2),
    ),
    Case(
        "event21_storm_long",
        "EVENT 21 01/02 storm (×6)",
        "EVENT 21 PARAM 01/02 (SendFailed)",
        "RESEND ×2 → REJOIN, twice",
        INTERVAL + 7 * T_GET + _backoffs(6) + 2 * (T.command + T_JOIN + T_GET),
        errors={"query": 6},
        inject=FaultSpec(Fault.EVENT21_STORM, count=6),
    ),
    Case(
        "event26",
        "EVENT 26 (meter ended the session)",
        "EVENT 26 from the meter",
        "REJOIN",
        _backoffs(1) + T.command + T_JOIN + 2 * T_GET,
        errors={"auth": 1},
        events={"26": 1},
        inject=FaultSpec(Fault.EVENT_26),
    ),
    Case(
        "event29",
        "EVENT 29 without re-auth",
        f"EVENT 29, no EVENT 25 within {T.reauth:g} s",
        "WAIT_REAUTH → REJOIN",
        EVENT29_NO_REAUTH,
        errors={"auth": 1},
        events={"29": 1},
        seed=21.0,
        inject=FaultSpec(Fault.EVENT_29),
    ),
    Case(
        "lifetime_reauth",
        "lifetime end with the module's own re-auth",
        "unsolicited EVENT 25",
        "none needed (session stays up)",
        INTERVAL + T_GET,
        events={"25": 1},
        sim={"session_lifetime": 600.0},
        custom="lifetime",
        logs_fault=False,
    ),
    Case(
        "lifetime_no_reauth",
        "lifetime end, module's re-auth fails (EVENT 29)",
        f"EVENT 29, no EVENT 25 within {T.reauth:g} s",
        "WAIT_REAUTH → REJOIN",
        EVENT29_NO_REAUTH,
        errors={"auth": 1},
        events={"29": 1},
        seed=21.0,
        sim={"session_lifetime": 600.0},
        at_start=(FaultSpec(Fault.NO_REAUTH, duration=600.0),),
        custom="lifetime",
    ),
    Case(
        "transmit_limit",
        "EVENT 32 … EVENT 33 (600 s)",
        "EVENT 32; polls skipped until EVENT 33",
        "wait for EVENT 33",
        600.0 + INTERVAL + T_GET,
        errors={"rate_limit": 10},
        events={"32": 1, "33": 1},
        inject=FaultSpec(Fault.TRANSMIT_LIMIT, duration=600.0),
        outage=True,
    ),
    Case(
        "restart_in_place",
        "module restarts in place (brownout, USB glitch, another SKRESET), tty kept",
        "our SKSENDTO echoed again after SFE 0 (a NUL byte first)",
        "RESET (full start-up: credentials set again)",
        INTERVAL + _backoffs(1) + T_WARM_START + T.command,
        errors={"serial": 1},
        inject=FaultSpec(Fault.RESTART_IN_PLACE, nul=True),
    ),
    Case(
        "hang",
        "module hang until SKRESET",
        f"no OK to SKSENDTO within {T.send_ack:g} s",
        "RESET",
        INTERVAL + T.send_ack + _backoffs(1) + T_WARM_START + T.command,
        errors={"serial": 1},
        inject=FaultSpec(Fault.HANG),
    ),
    *(
        Case(
            name,
            f"unplug and replug ({label})",
            "EOF/EIO on the port; ENOENT while away; the path is looked at every second",
            "REOPEN when the path reappears",
            _replugged(seconds) + T_WARM_START,
            errors={"serial": -1},  # one per failed open: checked against the open attempts
            inject=FaultSpec(Fault.UNPLUG, duration=seconds),
            outage=seconds > 3 * INTERVAL,
            custom="unplug",
        )
        for name, label, seconds in (
            ("unplug_10s", "10 s", 10.0),
            ("unplug", "5 min", 300.0),
            ("unplug_1h", "1 h", 3600.0),
        )
    ),
    Case(
        "permission_denied",
        "device permission denied (120 s)",
        "EACCES on open",
        "REOPEN",
        _reopens_until(120.0) + T_WARM_START,
        errors={"serial": -1},
        inject=FaultSpec(Fault.UNPLUG, duration=0.0),
        custom="permission",
    ),
    Case(
        "get_sna_d3",
        "Get_SNA for D3 (coefficient)",
        "PDC 0 for D3 in the static read",
        "none needed (coefficient 1)",
        T_COLD_START,
        at_start=(FaultSpec(Fault.GET_SNA, epcs=(0xD3,)),),
        logs_fault=False,
    ),
    Case(
        "get_sna_e3",
        "Get_SNA for E3 (reverse energy)",
        "PDC 0 for E3 in a poll",
        "none needed (E3 dropped from polls)",
        INTERVAL + T_GET,
        inject=FaultSpec(Fault.GET_SNA, epcs=(0xE3,)),
        sim={"meter": MeterConfig(solar_peak_watts=3000.0)},
        logs_fault=False,
    ),
    Case(
        "j11",
        "a J11 (binary protocol) stick, replaced",
        "D0EA83FC frames and no OK to SKRESET",
        "REOPEN after 300 s",
        T_INIT + T.reset + POLICY.unsupported_retry * (1 + POLICY.reopen_jitter) + T_COLD_START,
        at_start=(FaultSpec(Fault.J11, duration=60.0),),
        outage=True,
    ),
)
