"""The SD card fills, a cleanup script removes the state directory, a path is mistyped
onto a FIFO or a device (issue 20 items 1-3): nothing stored is lost, nothing hangs.

The full disk is a real small filesystem (a tmpfs with ``size=``, mounted by the test as
root, skipped otherwise) or SQLite's own page limit (``max_page_count``: the same
"database or disk is full" error, without root).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.support.rig import capture_logs, start_rig
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.recovery import STORE_WRITE_BACKOFF
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.history_store import SLOT_SECONDS, HistoryStore
from trio_smartmeter.sim import MeterConfig, SimulatedModule

T0 = 1_796_050_800  # 2026-12-01 00:00 JST
#: Opening a path must return within this (a FIFO would block for good).
NO_HANG = 5.0
GOOD_MAC = "001C640003DD6393"
GOOD_IP = "FE80:0000:0000:0000:021C:6400:03DD:6393"


def day(first: int, n: int = 48) -> list[HalfHour]:
    """``n`` half-hours from slot ``first`` on, as one history frame gives them."""
    return [
        HalfHour(T0 + i * SLOT_SECONDS, 100 + i, 7, Decimal(100 + i) * 360, Decimal(7) * 360)
        for i in range(first, first + n)
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def past_the_backoff(self, failures: int) -> None:
        self.now += STORE_WRITE_BACKOFF.worst(failures) + 0.001


def on_disk(path: Path) -> int:
    """Rows a fresh process finds in the store at ``path``."""
    again = HistoryStore(path)
    again.open()
    try:
        return again.count()
    finally:
        again.close()


@contextmanager
def small_tmpfs(mountpoint: Path, size: str = "1m") -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mountpoint.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill_up(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it (remove it to free space)."""
    ballast = directory / "ballast"
    chunk = b"\0" * 65536
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as full:  # noqa: PT012 - until the disk says so
            while os.write(fd, chunk):
                pass
    finally:
        os.close(fd)
    assert full.value.errno == errno.ENOSPC
    return ballast


def no_aside(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if ".unreadable" in p.name]


async def test_a_full_disk_holds_the_rows_and_writes_them_when_space_is_freed(
    tmp_path: Path,
) -> None:
    with small_tmpfs(tmp_path / "state") as state:
        path = state / "history.sqlite"
        clock = Clock()
        store = HistoryStore(path, clock=clock)
        store.open()
        store.put(day(0))
        before = on_disk(path)
        ballast = fill_up(state)
        async with capture_logs() as logs:
            for i in range(1, 4):  # three more days while the disk is full
                store.put(day(48 * i))
            assert store.holding > 0
            during = on_disk(path)
            assert store.count() == 4 * 48  # held rows are served and counted
            assert len(store.between(T0, T0 + 10**7)) == 4 * 48
            no_aside(state)
            ballast.unlink()
            clock.past_the_backoff(10)
            store.retry()
        after = on_disk(path)
        assert (before, during, after) == (48, 48, 4 * 48)
        assert store.holding == 0
        messages = [m for _, m in logs.records]
        assert sum("disk full: holding" in m for m in messages) == 1, messages
        assert sum("written again" in m for m in messages) == 1, messages
        store.close()


async def test_a_full_disk_at_start_never_sets_a_good_store_aside(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "state") as state:
        path = state / "history.sqlite"
        first = HistoryStore(path)
        first.open()
        first.put(day(0))
        first.close()
        ballast = fill_up(state)
        clock = Clock()
        store = HistoryStore(path, clock=clock)  # a restart on the full disk
        store.open()
        store.put(day(48))
        assert store.count() == 96  # the good rows on disk and the held ones
        no_aside(state)
        ballast.unlink()
        clock.past_the_backoff(10)
        store.put(day(96, 1))
        assert on_disk(path) == 97
        store.close()


def test_an_injected_write_failure_is_held_not_set_aside(tmp_path: Path) -> None:
    """SQLite's page limit gives the very error a full card gives ("database or disk is
    full"): the readable store stays where it is and gets every row once space is back."""
    path = tmp_path / "history.sqlite"
    clock = Clock()
    store = HistoryStore(path, clock=clock)
    store.open()
    store.put(day(0))
    db = store._db
    assert db is not None
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")  # the "disk" is full
    store.put(day(48, 300))
    assert store.holding == 300
    store.put(day(348, 1))  # within the backoff: held, not tried
    assert store.count() == 349
    no_aside(tmp_path)
    assert on_disk(path) == 48
    db.execute("PRAGMA max_page_count=1073741823")  # space freed
    clock.past_the_backoff(10)
    store.retry()
    assert store.holding == 0
    assert on_disk(path) == 349
    store.close()


