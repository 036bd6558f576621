"""The state file: the meter's address cached across restarts, so a restart skips the scan.

Never a reason to stop: an unreadable or invalid file is one warning and is ignored;
a write that fails is one warning and the service goes on (the next good join tries
again).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from loguru import logger

from trio_smartmeter.core.address import MeterAddress, StateFileError, decode_state, encode_state
from trio_smartmeter.core.skstack import Dialect
from trio_smartmeter.service.durable import write_atomic


class AddressCache:
    """The state file at ``path``; ``None`` = no caching."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> MeterAddress | None:
        path = self.path
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read state file {}: {}", path, exc.strerror or exc)
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
        if self.path is None:
            return
        try:
            write_atomic(self.path, encode_state(address, dialect))
        except OSError as exc:
            logger.warning("cannot write state file {}: {}", self.path, exc.strerror or exc)

    def forget(self) -> None:
        if self.path is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        except OSError as exc:
            logger.warning("cannot remove state file {}: {}", self.path, exc.strerror or exc)
