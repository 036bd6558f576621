"""The durable store of half-hour registers: what the meter measured, whether it arrived
live (the EA/EB values) or was read back from the meter's own history after a gap.

SQLite from the standard library, in WAL mode with full synchronisation: a commit is on
the card before ``put`` returns, and a power cut loses at most the write in flight, never
the file. One row per half-hour (100 days are ~4 800 rows, a few hundred KiB); older rows
are pruned past the meter's own 99 days. A store that cannot be read is moved aside and
started anew: the meter still holds the data, so it is read back, never a crash.

The store is blocking I/O: the service calls it from worker threads, one at a time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from trio_smartmeter.core.model import HalfHour

#: Kept this long past the newest slot (the meter's history 1 reaches 99 days back).
RETENTION_SECONDS = 100 * 86400
SLOT_SECONDS = 1800

_SCHEMA = """
CREATE TABLE IF NOT EXISTS half_hours (
    end_unix INTEGER PRIMARY KEY,   -- the slot's end, from the meter's clock (JST)
    forward_raw INTEGER,            -- the register as the meter gives it (NULL: no data)
    reverse_raw INTEGER,
    forward_joules TEXT,            -- raw x coefficient x unit, exact (Decimal)
    reverse_joules TEXT
) WITHOUT ROWID;
"""


_BETWEEN = "SELECT * FROM half_hours WHERE end_unix >= ? AND end_unix <= ? ORDER BY end_unix"


class HistoryStore:
    def __init__(self, path: Path | None) -> None:
        """``path`` None keeps the store in memory (no state directory)."""
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # callers use worker threads: one at a time here

    def open(self) -> None:
        """Open or create the store; one that cannot be read is moved aside."""
        with self._lock:
            try:
                self._db = self._connect()
            except (sqlite3.DatabaseError, OSError) as exc:
                self._set_aside(exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def put(self, rows: Iterable[HalfHour]) -> int:
        """Store ``rows`` (a value already known is kept where a row has none)."""
        params = [
            (
                r.end_unix,
                r.forward_raw,
                r.reverse_raw,
                _text(r.forward_joules),
                _text(r.reverse_joules),
            )
            for r in rows
        ]
        if not params:
            return 0
        self._run(
            lambda db: db.executemany(
                "INSERT INTO half_hours VALUES (?, ?, ?, ?, ?) ON CONFLICT(end_unix) DO UPDATE"
                " SET forward_raw = coalesce(excluded.forward_raw, forward_raw),"
                " reverse_raw = coalesce(excluded.reverse_raw, reverse_raw),"
                " forward_joules = coalesce(excluded.forward_joules, forward_joules),"
                " reverse_joules = coalesce(excluded.reverse_joules, reverse_joules)",
                params,
            )
        )
        newest = max(p[0] for p in params)
        self._run(
            lambda db: db.execute(
                "DELETE FROM half_hours WHERE end_unix < ?", (newest - RETENTION_SECONDS,)
            )
        )
        return len(params)

    def between(self, since_unix: float, until_unix: float) -> list[HalfHour]:
        """Slots that end in ``[since, until]``, oldest first."""
        return _half_hours(self._query(_BETWEEN, (since_unix, until_unix)))

    @staticmethod
    def read_between(path: Path, since_unix: float, until_unix: float) -> list[HalfHour]:
        """:meth:`between` from another process, on the file read-only: a running exporter
        is never disturbed, and a store that cannot be read is left as it is for the
        exporter to set aside (raises ``sqlite3.Error``)."""
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return _half_hours(db.execute(_BETWEEN, (since_unix, until_unix)).fetchall())
        finally:
            db.close()

    def known(self, since_unix: float, until_unix: float) -> set[int]:
        """End times of the slots in ``[since, until]`` that have a forward value."""
        rows = self._query(
            "SELECT end_unix FROM half_hours WHERE end_unix >= ? AND end_unix <= ?"
            " AND forward_raw IS NOT NULL",
            (since_unix, until_unix),
        )
        return {r[0] for r in rows}

    def count(self) -> int:
        rows = self._query("SELECT count(*) FROM half_hours WHERE forward_raw IS NOT NULL", ())
        return rows[0][0] if rows else 0

    # -- plumbing ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self.path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        db.execute("SELECT count(*) FROM half_hours").fetchone()  # reads the whole header
        return db

    def _set_aside(self, exc: BaseException) -> None:
        """A store that cannot be read: keep it for a person to look at, start anew."""
        self.close()
        if self.path is not None:
            aside = self.path.with_name(self.path.name + ".unreadable")
            logger.warning(
                "history store {} cannot be read ({}): moved to {}, starting anew (the meter"
                " still has the data)",
                self.path,
                exc,
                aside,
            )
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    src.replace(Path(str(aside) + suffix))
        try:
            self._db = self._connect()
        except (sqlite3.DatabaseError, OSError) as again:
            logger.warning("history store kept in memory only: {}", again)
            self.path = None
            self._db = self._connect()

    def _run(self, op: Callable[[sqlite3.Connection], object]) -> None:
        with self._lock:
            try:
                op(self._ensure())
            except sqlite3.DatabaseError as exc:
                self._set_aside(exc)
                op(self._ensure())

    def _query(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        with self._lock:
            try:
                return list(self._ensure().execute(sql, params).fetchall())
            except sqlite3.DatabaseError as exc:
                self._set_aside(exc)
                return list(self._ensure().execute(sql, params).fetchall())

    def _ensure(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db


def _half_hours(rows: Iterable[Any]) -> list[HalfHour]:
    return [HalfHour(e, fr, rr, _decimal(fj), _decimal(rj)) for e, fr, rr, fj, rj in rows]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))