def test_the_backoff_is_the_ladder_s(tmp_path: Path) -> None:
    """No write is tried before the ladder's delay has passed, one is after it."""
    clock = Clock()
    store = HistoryStore(tmp_path / "history.sqlite", clock=clock)
    store.open()
    store.put(day(0, 1))
    db = store._db
    assert db is not None
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    store.put(day(1, 300))
    db.execute("PRAGMA max_page_count=1073741823")
    clock.now += STORE_WRITE_BACKOFF.initial * (1 - STORE_WRITE_BACKOFF.jitter) - 0.01
    store.retry()
    assert store.holding == 300
    clock.now += 2 * STORE_WRITE_BACKOFF.jitter + 0.02
    store.retry()
    assert store.holding == 0


async def test_a_removed_state_directory_is_recreated_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.sqlite"
    store = HistoryStore(path)
    store.open()
    store.put(day(0))
    shutil.rmtree(path.parent)  # a cleanup script
    async with capture_logs() as logs:
        store.put(day(48, 1))  # the next write notices
    assert on_disk(path) == 49  # the deleted file's rows too
    assert any("was removed while running" in m for _, m in logs.records), logs.records
    store.close()


def test_a_removed_state_directory_is_recreated_for_the_state_file(tmp_path: Path) -> None:
    from trio_smartmeter.core.address import MeterAddress

    path = tmp_path / "state" / "state.json"
    cache = AddressCache(path)
    address = MeterAddress(0x3B, 0x6393, GOOD_MAC, GOOD_IP)
    cache.save(address, None)
    shutil.rmtree(path.parent)
    cache.save(address, None)
    assert cache.load() == address


# -- paths that are not regular files -----------------------------------------------------
def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_char_device(path: Path) -> None:
    """A character device like /dev/null (needs CAP_MKNOD)."""
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError as exc:
        pytest.skip(f"cannot create a character device here: {exc}")


SPECIALS = pytest.mark.parametrize(
    "make", [make_fifo, make_char_device], ids=["FIFO", "character device"]
)


