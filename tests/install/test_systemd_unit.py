"""The README's "pipx + systemd" recipe, run as written under a real systemd.

A Debian bookworm container boots systemd as PID 1 (tests/install/systemd_container.py);
the README's commands run in it (``sudo`` dropped: the container is root; pip pointed at
the mounted wheelhouse: the container has no network), with ``SMARTMETER_DEVICE=sim:bp35a1``
in the env file. Then, from outside: the service runs as a dynamic user, serves a reading
with the ``process_*`` series, keeps its state in ``/var/lib/trio-smartmeter``, survives a
restart, ends the meter's session with SKTERM on stop, and ``systemd-analyze security``
scores it no worse than the unit with ``ProcSubset=pid`` did (1.5).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from .systemd_container import (
    PODMAN,
    ROOT,
    SystemdContainer,
    missing_tools,
    systemd_image,
    wheelhouse,
)

README = ROOT / "README.md"
UNIT = ROOT / "trio_smartmeter" / "deploy" / "trio-smartmeter.service"
#: ``systemd-analyze security trio-smartmeter`` of the unit with ProcSubset=pid (systemd 252).
SECURITY_EXPOSURE_BEFORE = 1.5
#: systemd's range for DynamicUser= uids.
DYNAMIC_UIDS = range(61184, 65520)
READING_DEADLINE = 60.0

pytestmark = pytest.mark.slow


def readme_systemd_commands() -> list[str]:
    """The shell lines of the README's block after "**pipx + systemd.**"."""
    text = README.read_text()
    start = text.index("**pipx + systemd.**")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.DOTALL)
    assert block, "no ```sh block after **pipx + systemd.**"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    return [line for line in lines if not line.lstrip().startswith("#")]


def pipx_bin_dir() -> str:
    (install,) = [line for line in readme_systemd_commands() if "pipx install" in line]
    match = re.search(r"PIPX_BIN_DIR=(\S+)", install)
    assert match, install
    return match.group(1)


def test_the_unit_starts_what_the_readme_installs() -> None:
    unit = UNIT.read_text()
    assert re.findall(r"^ExecStart=(.*)$", unit, re.M) == [f"{pipx_bin_dir()}/trio-smartmeter"]
    # ProcSubset=pid hides /proc/stat and /proc/locks: no process_* series, no lock holder.
    assert not re.search(r"^ProcSubset=", unit, re.M)


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemdContainer]:
    reason = missing_tools()
    if reason:
        pytest.skip(f"systemd container: {reason}")
    t0 = time.monotonic()
    image = systemd_image()
    wheels = wheelhouse(tmp_path_factory.mktemp("wheels"))
    box = SystemdContainer(image, wheels)
    try:
        box.wait_booted()
        print(f"systemd container booted in {time.monotonic() - t0:.1f} s")
        yield box
    finally:
        box.remove()


def metrics(box: SystemdContainer, *, want: tuple[str, ...]) -> str:
    """/metrics from inside the container once every series in ``want`` has a sample."""
    script = f"""
import re, sys, time, urllib.request
end = time.monotonic() + {READING_DEADLINE}
body = ""
while time.monotonic() < end:
    try:
        body = urllib.request.urlopen("http://127.0.0.1:9102/metrics", timeout=3).read().decode()
    except OSError:
        body = ""
    if all(re.search("^" + name + r"(\\{{.*\\}})? ", body, re.M) for name in {want!r}):
        print(body)
        sys.exit(0)
    time.sleep(0.5)
print(body)
sys.exit(1)
"""
    proc = box.python(script, timeout=READING_DEADLINE + 30)
    if proc.returncode != 0:
        log = box.sh("journalctl -u trio-smartmeter -o cat --no-pager | tail -n 30", check=False)
        raise AssertionError(f"no {want} in /metrics:\n{proc.stdout[-2000:]}\n{log.stdout}")
    return proc.stdout


def main_pid(box: SystemdContainer) -> int:
    return int(box.sh("systemctl show -p MainPID --value trio-smartmeter").stdout)


def install_as_the_readme_says(box: SystemdContainer) -> None:
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheels"}
    for line in readme_systemd_commands():
        if "systemctl enable" in line:  # the README's "then edit" comes first
            box.sh(
                r"sed -i 's|^SMARTMETER_DEVICE=.*|SMARTMETER_DEVICE=sim:bp35a1|' /etc/trio-smartmeter/env"
            )
        box.sh(line.replace("sudo ", ""), env=offline, timeout=300)


