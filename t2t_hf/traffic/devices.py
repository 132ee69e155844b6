"""Which addresses in a capture are the client devices (the phones), and packet directions.

Heuristic (documented, overridable with ``device=``):
    1. Every flow gets a client (initiator) on its first packet: the SYN sender,
       else the side with the ephemeral port when one side uses a service port,
       else the first sender (see :mod:`t2t_hf.traffic.flows`).
    2. Each address scores the number of flows it is the client of. Multicast,
       broadcast and unspecified addresses never count.
    3. Devices are the addresses whose score is at least ``min_share`` (default
       0.2) of the top score and at least ``min_flows`` (default 2) flows, ranked
       by score then packets; private (RFC 1918, CGNAT, link-local, ULA) addresses
       rank before public ones of the same score. If no address qualifies, the
       most active address is the device.
Uplink = sent by the device; downlink = received by it.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

import numpy as np

from ..errors import T2TInputError
from .table import PacketTable, encode_addresses, format_address


def is_special(addr: bytes) -> bool:
    """True for multicast, broadcast and unspecified addresses (16-byte form)."""
    ip = ipaddress.ip_address(format_address(addr))
    return bool(ip.is_multicast or ip.is_unspecified or str(ip) == "255.255.255.255" or ip.is_loopback
                or (ip.version == 4 and str(ip).endswith(".255")))


def is_private(addr: bytes) -> bool:
    ip = ipaddress.ip_address(format_address(addr))
    return bool(ip.is_private or ip.is_link_local or (ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10")))


class DeviceTracker:
    """Accumulates client-flow counts per address; ``devices()`` applies the heuristic."""

    def __init__(self, min_share: float = 0.2, min_flows: int = 2):
        if not 0 < min_share <= 1:
            raise T2TInputError(f"min_share must be in (0, 1], not {min_share!r}")
        self.min_share = min_share
        self.min_flows = min_flows
        self.client_flows: Counter = Counter()
        self.packets: Counter = Counter()

    def update(self, table: PacketTable, first: np.ndarray, client: np.ndarray) -> None:
        """Count the flows opened in ``table`` (``first`` marks, ``client`` addresses from FlowTracker)."""
        if first.any():
            u, c = np.unique(client[first], return_counts=True)
            for a, k in zip(u.tolist(), c.tolist()):
                self.client_flows[a] += k
        for col in (table.src_addr, table.dst_addr):
            u, c = np.unique(col, return_counts=True)
            for a, k in zip(u.tolist(), c.tolist()):
                self.packets[a] += k

    def devices(self) -> list[str]:
        """Device addresses as strings, most likely first."""
        cand = {a: n for a, n in self.client_flows.items() if not is_special(a)}
        if cand:
            top = max(cand.values())
            keep = [a for a, n in cand.items() if n >= max(self.min_flows, self.min_share * top)] or \
                [max(cand, key=lambda a: (cand[a], self.packets[a]))]
            keep.sort(key=lambda a: (-cand[a], not is_private(a), -self.packets[a], a))
            return [format_address(a) for a in keep]
        pk = {a: n for a, n in self.packets.items() if not is_special(a)}
        if not pk:
            return []
        return [format_address(max(pk, key=lambda a: (pk[a], a)))]


def detect_devices(table: PacketTable, min_share: float = 0.2, min_flows: int = 2, flows=None) -> list[str]:
    """Client device addresses in a capture, most likely first (see the module docstring).

    Args:
        table: packets.
        min_share: keep addresses with at least this share of the top address's client flows.
        min_flows: and at least this many client flows.
        flows: optional precomputed ``FlowTracker.assign`` output (flow_id, first, client).

    Returns:
        list of address strings ("192.168.1.20", "2001:db8::5"); empty for an empty table.
    """
    from .flows import FlowTracker

    tracker = DeviceTracker(min_share, min_flows)
    if len(table) == 0:
        return []
    fid, first, client = flows if flows is not None else FlowTracker().assign(table)
    tracker.update(table, first, client)
    return tracker.devices()


def normalize_devices(device) -> list[bytes] | None:
    """``None`` (detect), one address string, or a list of them -> 16-byte addresses."""
    if device is None:
        return None
    items = [device] if isinstance(device, (str, bytes)) else list(device)
    if not items:
        raise T2TInputError("device list is empty; pass an IP address such as '192.168.1.20', or None to detect")
    out = []
    for d in items:
        try:
            out.append(bytes(encode_addresses([d])[0]))
        except ValueError:
            raise T2TInputError(f"device {d!r} is not an IP address; pass e.g. '192.168.1.20' or '2001:db8::5'") from None
    return out


def direction(table: PacketTable, device: bytes) -> np.ndarray:
    """+1 for packets sent by ``device`` (uplink), -1 received (downlink), 0 unrelated. int8 [N]."""
    up = table.src_addr == device
    down = table.dst_addr == device
    return np.where(up, 1, np.where(down, -1, 0)).astype(np.int8)
