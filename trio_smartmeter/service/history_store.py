"""The durable store of half-hour registers: what the meter measured, whether it arrived
live (the EA/EB values) or was read back from the meter's own history after a gap.

SQLite from the standard library, in WAL mode with full synchronisation: one transaction
per ``put`` (a meter frame, a live push), on the card before ``put`` returns; a power cut
loses at most the write in flight, never the file. One row per half-hour (100 days are
~4 800 rows, a few hundred KiB); older rows are pruned past the meter's own 99 days.

What goes wrong on a Raspberry Pi, and what the store does:

* a store that cannot be *read* (not a database, malformed) is moved aside and started
  anew: the meter still holds the data, so it is read back, never a crash;
* a write that fails (the SD card is full, an I/O error) is not an unreadable file: the
  rows are held in memory (served and counted as stored) and written again after the
  ladder's :data:`~trio_smartmeter.core.recovery.STORE_WRITE_BACKOFF`, one log line when
  holding starts and one when the rows are on disk again;
* the file or its directory removed while running is noticed at the next write: the rows
  of the deleted file (still open) are kept, the directory and the store are recreated;
* a path that is not a regular file (a FIFO, a device, a symlink) is never opened: the
  store is kept in memory only, with one line that says why.

The store is blocking I/O: the service calls it from worker threads, one at a time.
"""

from __future__ import annotations

import errno
import os
import random
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.recovery import STORE_WRITE_BACKOFF, Backoff
from trio_smartmeter.i18n import _

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
_UPSERT = (
    "INSERT INTO half_hours VALUES (?, ?, ?, ?, ?) ON CONFLICT(end_unix) DO UPDATE"
    " SET forward_raw = coalesce(excluded.forward_raw, forward_raw),"
    " reverse_raw = coalesce(excluded.reverse_raw, reverse_raw),"
    " forward_joules = coalesce(excluded.forward_joules, forward_joules),"
    " reverse_joules = coalesce(excluded.reverse_joules, reverse_joules)"
)
#: A row as stored: (end_unix, forward_raw, reverse_raw, forward_joules, reverse_joules).
Row = tuple[int, int | None, int | None, str | None, str | None]


class NotRegularFile(OSError):
    """A store path that is a FIFO, a device, a directory or a symlink: never opened."""


_BETWEEN = "SELECT * FROM half_hours WHERE end_unix >= ? AND end_unix <= ? ORDER BY end_unix"


