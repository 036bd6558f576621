"""The tariff file (issue 21) read from disk: one reader for the start-up check, the
composition root and ``trio-smartmeter bill``, so all three refuse a file alike."""

from __future__ import annotations

from pathlib import Path

from trio_smartmeter.core.tariff import Tariff, TariffError, load_tariff
from trio_smartmeter.i18n import _

__all__ = ["read_tariff"]


def read_tariff(path: Path) -> Tariff:
    """The tariff in ``path``; :class:`TariffError` names the file in every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TariffError(
            [_("{path}: cannot read the file: {reason}").format(path=path, reason=reason)]
        ) from None
    try:
        return load_tariff(text)
    except TariffError as exc:
        raise TariffError([f"{path}: {line}" for line in exc.problems]) from None
