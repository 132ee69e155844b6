"""TLS 1.3 over TCP, as seen from the phone.

Everything is vectorised over messages and segments. A message of ``L`` bytes
(TLS records included) is cut into segments of at most the path's MSS. The
sender's congestion window starts at 10 segments and doubles every RTT (slow
start) until the bottleneck bandwidth is the limit, so segment ``i`` of a
message leaves (or arrives, for downlink) at::

    t_i = t_0 + R(r_i) + (i - first(r_i)) * s

with ``r_i = floor(log2(i / 10 + 1))`` the slow-start round, ``first(r)`` the
first segment of round ``r`` and ``s`` the serialisation time of one segment at
the bottleneck rate. The receiver acknowledges every second segment and the last
(delayed ACKs): the phone within a fraction of a millisecond, the server one RTT
after the phone sent. A lost downlink segment reaches the phone one RTT and a
bit later (the retransmission; the phone's duplicate ACKs show the hole); a lost
uplink segment is sent again by the phone after about 1.5 RTT.
"""

from __future__ import annotations

import numpy as np

from .environments import NetPath
from .packets import ACK, FIN, K_TCP, PSH, SYN, TrafficBuilder

W0 = 10  # initial congestion window, segments
TLS_RECORD = 16384
TLS_OVERHEAD = 22  # 5 header + 16 AEAD tag + 1 inner content type