def returns_soon(fn: Callable[[], object]) -> object:
    """``fn()`` in a thread; fails (instead of hanging the suite) if it blocks."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(NO_HANG)
    assert not worker.is_alive(), f"{fn} blocked for {NO_HANG} s"
    return result[0]


@SPECIALS
async def test_a_store_path_that_is_not_a_regular_file_is_never_opened(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "history.sqlite"
    make(path)
    store = HistoryStore(path)
    async with capture_logs() as logs:
        returns_soon(store.open)
        returns_soon(lambda: store.put(day(0)))
    assert store.count() == 48  # kept in memory
    assert not stat.S_ISREG(os.lstat(path).st_mode)  # left as it was, not moved aside
    assert sorted(os.listdir(tmp_path)) == ["history.sqlite"]
    warnings = [m for level, m in logs.records if level == "WARNING"]
    assert len(warnings) == 1 and "not a regular file" in warnings[0], warnings


@SPECIALS
async def test_a_state_path_that_is_not_a_regular_file_is_never_opened(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "state.json"
    make(path)
    cache = AddressCache(path)
    async with capture_logs() as logs:
        assert returns_soon(cache.load) is None
        from trio_smartmeter.core.address import MeterAddress

        cache.save(MeterAddress(0x3B, 0x6393, GOOD_MAC, GOOD_IP), None)
    assert not stat.S_ISREG(os.lstat(path).st_mode)  # never replaced
    warnings = [m for level, m in logs.records if level == "WARNING"]
    assert len(warnings) == 1 and "not a regular file" in warnings[0], warnings


@SPECIALS
async def test_the_exporter_reads_the_meter_with_special_state_and_store_paths(
    tmp_path: Path, make: Callable[[Path], None], autojump_clock: trio.testing.MockClock
) -> None:
    state_file, store_file = tmp_path / "state.json", tmp_path / "history.sqlite"
    make(state_file)
    make(store_file)
    returns_soon(AddressCache(state_file).load)  # on main this blocks: fail, do not hang
    store = HistoryStore(store_file)
    async with capture_logs() as logs:
        returns_soon(store.open)
        async with trio.open_nursery() as nursery:
            rig = await start_rig(
                nursery, state_file=state_file, history=store, watch=False, seed=2
            )
            for _ in range(3):
                await rig.next_reading_after(trio.current_time(), limit=600)
            nursery.cancel_scope.cancel()
    warnings = [m for level, m in logs.records if "not a regular file" in m]
    assert len(warnings) == 2, warnings  # one line for each path


# -- the running exporter (virtual clock, a real small filesystem) ------------------------
INTERVAL = 60.0
#: A freed disk is written again once the ladder's delay has passed (the filler waits for
#: it between polls), whatever the interval; a poll in between may add its round trip.
RECOVERY_BOUND = STORE_WRITE_BACKOFF.worst(10) + 2.0


def record(case: str, **numbers: float) -> None:
    """For the reliability table: ``DISK_FAULTS_JSONL=file`` collects the measurements."""
    out = os.environ.get("DISK_FAULTS_JSONL")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"case": case, **numbers}) + "\n")


async def wait_for(predicate: Callable[[], bool], limit: float = 4 * 3600) -> float:
    with trio.fail_after(limit):
        while not predicate():
            await trio.sleep(1.0)
    return trio.current_time()


def meter_with_history(seed: int) -> SimulatedModule:
    meter = MeterConfig(start=datetime(2026, 12, 1, 9, 0), history_days=2)
    return SimulatedModule("bp35a1", seed=seed, meter=meter)


async def test_full_while_running_recovers_within_a_poll_of_freeing(
    tmp_path: Path, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    with small_tmpfs(tmp_path / "state") as state:
        path = state / "history.sqlite"
        store = HistoryStore(path, clock=trio.current_time)
        store.open()
        rig = await start_rig(nursery, module=meter_with_history(21), history=store, watch=False)
        await wait_for(lambda: rig.state.history_missing == 0)
        before = on_disk(path)
        ballast = fill_up(state)
        await trio.sleep(3 * 1800)  # half-hour pushes while the disk is full
        during = on_disk(path)
        held = store.holding
        assert held >= 2 and store.count() == before + held
        ballast.unlink()
        freed = trio.current_time()
        written = await wait_for(lambda: store.holding == 0)
        after = on_disk(path)
        no_aside(state)
        record("full while running", before=before, during=during, after=after, s=written - freed)
        assert during == before and after >= before + held  # later pushes were held too
        assert store.count() == after
        assert written - freed <= RECOVERY_BOUND
        rig.supervisor.request_stop()


async def test_full_at_start_recovers_within_a_poll_of_freeing(
    tmp_path: Path, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    with small_tmpfs(tmp_path / "state") as state:
        path = state / "history.sqlite"
        first = HistoryStore(path)
        first.open()
        first.put(day(-2000, 48))  # good rows of an earlier run (older than the meter's)
        first.close()
        ballast = fill_up(state)
        store = HistoryStore(path, clock=trio.current_time)
        store.open()
        rig = await start_rig(nursery, module=meter_with_history(22), history=store, watch=False)
        await wait_for(lambda: rig.state.history_missing == 0 and store.holding > 0)
        await trio.sleep(600)
        before = on_disk(path)
        held = store.holding
        ballast.unlink()
        freed = trio.current_time()
        written = await wait_for(lambda: store.holding == 0)
        after = on_disk(path)
        no_aside(state)
        record("full at start", before=before, during=before, after=after, s=written - freed)
        assert (before, after) == (48, 48 + held)
        assert written - freed <= RECOVERY_BOUND
        rig.supervisor.request_stop()


async def test_a_removed_directory_is_back_within_a_poll(
    tmp_path: Path, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "state" / "history.sqlite"
    store = HistoryStore(path, clock=trio.current_time)
    store.open()
    rig = await start_rig(nursery, module=meter_with_history(23), history=store, watch=False)
    await wait_for(lambda: rig.state.history_missing == 0)
    before = on_disk(path)
    shutil.rmtree(path.parent)
    removed = trio.current_time()
    back = await wait_for(lambda: path.exists() and store.holding == 0)
    after = on_disk(path)
    record("directory removed", before=before, during=0, after=after, s=back - removed)
    assert after >= before
    assert back - removed <= INTERVAL + 1
    rig.supervisor.request_stop()
