"""The marker of a message a user reads, for the core, which does no I/O.

The core cannot look up a catalog (that reads files and the environment), so it marks its
messages with :func:`N_`: Babel's extraction finds them, and the edge that shows one
(``cli``, ``service``, ``web``) translates it with ``trio_smartmeter.i18n``.
"""

from __future__ import annotations

__all__ = ["N_"]


def N_(message: str) -> str:
    """``message`` unchanged: it is extracted into the catalogs and translated where shown."""
    return message