def tls_len(app_bytes) -> np.ndarray:
    """Bytes on the wire (TCP payload) of TLS 1.3 records carrying ``app_bytes`` of application data."""
    p = np.maximum(np.asarray(app_bytes, dtype=np.int64), 1)
    return p + TLS_OVERHEAD * ((p + TLS_RECORD - 1) // TLS_RECORD)


def slow_start_offsets(i: np.ndarray, ser: float, rtt: float, w0: int = W0) -> np.ndarray:
    """Send-time offsets (s) of segment indices ``i`` (int array, 0-based within a transfer).

    Round ``r`` carries ``w0 * 2**r`` segments and lasts ``max(rtt, w0 * 2**r * ser)``: an RTT while
    the window is below the bandwidth-delay product, back to back (rate limited) after that.
    ``ser`` is the serialisation time of one segment in seconds.
    """
    i = np.asarray(i, dtype=np.float64)
    q = np.arange(48, dtype=np.float64)
    round_start = np.concatenate([[0.0], np.cumsum(np.maximum(rtt, w0 * np.exp2(q) * ser))])
    r = np.minimum(np.floor(np.log2(i / w0 + 1.0)), 47).astype(np.int64)
    first = w0 * (np.exp2(r) - 1.0)
    return round_start[r] + (i - first) * ser


def transfer_time(nbytes, seg: int, ser: float, rtt: float) -> np.ndarray:
    """Offset (s) of the last segment of transfers of ``nbytes`` in segments of ``seg`` bytes."""
    n = np.maximum((np.asarray(nbytes, dtype=np.int64) + seg - 1) // seg, 1)
    return slow_start_offsets(n - 1, ser, rtt)


def tcp_data(b: TrafficBuilder, path: NetPath, flow: int, up: bool, t_start, lengths,
             rate: float | None = None) -> np.ndarray:
    """Send TLS messages on one TCP connection in one direction.

    Args:
        t_start: float [M], time (s) the first segment of each message is seen at the phone.
        lengths: int [M], message bytes on the wire (use :func:`tls_len`).
        rate: sender rate cap in bit/s (default: the path's bottleneck for that direction).
    Returns:
        float64 [M]: time (s) of the last segment of each message at the phone.
    """
    t_start = np.atleast_1d(np.asarray(t_start, dtype=np.float64))
    lengths = np.atleast_1d(np.asarray(lengths, dtype=np.int64))
    m = len(lengths)
    if m == 0:
        return np.zeros(0)
    rng = b.rng
    mss = path.mss
    offs = b.alloc_stream(flow, up, lengths)
    nseg = (lengths + mss - 1) // mss
    total = int(nseg.sum())
    first = np.concatenate([[0], np.cumsum(nseg)[:-1]])
    rep = np.repeat(np.arange(m), nseg)
    i = np.arange(total) - first[rep]
    seglen = np.minimum(mss, lengths[rep] - i * mss).astype(np.int32)
    bw = rate or (path.up_bw if up else path.down_bw)
    ser = mss * 8.0 / bw
    t = t_start[rep] + slow_start_offsets(i, ser, path.rtt)
    last = i == nseg[rep] - 1
    t_end = t[np.cumsum(nseg) - 1].copy()
    flags = np.where(last, ACK | PSH, ACK).astype(np.uint16)
    seq = offs[rep] + i * mss
    lost = rng.random(total) < path.loss
    if up:
        b.add(t, flow, True, seglen, flags, K_TCP, seq)
        if lost.any():  # the phone retransmits
            b.add(t[lost] + path.rtt * rng.uniform(1.2, 2.0, int(lost.sum())), flow, True, seglen[lost],
                  flags[lost], K_TCP, seq[lost])
        sel = (i % 2 == 1) | last
        b.add(t[sel] + path.rtt * rng.uniform(1.0, 1.1, int(sel.sum())), flow, False, 0, ACK, K_TCP, -2)
    else:
        t = np.where(lost, t + path.rtt * rng.uniform(1.1, 1.6, total) + 0.005, t)
        t_end = np.maximum(t_end, np.maximum.reduceat(t, first))
        b.add(t, flow, False, seglen, flags, K_TCP, seq)
        sel = (i % 2 == 1) | last | lost
        b.add(t[sel] + rng.uniform(5e-5, 8e-4, int(sel.sum())), flow, True, 0, ACK, K_TCP, -2)
    return t_end


def open_tcp(b: TrafficBuilder, path: NetPath, t: float, server: str, port: int = 443, host: str = "",
             app: str = "", resumed: bool = False, chrome_hello: bool = False) -> tuple[int, float]:
    """Open a TCP connection and run a TLS 1.3 handshake at time ``t`` (s).

    Returns ``(flow index, time the connection is ready for application data)``.
    """
    rng = b.rng
    f = b.new_flow(6, server, port, host, app)
    rtt = path.rtt * rng.uniform(0.9, 1.2)
    b.add(t, f, True, 0, SYN, K_TCP, -1)
    t1 = t + rtt
    b.add(t1, f, False, 0, SYN | ACK, K_TCP, -1)
    b.add(t1 + 1e-4, f, True, 0, ACK, K_TCP, -2)
    hello = int(rng.integers(1700, 1900)) if chrome_hello else int(rng.integers(517, 640))
    tc = tcp_data(b, path, f, True, [t1 + 3e-4], [hello])[0]
    flight = int(rng.integers(250, 420)) if resumed else int(rng.integers(2600, 5600))
    ts = tcp_data(b, path, f, False, [tc + rtt + rng.uniform(0.001, 0.01)], [flight])[0]
    tf = tcp_data(b, path, f, True, [ts + rng.uniform(2e-4, 2e-3)], [int(rng.integers(64, 90))])[0]
    tcp_data(b, path, f, False, [tf + rtt + 0.001], [int(rng.integers(480, 560))])  # session tickets
    return f, tf + 5e-4


def close_tcp(b: TrafficBuilder, path: NetPath, flow: int, t: float, by_phone: bool = True) -> None:
    """TLS close_notify, then FIN / FIN-ACK / ACK at time ``t`` (s)."""
    tcp_data(b, path, flow, by_phone, [t], [24])
    t2 = t + 2e-4 if by_phone else t + 2e-4
    b.add(t2, flow, by_phone, 0, FIN | ACK, K_TCP, -2)
    b.add(t2 + path.rtt, flow, not by_phone, 0, FIN | ACK, K_TCP, -2)
    b.add(t2 + path.rtt + 2e-4, flow, by_phone, 0, ACK, K_TCP, -2)


def tcp_exchanges(b: TrafficBuilder, path: NetPath, flow: int, t_req, req_bytes, resp_bytes,
                  think: tuple[float, float] = (0.005, 0.06), rate: float | None = None) -> np.ndarray:
    """Request/response exchanges, one after another, on one TLS connection.

    Args:
        t_req: float [M], when the app wants to send each request (s); a request waits for the
            previous response to finish (one stream, in order).
        req_bytes, resp_bytes: int [M], application bytes (TLS framing is added here).
        think: server think time range (s).
        rate: downlink sender rate cap, bit/s.
    Returns:
        float64 [M]: time (s) the last byte of each response reaches the phone.
    """
    t_req = np.atleast_1d(np.asarray(t_req, dtype=np.float64))
    m = len(t_req)
    if m == 0:
        return np.zeros(0)
    rng = b.rng
    req = tls_len(np.broadcast_to(np.asarray(req_bytes, dtype=np.int64), (m,)))
    resp = tls_len(np.broadcast_to(np.asarray(resp_bytes, dtype=np.int64), (m,)))
    mss = path.mss
    d_req = transfer_time(req, mss, mss * 8.0 / path.up_bw, path.rtt)
    d_resp = transfer_time(resp, mss, mss * 8.0 / (rate or path.down_bw), path.rtt)
    th = rng.uniform(think[0], think[1], m)
    jit = np.abs(rng.normal(0.0, path.jitter, m))
    s_req = np.empty(m)
    s_resp = np.empty(m)
    prev = -1.0
    tr, dq, dr, rt = t_req.tolist(), d_req.tolist(), d_resp.tolist(), (path.rtt + th + jit).tolist()
    for k in range(m):
        s = tr[k] if tr[k] > prev else prev + 0.001
        s_req[k] = s
        s_resp[k] = s + dq[k] + rt[k]
        prev = s_resp[k] + dr[k]
    tcp_data(b, path, flow, True, s_req, req)
    return tcp_data(b, path, flow, False, s_resp, resp, rate)


__all__ = ["tls_len", "slow_start_offsets", "transfer_time", "tcp_data", "open_tcp", "close_tcp", "tcp_exchanges"]
