"""The CLI's tests read its English source messages: whatever the developer's locale,
they run under ``LANG=C`` (tests/e2e/test_locale.py checks the Japanese ones)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C")
