"""SKSTACK IP, host side, sans I/O: decode module output, build commands, detect dialects.

Pure (stdlib + attrs): no trio, no I/O, no logging, no clock. See docs/architecture.md.
"""

from ._commands import CHANNELS as CHANNELS
from ._commands import Command as Command
from ._commands import Completion as Completion
from ._commands import channel_mask as channel_mask
from ._commands import format_ipv6 as format_ipv6
from ._commands import mac_to_link_local as mac_to_link_local
from ._commands import mask_line as mask_line
from ._commands import ropt as ropt
from ._commands import sk_appver as sk_appver
from ._commands import sk_info as sk_info
from ._commands import sk_join as sk_join
from ._commands import sk_ll64 as sk_ll64
from ._commands import sk_reset as sk_reset
from ._commands import sk_scan as sk_scan
from ._commands import sk_sendto as sk_sendto
from ._commands import sk_setpwd as sk_setpwd
from ._commands import sk_setrbid as sk_setrbid
from ._commands import sk_sreg as sk_sreg
from ._commands import sk_term as sk_term
from ._commands import sk_ver as sk_ver
from ._commands import wopt as wopt
from ._decoder import Decoder as Decoder
from ._dialect import Dialect as Dialect
from ._dialect import PayloadFormat as PayloadFormat
from ._dialect import dialect_from_info as dialect_from_info
from ._dialect import dialect_from_scan_failure as dialect_from_scan_failure
from ._dialect import is_j11 as is_j11
from ._dialect import payload_from_ropt as payload_from_ropt
from ._dialect import rssi_from_lqi as rssi_from_lqi
from ._messages import Address as Address
from ._messages import AppVersion as AppVersion
from ._messages import Echo as Echo
from ._messages import EdScan as EdScan
from ._messages import EmptyLine as EmptyLine
from ._messages import Fail as Fail
from ._messages import Garbage as Garbage
from ._messages import Info as Info
from ._messages import J11Frame as J11Frame
from ._messages import Message as Message
from ._messages import ModuleEvent as ModuleEvent
from ._messages import Ok as Ok
from ._messages import PanDesc as PanDesc
from ._messages import RegisterValue as RegisterValue
from ._messages import RxUdp as RxUdp
from ._messages import TableList as TableList
from ._messages import Version as Version
