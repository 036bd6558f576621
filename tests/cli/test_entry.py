"""The exit status of a run: the port in use anywhere in a nursery's groups is exit 1 with
one line, Ctrl-C is a clean stop, anything else propagates."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from loguru import logger

from trio_smartmeter.app import root as app
from trio_smartmeter.cli import entry
from trio_smartmeter.core.config import Config
from trio_smartmeter.core.secret import Secret
from trio_smartmeter.web.server import PortInUseError

CFG = Config(id=Secret("0" * 32), password=Secret("1" * 12), port=9555)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logger.remove()
    logger.configure(patcher=None)
    logging.basicConfig(handlers=[], force=True)


def stopping_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    async def run_exporter(cfg: Config, **_: object) -> None:
        raise exc

    monkeypatch.setattr(app, "run_exporter", run_exporter)


@pytest.mark.parametrize(
    "exc",
    [
        PortInUseError(9555),
        ExceptionGroup("serve", [ValueError("x"), ExceptionGroup("web", [PortInUseError(9555)])]),
        BaseExceptionGroup("both", [KeyboardInterrupt(), PortInUseError(9555)]),
    ],
)
def test_port_in_use_is_exit_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: BaseException
) -> None:
    stopping_with(monkeypatch, exc)
    assert entry.run(CFG) == 1
    (line,) = capsys.readouterr().err.splitlines()
    # once, with the way forward (the exception's own text would repeat the port)
    assert line == (
        "trio-smartmeter: port 9555 is already in use (another exporter running?);"
        " choose another with -port"
    )


@pytest.mark.parametrize(
    "exc",
    [
        KeyboardInterrupt(),
        BaseExceptionGroup("g", [BaseExceptionGroup("h", [KeyboardInterrupt()])]),
    ],
)
def test_ctrl_c_is_a_clean_stop(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    stopping_with(monkeypatch, exc)
    assert entry.run(CFG) == 0


def test_any_other_failure_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    stopping_with(monkeypatch, RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        entry.run(CFG)


def test_the_configuration_is_read_before_trio_loads() -> None:
    """The early listener answers /-/healthy while trio loads: parsing must not load it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trio_smartmeter.cli import entry\n"
        "entry.parse(['-device', '/dev/ttyACM0'], {'SMARTMETER_ID': '0' * 32,"
        " 'SMARTMETER_PASSWORD': 'x' * 12})\n"
        "print(','.join(m for m in ('trio', 'trio_smartmeter.link.serial_port') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
