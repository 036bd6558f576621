"""``trio-smartmeter history``: the stored half-hours, from a running exporter or its store.

```
trio-smartmeter history [--since T] [--until T] [--format json|csv|openmetrics]
                        [--url http://HOST:9102] [options that choose the state file]
```

With ``--url`` it asks the exporter's ``/api/history`` (the exporter owns the serial port,
so this is the way while it runs, also from another host). Without, it reads the store
file the exporter keeps beside its state file, found from the same options and
``SMARTMETER_*`` variables as ``read`` (``-state-file``, ``-device sim:...``, ``-demo``):
SQLite in WAL mode lets another process read while the exporter writes, and the file is
opened read-only, so a running exporter is never disturbed. It does not open the device.

T is RFC 3339 or a Unix time, as for ``/api/history``; the window defaults to the last day.
CSV is made here from the JSON answer; OpenMetrics is passed through as the exporter
renders it, for ``promtool tsdb create-blocks-from openmetrics``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from trio_smartmeter.cli.options import ConfigError, HelpRequested, VersionRequested, load_config
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.service.settings import history_file
from trio_smartmeter.web import history as history_view

PROG = "trio-smartmeter history"
FORMATS = ("json", "csv", "openmetrics")
CSV_COLUMNS = (
    "end",
    "end_unix",
    "forward_raw",
    "reverse_raw",
    "forward_joules",
    "reverse_joules",
)
#: An exporter answers from its store at once; this bounds a host that does not answer.
URL_TIMEOUT = 30.0


class _Usage(Exception):
    """A bad argument of this command (exit status 2)."""


class _Failure(Exception):
    """The history could not be had (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        add_help=False,
        allow_abbrev=False,
        description="Print the stored half-hour registers (forward/reverse, raw and joules).",
        epilog="Without --url the store beside the state file is read; the exporter's options "
        "that choose it (-state-file, -device sim:MODEL, -demo; SMARTMETER_*) apply.",
    )
    p.add_argument(
        "--since", "-since", metavar="T", help="RFC 3339 or Unix time (default: until - 1 day)"
    )
    p.add_argument("--until", "-until", metavar="T", help="RFC 3339 or Unix time (default: now)")
    p.add_argument("--format", "-format", choices=FORMATS, default="json")
    p.add_argument("--url", "-url", metavar="URL", help="a running exporter, http://HOST:9102")
    p.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    return p


def history_main(args: list[str]) -> int:
    parser = _parser()
    try:
        ours, rest = parser.parse_known_args(args)
        if ours.help:
            print(parser.format_help(), end="")
            return 0
        query = {k: [v] for k in ("since", "until") if (v := getattr(ours, k)) is not None}
        since, until = history_view.window(query, time.time())
        if ours.url is not None:
            if rest:
                raise _Usage(f"--url reads from the exporter; unexpected {' '.join(rest)}")
            body = _from_exporter(ours.url, since, until, ours.format)
        else:
            body = _from_store(_store_path(rest), since, until, ours.format)
    except (_Usage, history_view.BadParameter) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        print(f"{PROG}: see --help", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except _Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(_csv(body) if ours.format == "csv" else body)
    return 0


# -- from a running exporter ---------------------------------------------------------------
def _from_exporter(url: str, since: float, until: float, fmt: str) -> str:
    """The exporter's answer as text (JSON for csv too: converted here)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Usage(f"--url: expected http://HOST:PORT, got {url!r}")
    netloc = parts.netloc.rpartition("@")[2]  # credentials go in a header, not the URL
    query = urllib.parse.urlencode(
        {"since": repr(since), "until": repr(until), "format": "json" if fmt == "csv" else fmt}
    )
    target = urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path.rstrip("/") + "/api/history", query, "")
    )
    request = urllib.request.Request(target)
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    shown = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT) as answer:
            return str(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        with exc:
            reason = exc.read().decode("utf-8", "replace").strip() or exc.reason
        raise _Failure(f"{shown} answered {exc.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise _Failure(f"cannot reach {shown}: {why}") from None


# -- from the store file -------------------------------------------------------------------
def _store_path(rest: list[str]) -> Path:
    """The store the exporter with these options writes (``history.sqlite`` beside the
    state file). Credentials are not needed to read it."""
    try:
        cfg = load_config(rest, os.environ, require_credentials=False)
    except (HelpRequested, VersionRequested):
        raise _Usage("see --help for this command's options") from None
    path = history_file(cfg)
    if path is None or not path.is_file():
        raise _Failure(
            f"no history store at {path} (the exporter keeps it beside its state file, "
            "-state-file); ask a running exporter instead: "
            f"{PROG} --url http://HOST:9102"
        )
    return path


def _from_store(path: Path, since: float, until: float, fmt: str) -> str:
    rows = read_store(path, since, until)
    if fmt == "openmetrics":
        return history_view.as_openmetrics(rows).decode()
    return history_view.as_json(rows, since, until).decode() + "\n"


def read_store(path: Path, since: float, until: float) -> list[HalfHour]:
    """The slots that end in ``[since, until]``, oldest first, read-only (a store that
    cannot be read is left as it is: the exporter sets it aside itself)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT end_unix, forward_raw, reverse_raw, forward_joules, reverse_joules"
                " FROM half_hours WHERE end_unix >= ? AND end_unix <= ? ORDER BY end_unix",
                (since, until),
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise _Failure(
            f"cannot read the history store {path}: {exc}; ask a running exporter instead: "
            f"{PROG} --url http://HOST:9102"
        ) from None
    return [HalfHour(e, fr, rr, _decimal(fj), _decimal(rj)) for e, fr, rr, fj, rj in rows]


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# -- csv -----------------------------------------------------------------------------------
def _csv(json_text: str) -> str:
    """One line per slot, the JSON answer's fields as columns; an absent value is empty."""
    doc: dict[str, Any] = json.loads(json_text)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for slot in doc["slots"]:
        writer.writerow(["" if slot.get(c) is None else slot[c] for c in CSV_COLUMNS])
    return out.getvalue()
