"""``trio-smartmeter bill``: ``--check`` (exit 0/2, one line per problem), and the bill of
a store file written by the exporter's own ``HistoryStore``, as a 検針票 and as JSON."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import os
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from trio_smartmeter.cli import entry
from trio_smartmeter.cli.deploy_files import _files
from trio_smartmeter.core.bill import bill_document
from trio_smartmeter.core.jst import meter_time_to_unix
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.core.tariff import load_tariff
from trio_smartmeter.service.history_store import HistoryStore

HALF = dt.timedelta(minutes=30)
START = dt.datetime(2026, 11, 15)  # the tiered example's billing day is the 15th
TIERED = "tariff-tiered.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = entry.main(["bill", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("SMARTMETER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SMARTMETER_STATE_FILE", str(tmp_path / "state.json"))
    return tmp_path


@pytest.fixture
def tariff_file(tmp_path: Path) -> Path:
    path = tmp_path / TIERED
    path.write_text(_files()[TIERED], encoding="utf-8")
    return path


@pytest.fixture
def store_file(clean_env: Path) -> Path:
    """Four half-hours: 119.5 + 1.0 kWh (across the first tier's limit), then a register
    that never arrived, then 0.5 kWh; the store's newest end is 02:30 JST."""
    path = clean_env / "history.sqlite"
    registers = ["1000", "1119.5", "1120.5", None, "1121.0", "1121.5"]
    rows = [
        HalfHour(
            int(meter_time_to_unix(START + k * HALF)),
            None,
            None,
            None if kwh is None else Decimal(kwh) * 3_600_000,
            None,
        )
        for k, kwh in enumerate(registers)
    ]
    store = HistoryStore(path)
    store.open()
    store.put(rows)
    store.close()
    return path


def test_every_packaged_tariff_example_is_valid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    names = [n for n in _files() if n.startswith("tariff-")]
    assert names == ["tariff-solar.yaml", "tariff-tiered.yaml", "tariff-time-of-use.yaml"]
    for name in names:
        text = _files()[name]
        assert "EXAMPLE PRICES as of 2026-12" in text
        assert "check your contract" in text
        load_tariff(text)
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        status, out, err = run(capsys, "--check", str(path))
        assert (status, err) == (0, "")
        assert out.startswith(f"{path}: valid; ")
    assert load_tariff(_files()["tariff-solar.yaml"]).sell_price == Decimal("16.00")
    assert not load_tariff(_files()["tariff-time-of-use.yaml"]).tiered


def test_check_prints_one_line_per_problem_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("billing_day: 31\nbasic: {monthly: 1}\nenergy: {tiers: []}\nextra: 1\n")
    status, out, err = run(capsys, "--check", str(path))
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"trio-smartmeter bill: {path}: extra: unknown key; expected one of name, billing_day,"
        " basic, energy, surcharges, sell",
        f"trio-smartmeter bill: {path}: billing_day: 31 is not accepted; expected 1..28"
        " (every month has it)",
        f"trio-smartmeter bill: {path}: energy.tiers: expected a list of tiers, the last"
        " without up_to_kwh",
    ]
    status, _, err = run(capsys, "--check", str(tmp_path / "absent.yaml"))
    assert status == 2
    assert "absent.yaml: cannot read the file: No such file or directory" in err


def test_the_statement_from_a_store_file(
    capsys: pytest.CaptureFixture[str], tariff_file: Path, store_file: Path
) -> None:
    status, out, err = run(capsys, "--tariff", str(tariff_file), "--store", str(store_file))
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("電気ご使用量のお知らせ (検針票)")
    text = "\n".join(lines)
    assert "2026年11月15日 〜 2026年12月14日 (30日間)" in text
    assert "2026-11-15 02:30 JST" in text  # the newest register: 02:30-03:00 is in progress
    assert "121.0 kWh" in text  # 119.5 + 1.0 + 0.5: the unknown register's two are missing
    assert "120.0 kWh × 29.80 円 = 3,576.00 円" in text
    assert "1.0 kWh × 36.40 円 = 36.40 円" in text
    # floor(1247.00 + 3612.40 - 2.05 × 121) + floor(3.98 × 121) = 4611 + 481
    assert next(ln for ln in lines if ln.startswith("ご請求金額")).endswith("5,092 円")
    assert next(ln for ln in lines if ln.startswith("欠測")).endswith("2 コマ (30分)")
    assert "見込み projection" in text


