"""The traffic window: what one caption describes.

A window holds the packets of one device in ``[start, end)`` as parallel
per-packet arrays, ordered by time. An empty window (no packets) is an idle
window: idle is an activity too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Window:
    """Packets of one device in one time window.

    Attributes (N = number of packets, may be 0):
        device: the device's address as a string ("10.0.0.2"), or a name.
        start: window start, seconds (capture clock, usually Unix epoch); 0.0 when unknown.
        end: window end, seconds; ``end - start`` is the window length.
        time: float64 [N], seconds since ``start``; NaN where timing is unknown
            (e.g. the ``knocking`` corpus has packet order but no timestamps).
        size: int32 [N], IP packet length in bytes, signed: + uplink (sent by the device),
            - downlink (received by the device).
        protocol: uint8 [N], IP protocol number (6 TCP, 17 UDP, ...); 0 when unknown.
        flow: int32 [N], index of the packet's bidirectional flow within this window,
            0..num_flows-1 numbered by first appearance in the window.
        new_flow: bool [N], True on the first packet of a flow that starts in this window
            (False for flows that began before the window opened).
        tcp_flags: uint16 [N], TCP flags (0 for non-TCP).
        src_port/dst_port are not kept: windows carry no addresses, only shapes of traffic.
    """

    device: str
    start: float
    end: float
    time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    size: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    protocol: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    flow: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    new_flow: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    tcp_flags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint16))

    def __post_init__(self) -> None:
        self.time = np.asarray(self.time, dtype=np.float64)
        self.size = np.asarray(self.size, dtype=np.int32)
        n = self.size.shape[0]
        self.protocol = _fit(self.protocol, n, np.uint8)
        self.flow = _fit(self.flow, n, np.int32)
        self.new_flow = _fit(self.new_flow, n, bool)
        self.tcp_flags = _fit(self.tcp_flags, n, np.uint16)
        if self.time.shape[0] == 0 and n:
            self.time = np.full(n, np.nan)
        if not (self.time.shape[0] == n == self.protocol.shape[0] == self.flow.shape[0]):
            from ..errors import T2TInputError
            raise T2TInputError(
                f"window arrays disagree in length: time {self.time.shape[0]}, size {n}, "
                f"protocol {self.protocol.shape[0]}, flow {self.flow.shape[0]}")

    @property
    def duration(self) -> float:
        """Window length in seconds."""
        return float(self.end - self.start)

    @property
    def num_packets(self) -> int:
        return int(self.size.shape[0])

    @property
    def num_flows(self) -> int:
        return int(self.flow.max()) + 1 if self.flow.size else 0

    @property
    def is_idle(self) -> bool:
        return self.num_packets == 0

    @property
    def bytes_up(self) -> int:
        return int(self.size[self.size > 0].sum())

    @property
    def bytes_down(self) -> int:
        return int(-self.size[self.size < 0].sum())

    def to_dict(self) -> dict:
        """Plain lists, in the corpus schema's per-window packet columns."""
        return {"time": self.time.tolist(), "size": self.size.tolist(), "protocol": self.protocol.tolist(),
                "flow": self.flow.tolist()}

    @classmethod
    def from_dict(cls, d: dict, device: str = "device", start: float = 0.0, end: float | None = None) -> "Window":
        """Build from a corpus example (keys ``time``, ``size``, optional ``protocol``, ``flow``,
        ``window_start``, ``window_length``). New-flow marks are derived from first appearance."""
        size = np.asarray(d["size"], dtype=np.int32)
        flow = np.asarray(d.get("flow", np.zeros(len(size))), dtype=np.int32)
        new_flow = np.zeros(len(size), bool)
        if len(flow):
            _, first = np.unique(flow, return_index=True)
            new_flow[first] = True
        start = float(d.get("window_start", start) or 0.0)
        length = d.get("window_length")
        if end is None:
            end = start + float(length) if length is not None else start + 10.0
        t = d.get("time")
        time = np.asarray(t, dtype=np.float64) if t is not None else np.full(len(size), np.nan)
        return cls(device=str(d.get("device", device)), start=start, end=end, time=time, size=size,
                   protocol=np.asarray(d.get("protocol", np.zeros(len(size))), dtype=np.uint8), flow=flow,
                   new_flow=new_flow)


def _fit(a, n: int, dtype) -> np.ndarray:
    a = np.asarray(a, dtype=dtype)
    if a.shape[0] == 0 and n:
        return np.zeros(n, dtype=dtype)
    return a
