"""Decoder: module output bytes -> :data:`Message` objects, sans I/O (protocol.md §1, §3).

Rules, in the order they apply to the receive buffer:

* Lines end with ``\\r\\n``, a lone ``\\r`` (ROPT/WOPT replies) or a lone ``\\n``; a
  ``\\n`` straight after a ``\\r`` is skipped, even when it arrives in the next chunk.
* A line starting ``ERXUDP `` is read field by field; its payload is read by DATALEN
  (the first 4-hex-digit token after SENDERLLA), never by line: in binary mode it is
  DATALEN raw bytes (any value, CR/LF included) followed by CRLF, in hex mode 2*DATALEN
  hex digits to the end of the line. With ``payload`` None the mode is detected per
  datagram: binary iff the two bytes after the DATALEN raw bytes are CRLF (a hex digit
  is never CR).
* The ROHM J11 unique code ``D0 EA 83 FC`` on a line gives one :class:`J11Frame` per
  occurrence, and the rest of that line is dropped.
* A line longer than :attr:`Decoder.MAX_LINE` gives one :class:`Garbage` and is dropped
  up to its end; a non-ASCII line gives :class:`Garbage`. Messages never carry raw bytes
  other than the ERXUDP payload.
* Blocks: ``EPANDESC`` + indented ``Key:Value`` lines (emitted on ``PairID:`` or before
  the next message); ``EEDSCAN`` + one data line; ``EADDR``/``ENEIGHBOR``/``EPORT``/
  ``EHANDLE`` + rows until ``OK``/``FAIL`` (empty rows allowed, fw 1.2.10 EPORT quirk).

Every decision is taken only once the bytes that decide it are buffered, so the messages
do not depend on how the stream is cut into ``feed()`` calls.
"""

from __future__ import annotations

import re
import string

from ._commands import mask_line
from ._dialect import J11_MAGIC, Dialect, PayloadFormat
from ._messages import (
    Address,
    AppVersion,
    Echo,
    EdScan,
    EmptyLine,
    Fail,
    Garbage,
    Info,
    J11Frame,
    Message,
    ModuleEvent,
    Ok,
    PanDesc,
    RegisterValue,
    RxUdp,
    TableList,
    Version,
)

__all__ = ["Decoder"]

_CR = 0x0D
_LF = 0x0A
_ERXUDP = b"ERXUDP "
#: An ERXUDP header (everything before the payload) is ~130 bytes; give up well after.
_HEADER_MAX = 256
#: Trailing whitespace tolerated after a hex ERXUDP payload.
_HEX_SLACK = 16
#: Rows kept for one EADDR/ENEIGHBOR/EPORT/EHANDLE table.
_TABLE_MAX = 256
_HEX = frozenset(string.hexdigits)
_HEX_BYTES = frozenset(string.hexdigits.encode())
_PRINTABLE = frozenset((string.ascii_letters + string.digits + string.punctuation).encode())
_IPV6_RE = re.compile(r"[0-9A-Fa-f]{4}(?::[0-9A-Fa-f]{4}){7}")
_FAIL_RE = re.compile(r"FAIL ER(\d\d)")
_TABLES = frozenset({"EADDR", "ENEIGHBOR", "EPORT", "EHANDLE"})
_PAN_KEYS = {
    "channel": "Channel",
    "channel page": "Channel Page",
    "pan id": "Pan ID",
    "addr": "Addr",
    "lqi": "LQI",
    "side": "Side",
    "pairid": "PairID",
}


def _eol(buf: bytearray | bytes, start: int = 0, end: int | None = None) -> int:
    """Index of the first CR or LF in ``buf[start:end]``, or -1."""
    cr = buf.find(b"\r", start, end)
    lf = buf.find(b"\n", start, end)
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)


def _is_hex(text: str) -> bool:
    return bool(text) and set(text) <= _HEX


