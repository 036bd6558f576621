"""What the test suites (and scripts/bench_lib) share: one way to find a free port, to
read a Prometheus exposition, to run the CLI as a subprocess and stop it, and one
simulated stick to run the exporter against in process.

Import as ``from tests.support import ...`` (the checkout's root is on ``sys.path``
under ``python -m pytest``).
"""

from __future__ import annotations

from .device import PluggableDevice
from .exposition import Key, key, samples, value
from .net import free_port
from .processes import CLI, cli_env, close_pipes, stop, wait_for

__all__ = [
    "CLI",
    "Key",
    "PluggableDevice",
    "cli_env",
    "close_pipes",
    "free_port",
    "key",
    "samples",
    "stop",
    "value",
    "wait_for",
]
