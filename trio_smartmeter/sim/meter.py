"""The low-voltage smart meter (class 0x028801) behind the simulated module.

The meter is pure: every method takes the modeled time (seconds since the meter's
clock started), so tests can drive it without Trio and the module can drive it
from any clock. What it answered is kept for tests to compare with what a client
decoded (``last_answers``, ``last_power_watts``, ``answered_log``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from . import _frame as f
from .household import Household

UNIT_KWH: dict[int, Decimal] = {
    0x00: Decimal(1),
    0x01: Decimal("0.1"),
    0x02: Decimal("0.01"),
    0x03: Decimal("0.001"),
    0x04: Decimal("0.0001"),
    0x0A: Decimal(10),
    0x0B: Decimal(100),
    0x0C: Decimal(1000),
    0x0D: Decimal(10000),
}
_NO_DATA_U16 = 0x7FFE
_HALF_HOUR = 1800.0
_STEP_S = 30.0
_SETTABLE = {0x81, 0xE5}


def _validate_unit(_: object, __: object, value: int) -> None:
    if value not in UNIT_KWH:
        raise ValueError(f"unit_code must be one of {sorted(UNIT_KWH)}, got {value}")


@attrs.define
class MeterConfig:
    """What the meter is and how the household behind it behaves."""

    mac: str = "001C6400030C12A4"
    channel: int = attrs.field(default=0x33, validator=attrs.validators.in_(range(0x21, 0x3D)))
    lqi: int = 0xB2
    start: datetime = datetime(2024, 6, 1, 9, 0, 0)  # meter clock, JST (naive)
    coefficient: int | None = 1  # None: D3 unsupported (Get_SNA, like the T01 meter)
    unit_code: int = attrs.field(default=0x01, validator=_validate_unit)
    digits: int = attrs.field(default=6, validator=attrs.validators.in_(range(1, 9)))
    initial_import_kwh: float = 12345.6
    initial_export_kwh: float = 0.0
    base_watts: float = 220.0
    solar_peak_watts: float = 0.0
    reverse: bool | None = None  # E3/EB supported; None: only with solar
    two_wire: bool = False
    infc: bool = False  # push the 30-minute EA/EB as INFC (0x74) instead of INF
    response_latency: float = 0.3  # seconds between the request's OK and the ERXUDP
    manufacturer: bytes = b"\x00\x00\x16"
    serial_number: str = "SIM000000001"

    @property
    def pan_id(self) -> int:
        return int(self.mac[-4:], 16)

    @property
    def has_reverse(self) -> bool:
        return self.solar_peak_watts > 0 if self.reverse is None else self.reverse


@attrs.frozen
class Answer:
    tid: int
    esv: int
    props: tuple[tuple[int, bytes], ...]


class Meter:
    def __init__(self, config: MeterConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or MeterConfig()
        self.household = Household(
            seed=seed,
            base_watts=self.config.base_watts,
            solar_peak_watts=self.config.solar_peak_watts,
        )
        self._elapsed = 0.0
        self._import_kwh = self.config.initial_import_kwh
        self._export_kwh = self.config.initial_export_kwh
        self._fixed: dict[datetime, tuple[int, int]] = {}
        self._tid = 0x0360
        self.sna_epcs: set[int] = set()
        self.location = b"\x00"
        self.day_for_history = 0
        # observable truth
        self.last_answers: dict[int, bytes] = {}
        self.last_power_watts: int | None = None
        self.last_current_r_amperes: float | None = None
        self.last_current_t_amperes: float | None = None
        self.last_energy_forward_raw: int | None = None
        self.last_energy_reverse_raw: int | None = None
        self.answered_log: list[Answer] = []
        self.pushed_log: list[Answer] = []
        self.infc_res_count = 0
        self._record_fixed(self._boundary_at_or_before(self.config.start))

    # ----------------------------------------------------------------- clock & energy
    def now(self, elapsed: float) -> datetime:
        return self.config.start + timedelta(seconds=elapsed)

    @property
    def unit_kwh(self) -> Decimal:
        return UNIT_KWH[self.config.unit_code]

    def _raw(self, kwh: float) -> int:
        scale = float(self.unit_kwh) * (self.config.coefficient or 1)
        modulus: int = 10**self.config.digits
        return int(kwh / scale + 1e-9) % modulus

    @staticmethod
    def _boundary_at_or_before(at: datetime) -> datetime:
        return at.replace(minute=0 if at.minute < 30 else 30, second=0, microsecond=0)

    def _record_fixed(self, boundary: datetime) -> None:
        self._fixed[boundary] = (self._raw(self._import_kwh), self._raw(self._export_kwh))
        while len(self._fixed) > 100:
            del self._fixed[min(self._fixed)]

    def advance(self, elapsed: float) -> None:
        """Integrate |power| into import (E0) / export (E3) up to ``elapsed``."""
        while self._elapsed < elapsed:
            at = self.now(self._elapsed)
            next_boundary = self._boundary_at_or_before(at) + timedelta(seconds=_HALF_HOUR)
            step = min(_STEP_S, elapsed - self._elapsed, (next_boundary - at).total_seconds())
            watts = self.household.net_watts(at)
            kwh = abs(watts) * step / 3_600_000
            if watts >= 0:
                self._import_kwh += kwh
            else:
                self._export_kwh += kwh
            self._elapsed += step
            if self.now(self._elapsed) >= next_boundary:
                self._record_fixed(next_boundary)

    def power_watts(self, elapsed: float) -> int:
        return self.household.net_watts(self.now(elapsed))

    def energy_raw(self, elapsed: float) -> tuple[int, int]:
        self.advance(elapsed)
        return self._raw(self._import_kwh), self._raw(self._export_kwh)

    def currents_deciamps(self, watts: int) -> tuple[int, int]:
        if self.config.two_wire:
            return round(watts / 10), _NO_DATA_U16
        total = watts / 10  # 0.1 A units over two 100 V legs: (R + T) * 100 V = P
        return round(total * 0.55), round(total * 0.45)

    def fixed_time(self, elapsed: float, reverse: bool) -> bytes:
        self.advance(elapsed)
        boundary = self._boundary_at_or_before(self.now(elapsed))
        raw = self._fixed.get(boundary)
        if raw is None:
            boundary = max(self._fixed)
            raw = self._fixed[boundary]
        stamp = boundary.year.to_bytes(2, "big") + bytes(
            [boundary.month, boundary.day, boundary.hour, boundary.minute, 0]
        )
        return stamp + raw[1 if reverse else 0].to_bytes(4, "big")

    # ----------------------------------------------------------------- properties
    def get_map(self) -> set[int]:
        epcs = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F}
        epcs |= {0xD7, 0xE0, 0xE1, 0xE5, 0xE7, 0xE8, 0xEA}
        if self.config.coefficient is not None:
            epcs.add(0xD3)
        if self.config.has_reverse:
            epcs |= {0xE3, 0xEB}
        return epcs

    def inf_map(self) -> set[int]:
        return {0x80, 0x81, 0x88} | ({0xEA, 0xEB} if self.config.has_reverse else {0xEA})

    def _edt(self, epc: int, elapsed: float) -> bytes | None:
        c = self.config
        at = self.now(elapsed)
        if epc in self.sna_epcs or epc not in self.get_map():
            return None
        if epc == 0x80:
            return b"\x30"
        if epc == 0x81:
            return self.location
        if epc == 0x82:
            return b"\x00\x00\x46\x00"
        if epc == 0x88:
            return b"\x42"
        if epc == 0x8A:
            return c.manufacturer
        if epc == 0x8D:
            return c.serial_number.encode("ascii")[:12].ljust(12, b"0")
        if epc == 0x97:
            return bytes([at.hour, at.minute])
        if epc == 0x98:
            return at.year.to_bytes(2, "big") + bytes([at.month, at.day])
        if epc == 0x9D:
            return f.property_map(self.inf_map())
        if epc == 0x9E:
            return f.property_map(_SETTABLE)
        if epc == 0x9F:
            return f.property_map(self.get_map())
        if epc == 0xD3:
            return (c.coefficient or 1).to_bytes(4, "big")
        if epc == 0xD7:
            return bytes([c.digits])
        if epc in (0xE0, 0xE3):
            fwd, rev = self.energy_raw(elapsed)
            self.last_energy_forward_raw, self.last_energy_reverse_raw = fwd, rev
            return (fwd if epc == 0xE0 else rev).to_bytes(4, "big")
        if epc == 0xE1:
            return bytes([c.unit_code])
        if epc == 0xE5:
            return bytes([self.day_for_history])
        if epc == 0xE7:
            watts = self.power_watts(elapsed)
            self.last_power_watts = watts
            return watts.to_bytes(4, "big", signed=True)
        if epc == 0xE8:
            r, t = self.currents_deciamps(self.power_watts(elapsed))
            self.last_current_r_amperes = r / 10
            self.last_current_t_amperes = None if t == _NO_DATA_U16 else t / 10
            return r.to_bytes(2, "big", signed=True) + t.to_bytes(2, "big", signed=True)
        if epc in (0xEA, 0xEB):
            return self.fixed_time(elapsed, reverse=epc == 0xEB)
        return None

    # ----------------------------------------------------------------- services
    def next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def handle(self, payload: bytes, elapsed: float) -> bytes | None:
        """Answer one datagram from the controller; None when a meter stays silent."""
        try:
            req = f.decode(payload)
        except ValueError:
            return None
        if req.esv == f.INFC_RES:
            self.infc_res_count += 1
            return None
        if req.deoj == f.NODE_PROFILE:
            return self._node_profile(req)
        if req.deoj != f.SMART_METER:
            return None
        if req.esv == f.GET:
            props = []
            ok = True
            for epc, _ in req.props:
                edt = self._edt(epc, elapsed)
                ok = ok and edt is not None
                props.append((epc, edt or b""))
                if edt is not None:
                    self.last_answers[epc] = edt
            esv = f.GET_RES if ok else f.GET_SNA
            return self._reply(req, esv, tuple(props))
        if req.esv in (f.SETC, f.SETI):
            props = []
            ok = True
            for epc, edt in req.props:
                accepted = self._set(epc, edt)
                ok = ok and accepted
                props.append((epc, b"" if accepted else edt))
            if req.esv == f.SETI:
                return None if ok else self._reply(req, f.SETI_SNA, tuple(props))
            return self._reply(req, f.SET_RES if ok else f.SETC_SNA, tuple(props))
        return None

    def _set(self, epc: int, edt: bytes) -> bool:
        if epc == 0x81 and len(edt) in (1, 17):
            self.location = edt
            return True
        if epc == 0xE5 and len(edt) == 1 and edt[0] <= 99:
            self.day_for_history = edt[0]
            return True
        return False

    def _reply(self, req: f.SimFrame, esv: int, props: tuple[tuple[int, bytes], ...]) -> bytes:
        self.answered_log.append(Answer(req.tid, esv, props))
        return f.SimFrame(req.tid, req.deoj, req.seoj, esv, props).encode()

    def _node_profile(self, req: f.SimFrame) -> bytes | None:
        table = {
            0x82: b"\x01\x0d\x01\x00",
            0x8A: self.config.manufacturer,
            0xD3: b"\x00\x00\x01",
            0xD4: b"\x00\x02",
            0xD5: b"\x01" + f.SMART_METER,
            0xD6: b"\x01" + f.SMART_METER,
            0xD7: b"\x01\x02\x88",
        }
        if req.esv == f.INF_REQ:
            if all(epc in table for epc, _ in req.props):
                props = tuple((epc, table[epc]) for epc, _ in req.props)
                frame = f.SimFrame(self.next_tid(), f.NODE_PROFILE, f.NODE_PROFILE, f.INF, props)
                return frame.encode()
            return self._reply(req, f.INF_SNA, tuple((e, b"") for e, _ in req.props))
        if req.esv != f.GET:
            return None
        props = tuple((epc, table.get(epc, b"")) for epc, _ in req.props)
        esv = f.GET_RES if all(edt for _, edt in props) else f.GET_SNA
        return self._reply(req, esv, props)

    # ----------------------------------------------------------------- pushes
    def instance_list_inf(self) -> bytes:
        """The D5 INF the meter multicasts to FF02::1 after PANA (protocol.md §8)."""
        props = ((0xD5, b"\x01" + f.SMART_METER),)
        return f.SimFrame(self.next_tid(), f.NODE_PROFILE, f.NODE_PROFILE, f.INF, props).encode()

    def fixed_time_push(self, elapsed: float) -> bytes:
        """The 30-minute EA (and EB) notification, INF or INFC per configuration."""
        props = [(0xEA, self.fixed_time(elapsed, reverse=False))]
        if self.config.has_reverse:
            props.append((0xEB, self.fixed_time(elapsed, reverse=True)))
        esv = f.INFC if self.config.infc else f.INF
        frame = f.SimFrame(self.next_tid(), f.SMART_METER, f.CONTROLLER, esv, tuple(props))
        self.pushed_log.append(Answer(frame.tid, esv, frame.props))
        return frame.encode()
