"""ECHONET Lite, sans-IO: frames, TID matching, and the 0x028801 smart-meter catalogue.

Pure code (stdlib + attrs): bytes in, values out. The meter's EPC encodings and units
live in :mod:`trio_smartmeter.core.echonet.meter` and nowhere else; the history layouts
(E2/E4, EC/ED, D0, EE/EF) and the half-hour :class:`~.history.Slot` in
:mod:`trio_smartmeter.core.echonet.history`.
"""

from __future__ import annotations

from ._exchange import (
    RESPONSES,
    TidAllocator,
    get_request,
    infc_response,
    is_response_to,
    is_sna,
    readable_properties,
    set_request,
    sna_properties,
)
from ._frame import (
    CONTROLLER,
    ECHONET_PORT,
    EOJ,
    ESV,
    NODE_PROFILE,
    SMART_METER,
    Frame,
    FrameError,
    Property,
    decode_frame,
)

__all__ = [
    "CONTROLLER",
    "ECHONET_PORT",
    "EOJ",
    "ESV",
    "NODE_PROFILE",
    "RESPONSES",
    "SMART_METER",
    "Frame",
    "FrameError",
    "Property",
    "TidAllocator",
    "decode_frame",
    "get_request",
    "infc_response",
    "is_response_to",
    "is_sna",
    "readable_properties",
    "set_request",
    "sna_properties",
]