def test_json_is_the_documents_shape(
    capsys: pytest.CaptureFixture[str],
    tariff_file: Path,
    store_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMARTMETER_TARIFF_FILE", str(tariff_file))
    status, out, err = run(capsys, "--json")  # the store beside the state file
    assert (status, err) == (0, "")
    doc = json.loads(out)
    assert doc["period"]["start"] == "2026-11-15T00:00:00+09:00"
    assert doc["energy_bought_kwh"] == 121.0
    assert doc["missing_half_hours"] == 2
    assert doc["yen"]["total"] == 5092
    assert doc["surcharges"]["fuel_cost_adjustment"]["price"] == -2.05  # closes 12-15
    status, out, _ = run(capsys, "--json", "--period", "previous")
    assert status == 0
    assert json.loads(out)["missing_half_hours"] == 31 * 48  # nothing stored then


def test_errors(capsys: pytest.CaptureFixture[str], tariff_file: Path, clean_env: Path) -> None:
    status, _, err = run(capsys)
    assert status == 2
    assert "no tariff: give --tariff FILE or set SMARTMETER_TARIFF_FILE" in err
    status, _, err = run(capsys, "--tariff", str(tariff_file))
    assert status == 1
    assert "no history store at" in err
    empty = clean_env / "empty.sqlite"
    store = HistoryStore(empty)
    store.open()
    store.close()
    status, _, err = run(capsys, "--tariff", str(tariff_file), "--store", str(empty))
    assert status == 1
    assert "has no half-hours yet" in err
    (clean_env / "junk.sqlite").write_bytes(b"not a database" * 100)
    status, _, err = run(
        capsys, "--tariff", str(tariff_file), "--store", str(clean_env / "junk.sqlite")
    )
    assert status == 1
    assert "cannot read the history store" in err
    status, _, err = run(capsys, "--period", "last")
    assert status == 2
    assert "invalid choice: 'last'" in err
    status, out, _ = run(capsys, "--help")
    assert status == 0
    assert "--check FILE" in out


def test_a_time_of_use_statement_with_sold_energy(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    text = _files()["tariff-time-of-use.yaml"] + "sell:\n  price: 16.00\n"
    tariff = clean_env / "tou.yaml"
    tariff.write_text(text, encoding="utf-8")
    start = dt.datetime(2026, 12, 1, 22)  # a Tuesday: 22:00 is day, 23:00 night
    rows = [
        HalfHour(
            int(meter_time_to_unix(start + k * HALF)),
            None,
            None,
            Decimal(1000 + k) * 3_600_000,  # 1 kWh bought each half-hour
            Decimal(50 + 2 * k) * 3_600_000,  # 2 kWh sold each half-hour
        )
        for k in range(5)
    ]
    store = HistoryStore(clean_env / "history.sqlite")
    store.open()
    store.put(rows)
    store.close()
    status, out, err = run(capsys, "--tariff", str(tariff))
    assert (status, err) == (0, "")
    assert "  night" in out
    assert "2.0 kWh × 28.85 円 = 57.70 円" in out
    assert "2.0 kWh × 35.76 円 = 71.52 円" in out
    assert "8.0 kWh × 16.00 円 = 128.00 円" in out
    # the period began on 12-01 00:00; 44 half-hours before 22:00 were never stored
    assert next(ln for ln in out.splitlines() if ln.startswith("欠測")).endswith("44 コマ (30分)")
    assert "売電 sold (paid separately)" in out


def test_more_usage_errors(
    capsys: pytest.CaptureFixture[str], tariff_file: Path, store_file: Path
) -> None:
    status, _, err = run(capsys, "--check", str(tariff_file), "extra")
    assert status == 2
    assert "--check takes one file; unexpected extra" in err
    status, _, err = run(capsys, "--tariff", str(tariff_file), "--store", str(store_file), "-x")
    assert status == 2
    assert "--store names the store; unexpected -x" in err
    status, _, err = run(capsys, "--tariff", str(tariff_file), "-port", "none")
    assert status == 2
    assert err.startswith("trio-smartmeter bill: ")
    assert "port" in err


def test_a_surcharge_without_a_value_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store_file: Path
) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("billing_day: 15\nbasic: {monthly: 0}\nenergy: {tiers: [{price: 10}]}\n")
    status, out, _ = run(
        capsys, "--tariff", str(path), "--store", str(store_file), "--period", "previous"
    )
    assert status == 0
    assert "0 円 (no value in force for this period)" in out
    assert "途中" not in out
    assert "見込み" not in out  # a closed period has no projection shown


@pytest.fixture
def exporter(clean_env: Path) -> Iterator[tuple[str, list[str]]]:
    """A stand-in exporter on loopback: /api/bill answers the example bill's document
    (with basic auth user ``u``, password ``p``); it records the paths asked for."""
    from tests.web.test_metrics import example_bills

    bills = example_bills()
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if self.headers.get("authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                self.send_response(401)
                self.end_headers()
                return
            which = "previous" if "period=previous" in self.path else "current"
            bill = bills.current if which == "current" else bills.previous
            body = json.dumps(bill_document(bills.tariff, bill)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_url_asks_a_running_exporter_with_historys_client(
    capsys: pytest.CaptureFixture[str],
    exporter: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, asked = exporter
    monkeypatch.setenv("SMARTMETER_WEB_PASSWORD", "p")
    status, out, err = run(capsys, "--url", url, "--user", "u")
    assert (status, err) == (0, "")
    assert asked == ["/api/bill?period=current"]
    assert "2026年12月15日 〜 2027年1月14日 (31日間)" in out
    assert "2.0 kWh × 29.80 円 = 59.60 円" in out
    assert next(ln for ln in out.splitlines() if ln.startswith("ご請求金額")).endswith("1,309 円")
    assert "1.0 kWh × 16.00 円 = 16.00 円" in out  # sold, with the exporter's sell price
    status, out, _ = run(capsys, "--url", url, "--user", "u", "--period", "previous", "--json")
    assert status == 0
    assert json.loads(out)["missing_half_hours"] == 30 * 48
    monkeypatch.delenv("SMARTMETER_WEB_PASSWORD")
    status, _, err = run(capsys, "--url", url, "--user", "u:wrong")
    assert status == 1
    assert "answered 401" in err and "check --user" in err
    status, _, err = run(capsys, "--url", url, "--tariff", "x.yaml")
    assert status == 2
    assert "own tariff" in err
