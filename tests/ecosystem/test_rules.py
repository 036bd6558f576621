"""The packaged alert rules and Grafana dashboard, checked with the real ``promtool``."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from .helpers import (
    DASHBOARD,
    DEPLOY,
    RULES,
    RULES_TEST,
    all_panels,
    dashboard,
    dashboard_exprs,
    which,
)

#: The metrics contract (docs/architecture.md); ``up`` is Prometheus' own.
CONTRACT = {
    "smartmeter_power_watts",
    "smartmeter_current_amperes",
    "smartmeter_last_scrape_timestamp_seconds",
    "smartmeter_scrape_duration_seconds",
    "smartmeter_scrape_errors_total",
    "smartmeter_up",
    "smartmeter_energy_forward_joules_total",
    "smartmeter_energy_reverse_joules_total",
    "smartmeter_fixed_time_energy_forward_joules",
    "smartmeter_fixed_time_energy_forward_timestamp_seconds",
    "smartmeter_fixed_time_energy_reverse_joules",
    "smartmeter_fixed_time_energy_reverse_timestamp_seconds",
    "smartmeter_meter_info",
    "smartmeter_module_info",
    "smartmeter_rssi_dbm",
    "smartmeter_session_up",
    "smartmeter_session_state",
    "smartmeter_rate_limited",
    "smartmeter_credentials_latched",
    "smartmeter_scans_total",
    "smartmeter_joins_total",
    "smartmeter_join_failures_total",
    "smartmeter_serial_reopens_total",
    "smartmeter_module_resets_total",
    "smartmeter_module_events_total",
    "smartmeter_polls_total",
    "smartmeter_meter_energy_resets_total",
    "smartmeter_exporter_build_info",
    # not scraped: backfilled from /api/history?format=openmetrics with promtool
    "smartmeter_history_energy_forward_joules",
    "smartmeter_history_energy_reverse_joules",
    "smartmeter_bill_yen",
    "smartmeter_bill_due_yen",
    "smartmeter_bill_sold_yen",
    "smartmeter_bill_missing_slots",
    "smartmeter_bill_projected_yen",
    "smartmeter_price_yen_per_kwh",
}
SESSION_STATES = {
    "starting",
    "no_device",
    "initialising",
    "scanning",
    "joining",
    "ready",
    "reauth",
    "rate_limited",
    "backoff",
    "latched",
    "unsupported",
    "stopping",
}


def promtool(*args: str, cwd: Path = DEPLOY) -> str:
    exe = which("promtool")
    proc = subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b(smartmeter_[a-z_]+)", expr))
    out = set()
    for name in names:
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name.removesuffix(suffix) in CONTRACT:
                name = name.removesuffix(suffix)
        out.add(name)
    return out


def test_promtool_check_rules() -> None:
    out = promtool("check", "rules", RULES.name)
    assert "SUCCESS" in out


def test_promtool_unit_tests() -> None:
    out = promtool("test", "rules", RULES_TEST.name)
    assert "SUCCESS" in out


def test_every_alert_has_a_unit_test() -> None:
    alerts = set(re.findall(r"^\s*- alert: (\w+)$", RULES.read_text(), re.MULTILINE))
    tested = RULES_TEST.read_text()
    assert len(alerts) >= 8
    for alert in alerts:
        # a firing case (exp_alerts with labels) and a quiet case (exp_alerts: [])
        blocks = re.findall(
            r"alertname: " + alert + r"\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n  - interval|\Z)",
            tested,
            re.DOTALL,
        )
        assert any("exp_labels" in b for b in blocks), f"{alert}: no firing case"
        assert any(b.strip().startswith("[]") for b in blocks), f"{alert}: no quiet case"


def test_rules_use_contract_metrics_only() -> None:
    text = RULES.read_text()
    exprs = re.findall(r"^\s*expr: (.+)$", text, re.MULTILINE)
    assert exprs
    for expr in exprs:
        assert metric_names(expr) <= CONTRACT, expr
    assert 'up{job="smartmeter"}' in text
    for state in re.findall(r'state="(\w+)"', text):
        assert state in SESSION_STATES


PROMETHEUS_CONFIGS = sorted(p.name for p in DEPLOY.glob("prometheus*.yml"))


def test_every_prometheus_file_is_checked() -> None:
    assert PROMETHEUS_CONFIGS == ["prometheus-remote-write.yml", "prometheus.yml"]


@pytest.mark.parametrize("name", PROMETHEUS_CONFIGS)
def test_prometheus_example_config(tmp_path: Path, name: str) -> None:
    # check config resolves rule_files next to the config file: copy both.
    for file in (name, RULES.name):
        (tmp_path / file).write_text((DEPLOY / file).read_text())
    out = promtool("check", "config", name, cwd=tmp_path)
    assert "SUCCESS" in out
    assert "job_name: smartmeter" in (DEPLOY / name).read_text()


def test_the_remote_write_example_forwards() -> None:
    text = (DEPLOY / "prometheus-remote-write.yml").read_text()
    assert "\nremote_write:\n  - url: https://" in text


@pytest.mark.parametrize("mode", [["--agent"], []], ids=["agent", "server"])
def test_the_remote_write_example_passes_in_both_modes(tmp_path: Path, mode: list[str]) -> None:
    """It recommends agent mode, which refuses rule_files; a server must take it as well."""
    name = "prometheus-remote-write.yml"
    (tmp_path / name).write_text((DEPLOY / name).read_text())
    out = promtool("check", "config", *mode, name, cwd=tmp_path)
    assert "SUCCESS" in out and "FAILED" not in out


def test_the_alloy_example_as_far_as_it_can_be_checked_here() -> None:
    """No Alloy binary here (nor in Debian): its syntax and components are not run. What is
    checked: blocks and strings balance, the scrape's job name is the one the rules and the
    dashboard expect, and every ``forward_to`` names a component the file defines."""
    text = (DEPLOY / "alloy.river").read_text()
    code = re.sub(r"(^|\s)//.*$", "", text, flags=re.MULTILINE)  # not the // of https://
    assert code.count("{") == code.count("}") and code.count("[") == code.count("]")
    assert all(line.count('"') % 2 == 0 for line in code.splitlines())
    assert re.search(r'^\s*job_name\s*=\s*"smartmeter"', code, re.MULTILINE)
    assert re.search(r'"__address__"\s*=\s*"localhost:9102"', code)
    defined = set(re.findall(r'^([a-z_.]+) "(\w+)" \{', code, re.MULTILINE))
    assert ("prometheus.scrape", "smartmeter") in defined
    receivers = re.findall(r"forward_to\s*=\s*\[([^\]]*)\]", code)
    assert receivers
    for receiver in ",".join(receivers).split(","):
        component, _, rest = receiver.strip().rpartition(".")
        assert rest == "receiver"
        kind, _, label = component.rpartition(".")
        assert (kind, label) in defined, receiver


def test_dashboard_is_importable_and_provisionable() -> None:
    dash = dashboard()
    assert dash["uid"] == "trio-smartmeter"
    assert dash["title"]
    assert "id" not in dash or dash["id"] is None  # an id would clash on import
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = list(all_panels(dash))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    # No hard-coded data source anywhere: every reference is the variable (or Grafana's own).
    text = DASHBOARD.read_text()
    for ref in re.findall(r'"datasource": (\{[^{}]*\})', text):
        uid = json.loads(ref)["uid"]
        assert uid in ("${DS_PROMETHEUS}", "-- Grafana --"), ref
    assert "__inputs" not in dash  # provisioning would not substitute ${DS_...} inputs
    for p in panels:
        if p["type"] != "row":
            assert set(p["gridPos"]) == {"x", "y", "w", "h"}, p["title"]
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]


def test_dashboard_covers_the_required_panels() -> None:
    exprs = " ".join(e for _, e in dashboard_exprs())
    titles = " ".join(p.get("title", "") for p in all_panels(dashboard())).lower()
    for needed in (
        "smartmeter_power_watts",
        "smartmeter_current_amperes",
        "increase(smartmeter_energy_forward_joules_total",
        "smartmeter_fixed_time_energy_forward_joules",
        "smartmeter_rssi_dbm",
        "smartmeter_session_state",
        "smartmeter_scrape_errors_total",
        "smartmeter_up",
        "up{",
    ):
        assert needed in exprs, needed
    assert "/ 3.6e6" in exprs  # joules -> kWh
    for word in ("power", "current", "per day", "per hour", "30-minute", "rssi", "session"):
        assert word in titles, word
    # The power panel colours import/export by sign.
    power = next(p for p in all_panels(dashboard()) if p["title"].startswith("Power (negative"))
    steps = power["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0]
    assert steps[0]["color"] != steps[1]["color"]


def test_dashboard_uses_contract_metrics_only() -> None:
    for where, expr in dashboard_exprs():
        assert metric_names(expr) <= CONTRACT, f"{where}: {expr}"


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    # promtool 2.42 has no query parser of its own; a recording rule per expression makes
    # `check rules` parse each one (JSON is YAML).
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(json.dumps(rules, indent=1))
    out = promtool("check", "rules", path.name, cwd=tmp_path)
    assert f"SUCCESS: {len(exprs)} rules found" in out


def test_grafana_provisioning_files() -> None:
    prov = DEPLOY / "grafana-provisioning"
    ds = (prov / "datasource.yml").read_text()
    dashboards = (prov / "dashboards.yml").read_text()
    assert "apiVersion: 1" in ds
    assert "type: prometheus" in ds
    assert "apiVersion: 1" in dashboards
    assert "type: file" in dashboards


def test_deploy_files_lists_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from trio_smartmeter.cli.deploy_files import deploy_files_main

    assert deploy_files_main(None) == 0
    listed = capsys.readouterr().out.split()
    for name in ("alloy.river", "prometheus-remote-write.yml", "web-config.example.yml"):
        assert name in listed
        assert deploy_files_main(name) == 0
        assert capsys.readouterr().out == (DEPLOY / name).read_text()
