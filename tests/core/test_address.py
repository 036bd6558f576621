"""The state file: a round trip, and every field checked when it is read."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_smartmeter.core.address import (
    MeterAddress,
    StateFileError,
    decode_state,
    encode_state,
    mac_from_link_local,
    pinned_address,
)
from trio_smartmeter.core.skstack import Dialect

METER = "FE80:0000:0000:0000:021C:6400:03DD:6393"
GOOD = {
    "version": 1,
    "channel": "3B",
    "pan_id": "6393",
    "mac": "001C640003DD6393",
    "ip": METER,
    "dialect": "dual-stack",
}


def test_round_trip() -> None:
    addr = MeterAddress(channel=0x3B, pan_id=0x6393, mac="001C640003DD6393", ip=METER)
    data = encode_state(addr, Dialect.DUAL_STACK)
    assert decode_state(data) == (addr, Dialect.DUAL_STACK)
    assert decode_state(encode_state(addr, None)) == (addr, None)


def test_a_short_address_form_is_expanded() -> None:
    doc = GOOD | {"ip": "fe80::21c:6400:3dd:6393"}
    assert decode_state(json.dumps(doc).encode())[0].ip == METER


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": 2}, "version"),
        ({"channel": "99"}, "channel"),
        ({"channel": "20"}, "channel"),
        ({"channel": 59}, "channel"),
        ({"pan_id": "12345"}, "pan_id"),
        ({"pan_id": "zz"}, "pan_id"),
        ({"mac": "x"}, "mac"),
        ({"mac": "001C640003DD639G"}, "mac"),
        ({"ip": "y"}, "ip"),
        ({"ip": "2001:db8::1"}, "ip"),
        ({"ip": "fe80::1%wlan0"}, "ip"),
        ({"ip": None}, "ip"),
        ({"dialect": "triple"}, "dialect"),
        ({"dialect": 3}, "dialect"),
    ],
)
def test_every_field_is_checked(change: dict[str, object], field: str) -> None:
    with pytest.raises(StateFileError, match=f"field '{field}'"):
        decode_state(json.dumps(GOOD | change).encode())


@pytest.mark.parametrize("data", [b"", b"\0" * 64, b"[]", b"null", b"{", b"\xff\xfe", b"[" * 5000])
def test_unusable_documents(data: bytes) -> None:
    with pytest.raises(StateFileError):
        decode_state(data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(data: bytes) -> None:
    try:
        decode_state(data)
    except StateFileError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# The first draws of a recursive strategy are slow on a cold interpreter (a second Python,
# a busy machine): the health check would fail the run for the generator, not the code.
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(GOOD)), json_values, max_size=7))
def test_arbitrary_json_never_raises_anything_else(fields: dict[str, object]) -> None:
    try:
        decode_state(json.dumps(GOOD | fields).encode())
    except StateFileError:
        pass


def test_a_pinned_address_takes_the_pan_id_from_the_mac() -> None:
    addr = pinned_address(0x3B, "fe80::21c:6400:3dd:6393")
    assert addr == MeterAddress(0x3B, 0x6393, "001C640003DD6393", METER)
    assert mac_from_link_local(METER) == "001C640003DD6393"
