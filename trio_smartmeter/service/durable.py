"""Durable files: written whole or not at all, and still there after a power cut.

On a Raspberry Pi an SD card losing power is the normal failure, and a rename alone is
not durable: the data and the directory entry must both reach the card. ``write_atomic``
writes a temporary file beside the target, fsyncs it, renames it over the target and
fsyncs the directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically and durably; raises ``OSError``.

    Nothing is left behind on failure: the temporary file is removed. A parent that is
    not a directory, or a target that is one, fails with a message that says so.
    """
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(f"{parent} is not a directory")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
