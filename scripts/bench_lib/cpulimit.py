"""A CPU quota for one process tree: a Raspberry Pi Zero is about ten times slower than
the machines we measure on, so the exporter is held to a share of one core.

cgroup v2 (``cpu.max``) where the machine has it, else cgroup v1 (``cpu.cfs_quota_us``);
the group is created here and removed afterwards. Without either (no root, no cgroup
filesystem) :func:`available` says why, and the Pi-class section says so plainly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

V2_ROOT = Path("/sys/fs/cgroup")
V1_CPU = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


def available() -> str | None:
    """None when a quota can be set here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not root: cannot create a cgroup"
    if (V2_ROOT / "cgroup.controllers").exists():
        if "cpu" not in (V2_ROOT / "cgroup.controllers").read_text().split():
            return "cgroup v2 without the cpu controller"
        return None
    if (V1_CPU / "cpu.cfs_quota_us").exists():
        return None
    return "no cgroup cpu controller mounted"


@contextlib.contextmanager
def quota(percent: int, name: str) -> Iterator[Path]:
    """A cgroup holding its members to ``percent`` % of one core; yields its procs file."""
    quota_us = PERIOD_US * percent // 100
    if (V2_ROOT / "cgroup.controllers").exists():
        group = V2_ROOT / name
        group.mkdir()
        (group / "cpu.max").write_text(f"{quota_us} {PERIOD_US}\n")
    else:
        group = V1_CPU / name
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
        (group / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
    try:
        yield group / "cgroup.procs"
    finally:
        parent = group.parent / "cgroup.procs"
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # gone meanwhile
                parent.write_text(pid + "\n")
        group.rmdir()


def wrap(argv: list[str], procs: Path) -> list[str]:
    """``argv`` run inside the group from its first instruction (exec after joining)."""
    return ["sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *argv]
