"""The recovery ladder: rung sequences per fault, backoff, latch, reset on success."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_smartmeter.core import recovery
from trio_smartmeter.core.recovery import Backoff, Decision, Fault, Ladder, Rung

R = Rung


def ladder(seed: int = 1, **kwargs: object) -> Ladder:
    return Ladder(rng=random.Random(seed), **kwargs)  # type: ignore[arg-type]


def rungs(lad: Ladder, faults: list[Fault]) -> list[Rung]:
    return [lad.on_fault(f).rung for f in faults]


# -- Backoff ----------------------------------------------------------------------------
def test_backoff_without_jitter_is_exponential_and_capped() -> None:
    backoff = Backoff(jitter=0.0)
    rng = random.Random(0)
    delays = [backoff.delay(i, rng) for i in range(12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_backoff_exact_delays_for_a_seed() -> None:
    delays = [Backoff().delay(i, rng) for rng in [random.Random(7)] for i in range(11)]
    assert delays == pytest.approx(
        [
            0.9647665529666325,
            1.8603396695698007,
            4.120747578431883,
            7.315898058668068,
            16.114822413781404,
            31.140409068240547,
            58.342386237116244,
            128.19035476964916,
            232.3197777122296,
            296.0187410197432,
            274.19132541447715,
        ],
        rel=1e-12,
    )


@given(st.integers(min_value=0, max_value=5000), st.integers())
def test_backoff_bounds(attempt: int, seed: int) -> None:
    backoff = Backoff()
    delay = backoff.delay(attempt, random.Random(seed))
    nominal = min(300.0, 2.0 ** min(attempt, 20))
    assert 0.0 <= delay <= 300.0
    assert nominal * 0.9 - 1e-9 <= delay <= min(300.0, nominal * 1.1) + 1e-9


def test_backoff_huge_attempt_does_not_overflow() -> None:
    assert Backoff(factor=10.0, jitter=0.0).delay(10_000, random.Random(0)) == 300.0


def test_backoff_draws_exactly_one_number() -> None:
    a, b = random.Random(3), random.Random(3)
    Backoff(jitter=0.0).delay(2, a)
    b.random()
    assert a.random() == b.random()


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1.0}, {"factor": 0.5}, {"cap": -1.0}, {"jitter": 1.0}, {"jitter": -0.1}],
)
def test_backoff_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Backoff(**kwargs)


def test_backoff_negative_attempt() -> None:
    with pytest.raises(ValueError, match="attempt"):
        Backoff().delay(-1, random.Random(0))


# -- sequences per fault ----------------------------------------------------------------
@pytest.mark.parametrize("fault", [Fault.TIMEOUT, Fault.SEND_FAILED])
def test_timeouts_resend_twice_then_rejoin(fault: Fault) -> None:
    lad = ladder()
    assert rungs(lad, [fault] * 3) == [R.RESEND, R.RESEND, R.REJOIN]
    # after the rejoin, resending starts again; the session row keeps climbing
    assert rungs(lad, [fault] * 3) == [R.RESEND, R.RESEND, R.REJOIN]
    assert rungs(lad, [fault] * 3) == [R.RESEND, R.RESEND, R.RESCAN_CHANNEL]


def test_timeouts_that_never_end_reach_reset_and_reopen() -> None:
    lad = ladder()
    seen = [r for r in rungs(lad, [Fault.TIMEOUT] * 30) if r is not R.RESEND]
    assert seen[:6] == [R.REJOIN, R.REJOIN, R.RESCAN_CHANNEL, R.RESCAN_ALL, R.RESET, R.REOPEN]
    assert set(seen[6:]) == {R.REOPEN}


def test_mixed_timeouts_and_send_failures_share_the_resend_count() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.TIMEOUT, Fault.SEND_FAILED, Fault.TIMEOUT]) == [
        R.RESEND,
        R.RESEND,
        R.REJOIN,
    ]


def test_session_expired_waits_for_reauth_first() -> None:
    lad = ladder()
    first = lad.on_fault(Fault.SESSION_EXPIRED)
    assert first.rung is R.WAIT_REAUTH
    assert first.delay == 0.0
    assert not first.latch
    again = lad.on_fault(Fault.SESSION_EXPIRED)
    assert again.rung is R.REJOIN
    assert again.delay > 0
    lad.on_success()
    assert lad.on_fault(Fault.SESSION_EXPIRED).rung is R.WAIT_REAUTH


def test_session_ended_rejoins() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.SESSION_ENDED] * 3) == [R.REJOIN, R.REJOIN, R.RESCAN_CHANNEL]


def test_join_failed_full_row() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.JOIN_FAILED] * 8) == [
        R.REJOIN,
        R.REJOIN,
        R.RESCAN_CHANNEL,
        R.RESCAN_ALL,
        R.RESET,
        R.REOPEN,
        R.REOPEN,
        R.REOPEN,
    ]


def test_scan_empty_row() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.SCAN_EMPTY] * 5) == [
        R.RESCAN_ALL,
        R.RESET,
        R.REOPEN,
        R.REOPEN,
        R.REOPEN,
    ]


def test_module_silent_row() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.MODULE_SILENT] * 4) == [R.RESET, R.REOPEN, R.REOPEN, R.REOPEN]


def test_serial_lost_reopens() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.SERIAL_LOST] * 3) == [R.REOPEN] * 3


def test_rows_are_independent() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.JOIN_FAILED, Fault.JOIN_FAILED]) == [R.REJOIN, R.REJOIN]
    assert lad.on_fault(Fault.MODULE_SILENT).rung is R.RESET
    assert lad.on_fault(Fault.SCAN_EMPTY).rung is R.RESCAN_ALL
    assert lad.on_fault(Fault.JOIN_FAILED).rung is R.RESCAN_CHANNEL


def test_an_unconfirmed_address_that_fails_to_join_is_rescanned_not_rejoined() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.UNCONFIRMED_ADDRESS] * 3) == [
        R.RESCAN_CHANNEL,
        R.RESCAN_ALL,
        R.RESET,
    ]
    lad = ladder()  # later in the session row it never steps back
    assert rungs(lad, [Fault.JOIN_FAILED] * 3 + [Fault.UNCONFIRMED_ADDRESS]) == [
        R.REJOIN,
        R.REJOIN,
        R.RESCAN_CHANNEL,
        R.RESCAN_ALL,
    ]
    assert not lad.latched


def test_configurable_counts() -> None:
    lad = ladder(max_resends=0, max_rejoins=1)
    assert rungs(lad, [Fault.TIMEOUT] * 3) == [R.REJOIN, R.RESCAN_CHANNEL, R.RESCAN_ALL]
    assert lad.session_row == (R.REJOIN, R.RESCAN_CHANNEL, R.RESCAN_ALL, R.RESET, R.REOPEN)


# -- wrong password latch ---------------------------------------------------------------
def test_auth_rejected_latches_after_three() -> None:
    lad = ladder()
    decisions = [lad.on_fault(Fault.AUTH_REJECTED) for _ in range(5)]
    # the second rejection resets the module (credentials set again) before any latch
    assert [d.rung for d in decisions] == [R.REJOIN, R.RESET, R.REJOIN, R.REJOIN, R.REJOIN]
    assert [d.latch for d in decisions] == [False, False, True, True, True]
    assert [d.delay for d in decisions[2:]] == [600.0] * 3
    assert decisions[0].delay < 600.0
    assert lad.latched
    assert "credentials" in decisions[2].reason


def test_latch_delay_is_configurable_and_other_faults_do_not_clear_it() -> None:
    lad = ladder(latch_delay=1800.0)
    lad.on_fault(Fault.AUTH_REJECTED)
    lad.on_fault(Fault.JOIN_FAILED)  # e.g. a join timeout in between
    lad.on_fault(Fault.AUTH_REJECTED)
    assert not lad.latched
    third = lad.on_fault(Fault.AUTH_REJECTED)
    assert third == Decision(R.REJOIN, 1800.0, latch=True, reason=third.reason)
    lad.on_success()
    assert not lad.latched
    assert not lad.on_fault(Fault.AUTH_REJECTED).latch


def test_latched_retries_never_hammer() -> None:
    lad = ladder(seed=9)
    delays = [lad.on_fault(Fault.AUTH_REJECTED).delay for _ in range(50)]
    assert all(d >= 600.0 for d in delays[2:])
    assert sum(delays) >= 48 * 600


def test_a_module_that_restarted_in_place_gets_a_full_start_up() -> None:
    lad = ladder()
    assert rungs(lad, [Fault.MODULE_RESTARTED, Fault.MODULE_RESTARTED]) == [R.RESET, R.REOPEN]
    assert "module_restarted" in lad.on_fault(Fault.MODULE_RESTARTED).reason


# -- success, backoff growth, determinism -----------------------------------------------
def test_success_resets_everything() -> None:
    lad = ladder()
    rungs(lad, [Fault.JOIN_FAILED] * 4 + [Fault.SCAN_EMPTY] * 2 + [Fault.MODULE_SILENT])
    rungs(lad, [Fault.TIMEOUT, Fault.SESSION_EXPIRED, Fault.AUTH_REJECTED])
    assert lad.consecutive_faults == 10
    lad.on_success()
    assert lad.consecutive_faults == 0
    assert rungs(lad, [Fault.TIMEOUT]) == [R.RESEND]
    lad.on_success()
    assert rungs(lad, [Fault.JOIN_FAILED]) == [R.REJOIN]
    lad.on_success()
    assert rungs(lad, [Fault.SCAN_EMPTY]) == [R.RESCAN_ALL]
    lad.on_success()
    assert rungs(lad, [Fault.MODULE_SILENT]) == [R.RESET]
    lad.on_success()
    assert rungs(lad, [Fault.SESSION_EXPIRED]) == [R.WAIT_REAUTH]


def test_delays_grow_with_consecutive_faults_and_reset_on_success() -> None:
    lad = Ladder(rng=random.Random(0), backoff=Backoff(jitter=0.0))
    delays = [lad.on_fault(Fault.JOIN_FAILED).delay for _ in range(11)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    lad.on_success()
    assert lad.on_fault(Fault.JOIN_FAILED).delay == 1


def test_the_serial_reopen_follows_its_own_schedule_and_restarts_on_success() -> None:
    lad = Ladder(rng=random.Random(0), reopen_jitter=0.0)
    delays = [lad.on_fault(Fault.SERIAL_LOST).delay for _ in range(8)]
    assert delays == [1, 2, 5, 10, 30, 60, 60, 60]
    lad.on_success()
    assert lad.on_fault(Fault.SERIAL_LOST).delay == 1
    assert lad.worst_reopen_delay(0) == 1.0
    assert Ladder().worst_reopen_delay(99) == pytest.approx(66.0)


def test_the_reopen_is_jittered_within_its_bound() -> None:
    lad = Ladder(rng=random.Random(3))
    for n in range(20):
        d = lad.on_fault(Fault.SERIAL_LOST)
        assert d.rung is R.REOPEN
        assert 0.9 * lad.reopen_schedule[min(n, 5)] <= d.delay <= lad.worst_reopen_delay(n)


def test_an_unsupported_module_is_looked_at_again_rarely() -> None:
    d = Ladder(rng=random.Random(0), reopen_jitter=0.0).on_fault(Fault.UNSUPPORTED_MODULE)
    assert (d.rung, d.delay) == (R.REOPEN, 300.0)


def test_backoff_worst_is_the_bound_of_every_delay() -> None:
    b = Backoff()
    rng = random.Random(5)
    for attempt in range(12):
        assert b.delay(attempt, rng) <= b.worst(attempt)
    assert b.worst(0) == pytest.approx(1.1)
    assert b.worst(20) == 300.0


def test_wait_reauth_counts_as_a_fault_for_the_backoff() -> None:
    lad = Ladder(rng=random.Random(0), backoff=Backoff(jitter=0.0))
    assert lad.on_fault(Fault.SESSION_EXPIRED).delay == 0.0
    assert lad.on_fault(Fault.SESSION_EXPIRED).delay == 2.0


def test_exact_decisions_for_a_seed() -> None:
    lad = ladder(seed=42)
    faults = [Fault.TIMEOUT] * 3 + [Fault.JOIN_FAILED] * 5
    got = [(d.rung, d.delay) for d in map(lad.on_fault, faults)]
    expected = [
        (R.RESEND, 1.0278853596915767),
        (R.RESEND, 1.8100043020890668),
        (R.REJOIN, 3.8200234546952956),
        (R.REJOIN, 7.557137181038116),
        (R.RESCAN_CHANNEL, 16.75670788532484),
        (R.RESCAN_ALL, 33.13087671950663),
        (R.RESET, 69.01989846662202),
        (R.REOPEN, 117.42563411531304),
    ]
    assert [r for r, _ in got] == [r for r, _ in expected]
    assert [d for _, d in got] == pytest.approx([d for _, d in expected], rel=1e-12)


@given(st.integers(), st.lists(st.sampled_from(list(Fault)), max_size=40))
def test_same_seed_same_decisions(seed: int, faults: list[Fault]) -> None:
    a, b = ladder(seed), ladder(seed)
    assert [a.on_fault(f) for f in faults] == [b.on_fault(f) for f in faults]


@given(st.lists(st.one_of(st.sampled_from(list(Fault)), st.none()), max_size=60))
def test_any_sequence_gives_sane_decisions(events: list[Fault | None]) -> None:
    lad = ladder()
    for event in events:
        if event is None:
            lad.on_success()
            continue
        decision = lad.on_fault(event)
        assert isinstance(decision.rung, Rung)
        assert decision.reason
        if decision.latch:
            assert decision.delay == lad.latch_delay
            assert event is Fault.AUTH_REJECTED
        else:
            bound = lad.unsupported_retry * (1 + lad.reopen_jitter)
            assert 0.0 <= decision.delay <= max(lad.backoff.cap, bound)


@pytest.mark.parametrize(
    "kwargs",
    [{"latch_delay": -1.0}, {"max_resends": -1}, {"max_rejoins": -1}, {"auth_latch_after": 0}],
)
def test_ladder_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Ladder(rng=random.Random(0), **kwargs)  # type: ignore[arg-type]


def test_default_rng_and_docstring_table() -> None:
    assert Ladder().on_fault(Fault.SERIAL_LOST).rung is R.REOPEN
    doc = recovery.__doc__ or ""
    for fault in Fault:
        assert fault.name in doc
    for rung in Rung:
        assert rung.name in doc


def test_reason_ordinals() -> None:
    lad = ladder()
    reasons = [lad.on_fault(Fault.SCAN_EMPTY).reason for _ in range(12)]
    assert "1st" in reasons[0]
    assert "2nd" in reasons[1]
    assert "3rd" in reasons[2]
    assert "4th" in reasons[3]
    assert "11th" in reasons[10]
    assert "12th" in reasons[11]


@settings(max_examples=50)
@given(st.integers(0, 2**32), st.floats(0.0, 400.0))
def test_the_first_reopen_after_an_absence_is_within_the_ladders_bound(
    seed: int, absence: float
) -> None:
    lad = Ladder(rng=random.Random(seed))
    attempt = 0.0
    while attempt < absence:  # every reopen fails until the device is back
        attempt += lad.on_fault(Fault.SERIAL_LOST).delay
    assert attempt <= lad.worst_reopen_after(absence)
