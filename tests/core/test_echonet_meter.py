"""The 0x028801 catalogue: decoders, special values, scaling, describe."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_smartmeter.core.echonet import EOJ, NODE_PROFILE, SMART_METER, Frame, decode_frame
from trio_smartmeter.core.echonet import meter as m


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def i32(value: int) -> bytes:
    return value.to_bytes(4, "big", signed=True)


def i16x2(r: int, t: int) -> bytes:
    return r.to_bytes(2, "big", signed=r < 0) + t.to_bytes(2, "big", signed=t < 0)


def test_module_opens_with_the_units_comment() -> None:
    with open(m.__file__, encoding="utf-8") as source:
        assert "this is the only place that knows epc units" in source.readline().lower()


# -- E7 power ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edt", "watts"),
    [
        ("000004A8", 1192),
        ("FFFFF856", -1962),
        ("FFFFFDF4", -524),
        ("80000001", -(2**31) + 1),
        ("7FFFFFFD", 2**31 - 3),
        ("00000000", 0),
    ],
)
def test_power(edt: str, watts: int) -> None:
    assert m.decode_power(bytes.fromhex(edt)) == watts


@pytest.mark.parametrize("edt", ["7FFFFFFE", "7FFFFFFF", "80000000", "", "0004A8", "00000004A8"])
def test_power_special_and_malformed_is_none(edt: str) -> None:
    assert m.decode_power(bytes.fromhex(edt)) is None


# -- E8 currents ------------------------------------------------------------------------
def test_currents_exact_decimals() -> None:
    r, t = m.decode_currents(bytes.fromhex("00620022"))
    assert (r, t) == (Decimal("9.8"), Decimal("3.4"))
    assert str(r) == "9.8"


def test_currents_negative_values() -> None:
    assert m.decode_currents(i16x2(-25, -1)) == (Decimal("-2.5"), Decimal("-0.1"))
    assert m.decode_currents(bytes.fromhex("80017FFD")) == (Decimal("-3276.7"), Decimal("3276.5"))


@pytest.mark.parametrize("special", [0x7FFE, 0x7FFF, 0x8000])
def test_current_special_values_per_phase(special: int) -> None:
    value = special.to_bytes(2, "big")
    assert m.decode_currents(value + b"\x00\x62") == (None, Decimal("9.8"))
    assert m.decode_currents(b"\x00\x62" + value) == (Decimal("9.8"), None)
    assert m.decode_currents(value + value) == (None, None)


def test_single_phase_two_wire_t_is_absent() -> None:
    assert m.decode_currents(bytes.fromhex("00627FFE")) == (Decimal("9.8"), None)


@pytest.mark.parametrize("edt", ["", "0062", "0062002200"])
def test_currents_malformed(edt: str) -> None:
    assert m.decode_currents(bytes.fromhex(edt)) == (None, None)


# -- E0/E3 cumulative -------------------------------------------------------------------
def test_cumulative() -> None:
    assert m.decode_cumulative(u32(336213)) == 336213
    assert m.decode_cumulative(u32(0)) == 0
    assert m.decode_cumulative(u32(99_999_999)) == 99_999_999
    assert m.decode_cumulative(u32(0xFFFFFFFE)) is None
    assert m.decode_cumulative(u32(0xFFFFFFFF)) is None
    assert m.decode_cumulative(b"\x00\x01") is None


# -- D3 / E1 / D7 -----------------------------------------------------------------------
def test_coefficient() -> None:
    assert m.decode_coefficient(b"") == 1  # Get_SNA PDC 0 / absent
    assert m.decode_coefficient(u32(10)) == 10
    assert m.decode_coefficient(u32(999_999)) == 999_999
    assert m.decode_coefficient(u32(0)) == 1
    assert m.decode_coefficient(u32(1_000_000)) == 1
    assert m.decode_coefficient(b"\x0a") == 1


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        (0x00, "1"),
        (0x01, "0.1"),
        (0x02, "0.01"),
        (0x03, "0.001"),
        (0x04, "0.0001"),
        (0x0A, "10"),
        (0x0B, "100"),
        (0x0C, "1000"),
        (0x0D, "10000"),
    ],
)
def test_unit_table(code: int, unit: str) -> None:
    decoded = m.decode_unit(bytes([code]))
    assert decoded == Decimal(unit)
    assert isinstance(decoded, Decimal)


@pytest.mark.parametrize("edt", [b"\x05", b"\x09", b"\x0e", b"\xff", b"", b"\x02\x02"])
def test_unknown_unit_is_none(edt: bytes) -> None:
    assert m.decode_unit(edt) is None


def test_digits() -> None:
    assert [m.decode_digits(bytes([d])) for d in range(1, 9)] == list(range(1, 9))
    assert m.decode_digits(b"\x00") is None
    assert m.decode_digits(b"\x09") is None
    assert m.decode_digits(b"") is None
    assert m.decode_digits(b"\x07\x07") is None


# -- EA/EB fixed time -------------------------------------------------------------------
def test_fixed_time_no_data_keeps_the_time() -> None:
    edt = bytes.fromhex("07E60801141E00") + u32(0xFFFFFFFE)
    assert m.decode_fixed_time(edt) == m.FixedTimeRecord(dt.datetime(2022, 8, 1, 20, 30), None)
    assert m.decode_fixed_time(bytes.fromhex("07E60801141E00") + u32(0xFFFFFFFF)) is not None


@pytest.mark.parametrize(
    "edt",
    [
        "07E60D0114000000012CC7",  # month 13
        "07E6080118000000012CC7",  # hour 24
        "07E6023014000000012CC7",  # 30 February
        "FFFFFFFFFFFFFF00012CC7",  # the "not set" pattern
        "0000000000000000000000",  # year 0
        "07E6080114000000012C",  # 10 bytes
        "07E6080114000000012CC700",  # 12 bytes
        "",
    ],
)
def test_fixed_time_invalid(edt: str) -> None:
    assert m.decode_fixed_time(bytes.fromhex(edt)) is None


# -- D0 / E2 ----------------------------------------------------------------------------
def test_one_minute() -> None:
    edt = bytes.fromhex("07E80102030400") + u32(5) + u32(0xFFFFFFFE)
    assert m.decode_one_minute(edt) == (dt.datetime(2024, 1, 2, 3, 4, 0), 5, None)
    assert m.decode_one_minute(edt[:-1]) is None
    assert m.decode_one_minute(b"\xff" * 7 + edt[7:]) is None


def test_history() -> None:
    edt = (1).to_bytes(2, "big") + b"".join(u32(i) for i in range(47)) + u32(0xFFFFFFFE)
    decoded = m.decode_history(edt)
    assert decoded is not None
    day, values = decoded
    assert day == 1
    assert values[:3] == (0, 1, 2)
    assert values[-1] is None
    assert len(values) == 48
    assert m.decode_history(edt[:-1]) is None


# -- 82 / 8A ----------------------------------------------------------------------------
def test_standard_version() -> None:
    assert m.decode_standard_version(bytes.fromhex("00004600")) == "F"
    assert m.decode_standard_version(b"\x00\x00J\x00") == "J"
    assert m.decode_standard_version(bytes.fromhex("010C0100")) is None  # node-profile style
    assert m.decode_standard_version(b"") is None
    assert m.decode_standard_version(b"\x00\x00F") is None


def test_manufacturer() -> None:
    assert m.decode_manufacturer(bytes.fromhex("000016")) == "000016"
    assert m.decode_manufacturer(bytes.fromhex("00008a")) == "00008A"
    assert m.decode_manufacturer(b"") == ""
    assert m.decode_manufacturer(b"\x00\x00") == ""


# -- D5 instance list -------------------------------------------------------------------
def test_instance_list() -> None:
    assert m.decode_instance_list(bytes.fromhex("01028801")) == (SMART_METER,)
    assert m.decode_instance_list(bytes.fromhex("02028801013001")) == (
        SMART_METER,
        EOJ(0x01, 0x30, 0x01),
    )
    assert m.decode_instance_list(b"\x00") == ()
    assert m.decode_instance_list(b"") == ()
    assert m.decode_instance_list(bytes.fromhex("020288")) == ()
    assert m.decode_instance_list(bytes.fromhex("0102880100")) == ()


# -- property maps ----------------------------------------------------------------------
def test_property_map_list_form() -> None:
    assert m.decode_property_map(bytes.fromhex("0381E5ED")) == {0x81, 0xE5, 0xED}
    assert m.decode_property_map(b"\x00") == frozenset()
    assert m.decode_property_map(b"") == frozenset()
    assert m.decode_property_map(bytes.fromhex("0381E5")) == frozenset()  # short


def test_property_map_bitmap_form() -> None:
    # bit j of byte i = EPC 0x80 + (j << 4) + i
    wanted = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F, 0xD3, 0xD7, 0xE0}
    wanted |= {0xE1, 0xE2, 0xE5, 0xE7, 0xE8, 0xEA, 0xFF}
    edt = _property_map(wanted)
    assert edt[0] == len(wanted) and len(edt) == 17
    assert m.decode_property_map(edt) == wanted
    # byte 7 bit 6 -> 0x80 + 0x60 + 7 = 0xE7
    single = bytes([16]) + bytes(7) + b"\x40" + bytes(8)
    assert m.decode_property_map(single) == {0xE7}
    assert m.decode_property_map(edt[:-1]) == frozenset()


def _property_map(epcs: set[int]) -> bytes:
    """A meter's property map: the list form below 16 EPCs, else the 16-byte bitmap."""
    if len(epcs) < 16:
        return bytes([len(epcs), *sorted(epcs)])
    bitmap = bytearray(16)
    for epc in epcs:
        bitmap[(epc - 0x80) & 0x0F] |= 1 << ((epc - 0x80) >> 4)
    return bytes([len(epcs)]) + bytes(bitmap)


