"""The meter and household model, driven directly with modeled time (no Trio)."""

from __future__ import annotations

import datetime

from trio_smartmeter.sim import Meter, MeterConfig
from trio_smartmeter.sim._frame import decode

NOON = datetime.datetime(2024, 5, 20, 12, 0)


def get(meter: Meter, *epcs: int, elapsed: float = 0.0, tid: int = 0x1234):
    payload = bytes.fromhex(f"1081{tid:04X}05FF01028801620{len(epcs)}")
    payload += b"".join(bytes([epc, 0]) for epc in epcs)
    answer = meter.handle(payload, elapsed)
    assert answer is not None
    return decode(answer)


def test_get_res_echoes_tid_and_swaps_eojs():
    frame = get(Meter(), 0xE7, 0x80, 0x82)
    assert frame.tid == 0x1234 and frame.esv == 0x72
    assert frame.seoj == b"\x02\x88\x01" and frame.deoj == b"\x05\xff\x01"
    assert frame.props[1:] == ((0x80, b"\x30"), (0x82, b"\x00\x00\x46\x00"))


def test_unsupported_epc_makes_get_sna_with_pdc_0_but_keeps_the_others():
    frame = get(Meter(MeterConfig(coefficient=None)), 0xD3, 0xE1)
    assert frame.esv == 0x52
    assert frame.props == ((0xD3, b""), (0xE1, b"\x01"))


def test_solar_noon_is_negative_and_grows_reverse_energy():
    meter = Meter(MeterConfig(start=NOON, solar_peak_watts=4000.0), seed=3)
    assert int.from_bytes(get(meter, 0xE7).props[0][1], "big", signed=True) < 0
    assert meter.last_power_watts is not None and meter.last_power_watts < 0
    r, t = meter.currents_deciamps(meter.last_power_watts)
    assert r < 0 and t < 0
    rev0 = int.from_bytes(get(meter, 0xE3).props[0][1], "big")
    rev1 = int.from_bytes(get(meter, 0xE3, elapsed=3600).props[0][1], "big")
    assert rev1 - rev0 > 20  # > 2 kWh exported in an hour at 0.1 kWh units
    assert 0xE3 in decode_map(get(meter, 0x9F).props[0][1])


def test_no_solar_means_no_e3_in_the_get_map_and_night_import_only():
    meter = Meter(MeterConfig(start=datetime.datetime(2024, 1, 1, 2, 0)))
    assert 0xE3 not in decode_map(get(meter, 0x9F).props[0][1])
    assert get(meter, 0xE3).esv == 0x52
    e0 = [int.from_bytes(get(meter, 0xE0, elapsed=h * 3600).props[0][1], "big") for h in range(4)]
    assert e0 == sorted(e0) and e0[-1] > e0[0]


def test_two_wire_reports_t_as_no_data():
    meter = Meter(MeterConfig(two_wire=True))
    edt = get(meter, 0xE8).props[0][1]
    assert edt[2:] == b"\x7f\xfe"
    assert meter.last_current_t_amperes is None
    assert meter.last_current_r_amperes == int.from_bytes(edt[:2], "big", signed=True) / 10


def test_cumulative_energy_rolls_over_at_10_pow_digits():
    meter = Meter(MeterConfig(digits=4, unit_code=0x01, initial_import_kwh=999.9))
    first = int.from_bytes(get(meter, 0xE0).props[0][1], "big")
    later = int.from_bytes(get(meter, 0xE0, elapsed=7200).props[0][1], "big")
    assert first == 9999 and later < 100
    assert get(meter, 0xD7).props[0][1] == b"\x04"


def test_fixed_time_and_half_hourly_push():
    meter = Meter(MeterConfig(start=datetime.datetime(2022, 8, 1, 20, 10)))
    edt = get(meter, 0xEA).props[0][1]
    assert edt[:7] == bytes.fromhex("07E6080114000000"[:14])
    push = decode(meter.fixed_time_push(1200 + 8))
    assert push.esv == 0x73 and push.props[0][1][:7] == bytes.fromhex("07E60801141E00")
    assert push.tid == 0x0361  # the meter's own counter, not a request TID


def test_property_maps():
    meter = Meter(MeterConfig(coefficient=None))
    get_map = decode_map(get(meter, 0x9F).props[0][1])
    assert {0x80, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F, 0xD7} <= get_map
    assert {0xE0, 0xE1, 0xE7, 0xE8, 0xEA} <= get_map and 0xD3 not in get_map
    assert get(meter, 0x9E).props[0][1] == b"\x02\x81\xe5"


def decode_map(edt: bytes) -> set[int]:
    if edt[0] < 16:
        return set(edt[1:])
    return {0x80 + (j << 4) + i for i in range(16) for j in range(8) if edt[1 + i] >> j & 1}