class HistoryStore:
    def __init__(
        self,
        path: Path | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff = STORE_WRITE_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        """``path`` None keeps the store in memory (no state directory)."""
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()  # callers use worker threads: one at a time here
        self._clock = clock
        self._backoff = backoff
        self._rng = rng if rng is not None else random.Random()
        self._held: dict[int, Row] = {}  # written to no disk yet
        self._failures = 0  # failed writes since the last one that succeeded
        self._retry_at = 0.0
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        #: Called after each :meth:`put` (from the putting thread; each must return at
        #: once): the bill keeper recomputes from the store when it changes.
        self.changed: list[Callable[[], None]] = []

    @property
    def holding(self) -> int:
        """Half-hours held in memory because the disk could not take them (yet)."""
        return len(self._held)

    def open(self) -> None:
        """Open or create the store; one that cannot be read is moved aside, one that
        cannot be written now is opened at the next write."""
        with self._lock:
            try:
                self._db = self._connect()
            except (NotRegularFile, NotADirectoryError, FileExistsError) as exc:
                self._memory_only(exc)
            except (sqlite3.OperationalError, OSError) as exc:  # a full disk, a lock
                self._write_failed(exc)
            except sqlite3.DatabaseError as exc:
                self._set_aside(exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def put(self, rows: Iterable[HalfHour]) -> int:
        """Store ``rows`` in one transaction (a value already known is kept where a row
        has none); rows the disk cannot take now are held and written later."""
        new = [
            (
                r.end_unix,
                r.forward_raw,
                r.reverse_raw,
                _text(r.forward_joules),
                _text(r.reverse_joules),
            )
            for r in rows
        ]
        with self._lock:
            for row in new:
                self._held[row[0]] = _merge(self._held.get(row[0]), row)
            if self._held:
                oldest_kept = max(self._held) - RETENTION_SECONDS
                self._held = {e: r for e, r in self._held.items() if e >= oldest_kept}
            self.retry()
        for notify in self.changed:
            notify()
        return len(new)

    def retry_in(self) -> float:
        """Seconds until the next write of held rows may be tried (the ladder's backoff)."""
        return max(0.0, self._retry_at - self._clock())

    def retry(self) -> None:
        """Write the rows held in memory, if any and the backoff has run out; a store
        removed since it was opened is recreated now (a stat: cheap at every poll)."""
        with self._lock:
            if self._db is not None and self.path is not None and not self._still_there():
                self._rescue()
                self._retry_at = 0.0
            if not self._held or self._clock() < self._retry_at:
                return
            try:
                self._write_held()
            except (sqlite3.OperationalError, OSError) as exc:  # a full disk, a lock
                self._write_failed(exc)
            except sqlite3.DatabaseError as exc:
                self._set_aside(exc)
                try:
                    self._write_held()
                except (sqlite3.Error, OSError) as again:
                    self._write_failed(again)

    def between(self, since_unix: float, until_unix: float) -> list[HalfHour]:
        """Slots that end in ``[since, until]``, oldest first (held ones included)."""
        return _half_hours(self._rows(since_unix, until_unix))

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
        return {r[0] for r in self._rows(since_unix, until_unix) if r[1] is not None}

    def complete(self, since_unix: float, until_unix: float, *, reverse: bool) -> set[int]:
        """End times of the slots in ``[since, until]`` that have every direction the
        meter measures (forward, and reverse with ``reverse``); the others are missing."""
        return {
            r[0]
            for r in self._rows(since_unix, until_unix)
            if r[1] is not None and (r[2] is not None or not reverse)
        }

    def oldest(self) -> int | None:
        """The end of the oldest slot stored (any direction)."""
        return min((r[0] for r in self._rows(0, 2**62)), default=None)

    def count(self) -> int:
        return len(self.known(0, 2**62))

    # -- writing ---------------------------------------------------------------------------
    def _write_held(self) -> None:
        db = self._current()
        rows = sorted(self._held.values())
        newest = rows[-1][0]
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_UPSERT, rows)
            db.execute("DELETE FROM half_hours WHERE end_unix < ?", (newest - RETENTION_SECONDS,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._held.clear()
        if self._failures:
            logger.info("history store {} written again: {} half-hours", self.path, len(rows))
        self._failures, self._retry_at = 0, 0.0

    def _current(self) -> sqlite3.Connection:
        """The open store, reopened (and recreated with its directory) when its file was
        removed or replaced since it was opened."""
        if self._db is not None and self.path is not None and not self._still_there():
            self._rescue()
        if self._db is None:
            self._db = self._connect()
        return self._db

    def _rescue(self) -> None:
        """The store's file was removed (or replaced): its rows, still readable through
        the open connection, are held for the new file, and the deleted one is let go."""
        rescued = self._all_rows()
        self.close()
        for row in rescued:
            held = self._held.get(row[0])
            self._held[row[0]] = row if held is None else _merge(row, held)
        logger.warning(
            "history store {} was removed while running: recreating it (and its directory)"
            " with the {} half-hours known",
            self.path,
            len(self._held),
        )

    def _still_there(self) -> bool:
        assert self.path is not None
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == self._identity

    def _write_failed(self, exc: BaseException) -> None:
        delay = self._backoff.delay(self._failures, self._rng)
        self._failures += 1
        self._retry_at = self._clock() + delay
        if self._failures == 1:
            full = getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or (
                isinstance(exc, OSError) and exc.errno == errno.ENOSPC
            )
            if full:
                logger.warning(
                    "{}",
                    _(
                        "disk full: holding {count} half-hours in memory until the history "
                        "store {path} can be written; free some space on its disk (readings go "
                        "on)"
                    ).format(count=len(self._held), path=self.path),
                )
            else:
                logger.warning(
                    "cannot write the history store ({}): holding {} half-hours in memory until "
                    "the history store {} can be written",
                    exc,
                    len(self._held),
                    self.path,
                )
        else:
            logger.debug("history store still not writable ({}): next try in {:.0f} s", exc, delay)

    # -- reading ---------------------------------------------------------------------------
    def _rows(self, since_unix: float, until_unix: float) -> list[Row]:
        with self._lock:
            stored = {r[0]: r for r in self._query(since_unix, until_unix)}
            for end, row in self._held.items():
                if since_unix <= end <= until_unix:
                    stored[end] = _merge(stored.get(end), row)
            return [stored[end] for end in sorted(stored)]

    def _query(self, since_unix: float, until_unix: float) -> list[Row]:
        sql = _BETWEEN
        try:
            if self._db is None:
                self._db = self._connect()
            return list(self._db.execute(sql, (since_unix, until_unix)).fetchall())
        except (sqlite3.OperationalError, OSError) as exc:
            logger.debug("history store not writable now ({}): read as it is", exc)
            return self._read_only(sql, (since_unix, until_unix))
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            return []

    def _read_only(self, sql: str, params: tuple[float, float]) -> list[Row]:
        """The rows of a store that cannot be opened for writing (a full disk at start:
        SQLite cannot even create its shared-memory file), read as the file is."""
        if self.path is None or not self.path.is_file():
            return []
        uri = f"file:{urllib.parse.quote(str(self.path))}?immutable=1"
        try:
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            try:
                return list(db.execute(sql, params).fetchall())
            finally:
                db.close()
        except sqlite3.Error:
            return []  # the held rows are what is known until the disk is back

    def _all_rows(self) -> list[Row]:
        try:
            return self._query(0, 2**62)
        except sqlite3.Error:
            return []

    # -- opening ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            target = ":memory:"
        else:
            target = str(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                _refuse_special(Path(target + suffix))
        db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM half_hours").fetchone()  # reads the whole header
        except BaseException:
            db.close()
            raise
        if self.path is not None:
            st = os.lstat(self.path)
            self._identity = (st.st_dev, st.st_ino)
        return db

    def _memory_only(self, exc: BaseException) -> None:
        logger.warning("history store kept in memory only: {}", exc)
        self.close()
        self.path = None
        self._db = self._connect()

    def _set_aside(self, exc: BaseException) -> None:
        """A store that cannot be read: keep it for a person to look at, start anew."""
        self.close()
        if self.path is not None:
            aside = self.path.with_name(self.path.name + ".unreadable")
            logger.warning(
                "{}",
                _(
                    "history store {path} cannot be read ({error}): moved to {aside}, starting "
                    "anew (the meter still has the data)"
                ).format(path=self.path, error=exc, aside=aside),
            )
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    src.replace(Path(str(aside) + suffix))
        try:
            self._db = self._connect()
        except (sqlite3.DatabaseError, OSError) as again:
            self._memory_only(again)


def _refuse_special(path: Path) -> None:
    """Raise :class:`NotRegularFile` when ``path`` exists and is not a regular file:
    SQLite would block on a FIFO for good and write into a device."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotRegularFile(f"{path} is {_kind(mode)}, not a regular file")


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISLNK: "a symbolic link",
        stat.S_ISDIR: "a directory",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def _merge(old: Row | None, new: Row) -> Row:
    """``new`` where it has a value, ``old`` elsewhere (the store's coalesce)."""
    if old is None:
        return new
    return (
        new[0],
        *(n if n is not None else o for o, n in zip(old[1:], new[1:], strict=True)),
    )  # type: ignore[return-value]


def _half_hours(rows: Iterable[Any]) -> list[HalfHour]:
    return [HalfHour(e, fr, rr, _decimal(fj), _decimal(rj)) for e, fr, rr, fj, rj in rows]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


__all__ = ["RETENTION_SECONDS", "SLOT_SECONDS", "HistoryStore", "NotRegularFile"]
