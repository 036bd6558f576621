"""Logging: loguru set up once, stdlib logging (hypercorn) routed into it, secrets masked.

* Verbosity 0 = WARNING (errors and warnings), 1 = INFO, 2 = DEBUG, 3 = TRACE (every serial
  line is logged at TRACE by the serial layer).
* ``text``: ``2026-11-26T12:00:00.123+09:00 INFO    module:12 message key=value``;
  ``json``: one compact object per line, ``{"ts", "level", "msg", "logger", ...extra}``
  (an exception adds ``"exc"``).
* stdlib ``logging`` is intercepted once (root handler replaced; the handlers hypercorn
  may have attached to ``hypercorn.error``/``hypercorn.access`` are removed so lines are
  not duplicated). Hypercorn's per-request access lines are demoted to DEBUG.
* Masking, the last line of defence (the ``Secret`` type is the first): every secret
  value, its hex encoding (upper and lower case) and the arguments of ``SKSETPWD`` /
  ``SKSETRBID`` (the rest of their line, :func:`~trio_smartmeter.core.skstack.mask_line`)
  are replaced by ``********`` in the message, in every extra field, in exception text
  and in the final line written by our sinks.
* ``diagnose=False`` (no local variable values in tracebacks), ``backtrace=False``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, TextIO

from loguru import logger

from trio_smartmeter.core.secret import MASK, Secret
from trio_smartmeter.core.skstack import mask_line

if TYPE_CHECKING:
    from loguru import Message, Record

__all__ = ["LEVELS", "InterceptHandler", "Masker", "level_for", "setup_logging"]

LEVELS: Final = {0: "WARNING", 1: "INFO", 2: "DEBUG", 3: "TRACE"}


def level_for(verbosity: int) -> str:
    """Loguru level name for a verbosity 0-3 (clamped)."""
    return LEVELS[min(max(verbosity, 0), 3)]


class Masker:
    """Replaces secret values (plain and hex, any case) and SKSET* arguments by a mask."""

    def __init__(self, secrets: Sequence[Secret | str] = ()) -> None:
        needles: set[str] = set()
        for s in secrets:
            value = s.reveal() if isinstance(s, Secret) else s
            if not value:
                continue
            needles.add(value)
            hexed = value.encode("utf-8").hex()
            needles.update({hexed, hexed.upper()})
        # Longest first so that a secret inside another one's hex form cannot half-match.
        parts = sorted(needles, key=len, reverse=True)
        self._re = re.compile("|".join(map(re.escape, parts))) if parts else None

    def mask(self, text: str) -> str:
        text = mask_line(text)
        if self._re is not None:
            text = self._re.sub(MASK, text)
        return text

    def mask_secrets(self, text: str) -> str:
        """Only the secret values, not the SKSET* rule: safe on an encoded JSON line."""
        return self._re.sub(MASK, text) if self._re is not None else text

    def mask_value(self, value: Any) -> Any:
        """Mask a str; other scalars pass; containers are masked through their ``str``."""
        if isinstance(value, str):
            return self.mask(value)
        if value is None or isinstance(value, bool | int | float | Secret):
            return value
        text = str(value)
        masked = self.mask(text)
        return value if masked == text else masked

    def patch(self, record: Record) -> None:
        """Loguru patcher: mask the message and every extra field in place."""
        record["message"] = self.mask(record["message"])
        extra = record["extra"]
        for key in list(extra):
            extra[key] = self.mask_value(extra[key])


class InterceptHandler(logging.Handler):
    """Route stdlib ``logging`` records (hypercorn, h11, ...) into loguru, once."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "hypercorn.access":
            level: str | int = "DEBUG"  # one line per scrape: debug, not normal operation
        else:
            try:
                level = logger.level(record.levelname).name
            except ValueError:
                level = record.levelno
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format in a library must not kill logging
            message = str(record.msg)
        name, func, line = record.name, record.funcName, record.lineno
        logger.patch(
            lambda r: r.update(name=name, function=func, line=line)  # type: ignore[call-arg]
        ).opt(exception=record.exc_info).log(level, message)


def _text_format(record: Record) -> str:
    extra = " ".join(f"{k}={v}" for k, v in record["extra"].items())
    extra = (" " + extra).replace("{", "{{").replace("}", "}}") if extra else ""
    return (
        "{time:YYYY-MM-DDTHH:mm:ss.SSSZZ} {level: <7} {name}:{line} {message}"
        + extra
        + "\n{exception}"
    )


def setup_logging(
    verbosity: int,
    fmt: str,
    *,
    stream: TextIO | None = None,
    secrets: Sequence[Secret] = (),
) -> Masker:
    """Configure loguru (and intercept stdlib logging). Call once at start; idempotent.

    ``stream`` defaults to ``sys.stderr`` at call time (so pytest's capture works).
    Returns the :class:`Masker` so that other code (e.g. tests) can reuse it.
    """
    out = stream if stream is not None else sys.stderr
    masker = Masker(secrets)
    level = level_for(verbosity)
    logger.remove()
    logger.configure(patcher=masker.patch)

    def write(line: str) -> None:
        out.write(masker.mask(line))
        out.flush()

    if fmt == "json":

        def json_sink(message: Message) -> None:
            r = message.record
            obj: dict[str, Any] = {
                "ts": r["time"].isoformat(timespec="milliseconds"),
                "level": r["level"].name,
                "msg": masker.mask(r["message"]),
                "logger": r["name"],
            }
            for k, v in r["extra"].items():
                obj.setdefault(k, masker.mask_value(v))
            exc = r["exception"]
            if exc is not None and exc.type is not None:
                # the formatted message ends with the traceback (diagnose/backtrace off)
                text = str(message)
                idx = text.find("Traceback")
                obj["exc"] = masker.mask(
                    text[idx:] if idx >= 0 else f"{exc.type.__name__}: {exc.value}"
                )
            line = json.dumps(obj, default=str, ensure_ascii=False, separators=(",", ":"))
            # every field is masked above; the SKSET* rule masks to the end of the line and
            # would eat the `"}` after an already masked argument, so only values are re-masked
            out.write(masker.mask_secrets(line + "\n"))
            out.flush()

        logger.add(
            json_sink,
            level=level,
            format="{message}\n{exception}",
            backtrace=False,
            diagnose=False,
            colorize=False,
        )
    elif fmt == "text":
        logger.add(
            write,
            level=level,
            format=_text_format,
            backtrace=False,
            diagnose=False,
            colorize=False,
        )
    else:
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")

    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in ("hypercorn.error", "hypercorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
    if level not in ("DEBUG", "TRACE"):
        # access lines are DEBUG (InterceptHandler): off unless shown, so the web server
        # skips building them per request (web.server.hypercorn_config checks this level)
        logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
    return masker
