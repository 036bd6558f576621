"""Helpers of the ecosystem tests: the packaged deploy files, the dashboard's expressions,
loopback HTTP, the one Prometheus launcher. Loopback only; every wait has a deadline
(ports, expositions, waits and subprocess clean-up come from tests.support)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port, stop, wait_for

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


#: Prometheus answers /-/ready within a few seconds on a loaded 2-core machine.
PROMETHEUS_READY_DEADLINE = 30.0


class Prometheus:
    """A running Prometheus (Debian's) on a loopback port, through its HTTP API."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.proc = proc
        self.log = log

    def api(self, path: str, **params: str) -> Any:
        """``/api/v1/<path>``'s data; AssertionError on an error answer (e.g. 503 while
        starting), ValueError on a body that is not JSON."""
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url, timeout=5)
        data = json.loads(body)
        assert status == 200, f"{path} {params}: HTTP {status}: {body[:300]}"
        assert data["status"] == "success", data
        return data["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr} | ({"time": repr(at)} if at is not None else {})
        result: list[dict[str, Any]] = self.api("query", **params)["result"]
        return result

    def alive(self) -> None:
        assert self.proc.poll() is None, f"prometheus exited: {self.log_tail()}"

    def log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]


@contextmanager
def running_prometheus(
    home: Path, config: dict[str, Any], *, data: Path | None = None, retention: str = "1h"
) -> Iterator[Prometheus]:
    """Prometheus with ``config`` (written to ``home``), on ``data`` (default: a fresh
    directory in ``home``), once it answers /-/ready; stopped with its process group after."""
    exe = which("prometheus")
    port = free_port()
    (home / "prometheus.yml").write_text(json.dumps(config))
    log = home / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={data or home / 'data'}",
                f"--storage.tsdb.retention.time={retention}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=home,
            start_new_session=True,
        )  # fmt: skip
    prom = Prometheus(port, proc, log)
    try:

        def ready() -> bool | None:
            prom.alive()
            status, _ = http_get(f"{prom.base}/-/ready", timeout=2)
            return True if status == 200 else None

        wait_for("Prometheus ready", ready, PROMETHEUS_READY_DEADLINE, step=0.1)
        yield prom
    finally:
        stop(proc, group=True)
