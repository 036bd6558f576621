"""Fault matrix: every fault the simulator can inject, against the real supervisor, in
both payload modes and both dialects, on the virtual clock.

For each fault: (1) a fresh reading again within the derived bound, without a restart;
(2) the matching error counter moved by exactly the expected amount and no other error
type moved; (3) during the outage no stale reading is exported and smartmeter_up is 0;
(4) one WARNING for the fault and one INFO for the recovery (no flood). The measured
recovery times are written to ``RESULTS`` for ``scripts/fault-table``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support.rig import Rig, capture_logs, start_rig
from trio_smartmeter.core.state import ErrorType
from trio_smartmeter.sim import Fault, Scenario

from .faults import CASES, Case

#: binary single-hop (BP35A1), hex single-hop (RL7023 IPS), binary DSE (BP35C2), hex DSE
MATRIX_MODELS = ("bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss")

#: the one INFO line that says the service works again
RECOVERY_LINES = ("recovered by", "transmit-time limit released")
#: after an unsupported stick there is no ladder to climb: the next "module ready" is it
J11_RECOVERY = "module ready"

#: (case name, model) -> measured virtual seconds; filled by the tests
RESULTS: dict[tuple[str, str], float] = {}


async def _wait(pred: object, step: float = 0.5, limit: float = 20_000.0) -> float:
    assert callable(pred)
    with trio.fail_after(limit):
        while not pred():
            await trio.sleep(step)
    return trio.current_time()


async def run_case(nursery: trio.Nursery, case: Case, model: str) -> tuple[Rig, float, dict]:
    """Drive one fault; return the rig, the measured recovery time and the error deltas."""
    kw = dict(case.sim)
    if case.at_start:
        kw["scenario"] = Scenario(faults=case.at_start)
    if case.state_file is not None:
        path = Path(tempfile.mkdtemp()) / "state.json"
        path.write_text(case.state_file, encoding="utf-8")
        kw["state_file"] = path
    async with capture_logs() as logs:
        rig = await start_rig(nursery, model, **kw)
        m = rig.module
        if case.inject is None and case.custom is None:
            t0 = trio.current_time()
            before = dict(rig.state.errors)
            before = dict.fromkeys(before, 0)
            events0: dict[int, int] = {}
        else:
            await rig.next_reading_after(trio.current_time())
            if case.custom == "lifetime":
                faulted = lambda: m.stats.events[0x29] >= 1 or m.stats.events[0x25] >= 2  # noqa: E731
                before = dict(rig.state.errors)
                events0 = dict(rig.state.module_events)
                logs.clear()
                t0 = await _wait(faulted, step=0.25)
            else:
                before = dict(rig.state.errors)
                events0 = dict(rig.state.module_events)
                logs.clear()
                t0 = trio.current_time()
                if case.custom == "permission":
                    rig.device.deny_until = t0 + 120.0
                assert case.inject is not None
                m.inject(case.inject)
        t_read = await rig.next_reading_after(t0)
        measured = t_read - t0
        # one more poll so that late effects (a duplicate, a late answer) are counted too
        await rig.next_reading_after(t_read)
        rig.check_staleness()
        records = list(logs.records)
    deltas = {k: rig.state.errors[k] - before[k] for k in rig.state.errors}
    ev = {k: n - events0.get(k, 0) for k, n in rig.state.module_events.items()}

    # 1. recovered within the derived bound
    assert measured <= case.bound, (case.name, model, measured, case.bound)
    # …and no slower than the program we replace (issue 19's side-by-side figures)
    if case.seed is not None:
        assert measured <= case.seed, (case.name, model, measured, "seed", case.seed)
    # 2. the matching counters, and nothing else
    expected = {k: 0 for k in deltas} | case.errors
    if expected.get("serial") == -1:
        expected["serial"] = 1 + rig.failed_opens
        assert rig.failed_opens >= 1
    if case.name == "transmit_limit":  # one per skipped poll: 600 s / 60 s, ±1 for the phase
        assert abs(deltas[ErrorType.RATE_LIMIT] - 10) <= 1, deltas
        expected["rate_limit"] = deltas[ErrorType.RATE_LIMIT]
    assert deltas == expected, (case.name, model, deltas, expected)
    for code, n in case.events.items():
        assert ev.get(int(code, 16), 0) >= n, (code, ev)
    # 3. never a stale value; smartmeter_up 0 during a long outage
    assert rig.violations == [], rig.violations
    if case.outage:
        assert rig.up_zero_seen > 0
    # 4. one line for the fault, one for the recovery
    warnings = [r for r in records if r[0] in ("WARNING", "ERROR", "CRITICAL")]
    marks = (*RECOVERY_LINES, J11_RECOVERY) if case.name == "j11" else RECOVERY_LINES
    recovered = [r for r in records if r[1].startswith(marks)]
    if case.logs_fault:
        kinds = {w[1].split(":")[0] for w in warnings}
        assert 1 <= len(warnings) <= 3, warnings
        assert len(kinds) == len(warnings), warnings  # never the same line twice
        assert len(recovered) == 1, records
    else:
        assert warnings == [], warnings
        assert recovered == [], recovered
    RESULTS[(case.name, model)] = measured
    out = os.environ.get("FAULT_TABLE_JSONL")
    if out:
        line = json.dumps({"case": case.name, "model": model, "measured": measured}) + "\n"
        with Path(out).open("a", encoding="utf-8") as f:  # noqa: ASYNC230 - tiny, test-only
            f.write(line)
    return rig, measured, deltas


@pytest.mark.parametrize("model", MATRIX_MODELS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_fault_recovers(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, case: Case, model: str
) -> None:
    rig, _measured, _ = await run_case(nursery, case, model)
    if case.name == "get_sna_d3":
        assert rig.state.scaling is not None and rig.state.scaling.coefficient == 1
    if case.name == "get_sna_e3":
        assert rig.state.scaling is not None and rig.state.scaling.has_reverse is False
    if case.name == "wrong_password":
        assert not rig.state.credentials_latched
    if case.name == "j11":
        assert rig.opens >= 2  # reopened after the unsupported-stick wait


def test_every_sim_fault_kind_is_in_the_matrix() -> None:
    """The table's kinds cover every simulator fault kind."""
    covered = {s.kind for c in CASES for s in (*c.at_start, *([c.inject] if c.inject else ()))}
    assert covered == set(Fault), set(Fault) - covered
