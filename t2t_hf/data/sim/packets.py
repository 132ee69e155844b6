"""The packet builder every T2T-Sim traffic model writes into.

Traffic models add packets in vectorised chunks (numpy arrays: time in seconds
from the session start, flow index, direction, transport payload length in
bytes, TCP flags, payload kind). :meth:`TrafficBuilder.finalize` orders them by
time, derives TCP sequence and acknowledgement numbers from the byte streams,
and returns the packet arrays plus the flow table that both the
``PacketTable`` and the pcap writer are made from.

Header sizes (bytes): IPv4 20, UDP 8, TCP 32 with the timestamp option on every
segment after the handshake, 40 on SYN and SYN-ACK (MSS, SACK-permitted,
timestamps, window scale). Phones whose stack does not negotiate timestamps
(``tcp_timestamps=False``) send 20-byte TCP headers and 32-byte SYNs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IP_HDR = 20
UDP_HDR = 8
TCP_HDR = 32
TCP_SYN_HDR = 40
TCP_HDR_NO_TS = 20
TCP_SYN_HDR_NO_TS = 32

# TCP flags
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

# payload kinds (how the pcap writer fills the transport payload)
K_TCP = 0          # TLS byte stream (records framed from the message table) or empty
K_QUIC_LONG = 1    # QUIC long-header packet (handshake)
K_QUIC_SHORT = 2   # QUIC short-header packet (1-RTT)
K_RTP = 3          # RTP packet (V=2) with zero media bytes
K_RTCP = 4         # RTCP receiver report
K_RAW = 5          # explicit payload bytes (DNS, STUN) from ``raw_payloads``
K_OPAQUE = 6       # zero filler (game datagrams)


@dataclass
class Flow:
    """One bidirectional transport flow of the phone.

    Attributes:
        proto: 6 (TCP) or 17 (UDP).
        server: the server's IPv4 address as a string.
        server_port, client_port: transport ports.
        host: the server's host name (used in DNS queries), "" when none.
        app: the app (or background service) that owns the flow.
        isn_client, isn_server: TCP initial sequence numbers (0 for UDP).
        rtp_pt: RTP payload type for RTP flows (111 audio, 96 video), else 0.
    """

    proto: int
    server: str
    server_port: int
    client_port: int
    host: str = ""
    app: str = ""
    isn_client: int = 0
    isn_server: int = 0
    rtp_pt: int = 0


@dataclass
class Packets:
    """Finalized packets of a session, ordered by time. N packets, F flows.

    Attributes:
        time: float64 [N], seconds since the session start.
        flow: int32 [N], index into ``flows``.
        up: bool [N], True when the phone sent the packet.
        payload: int32 [N], transport payload bytes.
        flags: uint16 [N], TCP flags (0 for UDP).
        kind: uint8 [N], payload kind (``K_*``).
        aux: int32 [N], index into ``raw_payloads`` for ``K_RAW`` packets, else -1.
        seq, ack: uint32 [N], TCP sequence / acknowledgement numbers (0 for UDP).
        proto: uint8 [N], 6 or 17.
        ip_len: uint32 [N], IPv4 total length, bytes.
        flows: the flow table (F entries).
        raw_payloads: explicit payloads (bytes) referenced by ``aux``.
        messages: TLS message table per TCP byte stream: dict of arrays ``flow``, ``up``,
            ``offset`` (stream offset of the first byte), ``length`` (bytes).
        tcp_timestamps: whether TCP segments carry the timestamp option.
    """

    time: np.ndarray
    flow: np.ndarray
    up: np.ndarray
    payload: np.ndarray
    flags: np.ndarray
    kind: np.ndarray
    aux: np.ndarray
    seq: np.ndarray
    ack: np.ndarray
    proto: np.ndarray
    ip_len: np.ndarray
    flows: list
    raw_payloads: list
    messages: dict = field(default_factory=dict)
    tcp_timestamps: bool = True

    def __len__(self) -> int:
        return int(self.time.shape[0])


class TrafficBuilder:
    """Collects packet chunks and flows for one session.

    Args:
        rng: the session's ``numpy.random.Generator`` (all randomness of the session comes from it).
        duration: session length in seconds; packets outside ``[0, duration)`` are dropped at finalize.
    """

    def __init__(self, rng: np.random.Generator, duration: float, tcp_timestamps: bool = True) -> None:
        self.rng = rng
        self.tcp_timestamps = bool(tcp_timestamps)
        self.duration = float(duration)
        self.flows: list[Flow] = []
        self._chunks: list[tuple] = []
        self._offsets: dict[tuple[int, bool], int] = {}
        self._msgs: list[tuple] = []
        self.raw_payloads: list[bytes] = []
        self._next_port = int(rng.integers(33000, 52000))

    # -- flows ----------------------------------------------------------------
    def new_flow(self, proto: int, server: str, server_port: int, host: str = "", app: str = "",
                 client_port: int | None = None, rtp_pt: int = 0) -> int:
        """Register a flow; returns its index. Client ports count up from a random ephemeral port."""
        if client_port is None:
            client_port = self._next_port
            self._next_port = 32768 + (self._next_port - 32768 + 1 + int(self.rng.integers(0, 3))) % 28000
        isn_c = int(self.rng.integers(0, 2**32)) if proto == 6 else 0
        isn_s = int(self.rng.integers(0, 2**32)) if proto == 6 else 0
        self.flows.append(Flow(proto, server, int(server_port), int(client_port), host, app, isn_c, isn_s, rtp_pt))
        return len(self.flows) - 1

    # -- packets --------------------------------------------------------------
    def add(self, time, flow, up, payload, flags=0, kind=K_TCP, seq=-2, aux=-1) -> None:
        """Add packets (arrays or scalars broadcast to the length of ``time``).

        ``seq`` is the relative stream offset of the first payload byte for TCP data
        (-1 for SYN, -2 to derive it: the sender's stream position at that time).
        """
        time = np.atleast_1d(np.asarray(time, dtype=np.float64))
        n = time.shape[0]
        if n == 0:
            return

        def arr(v, dt):
            a = np.asarray(v, dtype=dt)
            return np.broadcast_to(a, (n,)).copy() if a.ndim == 0 or a.shape[0] != n else a

        self._chunks.append((time, arr(flow, np.int32), arr(up, bool), arr(payload, np.int32),
                             arr(flags, np.uint16), arr(kind, np.uint8), arr(seq, np.int64), arr(aux, np.int32)))

    def add_raw(self, time: float, flow: int, up: bool, data: bytes) -> None:
        """Add one UDP packet whose payload bytes are given (DNS, STUN)."""
        self.raw_payloads.append(bytes(data))
        self.add(time, flow, up, len(data), 0, K_RAW, -2, len(self.raw_payloads) - 1)

    def alloc_stream(self, flow: int, up: bool, lengths: np.ndarray) -> np.ndarray:
        """Reserve consecutive TLS messages of ``lengths`` bytes on one TCP byte stream.

        Returns int64 [M]: the stream offset of each message's first byte. Messages are
        laid out in call order, so a model sends them in time order on one stream.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        key = (int(flow), bool(up))
        start = self._offsets.get(key, 0)
        offs = start + np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
        self._offsets[key] = start + int(lengths.sum())
        if len(lengths):
            self._msgs.append((np.full(len(lengths), flow, np.int32), np.full(len(lengths), bool(up)), offs, lengths))
        return offs

    def stream_end(self, flow: int, up: bool) -> int:
        """Bytes reserved so far on a TCP byte stream."""
        return self._offsets.get((int(flow), bool(up)), 0)

    # -- finalize -------------------------------------------------------------
    def finalize(self) -> Packets:
        """Order the packets by time and derive TCP numbers and IP lengths. See :class:`Packets`."""
        if self._chunks:
            cols = [np.concatenate(c) for c in zip(*self._chunks)]
        else:
            cols = [np.zeros(0, d) for d in (np.float64, np.int32, bool, np.int32, np.uint16, np.uint8, np.int64,
                                             np.int32)]
        time, flow, up, payload, flags, kind, seq, aux = cols
        keep = (time >= 0) & (time < self.duration)
        order = np.argsort(time[keep], kind="stable")
        time, flow, up, payload, flags, kind, seq, aux = (c[keep][order] for c in
                                                          (time, flow, up, payload, flags, kind, seq, aux))
        protos = np.array([f.proto for f in self.flows] or [0], dtype=np.uint8)
        proto = protos[flow] if len(flow) else np.zeros(0, np.uint8)
        seq_abs, ack_abs = _tcp_numbers(self.flows, flow, up, payload, flags, seq, proto)
        syn_h, h = (TCP_SYN_HDR, TCP_HDR) if self.tcp_timestamps else (TCP_SYN_HDR_NO_TS, TCP_HDR_NO_TS)
        hdr = np.where(proto == 6, np.where(flags & SYN, syn_h, h), UDP_HDR)
        ip_len = (IP_HDR + hdr + payload).astype(np.uint32)
        if self._msgs:
            m = [np.concatenate(c) for c in zip(*self._msgs)]
            messages = {"flow": m[0], "up": m[1], "offset": m[2], "length": m[3]}
        else:
            messages = {"flow": np.zeros(0, np.int32), "up": np.zeros(0, bool), "offset": np.zeros(0, np.int64),
                        "length": np.zeros(0, np.int64)}
        return Packets(time=time, flow=flow, up=up, payload=payload, flags=flags, kind=kind, aux=aux,
                       seq=seq_abs, ack=ack_abs, proto=proto, ip_len=ip_len, flows=self.flows,
                       raw_payloads=self.raw_payloads, messages=messages, tcp_timestamps=self.tcp_timestamps)


def _tcp_numbers(flows, flow, up, payload, flags, seq, proto):
    """TCP sequence and acknowledgement numbers (uint32 [N]) from relative stream offsets.

    In relative terms the SYN occupies offset -1, data offsets 0.., a FIN one byte at the
    stream end. A packet's ACK number is the contiguous end of what it has seen from the other
    side: the largest offset below which every byte of the peer stream arrived earlier in the
    capture (holes left by lost segments are acknowledged only once the retransmission arrives).
    """
    n = len(flow)
    seq_out = np.zeros(n, np.uint32)
    ack_out = np.zeros(n, np.uint32)
    tcp = np.nonzero(proto == 6)[0]
    if len(tcp) == 0:
        return seq_out, ack_out
    f = flow[tcp]
    u = up[tcp]
    pl = payload[tcp].astype(np.int64)
    fl = flags[tcp]
    sq = seq[tcp].copy()
    # sort by (flow, time): tcp indices are already time ordered, a stable sort on flow keeps that
    o = np.argsort(f, kind="stable")
    f, u, pl, fl, sq = f[o], u[o], pl[o], fl[o], sq[o]
    is_syn = (fl & SYN) != 0
    is_fin = (fl & FIN) != 0
    sq[is_syn] = -1
    # virtual length: SYN and FIN occupy one sequence number
    vlen = pl + is_syn + is_fin
    # a stride separating flows and directions so that running max/min work across groups
    stride = np.int64(1) << 40
    nflows = int(f.max()) + 1
    # fill derived seqs (-2) with the sender's running stream end (max seq_end so far in that direction)
    need = sq == -2
    for direction in (True, False):
        sel = np.nonzero(u == direction)[0]
        if len(sel) == 0:
            continue
        gf = f[sel].astype(np.int64)
        base = gf * stride + stride // 2
        known = ~need[sel]
        end = np.where(known, base + sq[sel] + vlen[sel], base)
        run = np.maximum.accumulate(end)
        # value carried from the previous packet of the same group (exclusive running max)
        prev = np.concatenate([[np.int64(-1)], run[:-1]])
        prev = np.where(prev >= base, prev, base)
        fill = need[sel]
        # FIN with derived seq: at the stream end
        sq_sel = sq[sel]
        sq_sel[fill] = (prev - base)[fill]
        sq[sel] = sq_sel
    # contiguous received end per direction, then carried to packets of the other direction
    # flows picked up mid-connection (no SYN in the capture) acknowledge from offset 0
    ack_rel = np.zeros(len(f), np.int64)
    seen_any = ~(is_syn & ((fl & ACK) == 0))  # only the opening SYN carries no acknowledgement
    for direction in (True, False):
        src = u == direction  # data of this direction acknowledged by packets of the other
        idx = np.nonzero(src)[0]
        if len(idx) == 0:
            continue
        gf = f[idx].astype(np.int64)
        base = gf * stride + stride // 2
        start = base + sq[idx]
        end = start + vlen[idx]
        run_end = np.maximum.accumulate(end)
        # suffix min of starts of packets arriving later (within the same flow)
        later_start = np.minimum.accumulate(start[::-1])[::-1]
        later_start = np.concatenate([later_start[1:], [np.int64(2**62)]])
        # the suffix min may come from a later flow: then it is >= next flow's base > our run_end
        contig = np.minimum(run_end, later_start)
        # carry to all packets: for each packet, the last src packet before it in the same flow
        pos = np.full(len(f), -1, np.int64)
        pos[idx] = np.arange(len(idx))
        last = np.maximum.accumulate(pos)
        # exclusive: a packet of the other direction at position k sees src packets before k
        has = last >= 0
        li = np.where(has, last, 0)
        same = has & (f[idx][li] == f) & (~src)
        tgt = np.nonzero(same)[0]
        ack_rel[tgt] = np.maximum(contig[li[tgt]] - (f[tgt].astype(np.int64) * stride + stride // 2), 0)
    # to absolute numbers
    isn_c = np.array([fl_.isn_client for fl_ in flows], dtype=np.int64)[f]
    isn_s = np.array([fl_.isn_server for fl_ in flows], dtype=np.int64)[f]
    own = np.where(u, isn_c, isn_s)
    other = np.where(u, isn_s, isn_c)
    seq_abs = ((own + 1 + sq) % (1 << 32)).astype(np.uint32)
    ack_abs = np.where(seen_any, (other + 1 + ack_rel) % (1 << 32), 0).astype(np.uint32)
    inv = np.empty_like(o)
    inv[o] = np.arange(len(o))
    seq_out[tcp] = seq_abs[inv]
    ack_out[tcp] = ack_abs[inv]
    return seq_out, ack_out


__all__ = ["TrafficBuilder", "Packets", "Flow", "IP_HDR", "UDP_HDR", "TCP_HDR", "TCP_SYN_HDR", "TCP_HDR_NO_TS",
           "TCP_SYN_HDR_NO_TS", "FIN", "SYN", "RST",
           "PSH", "ACK", "K_TCP", "K_QUIC_LONG", "K_QUIC_SHORT", "K_RTP", "K_RTCP", "K_RAW", "K_OPAQUE"]
