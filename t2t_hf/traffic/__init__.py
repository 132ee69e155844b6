"""Traffic ingestion: captures -> packet tables -> devices, flows and windows.

Data flows one way: ``read_capture``/``iter_capture`` (files, bytes, pipes) ->
``PacketTable`` -> ``assign_flows`` / ``detect_devices`` -> ``make_windows`` /
``iter_windows`` -> ``Window``. Live capture (:mod:`.live`) feeds the same path.
"""

from .devices import detect_devices, direction
from .flows import DEFAULT_ACTIVE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, FlowTracker, assign_flows, flow_summary
from .pyshark_backend import read_capture_pyshark
from .reader import iter_capture, read_capture
from .table import PacketTable, format_addresses
from .window import Window
from .windows import Windower, iter_windows, make_windows

__all__ = [
    "read_capture", "iter_capture", "read_capture_pyshark", "PacketTable", "Window", "Windower", "make_windows", "iter_windows",
    "detect_devices", "direction", "assign_flows", "flow_summary", "FlowTracker", "format_addresses",
    "DEFAULT_IDLE_TIMEOUT", "DEFAULT_ACTIVE_TIMEOUT",
]
