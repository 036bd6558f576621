"""A Debian bookworm container with systemd as PID 1, for running the packaged unit for real.

The root file system is made with mmdebstrap (like the bases of scripts/container-smoke)
and cached: the tarball under ``~/.cache/trio-smartmeter`` (``XDG_CACHE_HOME``), imported as
a podman image whose tag carries a digest of how it is made, so a changed package list makes
a new one and an unchanged one costs nothing. The container runs with ``--network none``;
the wheel and its dependencies arrive as a wheelhouse made outside (``pip wheel`` and
``pip download`` for the container's Python), mounted at ``/wheels``.

Host quirks (docs/stack.md §6): podman runs with runc and explicit ulimits; the unit's
sandboxing (mount namespaces) needs ``--privileged``, or it fails with status 226.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
MIRROR = os.environ.get("SMARTMETER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,pipx"
MMDEBSTRAP_OPTS = (
    "--variant=minbase",
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    f"--include={PACKAGES}",
    '--aptopt=Acquire::Retries "3"',
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
)
PODMAN = ("podman", "--runtime", "runc")
#: bookworm's Python, for the wheelhouse's compiled wheels (PyYAML, bcrypt).
CONTAINER_PYTHON = "3.11"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trio-smartmeter"


def missing_tools() -> str | None:
    """Why this host cannot run the container, or None."""
    if sys.platform != "linux":
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (rootful podman: systemd in a --privileged container)"
    for tool in ("podman", "runc", "mmdebstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/system-deps installs it as root on Debian)"
    return None


def run(
    *argv: str, timeout: float = 120, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc


def debian_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "armv6l": "armel"}[machine]


def systemd_image() -> str:
    """The podman image of the systemd rootfs: imported from the cached tarball, made once."""
    key = hashlib.sha256("\n".join((SUITE, debian_arch(), MIRROR, *MMDEBSTRAP_OPTS)).encode())
    tag = f"localhost/trio-smartmeter-systemd:{SUITE}-{key.hexdigest()[:12]}"
    if run(*PODMAN, "image", "exists", tag, check=False).returncode == 0:
        return tag
    tarball = cache_dir() / f"systemd-{SUITE}-{debian_arch()}-{key.hexdigest()[:12]}.tar"
    if not tarball.is_file():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        part = tarball.with_suffix(".part")
        mirrors = [f"deb {MIRROR} {SUITE} main", f"deb {MIRROR} {SUITE}-updates main"]
        run(
            "mmdebstrap", "--quiet", "--format=tar", f"--architectures={debian_arch()}",
            *MMDEBSTRAP_OPTS, SUITE, str(part), *mirrors, timeout=900,
        )  # fmt: skip
        part.rename(tarball)
    run(*PODMAN, "import", "--quiet", "--change", 'CMD ["/sbin/init"]', str(tarball), tag)
    return tag


def build_requires() -> list[str]:
    """pyproject.toml's build-system requirements: `pipx install .` builds offline too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requires: list[str] = config["build-system"]["requires"]
    return requires


def wheelhouse(into: Path) -> Path:
    """The project's wheel and every dependency (plus pip, setuptools and wheel, which pipx
    upgrades in its shared venv, and the build requirements) for the container's Python:
    what a machine without network needs to run the README's pipx commands."""
    into.mkdir(parents=True, exist_ok=True)
    into.chmod(0o755)  # pytest's 0700 would keep the container's non-root user out
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "wheel", "-q", "--no-deps", "-w", str(into), str(ROOT), timeout=300)
    (wheel,) = into.glob("trio_smartmeter-*.whl")
    machine = platform.machine()
    tags = [f"--platform=manylinux_2_{v}_{machine}" for v in (36, 28, 17)]
    tags.append(f"--platform=manylinux2014_{machine}")
    run(
        *pip, "download", "-q", "--only-binary=:all:", f"--python-version={CONTAINER_PYTHON}",
        "--implementation=cp", f"--abi=cp{CONTAINER_PYTHON.replace('.', '')}", *tags,
        "-d", str(into), str(wheel), "pip", "setuptools", "wheel", *build_requires(), timeout=300,
    )  # fmt: skip
    return into


class SystemdContainer:
    """One booted container; commands run in it with ``podman exec``."""

    def __init__(self, image: str, wheels: Path) -> None:
        self.name = f"trio-smartmeter-systemd-{os.getpid()}"
        run(
            *PODMAN, "run", "-d", "--rm", "--name", self.name, "--privileged",
            "--systemd=always", "--ulimit", "nofile=1024:20000", "--ulimit", "nproc=1000:1000",
            "--network", "none", "-v", f"{wheels}:/wheels:ro", image, "/sbin/init",
        )  # fmt: skip

    def sh(self, script: str, *, env: dict[str, str] | None = None, check: bool = True,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
        envs = [f"--env={k}={v}" for k, v in (env or {}).items()]
        return run(*PODMAN, "exec", "-w", "/wheels", *envs, self.name, "sh", "-c", script,
                   timeout=timeout, check=check)  # fmt: skip

    def python(self, script: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
        """The container's python3 running ``script`` (from stdin)."""
        return run(*PODMAN, "exec", "-i", self.name, "python3", "-", stdin=script,
                   timeout=timeout, check=False)  # fmt: skip

    def wait_booted(self, deadline: float = 60) -> None:
        end = time.monotonic() + deadline
        while True:
            state = self.sh("systemctl is-system-running --wait", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            if time.monotonic() > end:
                raise AssertionError(f"systemd did not boot in {deadline} s (state {state!r})")
            time.sleep(0.5)  # systemd's bus socket is not there yet

    def remove(self) -> None:
        run(*PODMAN, "rm", "-f", "-t", "5", self.name, check=False)
