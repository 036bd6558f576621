"""A string that never shows itself: the B-route ID and password travel as ``Secret``.

``repr``/``str``/``format`` give a mask, so an accidental f-string, log line, exception
text or attrs repr cannot leak the value. ``reveal()`` is the one deliberate way out,
used only where the bytes go to the serial port.
"""

from __future__ import annotations

from typing import Any

MASK = "********"


class Secret:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        return str(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __reduce__(self) -> Any:
        raise TypeError("Secret cannot be pickled")
