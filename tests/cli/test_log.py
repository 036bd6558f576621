"""Logging: formats, verbosity mapping, secret masking, stdlib interception."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import hypercorn.config
import pytest
from loguru import logger

from trio_smartmeter.cli.log import LEVELS, Masker, level_for, setup_logging
from trio_smartmeter.core.secret import Secret

RBID = "0123456789ABCDEF0123456789ABCDEF"
PWD = "Pa55w0rdXyZq"
SECRETS = (Secret(RBID), Secret(PWD))


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    logger.remove()
    logger.configure(patcher=None)
    logging.basicConfig(handlers=[], force=True)


def lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


def test_levels() -> None:
    assert [level_for(v) for v in range(4)] == ["WARNING", "INFO", "DEBUG", "TRACE"]
    assert level_for(-1) == "WARNING"
    assert level_for(9) == "TRACE"
    assert LEVELS[3] == "TRACE"


@pytest.mark.parametrize(
    ("verbosity", "expected"),
    [
        (0, ["warning", "error"]),
        (1, ["info", "warning", "error"]),
        (2, ["debug", "info", "warning", "error"]),
        (3, ["trace", "debug", "info", "warning", "error"]),
    ],
)
def test_verbosity_mapping(verbosity: int, expected: list[str]) -> None:
    buf = io.StringIO()
    setup_logging(verbosity, "json", stream=buf)
    logger.trace("trace")
    logger.debug("debug")
    logger.info("info")
    logger.warning("warning")
    logger.error("error")
    assert [json.loads(x)["msg"] for x in lines(buf)] == expected


def test_json_one_object_per_line() -> None:
    buf = io.StringIO()
    setup_logging(1, "json", stream=buf)
    logger.bind(channel=0x3B, task="poller").info("polled {n} properties\nsecond line", n=4)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    out = lines(buf)
    assert len(out) == 2
    first, second = (json.loads(x) for x in out)
    assert first["level"] == "INFO"
    assert first["msg"] == "polled 4 properties\nsecond line"
    assert first["channel"] == 59
    assert first["task"] == "poller"
    assert first["ts"].endswith(("+00:00", "Z")) or "T" in first["ts"]
    assert set(first) >= {"ts", "level", "msg"}
    assert second["level"] == "ERROR"
    assert "ValueError: boom" in second["exc"]
    assert len(out[0]) < 300  # compact, not loguru's serialize=True record dump


def test_text_format() -> None:
    buf = io.StringIO()
    setup_logging(1, "text", stream=buf)
    logger.bind(device="/dev/ttyUSB0").info("opened {}", "port")
    logger.debug("hidden at verbosity 1")
    (line,) = lines(buf)
    assert " INFO    " in line
    assert line.endswith("opened port device=/dev/ttyUSB0")
    assert "test_log:" in line


def test_text_format_braces_in_extras() -> None:
    buf = io.StringIO()
    setup_logging(1, "text", stream=buf)
    logger.bind(raw="{not a field}").info("x")
    assert "raw={not a field}" in buf.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_masked_everywhere(fmt: str) -> None:
    buf = io.StringIO()
    setup_logging(3, fmt, stream=buf, secrets=SECRETS)
    hex_id = RBID.encode().hex()
    hex_pw = PWD.encode().hex()
    logger.info(f"id {RBID} password {PWD}")
    logger.info(f"hex {hex_id} {hex_pw.upper()} {hex_pw.lower()}")
    logger.bind(rbid=RBID, nested={"pw": PWD}, line=f"SKSETPWD C {PWD}").info("extras")
    logger.trace("-> SKSETRBID 00112233445566778899AABBCCDDEEFF")  # not one of ours: masked
    logger.trace("-> SKSETPWD C zzzzzzzzzzzz")
    try:
        raise RuntimeError(f"joined with {PWD}")
    except RuntimeError:
        logger.exception("failure")
    logging.getLogger("some.lib").warning("lib says %s", RBID)
    text = buf.getvalue()
    for needle in (
        RBID,
        PWD,
        hex_id,
        hex_id.upper(),
        hex_pw,
        hex_pw.upper(),
        "00112233445566778899AABBCCDDEEFF",
        "zzzzzzzzzzzz",
    ):
        assert needle not in text, needle
    assert "********" in text
    assert "SKSETPWD C ********" in text
    assert "SKSETRBID ********" in text
    assert "RuntimeError" in text


def test_masker_direct() -> None:
    m = Masker(SECRETS)
    assert m.mask(f"a{RBID}b") == "a********b"
    assert m.mask("nothing here") == "nothing here"
    assert m.mask_value(5) == 5
    assert Masker().mask("SKSETRBID abc") == "SKSETRBID ********"


def test_hypercorn_lines_routed_once() -> None:
    # an earlier Config() with errorlog="-" leaves a StreamHandler on hypercorn.error
    cfg = hypercorn.config.Config()
    _ = cfg.log
    buf = io.StringIO()
    setup_logging(2, "json", stream=buf)
    logging.getLogger("hypercorn.error").info("Running on http://[::]:9102 (CTRL + C to quit)")
    logging.getLogger("hypercorn.access").info('127.0.0.1 "GET /metrics" 200')
    out = [json.loads(x) for x in lines(buf)]
    running = [o for o in out if o["msg"].startswith("Running on")]
    assert len(running) == 1
    assert running[0]["logger"] == "hypercorn.error"
    access = [o for o in out if "GET /metrics" in o["msg"]]
    assert len(access) == 1
    assert access[0]["level"] == "DEBUG"


def test_access_lines_hidden_at_normal_verbosity() -> None:
    buf = io.StringIO()
    setup_logging(1, "text", stream=buf)
    logging.getLogger("hypercorn.access").info("GET /metrics 200")
    logging.getLogger("hypercorn.error").warning("something")
    assert "GET /metrics" not in buf.getvalue()
    assert "something" in buf.getvalue()


def test_setup_is_idempotent() -> None:
    buf = io.StringIO()
    setup_logging(1, "text", stream=buf)
    setup_logging(1, "text", stream=buf)
    logger.info("once")
    logging.getLogger("x").warning("stdlib once")
    assert buf.getvalue().count("once") == 2  # "once" + "stdlib once"


def test_bad_format() -> None:
    with pytest.raises(ValueError, match="text"):
        setup_logging(1, "xml", stream=io.StringIO())
