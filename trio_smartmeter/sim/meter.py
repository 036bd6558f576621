"""The low-voltage smart meter (class 0x028801) behind the simulated module.

The meter is pure: every method takes the modeled time (seconds since the meter's
clock started), so tests can drive it without Trio and the module can drive it
from any clock. What it answered is kept for tests to compare with what a client
decoded (``last_answers``, ``last_power_watts``, ``answered_log``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import attrs

from . import _frame as f
from .history import RegisterHistory, parse_stamp, past_registers, stamp
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
_MINUTE_S = 60.0
_SETTABLE = {0x81, 0xE5}
#: ED before any Set (the ECHONET default: time all 0xFF) and EF's (``FFFF FF FF FF FF 01``)
_HISTORY2_DEFAULT = (None, 12)
_HISTORY3_DEFAULT = (None, 1)


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
    #: days of half-hour registers the meter keeps (E5 0..99; older days are 0xFFFFFFFE)
    history_retention_days: int = attrs.field(
        default=99, validator=attrs.validators.in_(range(100))
    )
    #: days of past registers fabricated at start (the household run backwards), for demos
    history_days: int = attrs.field(default=0, validator=attrs.validators.in_(range(100)))
    history2: bool = False  # EC/ED (history 2; optional, regional)
    release_r: bool = False  # Appendix Release R: 0x82 'R', D0 and EE/EF
    #: SetGet (0x6E) served; the AIF does not require it, so by default SetGet_SNA
    setget: bool = False

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
        self.registers = RegisterHistory(self.config.history_retention_days)
        self._tid = 0x0360
        self.sna_epcs: set[int] = set()
        self.location = b"\x00"
        self.day_for_history = 0
        self.history2_time: tuple[datetime | None, int] = _HISTORY2_DEFAULT
        self.history3_time: tuple[datetime | None, int] = _HISTORY3_DEFAULT
        #: another HEMS that sets E5 to this day just before each Get of E2/E4 (None: none)
        self.other_hems_day: int | None = None
        # observable truth
        self.last_answers: dict[int, bytes] = {}
        self.last_power_watts: int | None = None
        self.last_current_r_amperes: float | None = None
        self.last_current_t_amperes: float | None = None
        self.last_energy_forward_raw: int | None = None
        self.last_energy_reverse_raw: int | None = None
        self.answered_log: list[Answer] = []
        self.pushed_log: list[Answer] = []
        self._record_past()
        if self.config.release_r:
            self._record_minute(self.config.start.replace(second=0, microsecond=0))

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

    def _registers_now(self) -> tuple[int, int]:
        return self._raw(self._import_kwh), self._raw(self._export_kwh)

    def _record_past(self) -> None:
        """The registers before ``start``: the household run backwards (``history_days``)."""
        start = self.config.start
        days = min(self.config.history_days, self.config.history_retention_days)
        oldest = datetime.combine(start.date() - timedelta(days=days), time())
        if days == 0:
            oldest = self._boundary_at_or_before(start)
        now_kwh = (self._import_kwh, self._export_kwh)
        for boundary, registers in past_registers(
            self.household, start, oldest, now_kwh, self._raw
        ):
            self.registers.record(boundary, registers)

    def _record_minute(self, minute: datetime) -> None:
        self.registers.record_minute(minute, self._registers_now())

    def advance(self, elapsed: float) -> None:
        """Integrate |power| into import (E0) / export (E3) up to ``elapsed``.

        The registers are recorded from that same integration at every half-hour (and,
        for Release R, every minute), so history and E0/E3 always agree.
        """
        while self._elapsed < elapsed:
            at = self.now(self._elapsed)
            next_boundary = self._boundary_at_or_before(at) + timedelta(seconds=_HALF_HOUR)
            next_minute = at.replace(second=0, microsecond=0) + timedelta(seconds=_MINUTE_S)
            step = min(
                _STEP_S,
                elapsed - self._elapsed,
                (next_boundary - at).total_seconds(),
                (next_minute - at).total_seconds(),
            )
            watts = self.household.net_watts(at)
            kwh = abs(watts) * step / 3_600_000
            if watts >= 0:
                self._import_kwh += kwh
            else:
                self._export_kwh += kwh
            self._elapsed += step
            if self.now(self._elapsed) >= next_boundary:
                self.registers.record(next_boundary, self._registers_now())
            if self.config.release_r and self.now(self._elapsed) >= next_minute:
                self._record_minute(next_minute)

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
        boundary, raw = self.registers.latest_at_or_before(
            self._boundary_at_or_before(self.now(elapsed))
        )
        stamp = boundary.year.to_bytes(2, "big") + bytes(
            [boundary.month, boundary.day, boundary.hour, boundary.minute, 0]
        )
        value = raw[1 if reverse else 0]
        return stamp + (0xFFFFFFFE if value is None else value).to_bytes(4, "big")

    def minute_energy(self, elapsed: float) -> bytes:
        """D0: the registers at the latest whole minute of the meter's clock."""
        self.advance(elapsed)
        minute = self.now(elapsed).replace(second=0, microsecond=0)
        forward, reverse = self.registers.minutes.get(minute, (None, None))
        stamp = minute.year.to_bytes(2, "big") + bytes(
            [minute.month, minute.day, minute.hour, minute.minute, 0]
        )
        return stamp + b"".join(
            (0xFFFFFFFE if v is None else v).to_bytes(4, "big") for v in (forward, reverse)
        )

    def history1(self, elapsed: float, reverse: bool) -> bytes:
        """E2/E4 for the day E5 holds (another HEMS may just have changed it)."""
        self.advance(elapsed)
        if self.other_hems_day is not None:
            self.day_for_history = self.other_hems_day
        return self.registers.history1(self.now(elapsed).date(), self.day_for_history, reverse)

    def set_by_another_hems(self, epc: int, edt: bytes) -> bool:
        """Another controller's SetC, behind the exporter's back (E5/ED/EF are global)."""
        return self._set(epc, edt)

    # ----------------------------------------------------------------- properties
    def get_map(self) -> set[int]:
        epcs = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F}
        epcs |= {0xD7, 0xE0, 0xE1, 0xE2, 0xE5, 0xE7, 0xE8, 0xEA}
        if self.config.coefficient is not None:
            epcs.add(0xD3)
        if self.config.has_reverse:
            epcs |= {0xE3, 0xE4, 0xEB}
        if self.config.history2:
            epcs |= {0xEC, 0xED}
        if self.config.release_r:
            epcs |= {0xD0, 0xEE, 0xEF}
        return epcs

    def set_map(self) -> set[int]:
        epcs = set(_SETTABLE)
        if self.config.history2:
            epcs.add(0xED)
        if self.config.release_r:
            epcs.add(0xEF)
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
            return b"\x00\x00" + (b"R" if c.release_r else b"F") + b"\x00"
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
            return f.property_map(self.set_map())
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
        return self._history_edt(epc, elapsed)

    def _history_edt(self, epc: int, elapsed: float) -> bytes | None:
        if epc in (0xE2, 0xE4):
            return self.history1(elapsed, reverse=epc == 0xE4)
        if epc == 0xD0:
            return self.minute_energy(elapsed)
        self.advance(elapsed)
        if epc == 0xEC:
            return self.registers.history2(*self.history2_time)
        if epc == 0xEE:
            return self.registers.history3(*self.history3_time)
        if epc in (0xED, 0xEF):
            at, points = self.history2_time if epc == 0xED else self.history3_time
            return (b"\xff" * 6 if at is None else stamp(at)) + bytes([points])
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
        if req.esv == f.SETGET:
            return self._setget(payload, elapsed)
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

    def _setget(self, payload: bytes, elapsed: float) -> bytes | None:
        """SetGet: Set then Get in one frame where served, else SetGet_SNA untouched."""
        try:
            req = f.decode_setget(payload)
        except ValueError:
            return None
        if not self.config.setget:
            sets, gets = req.sets, tuple((epc, b"") for epc, _ in req.gets)
            return self._reply_setget(req, f.SETGET_SNA, sets, gets)
        sets = tuple((epc, b"" if self._set(epc, edt) else edt) for epc, edt in req.sets)
        gets = tuple((epc, self._edt(epc, elapsed) or b"") for epc, _ in req.gets)
        ok = all(not edt for _, edt in sets) and all(edt for _, edt in gets)
        return self._reply_setget(req, f.SETGET_RES if ok else f.SETGET_SNA, sets, gets)

    def _reply_setget(
        self,
        req: f.SimSetGet,
        esv: int,
        sets: tuple[tuple[int, bytes], ...],
        gets: tuple[tuple[int, bytes], ...],
    ) -> bytes:
        self.answered_log.append(Answer(req.tid, esv, sets + gets))
        return f.SimSetGet(req.tid, req.deoj, req.seoj, esv, sets, gets).encode()

    def _set(self, epc: int, edt: bytes) -> bool:
        if epc == 0x81 and len(edt) in (1, 17):
            self.location = edt
            return True
        if epc == 0xE5 and len(edt) == 1 and edt[0] <= 99:
            self.day_for_history = edt[0]
            return True
        if epc in (0xED, 0xEF) and epc in self.set_map() and len(edt) == 7:
            at, points = parse_stamp(edt[:6]), edt[6]
            if epc == 0xED and at is not None and at.minute in (0, 30) and 1 <= points <= 12:
                self.history2_time = (at, points)
                return True
            if epc == 0xEF and at is not None and 1 <= points <= 10:
                self.history3_time = (at, points)
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
