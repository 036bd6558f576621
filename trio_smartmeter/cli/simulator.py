"""The built-in simulator as the command line injects it: its facts and its device opener.

The only module besides the ``simulate`` command that imports ``trio_smartmeter.sim``, and
only when called: a configuration for a real stick never loads the simulator (nor, through
``trio.testing``, pytest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trio_smartmeter.cli.options import Simulator
from trio_smartmeter.core.config import Config, SimulatedDevice

if TYPE_CHECKING:  # not at run time: the CLI's entry must load before trio does
    from trio_smartmeter.link.serial_port import SimOpener


def simulator() -> Simulator:
    """The models ``sim:MODEL`` accepts, the one ``-demo`` runs, and the demo credentials."""
    from trio_smartmeter.sim import models

    return Simulator(
        models=tuple(models.MODELS),
        demo_model=models.DEMO_MODEL,
        rbid=models.DEMO_RBID,
        password=models.DEMO_PASSWORD,
    )


def opener_for(cfg: Config) -> SimOpener | None:
    """The simulator's in-process device for a ``sim:`` device; None for a serial port."""
    if not isinstance(cfg.device, SimulatedDevice):
        return None
    from trio_smartmeter.sim.device import open_demo_sim

    return open_demo_sim