@given(st.sets(st.integers(min_value=0x80, max_value=0xFF)))
def test_property_map_round_trip(epcs: set[int]) -> None:
    assert m.decode_property_map(_property_map(epcs)) == epcs


# -- energy and counters ----------------------------------------------------------------
def test_energy_joules_exact() -> None:
    joules = m.energy_joules(76999, 1, Decimal("0.01"))
    assert joules == Decimal(2_771_964_000)
    assert isinstance(joules, Decimal)
    assert m.energy_joules(1, 1, Decimal("0.0001")) == Decimal(360)
    assert m.energy_joules(99_999_999, 999_999, Decimal("10000")) == (
        Decimal(99_999_999) * 999_999 * 10_000 * 3_600_000
    )
    assert m.energy_joules(0, 1, Decimal("0.1")) == 0


@given(
    st.integers(min_value=0, max_value=99_999_999),
    st.integers(min_value=1, max_value=999_999),
    st.sampled_from(list(m.UNITS_KWH.values())),
)
def test_energy_joules_is_exact_integer_arithmetic(
    raw: int, coefficient: int, unit: Decimal
) -> None:
    joules = m.energy_joules(raw, coefficient, unit)
    # unit = n / 10**4 exactly; compare with pure integers
    scaled_unit = int(unit * 10_000)
    assert joules * 10_000 == raw * coefficient * scaled_unit * 3_600_000


