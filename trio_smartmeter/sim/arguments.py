"""SKSTACK IP argument syntax and the FAIL codes a bad argument earns (protocol.md §4)."""

from __future__ import annotations

import re

ER04, ER05, ER06, ER09, ER10 = 4, 5, 6, 9, 10

HEX = re.compile(r"^[0-9A-Fa-f]+$")
_IPV6 = re.compile(r"^[0-9A-Fa-f]{4}(?::[0-9A-Fa-f]{4}){7}$")


class CommandError(Exception):
    """The command ends in ``FAIL ERnn`` instead of ``OK``."""

    def __init__(self, code: int) -> None:
        super().__init__(f"FAIL ER{code:02d}")
        self.code = code

    @property
    def reply(self) -> str:
        return f"FAIL ER{self.code:02d}"


def parse_hex(token: str, *, max_digits: int, lo: int = 0, hi: int | None = None) -> int:
    if not token or len(token) > max_digits or not HEX.match(token):
        raise CommandError(ER06)
    value = int(token, 16)
    if value < lo or (hi is not None and value > hi):
        raise CommandError(ER06)
    return value


def parse_ipv6(token: str) -> str:
    """Only the fully expanded form is accepted, as on the real modules (protocol.md §2)."""
    if not _IPV6.match(token):
        raise CommandError(ER06)
    return token.upper()


def expect_args(args: list[str], *allowed: int) -> None:
    if len(args) not in allowed:
        raise CommandError(ER05)
