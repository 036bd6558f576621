"""The state file: the meter's address cached across restarts, so a restart skips the scan.

Never a reason to stop: an unreadable or invalid file is one warning and is ignored;
a write that fails is one warning and the service goes on (the next good join tries
again). A path that is not a regular file (a FIFO, a device, a symlink) is never opened
nor replaced — a FIFO would block the start for good — and is said once. A state
directory removed while running is recreated at the next write, and said.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from loguru import logger

from trio_smartmeter.core.address import MeterAddress, StateFileError, decode_state, encode_state
from trio_smartmeter.core.skstack import Dialect
from trio_smartmeter.i18n import _
from trio_smartmeter.service.durable import write_atomic

#: Far beyond any state file (a few hundred bytes): a bigger one is not ours.
MAX_STATE_BYTES = 64 * 1024


class AddressCache:
    """The state file at ``path``; ``None`` = no caching."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._refused: str | None = None  # why the path is not used (said once)

    def load(self) -> MeterAddress | None:
        path = self.path
        if path is None:
            return None
        try:
            data = self._read(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if self._special(path):  # a symlink (O_NOFOLLOW: ELOOP), said once
                return None
            logger.warning("cannot read state file {}: {}", path, exc.strerror or exc)
            return None
        if data is None:
            return None
        try:
            address, _dialect = decode_state(data)
        except StateFileError as exc:
            logger.warning("ignoring state file {}: {}", path, exc)
            return None
        # The cached dialect is informative only: detection is cheap and authoritative.
        logger.info("using cached meter address from {} (skipping the scan)", path)
        return address

    def save(self, address: MeterAddress, dialect: Dialect | None) -> None:
        if self.path is None or self._special(self.path):
            return
        parent = self.path.parent
        recreated = not parent.exists()
        try:
            write_atomic(self.path, encode_state(address, dialect))
        except OSError as exc:
            logger.warning(
                "{}",
                _("cannot write state file {path}: {reason}").format(
                    path=self.path, reason=exc.strerror or exc
                ),
            )
            return
        if recreated:
            logger.warning("state directory {} was missing: recreated it for {}", parent, self.path)

    def forget(self) -> None:
        if self.path is None or self._special(self.path):
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        except OSError as exc:
            logger.warning("cannot remove state file {}: {}", self.path, exc.strerror or exc)

    def _read(self, path: Path) -> bytes | None:
        """The file's bytes; None (and one warning) when it is not a regular file. Opened
        non-blocking and without following a symlink, so a FIFO cannot hang the start."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if self._special(path, os.fstat(fd).st_mode):
                return None
            return f.read(MAX_STATE_BYTES + 1)

    def _special(self, path: Path, mode: int | None = None) -> bool:
        """True (said once) when ``path`` exists and is not a regular file."""
        if mode is None:
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return False
        if stat.S_ISREG(mode):
            return False
        kind = _kind(mode)
        if self._refused != kind:
            self._refused = kind
            logger.warning(
                "state file {} is {}, not a regular file: not used (the meter is scanned"
                " for; give a regular file's path)",
                path,
                kind,
            )
        return True


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"
