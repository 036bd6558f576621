"""The module's modeled delays, in real-module seconds (before ``time_scale``).

Benchmarks compare a client's scan/join/poll times with these floors: a client can
never beat them, and every second above them is the client's own overhead.
"""

from __future__ import annotations

SCAN_UNIT_S = 0.0096
ALL_CHANNELS = 0x0FFFFFFF  # 28 channels, 0x21..0x3C

#: the join's PANA exchange as (delay before the step, what happens) pairs
JOIN_STEPS: tuple[tuple[float, str], ...] = (
    (0.1, "EVENT 21 02 (neighbour solicitation)"),
    (0.2, "EVENT 02 (neighbour advertisement)"),
    (0.4, "ERXUDP PANA-Auth-Request (Start)"),
    (0.1, "EVENT 21 00"),
    (0.6, "ERXUDP PANA-Auth-Request (EAP-PSK)"),
    (0.1, "EVENT 21 00"),
    (0.8, "ERXUDP PANA-Auth-Request (Complete)"),
    (0.1, "EVENT 21 00"),
    (0.3, "EVENT 25"),
)
#: PANA retransmission schedule until a failed join gives up (momonga's estimate
#: 2+4+8+8+8+8 s, protocol.md §2 SKJOIN)
PANA_FAILURE_S = 38.0
TERM_DELAY_S = 0.3
INSTANCE_LIST_DELAY_S = 1.5
PUSH_DELAY_S = 8.0  # the 30-minute EA arrives this long after hh:00 / hh:30
TX_OVERHEAD_BYTES = 60  # MAC/6LoWPAN/UDP headers around a payload
TX_BITRATE = 100_000  # 920 MHz Wi-SUN, bit/s


def scan_dwell(duration: int) -> float:
    """Time spent on one channel: 0.0096 s × (2^D + 1) (protocol.md §2 SKSCAN)."""
    return SCAN_UNIT_S * float((1 << duration) + 1)


def scanned_channels(mask: int) -> list[int]:
    return [0x21 + bit for bit in range(28) if mask >> bit & 1]


def scan_duration(mask: int = ALL_CHANNELS, duration: int = 6) -> float:
    return len(scanned_channels(mask)) * scan_dwell(duration)


def join_duration() -> float:
    """From SKJOIN's OK to EVENT 25 when the credentials are right."""
    return sum(delay for delay, _ in JOIN_STEPS)


def airtime(payload_len: int) -> float:
    return (payload_len + TX_OVERHEAD_BYTES) * 8 / TX_BITRATE


def tx_delay(payload_len: int) -> float:
    """From the end of SKSENDTO's payload to EVENT 21 00 / OK."""
    return 0.02 + airtime(payload_len)


def get_round_trip(payload_len: int = 14, latency: float = 0.3) -> float:
    """From the end of SKSENDTO's payload to the meter's ERXUDP."""
    return tx_delay(payload_len) + latency
