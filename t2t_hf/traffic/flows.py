"""Bidirectional 5-tuple flows with idle and active timeouts.

Definition (the same for files and live traffic):
    * Key: (protocol, {(address A, port A), (address B, port B)}) — the two
      endpoints unordered, so both directions of a conversation share a flow.
      Protocols without ports (ICMP, ESP, fragments after the first) use port 0.
    * A packet starts a new flow when its key has no current flow, when the gap
      since the key's previous packet exceeds ``idle_timeout`` (default 120 s),
      when the current flow is older than ``active_timeout`` (default 1800 s),
      or when it is a TCP SYN without ACK after the current flow saw FIN or RST.
    * The client (initiator) of a flow is decided on its first packet: the sender
      of a SYN, the receiver of a SYN-ACK; otherwise the endpoint with the
      ephemeral port when exactly one side uses a well-known/registered service
      port (< 1024 or a common app port) or a port >= 32768; otherwise the sender
      of the first packet.

These are the nfstream defaults (idle 120 s, active 1800 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import T2TInputError
from .kernels import _jit
from .table import PacketTable

DEFAULT_IDLE_TIMEOUT = 120.0
DEFAULT_ACTIVE_TIMEOUT = 1800.0

#: Service ports treated as the server side besides those below 1024.
SERVICE_PORTS = np.array([1194, 1883, 1935, 3478, 3479, 3480, 3481, 4244, 4443, 5060, 5061, 5222, 5223, 5228, 5242,
                          5349, 8080, 8443, 8883, 8888, 9339, 10000, 19302, 19303, 19305, 19309, 40000], dtype=np.int64)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)


@_jit
def split_flows(key, t, flags, state_fid, state_start, state_last, state_fin, idle, active, next_id, out_fid, out_first):
    """Assign flow ids to packets sorted by (key, time).

    Args:
        key: int64 [N] key index per packet (0..K-1); t: float64 [N] seconds; flags: int64 [N] TCP flags.
        state_*: per-key state [K], updated in place: current flow id (-1 none), its start and last
            packet time (s), whether it saw FIN/RST.
        idle, active: timeouts in seconds. next_id: first unused flow id.
        out_fid: int64 [N] flow id per packet; out_first: bool [N] True on a flow's first packet.

    Returns:
        The next unused flow id.
    """
    n = key.shape[0]
    for i in range(n):
        k = key[i]
        ti = t[i]
        f = flags[i]
        fid = state_fid[k]
        syn_only = (f & 2) != 0 and (f & 16) == 0
        if fid < 0 or ti - state_last[k] > idle or ti - state_start[k] > active or (state_fin[k] and syn_only):
            fid = next_id
            next_id += 1
            state_fid[k] = fid
            state_start[k] = ti
            state_fin[k] = False
            out_first[i] = True
        else:
            out_first[i] = False
        state_last[k] = ti
        if (f & 5) != 0:
            state_fin[k] = True
        out_fid[i] = fid
    return next_id


def flow_keys(table: PacketTable) -> np.ndarray:
    """Canonical bidirectional keys as ``V37`` values [N]: low endpoint, high endpoint, protocol."""
    n = len(table)
    a = np.empty((n, 18), np.uint8)
    b = np.empty((n, 18), np.uint8)
    a[:, :16] = table.src_addr.view(np.uint8).reshape(n, 16)
    b[:, :16] = table.dst_addr.view(np.uint8).reshape(n, 16)
    a[:, 16] = table.src_port >> 8
    a[:, 17] = table.src_port & 0xFF
    b[:, 16] = table.dst_port >> 8
    b[:, 17] = table.dst_port & 0xFF
    av = a.view("V18").ravel()
    bv = b.view("V18").ravel()
    swap = a.view("S18").ravel() > b.view("S18").ravel()
    lo = np.where(swap, bv, av)
    hi = np.where(swap, av, bv)
    out = np.empty((n, 37), np.uint8)
    out[:, :18] = lo.view(np.uint8).reshape(n, 18)
    out[:, 18:36] = hi.view(np.uint8).reshape(n, 18)
    out[:, 36] = table.protocol
    return out.view("V37").ravel()


def _key_index(keys: np.ndarray):
    """Distinct keys and each packet's index into them (uint64 hash, collision-checked)."""
    n = keys.shape[0]
    if n == 0:
        return keys[:0], np.zeros(0, np.int64)
    raw = keys.view(np.uint8).reshape(n, 37)
    words = np.zeros((n, 40), np.uint8)
    words[:, :37] = raw
    w = words.view(np.uint64)
    h = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(5):
            h = (h ^ w[:, j]) * _M1
            h ^= h >> np.uint64(29)
        h *= _M2
    uh, first, inv = np.unique(h, return_index=True, return_inverse=True)
    if not np.array_equal(keys[first][inv], keys):  # a 64-bit collision: fall back to exact keys
        uk, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        return uk, inv.ravel().astype(np.int64)
    return keys[first], inv.ravel().astype(np.int64)


