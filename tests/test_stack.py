"""The stack pin: trio-serial 0.4 imports trio's private ``trio._util.ConflictDetector``.

pyproject pins trio below the first release we have not tested; this test fails loudly
(instead of the exporter failing at its first open) if a trio upgrade removes it.
"""

from __future__ import annotations

import importlib.metadata

import trio


def test_trio_serial_imports_under_the_pinned_trio() -> None:
    from trio_serial import SerialStream  # noqa: F401 - the import is the test
    from trio_serial.abstract import AbstractSerialStream

    assert issubclass(AbstractSerialStream, trio.abc.Stream)
    major, minor = (int(x) for x in trio.__version__.split(".")[:2])
    assert (major, minor) < (0, 36), "trio upgraded past the tested range: re-check trio-serial"
    assert importlib.metadata.version("trio-serial").startswith("0.4")
