"""The half-hour store: durable, bounded, merging, and rebuilt rather than crashing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.service.history_store import RETENTION_SECONDS, SLOT_SECONDS, HistoryStore

T0 = 1_796_050_800  # 2026-12-01 00:00 JST


def slot(i: int, forward: int | None = 100, reverse: int | None = None) -> HalfHour:
    joules = None if forward is None else Decimal(forward) * 360_000
    return HalfHour(T0 + i * SLOT_SECONDS, forward, reverse, joules, None)


def test_rows_survive_a_reopen(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    store.open()
    assert store.put([slot(0), slot(1, 101)]) == 2
    store.close()
    again = HistoryStore(tmp_path / "history.sqlite")
    again.open()
    assert again.between(T0, T0 + SLOT_SECONDS) == [slot(0), slot(1, 101)]
    assert again.count() == 2


def test_a_value_already_known_is_kept_where_a_new_row_has_none() -> None:
    store = HistoryStore(None)
    store.open()
    store.put([slot(0, 100, reverse=7)])
    store.put([slot(0, 100, reverse=None)])  # a live EA without EB
    assert store.between(T0, T0)[0].reverse_raw == 7
    store.put([slot(0, 100, reverse=8)])
    assert store.between(T0, T0)[0].reverse_raw == 8


def test_known_slots_and_missing_values() -> None:
    store = HistoryStore(None)
    store.open()
    store.put([slot(0), slot(1, None), slot(3)])
    assert store.known(T0, T0 + 3 * SLOT_SECONDS) == {T0, T0 + 3 * SLOT_SECONDS}
    assert store.count() == 2


def test_older_than_the_retention_is_pruned() -> None:
    store = HistoryStore(None)
    store.open()
    store.put([slot(0)])
    newest = RETENTION_SECONDS // SLOT_SECONDS + 1
    store.put([slot(newest)])
    assert store.count() == 1
    assert store.between(0, 2**40) == [slot(newest)]


def test_an_unreadable_store_is_set_aside_and_started_anew(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = HistoryStore(path)
    store.open()
    assert store.count() == 0
    store.put([slot(0)])
    assert store.count() == 1
    assert (tmp_path / "history.sqlite.unreadable").read_bytes().startswith(b"this is not")


def test_an_unusable_directory_keeps_the_store_in_memory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = HistoryStore(tmp_path / "file" / "history.sqlite")
    store.open()
    store.put([slot(0)])
    assert store.count() == 1
    assert store.path is None


def test_one_frame_of_48_half_hours_is_one_commit(tmp_path: Path) -> None:
    """One transaction per meter frame: the WAL grows by one commit's pages (one
    fdatasync), not by a page and a sync per half-hour (48 on the SD card)."""
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    store.open()
    store.put([slot(0)])
    wal = Path(f"{path}-wal")
    before = wal.stat().st_size
    store.put([slot(i, 100 + i) for i in range(1, 49)])
    frame = 24 + 4096  # a WAL frame: its header and one page
    assert wal.stat().st_size - before <= 2 * frame
    assert store.count() == 49