class Decoder:
    """Incremental decoder for one serial stream; ``feed()`` never raises."""

    MAX_LINE = 4096
    MAX_DATALEN = 0x04D0 * 2

    def __init__(
        self, dialect: Dialect | None = None, payload: PayloadFormat | None = None
    ) -> None:
        #: Settable: None infers EVENT extras per line (1 char = side, 2 chars = param).
        self.dialect = dialect
        #: Settable: None detects the ERXUDP payload format per datagram.
        self.payload = payload
        self._buf = bytearray()
        self._skip_lf = False  # the last line ended with a CR at the end of the buffer
        self._discard = False  # dropping the rest of a line (overlong / J11 / bad ERXUDP)
        self._scanned = 0  # bytes of the partial line already searched for EOL / J11
        self._pan: dict[str, str] | None = None
        self._pan_size = 0
        self._edscan = False
        self._table: tuple[str, list[str]] | None = None

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a line or payload (diagnostics)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes from the port; return every message they complete, in stream order."""
        self._buf += data
        out: list[Message] = []
        while self._step(out):
            pass
        return out

    # -- framing -------------------------------------------------------------------------
    def _step(self, out: list[Message]) -> bool:
        """Consume one unit from the buffer; False when more data is needed."""
        buf = self._buf
        if not buf:
            return False
        if self._skip_lf:
            self._skip_lf = False
            if buf[0] == _LF:
                del buf[0]
                return True
        if self._discard:
            return self._step_discard(out)
        if buf.startswith(_ERXUDP):
            return self._step_erxudp(out)
        start = max(0, self._scanned - len(J11_MAGIC) + 1)
        end = _eol(buf, self._scanned)
        line_len = end if end >= 0 else len(buf)
        magic = buf.find(J11_MAGIC, start, min(line_len, self.MAX_LINE + 1))
        if magic >= 0:
            self._emit(out, J11Frame())
            self._consume(magic + len(J11_MAGIC))
            self._discard = True
            return True
        if line_len > self.MAX_LINE:
            self._emit(out, Garbage("line too long", self.MAX_LINE + 1))
            # Keep a possible J11 prefix for the discard scan.
            self._consume(self.MAX_LINE + 1 - (len(J11_MAGIC) - 1))
            self._discard = True
            return True
        if end < 0:
            self._scanned = len(buf)
            return False
        raw = bytes(buf[:end])
        self._end_line(end)
        self._line(raw, out)
        return True

    def _step_discard(self, out: list[Message]) -> bool:
        buf = self._buf
        end = _eol(buf)
        magic = buf.find(J11_MAGIC, 0, end if end >= 0 else len(buf))
        if magic >= 0:
            self._emit(out, J11Frame())
            self._consume(magic + len(J11_MAGIC))
            return True
        if end < 0:
            self._consume(max(0, len(buf) - (len(J11_MAGIC) - 1)))
            return False
        self._discard = False
        self._end_line(end)
        return True

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        self._scanned = 0

    def _end_line(self, end: int) -> None:
        """Drop the line content ``buf[:end]`` and its terminator at ``buf[end]``."""
        buf = self._buf
        n = end + 1
        if buf[end] == _CR:
            if n < len(buf):
                if buf[n] == _LF:
                    n += 1
            else:
                self._skip_lf = True
        self._consume(n)

    def _emit(self, out: list[Message], msg: Message) -> None:
        """Emit a message that does not belong to an EPANDESC block (ends the block)."""
        self._flush_pan(out)
        out.append(msg)

    # -- ERXUDP ---------------------------------------------------------------------------
    def _step_erxudp(self, out: list[Message]) -> bool:
        buf = self._buf
        window = bytes(buf[:_HEADER_MAX])
        pos = len(_ERXUDP)
        tokens: list[str] = []
        while True:
            space = window.find(b" ", pos)
            end = _eol(window, pos)
            if end >= 0 and (space < 0 or end < space):
                self._emit(out, Garbage("ERXUDP line without payload", end))
                self._end_line(end)
                return True
            if space < 0:
                if len(window) >= _HEADER_MAX:
                    return self._bad_erxudp(out, "ERXUDP header too long", _HEADER_MAX)
                return False
            raw = window[pos:space]
            pos = space + 1
            if not raw or not set(raw) <= _PRINTABLE:
                return self._bad_erxudp(out, "malformed ERXUDP header", pos)
            token = raw.decode("ascii")
            index = len(tokens)
            tokens.append(token)
            if index in (2, 3) and not (len(token) == 4 and _is_hex(token)):
                return self._bad_erxudp(out, "malformed ERXUDP port", pos)
            if index >= 5:
                if len(token) == 4 and _is_hex(token):
                    break
                if len(token) > 2 or index >= 8 or not _is_hex(token):
                    return self._bad_erxudp(out, "malformed ERXUDP header", pos)
        datalen = int(tokens[-1], 16)
        if datalen > self.MAX_DATALEN:
            return self._bad_erxudp(out, "ERXUDP payload too long", pos)
        fmt = self.payload
        if fmt is None or fmt is PayloadFormat.BINARY:
            if len(buf) < pos + datalen + 2:
                return False
            trailer = buf[pos + datalen : pos + datalen + 2]
            if fmt is None:
                fmt = PayloadFormat.BINARY if trailer == b"\r\n" else PayloadFormat.HEX
            elif trailer != b"\r\n":
                return self._bad_erxudp(
                    out, "binary ERXUDP payload not followed by CRLF", pos + datalen
                )
        if fmt is PayloadFormat.BINARY:
            data = bytes(buf[pos : pos + datalen])
            self._consume(pos + datalen + 2)
        else:
            limit = pos + 2 * datalen + _HEX_SLACK
            end = _eol(buf, pos, limit)
            if end < 0:
                if len(buf) >= limit:
                    return self._bad_erxudp(out, "ERXUDP hex payload too long", limit)
                return False
            text = bytes(buf[pos:end]).rstrip(b" \t")
            self._end_line(end)
            if len(text) != 2 * datalen or not set(text) <= _HEX_BYTES:
                self._emit(out, Garbage("malformed ERXUDP hex payload", end))
                return True
            data = bytes.fromhex(text.decode("ascii"))
        self._emit(out, _rxudp(tokens, data))
        return True

    def _bad_erxudp(self, out: list[Message], reason: str, size: int) -> bool:
        self._emit(out, Garbage(reason, size))
        self._consume(size)
        self._discard = True
        return True

    # -- lines ----------------------------------------------------------------------------
    def _line(self, raw: bytes, out: list[Message]) -> None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            self._emit(out, Garbage("non-ASCII line", len(raw)))
            return
        size = len(raw)
        if text[:1] in (" ", "\t") and self._pan_line(text, size, out):
            return
        self._flush_pan(out)
        stripped = text.strip()
        if self._edscan:
            self._edscan = False
            levels = _edscan_levels(stripped)
            if levels is not None:
                out.append(EdScan(levels))
                return
            out.append(Garbage("EEDSCAN without data line", len("EEDSCAN")))
        if self._table is not None and self._table_line(stripped, out):
            return
        msg = self._parse(text, stripped, size)
        if msg is not None:
            out.append(msg)

    def _pan_line(self, text: str, size: int, out: list[Message]) -> bool:
        """Handle an indented line as part of an EPANDESC block; False if it is not one."""
        key, _, value = text.strip().partition(":")
        name = _PAN_KEYS.get(key.strip().lower())
        if self._pan is None:
            if name != "Channel":
                return False
            # The EPANDESC header itself was lost (transcripts.md T01 logs no header).
            self._pan = {}
            self._pan_size = 0
        self._pan_size += size
        if name is not None:
            self._pan[name] = value.strip()
        if name == "PairID":
            self._flush_pan(out)
        return True

    def _flush_pan(self, out: list[Message]) -> None:
        pan = self._pan
        if pan is None:
            return
        self._pan = None
        try:
            side = pan.get("Side")
            msg: Message = PanDesc(
                channel=_hex_int(pan["Channel"]),
                channel_page=_hex_int(pan["Channel Page"]),
                pan_id=_hex_int(pan["Pan ID"]),
                addr=_hex_str(pan["Addr"]),
                lqi=_hex_int(pan["LQI"]),
                side=None if side is None else _hex_int(side),
                pair_id=pan.get("PairID"),
            )
        except (KeyError, ValueError):
            msg = Garbage("incomplete EPANDESC block", self._pan_size)
        out.append(msg)

    def _table_line(self, stripped: str, out: list[Message]) -> bool:
        """Collect one table row; False if the line is not part of the table."""
        assert self._table is not None
        kind, rows = self._table
        if stripped == "OK" or stripped.startswith(("OK ", "FAIL ")):
            self._table = None
            out.append(TableList(kind, tuple(rows)))
            return False
        if stripped.startswith("EVENT "):
            return False
        if stripped:
            if len(rows) >= _TABLE_MAX:
                self._table = None
                out.append(Garbage("table too long", len(stripped)))
                return True
            rows.append(stripped)
        return True

    def _parse(self, text: str, stripped: str, size: int) -> Message | None:
        """One line outside any block; None for a block header (it emits nothing itself)."""
        if not stripped:
            return EmptyLine()
        head, _, rest = stripped.partition(" ")
        rest = rest.strip()
        if head == "OK":
            return Ok(rest or None)
        if head == "FAIL":
            fail = _FAIL_RE.fullmatch(stripped)
            if fail:
                return Fail(int(fail[1]))
        elif head == "EVENT":
            event = self._event(stripped.split())
            if event is not None:
                return event
        elif head == "EPANDESC" and not rest:
            self._pan = {}
            self._pan_size = size
            return None
        elif head == "EEDSCAN" and not rest:
            self._edscan = True
            return None
        elif head in _TABLES and not rest:
            self._table = (head, [])
            return None
        elif head == "EINFO":
            info = _info(rest.split())
            if info is not None:
                return info
        elif head == "EVER" and rest:
            return Version(rest)
        elif head == "EAPPVER" and rest:
            return AppVersion(rest)
        elif head == "ESREG" and rest:
            return RegisterValue(rest)
        elif _IPV6_RE.fullmatch(stripped):
            return Address(stripped.upper())
        if stripped.startswith(("SK", "ROPT", "WOPT")):
            return Echo(mask_line(text))
        return Garbage("unrecognised line", size)

    def _event(self, tokens: list[str]) -> ModuleEvent | None:
        if len(tokens) < 2 or len(tokens[1]) != 2 or not _is_hex(tokens[1]):
            return None
        code = int(tokens[1], 16)
        rest = tokens[2:]
        sender = None
        if rest and ":" in rest[0]:
            sender = rest.pop(0).upper()
        if len(rest) > 2 or not all(_is_hex(t) for t in rest):
            return None
        side = param = None
        if len(rest) == 2:
            side, param = int(rest[0], 16), int(rest[1], 16)
        elif rest:
            value = int(rest[0], 16)
            dialect = self.dialect
            if dialect is None:
                dialect = Dialect.DUAL_STACK if len(rest[0]) == 1 else Dialect.SINGLE_HOP
            if dialect is Dialect.DUAL_STACK:
                side = value
            else:
                param = value
        return ModuleEvent(code, sender, side, param)


def _hex_int(text: str) -> int:
    if not _is_hex(text):
        raise ValueError(text)
    return int(text, 16)


def _hex_str(text: str) -> str:
    if not _is_hex(text):
        raise ValueError(text)
    return text.upper()


def _edscan_levels(text: str) -> tuple[tuple[int, int], ...] | None:
    tokens = text.split()
    if not tokens or len(tokens) % 2 or not all(_is_hex(t) for t in tokens):
        return None
    values = [int(t, 16) for t in tokens]
    return tuple(zip(values[::2], values[1::2], strict=True))


def _info(tokens: list[str]) -> Info | None:
    if len(tokens) != 5:
        return None
    ip, mac, channel, pan_id, tail = tokens
    if not (_is_hex(mac) and _is_hex(channel) and _is_hex(pan_id)):
        return None
    return Info(ip.upper(), mac.upper(), int(channel, 16), int(pan_id, 16), tail)


def _rxudp(tokens: list[str], data: bytes) -> RxUdp:
    sender, dest, rport, lport, lla, *extras, _datalen = tokens
    rssi = secured = side = None
    if len(extras) == 3:
        rssi = int(extras.pop(0), 16)
    if extras:
        secured = int(extras[0], 16) != 0
    if len(extras) == 2:
        side = int(extras[1], 16)
    return RxUdp(
        sender=sender.upper(),
        dest=dest.upper(),
        rport=int(rport, 16),
        lport=int(lport, 16),
        sender_lla=lla.upper(),
        secured=secured,
        side=side,
        rssi=rssi,
        data=data,
    )
