"""The module's volatile settings: S registers, pairing ID and the host's credentials.

Power-on and SKRESET restore every one of them (protocol.md §2 SKSREG); only the
ERXUDP format (WOPT) lives in flash, on the output side.
"""

from __future__ import annotations

import attrs

from .arguments import ER06, CommandError, parse_hex

S_PAIRING_ID = 0x0A
S_MAC = 0x01


@attrs.frozen
class _Register:
    default: int
    digits: int  # hex digits accepted on write
    lo: int
    hi: int
    read_only: bool = False
    width: int = 1  # hex digits shown on read


# S0A (text) and S01 (the MAC) are handled apart
_TABLE: dict[int, _Register] = {
    0x02: _Register(0x21, 2, 0x21, 0x3C, width=2),  # channel
    0x03: _Register(0xFFFF, 4, 0, 0xFFFF, width=4),  # PAN ID
    0x07: _Register(0, 8, 0, 0xFFFFFFFF, read_only=True, width=8),
    0x15: _Register(1, 1, 0, 1),
    0x16: _Register(0x384, 8, 0x3C, 0xFFFFFFFF, width=8),
    0x17: _Register(1, 1, 0, 1),  # automatic PANA re-authentication
    0xA0: _Register(1, 1, 0, 1),
    0xA1: _Register(1, 1, 0, 1),
    0xA2: _Register(0, 1, 0, 1),  # RSSI token in ERXUDP (DSE)
    0xFB: _Register(0, 1, 0, 1, read_only=True),  # transmit-time limit active
    0xFD: _Register(0, 8, 0, 0xFFFFFFFF, read_only=True, width=8),  # transmit time, ms
    0xFE: _Register(1, 1, 0, 1),  # echo
    0xFF: _Register(0, 1, 0, 1),
}


def _defaults() -> dict[int, int]:
    return {reg: spec.default for reg, spec in _TABLE.items()}


@attrs.define
class Registers:
    values: dict[int, int] = attrs.field(factory=_defaults)
    pairing_id: str = "00000000"
    rbid: str | None = attrs.field(default=None, repr=False)  # as SKSETRBID set it
    password: str | None = attrs.field(default=None, repr=False)  # as SKSETPWD set it

    def reset(self) -> None:
        self.values = _defaults()
        self.pairing_id = "00000000"
        self.rbid = None
        self.password = None

    @property
    def echo(self) -> bool:
        return self.values[0xFE] == 1

    @property
    def channel(self) -> int:
        return self.values[0x02]

    @property
    def pan_id(self) -> int:
        return self.values[0x03]

    @property
    def rssi_switch(self) -> bool:
        return self.values[0xA2] == 1

    @property
    def auto_reauth(self) -> bool:
        return self.values[0x17] == 1

    @staticmethod
    def number(name: str) -> int:
        """``S2`` -> 0x02; FAIL ER06 for anything that is not an S register name."""
        name = name.upper()
        if not name.startswith("S"):
            raise CommandError(ER06)
        return parse_hex(name[1:], max_digits=2)

    @staticmethod
    def known(reg: int) -> bool:
        return reg in _TABLE

    @staticmethod
    def shown(reg: int, value: int) -> str:
        return f"{value:0{_TABLE[reg].width}X}"

    def write(self, reg: int, token: str) -> None:
        spec = _TABLE.get(reg)
        if spec is None or spec.read_only:
            raise CommandError(ER06)
        self.values[reg] = parse_hex(token, max_digits=spec.digits, lo=spec.lo, hi=spec.hi)