def client_is_source(table: PacketTable) -> np.ndarray:
    """Per packet: would the sender be the client if this packet opened the flow? (bool [N]).

    See the module docstring for the rule.
    """
    f = table.tcp_flags.astype(np.int64)
    syn = (f & 2) != 0
    ack = (f & 16) != 0
    sp = table.src_port.astype(np.int64)
    dp = table.dst_port.astype(np.int64)
    s_srv = (sp < 1024) | np.isin(sp, SERVICE_PORTS)
    d_srv = (dp < 1024) | np.isin(dp, SERVICE_PORTS)
    out = np.ones(len(table), bool)  # default: the first sender
    hi_rule = (sp >= 32768) != (dp >= 32768)
    out = np.where(hi_rule, sp >= 32768, out)
    svc_rule = s_srv != d_srv
    out = np.where(svc_rule, d_srv, out)
    is_tcp = table.protocol == 6
    out = np.where(is_tcp & syn & ~ack, True, out)
    out = np.where(is_tcp & syn & ack, False, out)
    return out


@dataclass
class FlowTracker:
    """Streaming flow assignment: feed packet tables in time order, get per-packet flow ids.

    State is kept per key and expired after ``idle_timeout`` without packets, so
    memory stays bounded on endless live traffic.
    """

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    active_timeout: float = DEFAULT_ACTIVE_TIMEOUT
    next_id: int = 0
    _state: dict = field(default_factory=dict)  # key bytes -> [fid, start, last, fin, client_addr]
    _since_expiry: int = 0

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "active_timeout"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise T2TInputError(f"{name} must be a positive number of seconds, not {v!r}")

    def assign(self, table: PacketTable):
        """Flow ids for the packets of ``table`` (rows with NaN time get -1).

        Returns:
            (flow_id int64 [N], first bool [N] — the packet opens its flow,
             client_addr S16 [N] — the flow's client address).
        """
        n = len(table)
        fid_out = np.full(n, -1, np.int64)
        first_out = np.zeros(n, bool)
        client_out = np.zeros(n, "S16")
        ok = ~np.isnan(table.timestamp)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            return fid_out, first_out, client_out
        sub = table[idx] if idx.size != n else table
        keys = flow_keys(sub)
        ukeys, kidx = _key_index(keys)
        k = ukeys.shape[0]
        s_fid = np.full(k, -1, np.int64)
        s_start = np.zeros(k, np.float64)
        s_last = np.zeros(k, np.float64)
        s_fin = np.zeros(k, np.bool_)
        s_client = np.zeros(k, "S16")
        kb = [u.tobytes() for u in ukeys]
        for j, key in enumerate(kb):
            st = self._state.get(key)
            if st is not None:
                s_fid[j], s_start[j], s_last[j], s_fin[j], s_client[j] = st
        t = sub.timestamp
        order = np.lexsort((t, kidx))
        fid = np.empty(idx.size, np.int64)
        first = np.empty(idx.size, np.bool_)
        base = self.next_id
        self.next_id = int(split_flows(kidx[order], t[order], sub.tcp_flags[order].astype(np.int64), s_fid, s_start,
                                       s_last, s_fin, float(self.idle_timeout), float(self.active_timeout),
                                       self.next_id, fid, first))
        fid_sorted, first_sorted = fid, first
        fid = np.empty_like(fid_sorted)
        first = np.empty_like(first_sorted)
        fid[order] = fid_sorted
        first[order] = first_sorted
        # number new flows by the row order (time order) of their first packets
        first_rows = np.flatnonzero(first)
        if first_rows.size:
            remap = np.empty(self.next_id - base, np.int64)
            remap[fid[first_rows] - base] = base + np.arange(first_rows.size)
            isnew = fid >= base
            fid[isnew] = remap[fid[isnew] - base]
            snew = s_fid >= base
            s_fid[snew] = remap[s_fid[snew] - base]
        # client address per flow, decided on its first packet
        cis = client_is_source(sub)
        first_rows = np.flatnonzero(first)
        new_client = np.where(cis[first_rows], sub.src_addr[first_rows], sub.dst_addr[first_rows])
        flow_client = {int(f): c for f, c in zip(fid[first_rows].tolist(), new_client)}
        # flows continuing from earlier chunks keep their recorded client
        for j in range(k):
            f = int(s_fid[j])
            if f not in flow_client:
                flow_client[f] = s_client[j]
        client = _map_client(fid, flow_client)
        for j, key in enumerate(kb):
            self._state[key] = (int(s_fid[j]), float(s_start[j]), float(s_last[j]), bool(s_fin[j]),
                                flow_client[int(s_fid[j])])
        fid_out[idx] = fid
        first_out[idx] = first
        client_out[idx] = client
        self._since_expiry += idx.size
        if self._since_expiry > 100_000:
            self.expire(float(np.nanmax(t)))
        return fid_out, first_out, client_out

    def expire(self, now: float) -> int:
        """Forget keys idle for longer than ``idle_timeout`` at time ``now`` (s). Returns how many."""
        dead = [key for key, st in self._state.items() if now - st[2] > self.idle_timeout]
        for key in dead:
            del self._state[key]
        self._since_expiry = 0
        return len(dead)