@pytest.mark.parametrize(
    ("previous", "current", "digits", "kind"),
    [
        (9_999_990, 5, 7, "rollover"),
        (9_000_000, 999_999, 7, "rollover"),
        (8_999_999, 5, 7, "reset"),  # previous not in the top 10 %
        (9_999_990, 1_000_000, 7, "reset"),  # current not in the bottom 10 %
        (9_999_990, 5, None, "reset"),  # digits unknown
        (5_000_000, 4_000_000, 7, "reset"),
        (12_345_678, 5, 7, "reset"),  # previous beyond the range
        (99, 3, 2, "rollover"),
        (9, 0, 1, "rollover"),
    ],
)
def test_classify_decrease(previous: int, current: int, digits: int | None, kind: str) -> None:
    assert m.classify_decrease(previous, current, digits) == kind


# -- describe ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("epc", "edt", "name", "value"),
    [
        (0xE7, "000004A8", "instantaneous power", "1192 W"),
        (0xE7, "7FFFFFFE", "instantaneous power", "invalid or no data: 7FFFFFFE"),
        (0xE8, "00627FFE", "instantaneous current", "R 9.8 A, T n/a A"),
        (0xE8, "0062", "instantaneous current", "invalid or no data: 0062"),
        (0xE0, "00052155", "cumulative energy (normal direction)", "336213 (raw units)"),
        (0xE3, "FFFFFFFE", "cumulative energy (reverse direction)", "invalid or no data: FFFFFFFE"),
        (0xE1, "02", "unit for cumulative energy", "0.01 kWh"),
        (0xE1, "07", "unit for cumulative energy", "invalid or no data: 07"),
        (0xD3, "", "coefficient", "1 (not provided)"),
        (0xD3, "00000002", "coefficient", "2"),
        (0xD3, "02", "coefficient", "invalid or no data: 02"),
        (0xD7, "07", "effective digits", "7 digits"),
        (
            0xEA,
            "07E6080114000000012CC7",
            "cumulative energy at fixed time (normal)",
            "2022-08-01 20:00:00: 76999 (raw units)",
        ),
        (
            0xEB,
            "07E6080114000000FFFFFFFE",
            "cumulative energy at fixed time (reverse)",
            "invalid or no data: 07E6080114000000FFFFFFFE",
        ),
        (
            0xEB,
            "07E60801140000FFFFFFFE",
            "cumulative energy at fixed time (reverse)",
            "2022-08-01 20:00:00: no data",
        ),
        (0x82, "00004600", "standard version", "Release F"),
        (0x8A, "000016", "manufacturer code", "000016"),
        (0x8A, "0016", "manufacturer code", "invalid or no data: 0016"),
        (0x9E, "0381E5ED", "set property map", "81 E5 ED"),
        (0x9F, "00", "get property map", "(none)"),
        (0x9F, "0381", "get property map", "invalid or no data: 0381"),
        (0xD5, "01028801", "instance list notification", "028801"),
        (0xD5, "00", "instance list notification", "(none)"),
        (0xD5, "0102", "instance list notification", "invalid or no data: 0102"),
        (0x80, "30", "operation status", "on"),
        (0x80, "31", "operation status", "off"),
        (0x80, "32", "operation status", "invalid or no data: 32"),
        (0x88, "42", "fault status", "no fault"),
        (0x8D, "4142433132330000", "production number", "ABC123"),
        (0x8D, "41FF", "production number", "invalid or no data: 41FF"),
        (0x97, "0C22", "current time", "12:34"),
        (0x97, "1800", "current time", "invalid or no data: 1800"),
        (0x98, "07E8020F", "current date", "2024-02-15"),
        (0x98, "07E8021E", "current date", "invalid or no data: 07E8021E"),
        (0x98, "07E802", "current date", "invalid or no data: 07E802"),
        (0xE5, "01", "day for historical data 1", "1 day(s) ago"),
        (0xE5, "0101", "day for historical data 1", "invalid or no data: 0101"),
        (0x81, "08", "installation location", "08"),
        (0xE7, "", "instantaneous power", "n/a (no data)"),
        (0x42, "0102", "0x42", "0102"),
        (0xF5, "", "0xF5", ""),
    ],
)
def test_describe(epc: int, edt: str, name: str, value: str) -> None:
    assert m.describe(epc, bytes.fromhex(edt)) == (name, value)


