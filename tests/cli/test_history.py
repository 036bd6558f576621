"""``trio-smartmeter history`` on a store file: the window, the three formats, the errors.

In process (``entry.main``), on a store written by the exporter's own ``HistoryStore``;
the ``--url`` path against a live exporter is in tests/e2e/test_cli_history.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support import free_port
from trio_smartmeter.cli import entry
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.service.history_store import SLOT_SECONDS, HistoryStore

T0 = 1_796_050_800  # 2026-12-01 00:00 JST
JOULES_PER_RAW = Decimal(360_000)  # coefficient 1, unit 0.1 kWh


def slot(i: int, forward: int, reverse: int | None = None) -> HalfHour:
    return HalfHour(
        T0 + i * SLOT_SECONDS,
        forward,
        reverse,
        Decimal(forward) * JOULES_PER_RAW,
        None if reverse is None else Decimal(reverse) * JOULES_PER_RAW,
    )


ROWS = [slot(1, 1000, 5), slot(2, 1003), slot(3, 1007, 6), slot(4, 1012, 6)]


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The state file's directory, chosen through the environment as for the exporter."""
    for name in [n for n in os.environ if n.startswith("SMARTMETER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SMARTMETER_STATE_FILE", str(tmp_path / "state.json"))
    return tmp_path


@pytest.fixture
def store(state_dir: Path) -> Iterator[HistoryStore]:
    """The exporter's store, left open (a running exporter holds it in WAL mode)."""
    s = HistoryStore(state_dir / "history.sqlite")
    s.open()
    s.put(ROWS)
    yield s
    s.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = entry.main(["history", *args])
    out, err = capsys.readouterr()
    return status, out, err


WINDOW = ("--since", str(T0), "--until", str(T0 + 4 * SLOT_SECONDS))


def test_json_has_every_slot_of_the_window(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, *WINDOW)
    assert (status, err) == (0, "")
    doc = json.loads(out)
    assert (doc["since"], doc["until"]) == (T0, T0 + 4 * SLOT_SECONDS)
    assert [s["end_unix"] for s in doc["slots"]] == [r.end_unix for r in ROWS]
    assert doc["slots"][0] == {
        "end": "2026-12-01T00:30:00+09:00",
        "end_unix": T0 + SLOT_SECONDS,
        "forward_raw": 1000,
        "reverse_raw": 5,
        "forward_joules": 360_000_000.0,
        "reverse_joules": 1_800_000.0,
    }
    assert doc["slots"][1]["reverse_raw"] is None


def test_the_window_takes_rfc3339_and_unix_time(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "--since", "2026-12-01T01:00:00+09:00", "-until", "2026-11-30T16:30:00Z"
    )
    assert status == 0
    assert [s["forward_raw"] for s in json.loads(out)["slots"]] == [1003, 1007]
    status, out, _ = run(capsys, f"--since={T0 + 4 * SLOT_SECONDS}", "--until", "1796058000")
    assert [s["forward_raw"] for s in json.loads(out)["slots"]] == [1012]


def test_csv_has_a_header_and_empty_cells_for_absent_values(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, *WINDOW, "--format", "csv")
    assert status == 0
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == [
        "end",
        "end_unix",
        "forward_raw",
        "reverse_raw",
        "forward_joules",
        "reverse_joules",
    ]
    assert len(lines) == 1 + len(ROWS)
    assert lines[1] == [
        "2026-12-01T00:30:00+09:00",
        str(T0 + SLOT_SECONDS),
        "1000",
        "5",
        "360000000.0",
        "1800000.0",
    ]
    assert lines[2][3] == "" and lines[2][5] == ""


def test_openmetrics_is_the_exporters_rendering(
    store: HistoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, *WINDOW, "-format=openmetrics")
    assert status == 0
    assert out.endswith("# EOF\n")
    forward = [
        line.split() for line in out.splitlines() if line.startswith("smartmeter_history_energy_f")
    ]
    assert forward == [
        [
            "smartmeter_history_energy_forward_joules",
            repr(float(r.forward_joules or 0)),
            str(r.end_unix),
        ]
        for r in ROWS
    ]
    reverse = [line for line in out.splitlines() if line.startswith("smartmeter_history_energy_r")]
    assert len(reverse) == 3  # the slot without a reverse value has no sample


def test_the_demo_reads_the_simulators_own_store(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-demo`` (a sim: device) keeps its half-hours apart from the real meter's."""
    sim = HistoryStore(state_dir / "history-sim.sqlite")
    sim.open()
    sim.put([slot(1, 42)])
    sim.close()
    status, out, err = run(capsys, *WINDOW, "-demo", "-state-file", str(state_dir / "state.json"))
    assert (status, err) == (0, "")
    assert [s["forward_raw"] for s in json.loads(out)["slots"]] == [42]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "yesterday"], "since"),
        (["--until", "2026-12-01T00:00:00"], "until"),  # no UTC offset
        (["--since", "nan"], "since"),
        (["--since", str(T0 + 10), "--until", str(T0)], "since"),
        (["--format", "xml"], "--format"),
        (["--url", "ftp://host"], "--url"),
    ],
)
def test_a_bad_argument_is_exit_2_naming_it(
    store: HistoryStore, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    status, out, err = run(capsys, *args)
    assert status == 2
    assert out == ""
    assert named in err.splitlines()[0]


def test_a_bad_exporter_option_is_exit_2_naming_it(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "-channel", "99")
    assert status == 2
    assert "-channel" in err


def test_no_store_says_so_and_suggests_url(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys)
    assert (status, out) == (1, "")
    assert str(state_dir / "history.sqlite") in err
    assert "--url" in err
    assert not (state_dir / "history.sqlite").exists()  # reading never creates it


def test_an_unreadable_store_is_left_as_it_is(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = state_dir / "history.sqlite"
    path.write_bytes(b"not a database" * 100)
    status, _, err = run(capsys)
    assert status == 1
    assert "cannot read the history store" in err and "--url" in err
    assert path.read_bytes() == b"not a database" * 100


def test_an_exporter_that_is_not_there_is_exit_1(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, out, err = run(capsys, "--url", url)
    assert (status, out) == (1, "")
    assert f"cannot reach {url}" in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for word in ("--since", "--until", "--format", "--url", "-state-file"):
        assert word in out


def test_a_mistyped_url_is_refused_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The refusal names the URL the user typed, less its credentials."""
    status, out, err = run(capsys, "--url", "htps://prometheus:s3cret-pw@host:9102")
    assert status == 2
    assert "host:9102" in err
    assert "s3cret-pw" not in out + err
