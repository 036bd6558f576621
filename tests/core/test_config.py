"""The configuration's value type: where the state file goes by default."""

from __future__ import annotations

from pathlib import Path

from trio_smartmeter.core.config import Config, SerialDevice, default_state_file
from trio_smartmeter.core.secret import Secret


def test_default_state_file_follows_xdg_then_home_then_var_lib() -> None:
    assert default_state_file({"XDG_STATE_HOME": "/x"}) == Path("/x/trio-smartmeter/state.json")
    assert default_state_file({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/state/trio-smartmeter/state.json"
    )
    assert default_state_file({}, simulated=True) == Path("/var/lib/trio-smartmeter/state-sim.json")


def test_config_defaults_are_the_seed_s() -> None:
    cfg = Config(id=Secret("0" * 32), password=Secret("x" * 12))
    assert (cfg.device, cfg.interval, cfg.port, cfg.dse) == (
        SerialDevice("/dev/ttyACM0"),
        60,
        9102,
        "auto",
    )
    assert "x" * 12 not in repr(cfg)
