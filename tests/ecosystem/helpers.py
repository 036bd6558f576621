"""Helpers of the ecosystem tests: the packaged deploy files, the dashboard's expressions,
loopback HTTP. Loopback only; every wait has a deadline (ports, expositions and
subprocess clean-up come from tests.support)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "trio_smartmeter" / "deploy"
RULES = DEPLOY / "smartmeter.rules.yml"
RULES_TEST = DEPLOY / "smartmeter.rules.test.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"

#: Values substituted for Grafana's variables so that panel expressions are plain PromQL.
GRAFANA_VARS = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "${DS_PROMETHEUS}": "prometheus",
    "$job": "smartmeter",
    "$instance": ".*",
}


def http_get(url: str, timeout: float = 3.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode("utf-8", "replace")


def substitute(expr: str) -> str:
    for name in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARS[name])
    return expr


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def all_panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every template-variable query."""
    dash = dashboard()
    out: list[tuple[str, str]] = []
    for panel in all_panels(dash):
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
        out.append((f"variable {var['name']}", m.group(1) if m else query))
    return [(where, substitute(expr)) for where, expr in out]


def which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not found (Debian package; scripts/system-deps installs it)"
        print(f"SKIP: {msg}")
        pytest.skip(msg)
    return path


class DemoExporter:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.proc = proc
        self.log = log
        self.base = f"http://127.0.0.1:{port}"

    def metrics(self) -> str:
        status, body = http_get(self.base + "/metrics")
        assert status == 200, body
        return body

    def status(self) -> dict[str, Any]:
        status, body = http_get(self.base + "/api/status")
        assert status == 200, body
        data: dict[str, Any] = json.loads(body)
        return data

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
