"""The state file as the service meets it: whatever is in it, the meter is read, and the
file is rewritten after the next good join; writes are atomic and leave nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.rig import start_rig
from trio_smartmeter.core.address import decode_state
from trio_smartmeter.service.address_cache import AddressCache
from trio_smartmeter.service.durable import write_atomic

GOOD = {
    "version": 1,
    "channel": "3B",
    "pan_id": "6393",
    "mac": "001C640003DD6393",
    "ip": "FE80:0000:0000:0000:021C:6400:03DD:6393",
    "dialect": None,
}


def read_the_meter_with(state_file: Path) -> None:
    """Run an exporter on the simulator with ``state_file`` until it has a reading."""

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            rig = await start_rig(nursery, state_file=state_file, watch=False)
            with trio.fail_after(600):
                await rig.next_reading_after(0.0)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(GOOD | {"ip": "not an IPv6 address"}).encode(),  # crashed the exporter
        json.dumps(GOOD | {"channel": "99"}).encode(),
        json.dumps(GOOD | {"dialect": "quad-stack"}).encode(),
        b"\0" * 512,
        b"",
        b"[1, 2",
    ],
    ids=["bad-ip", "bad-channel", "bad-dialect", "nul", "empty", "truncated"],
)
def test_an_invalid_state_file_is_ignored_and_rewritten(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    read_the_meter_with(path)
    decode_state(path.read_bytes())  # the next good join rewrote it


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(sorted(GOOD)),
            st.none() | st.booleans() | st.integers() | st.text(max_size=40),
        ).map(lambda d: json.dumps(GOOD | d).encode()),
    )
)
def test_no_state_file_stops_the_exporter_from_reading_the_meter(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    read_the_meter_with(path)


def test_a_state_path_that_is_a_directory_warns_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()
    cache = AddressCache(tmp_path / "state.json")
    assert cache.load() is None
    read_the_meter_with(tmp_path / "state.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_parent_that_is_a_file_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        write_atomic(tmp_path / "state" / "state.json", b"{}")


def test_write_atomic_replaces_whole_and_fsyncs_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    target = tmp_path / "sub" / "state.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert len(synced) == 4  # the file and its directory, twice
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