def test_the_readme_recipe_runs_the_unit_under_systemd(booted: SystemdContainer) -> None:
    box = booted
    install_as_the_readme_says(box)
    assert box.sh("readlink -f /usr/local/bin/trio-smartmeter").stdout.startswith("/opt/pipx/")
    assert box.sh("stat -c %a /etc/trio-smartmeter/env").stdout.strip() == "600"

    body = metrics(box, want=("smartmeter_power_watts", "process_start_time_seconds"))
    assert "process_cpu_seconds_total" in body and "process_open_fds" in body
    assert box.sh("systemctl show -p DynamicUser --value trio-smartmeter").stdout.strip() == "yes"
    pid = main_pid(box)
    uid = int(box.sh(f"stat -c %u /proc/{pid}").stdout)
    assert uid in DYNAMIC_UIDS
    groups = box.sh(f"grep ^Groups: /proc/{pid}/status").stdout.split()[1:]
    assert box.sh("getent group dialout | cut -d: -f3").stdout.strip() in groups

    state = "/var/lib/trio-smartmeter/state.json"
    box.sh(f"for i in $(seq 100); do test -s {state} && break; sleep 0.2; done; test -s {state}")
    assert box.sh("readlink /var/lib/trio-smartmeter").stdout.strip() == "private/trio-smartmeter"
    assert int(box.sh(f"stat -c %u {state}").stdout) == uid

    box.sh("systemctl restart trio-smartmeter")
    assert main_pid(box) not in (0, pid)
    metrics(box, want=("smartmeter_power_watts", "process_start_time_seconds"))
    assert box.sh(f"test -s {state}", check=False).returncode == 0

    exposure = security_exposure(box)
    assert exposure <= SECURITY_EXPOSURE_BEFORE, exposure

    box.sh("systemctl stop trio-smartmeter")
    assert box.sh("systemctl is-active trio-smartmeter", check=False).stdout.strip() == "inactive"
    log = box.sh("journalctl -u trio-smartmeter -o cat --no-pager").stdout
    after_stop = log[log.rindex("SIGTERM received") :]
    assert "session terminated (SKTERM)" in after_stop, log[-2000:]


def security_exposure(box: SystemdContainer) -> float:
    out = box.sh("systemd-analyze security --no-pager trio-smartmeter").stdout
    match = re.search(r"Overall exposure level for trio-smartmeter\.service: ([\d.]+)", out)
    assert match, out[-2000:]
    print(f"systemd-analyze security trio-smartmeter: {match.group(1)}")
    return float(match.group(1))


def test_a_unit_with_procsubset_pid_loses_the_process_metrics(booted: SystemdContainer) -> None:
    """What the unit had before: proves the check above can fail."""
    box = booted
    require_the_readme_install(box)
    box.sh(
        "mkdir -p /run/systemd/system/trio-smartmeter.service.d && printf '[Service]\\n"
        "ProcSubset=pid\\n' >/run/systemd/system/trio-smartmeter.service.d/old.conf"
        " && systemctl daemon-reload && systemctl restart trio-smartmeter"
    )
    try:
        body = metrics(box, want=("smartmeter_power_watts",))
        assert "process_start_time_seconds" not in body
    finally:
        box.sh("rm -r /run/systemd/system/trio-smartmeter.service.d && systemctl daemon-reload")
        box.sh("systemctl stop trio-smartmeter")


def require_the_readme_install(box: SystemdContainer) -> None:
    if box.sh("test -f /etc/systemd/system/trio-smartmeter.service", check=False).returncode:
        pytest.skip(
            "needs the unit that test_the_readme_recipe_runs_the_unit_under_systemd installs"
        )


def readme_block_after(marker: str) -> list[str]:
    """The command lines of the README's first ```sh block after ``marker``."""
    text = README.read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index(marker) :], re.DOTALL)
    assert block, f"no ```sh block after {marker!r}"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_a_user_installs_the_release_wheel_with_pipx(booted: SystemdContainer) -> None:
    """Step 3 of "With a real Wi-SUN stick", as a user without sudo."""
    (line,) = [ln for ln in readme_block_after("3. Install and run") if "pipx install" in ln]
    box = booted
    box.sh("id pi >/dev/null 2>&1 || useradd -m pi")
    box.sh(f"su pi -c 'cd /wheels && PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels {line}'", timeout=300)
    out = box.sh("su pi -c '~/.local/bin/trio-smartmeter --version'").stdout
    assert out.startswith("trio-smartmeter "), out


def test_the_checkout_route_installs_what_the_unit_starts(booted: SystemdContainer) -> None:
    """ "From a checkout": the clone (here: a copy of this working tree) installed system-wide
    with the README's command; the unit then runs it."""
    lines = readme_block_after("**From a checkout.**")
    assert lines[0].startswith("git clone https://github.com/trio-smartmeter/trio-smartmeter")
    box = booted
    require_the_readme_install(box)
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    tar = subprocess.run(
        ["tar", "-C", str(ROOT), "-cf", "-", "--null", "-T", "-"],
        input=b"\0".join(f for f in files if f and (ROOT / f.decode()).exists()),
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    subprocess.run(
        [*PODMAN, "exec", "-i", box.name, "sh", "-c", "mkdir -p /src && tar -xf - -C /src"],
        input=tar, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheels"}
    for line in lines[1:]:
        # --force: the release wheel's install is already there (the README: "to upgrade")
        box.sh("cd /src && " + line.replace("sudo ", "") + " --force", env=offline, timeout=300)
    assert box.sh("readlink -f /usr/local/bin/trio-smartmeter").stdout.startswith("/opt/pipx/")
    box.sh("systemctl restart trio-smartmeter")
    metrics(box, want=("smartmeter_power_watts", "process_start_time_seconds"))
    box.sh("systemctl stop trio-smartmeter")