def _map_client(fid: np.ndarray, flow_client: dict) -> np.ndarray:
    ids = np.fromiter(flow_client.keys(), dtype=np.int64, count=len(flow_client))
    vals = np.array(list(flow_client.values()), dtype="S16")
    order = np.argsort(ids)
    pos = np.searchsorted(ids[order], fid)
    return vals[order][pos]


def assign_flows(table: PacketTable, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 active_timeout: float = DEFAULT_ACTIVE_TIMEOUT) -> np.ndarray:
    """Global bidirectional flow id per packet (int64 [N]; -1 for rows without a timestamp).

    Flow ids are numbered in the order flows are first seen. See the module
    docstring for the flow definition and timeouts (seconds).
    """
    return FlowTracker(idle_timeout, active_timeout).assign(table)[0]


def flow_summary(table: PacketTable, flow_id: np.ndarray) -> dict:
    """Per-flow statistics (arrays of length F, indexed by flow id): packets, bytes (IP length),
    first and last time (s), duration (s), protocol."""
    ok = flow_id >= 0
    f = flow_id[ok]
    nflows = int(f.max()) + 1 if f.size else 0
    t = table.timestamp[ok]
    first = np.full(nflows, np.inf)
    last = np.full(nflows, -np.inf)
    np.minimum.at(first, f, t)
    np.maximum.at(last, f, t)
    proto = np.zeros(nflows, np.uint8)
    proto[f] = table.protocol[ok]
    return {"packets": np.bincount(f, minlength=nflows), "bytes": np.bincount(f, table.ip_len[ok], minlength=nflows),
            "first": first, "last": last, "duration": last - first, "protocol": proto}