def test_describe_never_shows_the_b_route_id() -> None:
    secret = bytes.fromhex("00000016") + b"0123456789ABC"
    name, value = m.describe(0xC0, secret)
    assert name == "B-route identification number"
    assert "0123456789" not in value
    assert secret.hex() not in value.lower()


def test_describe_one_minute_and_history() -> None:
    edt = bytes.fromhex("07E80102030400") + u32(5) + u32(0xFFFFFFFE)
    assert m.describe(0xD0, edt)[1] == "2024-01-02 03:04:00: forward 5, reverse n/a (raw units)"
    assert m.describe(0xD0, edt[:-1])[1].startswith("invalid")
    history = (0).to_bytes(2, "big") + u32(1) * 40 + u32(0xFFFFFFFE) * 8
    assert m.describe(0xE2, history)[1] == "0 day(s) ago: 40/48 half-hour values"
    assert m.describe(0xE4, history[:10])[1].startswith("invalid")


def test_describe_node_profile_meanings() -> None:
    np = NODE_PROFILE
    assert m.describe(0xD3, bytes.fromhex("000001"), eoj=np) == (
        "number of self-node instances",
        "1",
    )
    assert m.describe(0xD4, bytes.fromhex("0002"), eoj=np) == ("number of self-node classes", "2")
    assert m.describe(0xD6, bytes.fromhex("01028801"), eoj=np) == (
        "self-node instance list S",
        "028801",
    )
    assert m.describe(0xD7, bytes.fromhex("010288"), eoj=np) == ("self-node class list S", "0288")
    assert m.describe(0xD7, bytes.fromhex("0202"), eoj=np)[1].startswith("invalid")
    assert m.describe(0x82, bytes.fromhex("010C0100"), eoj=np) == (
        "version information",
        "1.12 (message format 0x01)",
    )
    assert m.describe(0x82, bytes.fromhex("010C01"), eoj=np)[1].startswith("invalid")
    assert m.describe(0x83, bytes.fromhex("FE00"), eoj=np) == ("identification number", "FE00")
    # the meter's D3/D7 are different properties
    assert m.describe(0xD7, b"\x07", eoj=SMART_METER) == ("effective digits", "7 digits")


