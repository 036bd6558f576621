"""``simulate``'s options build the module the bench's simserver drives too."""

from __future__ import annotations

import pytest

from trio_smartmeter.sim.cli import module_from, parser


def test_the_meter_can_be_placed_on_a_channel() -> None:
    module = module_from(parser().parse_args(["--model", "bp35c2", "--channel", "3B"]))
    assert (module.model, module.meter.config.channel) == ("bp35c2", 0x3B)
    assert module_from(parser().parse_args(["--model", "bp35a1"])).meter.config.channel == 0x33


def test_a_channel_outside_the_band_is_refused() -> None:
    with pytest.raises(ValueError, match="channel"):
        module_from(parser().parse_args(["--model", "bp35a1", "--channel", "3D"]))
