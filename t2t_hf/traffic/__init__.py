"""Traffic ingestion: captures -> packet tables -> devices, flows and windows."""

from .reader import iter_capture, read_capture
from .table import PacketTable
from .window import Window

__all__ = ["read_capture", "iter_capture", "PacketTable", "Window"]
