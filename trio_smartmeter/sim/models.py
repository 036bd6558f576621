"""The four module families and their dialect differences (protocol.md §10).

Version strings marked "invented" have no public capture; they only need to be
stable and distinguishable.
"""

from __future__ import annotations

import random
from typing import Final

import attrs

#: The simulated meter's B-route ID and password (public, not a secret): a ``sim:`` device
#: uses them unless others are given (the CLI injects them into its configuration).
DEMO_RBID: Final = "00112233445566778899AABBCCDDEEFF"
DEMO_PASSWORD: Final = "DEMOPASSWORD"
#: The model ``--demo`` emulates when no ``sim:MODEL`` device is given.
DEMO_MODEL: Final = "bp35a1"

PANA_START = bytes.fromhex(  # T03 (RL7023): Request+Start, PRF 5, Integrity 12
    "00000028C00000024A1F4DC0C99C3A6A00060000000400000000000500030000000400000000000C"
)
PANA_EAP_PSK = bytes.fromhex(  # T15 (BP35C2): Request carrying EAP-PSK message 3
    "00000054800000021c2ff4b1d1a295aa00020000003b0000015b003b2f808a7f842bd41b4c0902258e79"
    "1a8ff605914da6e50c90ede8acc05e035979ba4a00000000c639ce0d16cc74349c8f6df9ff9d6ea1d200"
)
PANA_COMPLETE = bytes.fromhex(  # T09 (BP35A1): Request+Complete, Session-Lifetime 86400 s
    "00000058a0000002060453078dd561c2000700000004000000000000000200000004000003b500040004"
    "00000004000000000701000800000004000000015180000100000010000013760124311c90d354b67020"
    "3833eee7"
)


@attrs.frozen
class ModelSpec:
    name: str
    dse: bool
    rohm: bool  # ROHM: 001D129x MAC, ROPT/WOPT, binary default; Tessera: EUI-48, hex only
    ever: str
    eappver: str


MODELS: dict[str, ModelSpec] = {
    "bp35a1": ModelSpec("bp35a1", dse=False, rohm=True, ever="1.2.10", eappver="rev26e"),
    "rl7023-ips": ModelSpec(  # invented versions
        "rl7023-ips", dse=False, rohm=False, ever="1.2.8", eappver="rl7023-ips-2.0"
    ),
    "bp35c2": ModelSpec(  # EAPPVER invented
        "bp35c2", dse=True, rohm=True, ever="1.5.2", eappver="rev35c"
    ),
    "rl7023-dss": ModelSpec(  # invented versions
        "rl7023-dss", dse=True, rohm=False, ever="1.5.2", eappver="rl7023-dss-1.0"
    ),
}


def link_local(mac: str) -> str:
    """FE80::/64 + the MAC with the universal/local bit flipped, fully expanded."""
    raw = bytearray(bytes.fromhex(mac))
    raw[0] ^= 0x02
    groups = [raw[i : i + 2].hex().upper() for i in range(0, 8, 2)]
    return "FE80:0000:0000:0000:" + ":".join(groups)


def own_mac(spec: ModelSpec, seed: int) -> str:
    suffix = random.Random(f"mac:{seed}").getrandbits(32)
    if spec.rohm:
        return f"{'001D1291' if spec.dse else '001D1290'}{suffix:08X}"
    return f"100723FFFEA0{suffix & 0xFFFF:04X}"  # EUI-64 from the stick's 10:07:23 EUI-48
