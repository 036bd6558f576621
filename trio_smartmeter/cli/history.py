"""``trio-smartmeter history``: the stored half-hours, from a running exporter or its store.

```
trio-smartmeter history [--since T] [--until T] [--format json|csv|openmetrics]
                        [--url http://HOST:9102] [options that choose the state file]
trio-smartmeter history --url https://HOST:9102 --cacert ca.crt --user prometheus
```

With ``--url`` it asks the exporter's ``/api/history`` (the exporter owns the serial port,
so this is the way while it runs, also from another host); behind the web configuration
file's TLS and basic auth it takes curl's ``--cacert`` and ``--user`` (the password from
``SMARTMETER_WEB_PASSWORD``, ``--password-file`` or a prompt, never the command line
unless given as ``--user NAME:PASSWORD`` as curl allows). Without, it reads the store
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
import csv
import getpass
import io
import json
import os
import sqlite3
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from trio_smartmeter.cli.commands import Usage
from trio_smartmeter.cli.options import (
    WEB_PASSWORD_ENV,
    ConfigError,
    HelpRequested,
    VersionRequested,
    load_config,
)
from trio_smartmeter.cli.simulator import simulator
from trio_smartmeter.core.model import HalfHour
from trio_smartmeter.i18n import _
from trio_smartmeter.service.history_store import HistoryStore
from trio_smartmeter.service.settings import history_file
from trio_smartmeter.web import history as history_view

PROG = "trio-smartmeter history"
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


class Failure(Exception):
    """The exporter's answer or the store could not be had (exit status 1)."""


def history_main(ours: argparse.Namespace, rest: list[str]) -> int:
    """``ours``: this command's own flags (cli/commands.py); ``rest``: the exporter's."""
    try:
        query = {k: [v] for k in ("since", "until") if (v := getattr(ours, k)) is not None}
        since, until = history_view.window(query, time.time())
        if ours.url is not None:
            if rest:
                raise Usage(
                    _("--url reads from the exporter; unexpected {arguments}").format(
                        arguments=" ".join(rest)
                    )
                )
            body = _from_exporter(ours, since, until)
        else:
            if ours.cacert or ours.user or ours.password_file:
                raise Usage(_("--cacert, --user and --password-file go with --url"))
            body = _from_store(store_path(rest), since, until, ours.format)
    except (Usage, history_view.BadParameter) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        print(_("{prog}: see {prog} --help").format(prog=PROG), file=sys.stderr)
        return 2
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(_csv(body) if ours.format == "csv" else body)
    return 0


# -- from a running exporter ---------------------------------------------------------------
def _from_exporter(ours: argparse.Namespace, since: float, until: float) -> str:
    """The exporter's answer as text (JSON for csv too: converted here)."""
    fmt = "json" if ours.format == "csv" else ours.format
    return fetch(ours, "/api/history", {"since": repr(since), "until": repr(until), "format": fmt})