def _describe_frame(frame: Frame) -> list[tuple[str, str]]:
    return [m.describe(p.epc, p.edt, eoj=frame.seoj) for p in frame.properties]


def test_describe_the_properties_of_a_frame() -> None:
    frame = decode_frame(
        bytes.fromhex("1081000102880105FF017203E7040000055EE80400000082E00400052155")
    )
    assert _describe_frame(frame) == [
        ("instantaneous power", "1374 W"),
        ("instantaneous current", "R 0.0 A, T 13.0 A"),
        ("cumulative energy (normal direction)", "336213 (raw units)"),
    ]
    d5 = decode_frame(bytes.fromhex("108103610EF0010EF0017301D50401028801"))
    assert _describe_frame(d5) == [("instance list notification", "028801")]


@given(st.integers(min_value=0, max_value=0xFF), st.binary(max_size=40))
def test_describe_and_decoders_never_raise(epc: int, edt: bytes) -> None:
    m.describe(epc, edt)
    m.describe(epc, edt, eoj=NODE_PROFILE)
    m.decode_power(edt)
    m.decode_currents(edt)
    m.decode_cumulative(edt)
    m.decode_coefficient(edt)
    m.decode_unit(edt)
    m.decode_digits(edt)
    m.decode_fixed_time(edt)
    m.decode_one_minute(edt)
    m.decode_history(edt)
    m.decode_standard_version(edt)
    m.decode_manufacturer(edt)
    m.decode_instance_list(edt)
    m.decode_property_map(edt)


@given(st.binary(min_size=11, max_size=11))
def test_fixed_time_any_11_bytes(edt: bytes) -> None:
    result = m.decode_fixed_time(edt)
    if result is not None:
        assert result.at.tzinfo is None
        assert result.raw is None or 0 <= result.raw < 0xFFFFFFFE