def fetch(ours: argparse.Namespace, endpoint: str, query: dict[str, str]) -> str:
    """GET ``endpoint`` of the exporter at ``ours.url`` (with ``--cacert``, ``--user``,
    ``--password-file``: :func:`trio_smartmeter.cli.commands.add_url_arguments`), as text;
    :class:`Failure` says what it answered or why it could not be reached."""
    url: str = ours.url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # credentials go to the auth handler, never shown
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        raise Usage(_("--url: expected http(s)://HOST:PORT, got {url}").format(url=repr(shown)))
    target = urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path.rstrip("/") + endpoint, urllib.parse.urlencode(query), "")
    )
    shown = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    opener = _opener(ours, parts, target)
    try:
        with opener.open(target, timeout=URL_TIMEOUT) as answer:
            return str(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        with exc:
            reason = exc.read().decode("utf-8", "replace").strip() or exc.reason
        hint = _(" (check --user and its password)") if exc.code == 401 else ""
        raise Failure(
            _("{url} answered {code}: {reason}").format(url=shown, code=exc.code, reason=reason)
            + hint
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise Failure(_("cannot reach {url}: {reason}").format(url=shown, reason=why)) from None


def _opener(
    ours: argparse.Namespace, parts: urllib.parse.SplitResult, target: str
) -> urllib.request.OpenerDirector:
    """urllib with the CA to trust and the basic-auth credentials, sent with the first
    request (``is_authenticated``) rather than after a 401."""
    handlers: list[urllib.request.BaseHandler] = []
    if ours.cacert is not None:
        try:
            context = ssl.create_default_context(cafile=ours.cacert)
        except (OSError, ssl.SSLError) as exc:
            raise Usage(f"--cacert {ours.cacert}: {exc}") from None
        handlers.append(urllib.request.HTTPSHandler(context=context))
    credentials = _credentials(ours, parts)
    if credentials is not None:
        passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
        passwords.add_password(None, target, *credentials, is_authenticated=True)
        handlers.append(urllib.request.HTTPBasicAuthHandler(passwords))
    return urllib.request.build_opener(*handlers)


def _credentials(
    ours: argparse.Namespace, parts: urllib.parse.SplitResult
) -> tuple[str, str] | None:
    """(user, password) as curl finds them: ``--user NAME[:PASSWORD]`` or the URL's; the
    password, when not given with the name, from --password-file, SMARTMETER_WEB_PASSWORD
    or a prompt on the terminal."""
    if ours.user is None:
        if parts.username is None:
            if ours.password_file is not None:
                raise Usage(_("--password-file goes with --user"))
            return None
        user = urllib.parse.unquote(parts.username)
        given = None if parts.password is None else urllib.parse.unquote(parts.password)
    else:
        user, colon, text = ours.user.partition(":")
        given = text if colon else None
    if given is not None:
        return user, given
    if ours.password_file is not None:
        try:
            lines = Path(ours.password_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise Usage(f"--password-file {ours.password_file}: {exc.strerror or exc}") from None
        return user, lines[0] if lines else ""
    if (env := os.environ.get(WEB_PASSWORD_ENV)) is not None:
        return user, env
    if not sys.stdin.isatty():
        raise Usage(
            _(
                "--user {user}: no password; give it with {env}, --password-file,"
                " or run on a terminal to be asked"
            ).format(user=user, env=WEB_PASSWORD_ENV)
        )
    return user, getpass.getpass(_("password for {user}: ").format(user=user))


# -- from the store file -------------------------------------------------------------------
def store_path(rest: list[str], instead: str | None = None) -> Path:
    """The store the exporter with these options writes (``history.sqlite`` beside the
    state file). Credentials are not needed to read it. ``instead``: the way forward when
    there is none (default: ask a running exporter)."""
    try:
        cfg = load_config(rest, os.environ, simulator=simulator, require_credentials=False)
    except (HelpRequested, VersionRequested):
        raise Usage(_("see --help for this command's options")) from None
    path = history_file(cfg)
    if path is None or not path.is_file():
        if instead is None:
            instead = _("ask a running exporter instead: {command}").format(
                command=f"{PROG} --url http://HOST:9102"
            )
        raise Failure(
            _(
                "no history store at {path} (the exporter keeps it beside its state file,"
                " -state-file); {instead}"
            ).format(path=path, instead=instead)
        )
    return path


def _from_store(path: Path, since: float, until: float, fmt: str) -> str:
    rows = read_store(path, since, until)
    if fmt == "openmetrics":
        return history_view.as_openmetrics(rows).decode()
    return history_view.as_json(rows, since, until).decode() + "\n"


def read_store(path: Path, since: float, until: float) -> list[HalfHour]:
    """The slots that end in ``[since, until]``, oldest first (``HistoryStore.read_between``)."""
    try:
        return HistoryStore.read_between(path, since, until)
    except sqlite3.Error as exc:
        raise Failure(
            _(
                "cannot read the history store {path}: {error}; ask a running exporter instead:"
                " {command}"
            ).format(path=path, error=exc, command=f"{PROG} --url http://HOST:9102")
        ) from None


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
