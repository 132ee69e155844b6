"""QUIC (HTTP/3) over UDP port 443, as seen from the phone.

Handshake: the client's Initial padded to at least 1200 bytes of UDP payload, the
server's Initial and Handshake flight (certificate) in 2-4 full packets, the
client's Handshake Finished, then the server's HANDSHAKE_DONE. Data then moves in
short-header packets of up to the path's QUIC datagram size, paced by the same
slow-start/bandwidth model as TCP (:func:`~.tls_tcp.slow_start_offsets`); the
receiver sends an ACK-frame packet (35-45 bytes of UDP payload) every second
packet. Loss shows as a later retransmission in a new packet.
"""

from __future__ import annotations

import numpy as np

from .environments import NetPath
from .packets import K_QUIC_LONG, K_QUIC_SHORT, TrafficBuilder
from .tls_tcp import slow_start_offsets, transfer_time

SHORT_OVERHEAD = 30  # 1 + 8 DCID + 2 PN + 16 tag + frame headers


def open_quic(b: TrafficBuilder, path: NetPath, t: float, server: str, host: str = "",
              app: str = "") -> tuple[int, float]:
    """Open a QUIC connection at ``t`` (s). Returns ``(flow index, time ready for 1-RTT data)``."""
    rng = b.rng
    f = b.new_flow(17, server, 443, host, app)
    rtt = path.rtt * rng.uniform(0.9, 1.2)
    b.add(t, f, True, int(rng.integers(1250, 1253)), 0, K_QUIC_LONG)
    n_srv = int(rng.integers(2, 5))
    ts = t + rtt + rng.uniform(0.001, 0.008) + np.arange(n_srv) * (path.quic_payload * 8.0 / path.down_bw)
    sizes = np.full(n_srv, min(1252, path.quic_payload))
    sizes[-1] = int(rng.integers(300, 1200))
    b.add(ts, f, False, sizes, 0, K_QUIC_LONG)
    tc = ts[-1] + rng.uniform(2e-4, 2e-3)
    b.add(tc, f, True, int(rng.integers(90, 130)), 0, K_QUIC_LONG)
    b.add(tc + rtt, f, False, int(rng.integers(60, 260)), 0, K_QUIC_SHORT)
    return f, tc + 3e-4


def quic_data(b: TrafficBuilder, path: NetPath, flow: int, up: bool, t_start, nbytes,
              rate: float | None = None) -> np.ndarray:
    """Send stream data of ``nbytes`` [M] (application bytes) starting at ``t_start`` [M] (s).

    Returns float64 [M]: time (s) of the last packet of each transfer at the phone.
    """
    t_start = np.atleast_1d(np.asarray(t_start, dtype=np.float64))
    nbytes = np.atleast_1d(np.asarray(nbytes, dtype=np.int64))
    m = len(nbytes)
    if m == 0:
        return np.zeros(0)
    rng = b.rng
    seg = path.quic_payload - SHORT_OVERHEAD
    npk = np.maximum((nbytes + seg - 1) // seg, 1)
    total = int(npk.sum())
    first = np.concatenate([[0], np.cumsum(npk)[:-1]])
    rep = np.repeat(np.arange(m), npk)
    i = np.arange(total) - first[rep]
    size = (np.minimum(seg, np.maximum(nbytes[rep] - i * seg, 1)) + SHORT_OVERHEAD).astype(np.int32)
    bw = rate or (path.up_bw if up else path.down_bw)
    t = t_start[rep] + slow_start_offsets(i, path.quic_payload * 8.0 / bw, path.rtt)
    lost = rng.random(total) < path.loss
    last = i == npk[rep] - 1
    if up:
        b.add(t, flow, True, size, 0, K_QUIC_SHORT)
        if lost.any():
            b.add(t[lost] + path.rtt * rng.uniform(1.1, 1.5, int(lost.sum())), flow, True, size[lost], 0,
                  K_QUIC_SHORT)
        sel = (i % 2 == 1) | last
        b.add(t[sel] + path.rtt * rng.uniform(1.0, 1.1, int(sel.sum())), flow, False,
              rng.integers(35, 46, int(sel.sum())), 0, K_QUIC_SHORT)
    else:
        t = np.where(lost, t + path.rtt * rng.uniform(1.1, 1.5, total), t)
        b.add(t, flow, False, size, 0, K_QUIC_SHORT)
        sel = (i % 2 == 1) | last
        b.add(t[sel] + rng.uniform(1e-4, 1e-3, int(sel.sum())), flow, True,
              rng.integers(35, 46, int(sel.sum())), 0, K_QUIC_SHORT)
    return np.maximum.reduceat(t, first)


def quic_exchanges(b: TrafficBuilder, path: NetPath, flow: int, t_req, req_bytes, resp_bytes,
                   think: tuple[float, float] = (0.005, 0.06), rate: float | None = None) -> np.ndarray:
    """HTTP/3 request/response exchanges on one QUIC connection (streams may overlap).

    Args/returns as :func:`~.tls_tcp.tcp_exchanges`: times in s, sizes in application bytes;
    returns the arrival time (s) of the last packet of each response.
    """
    t_req = np.atleast_1d(np.asarray(t_req, dtype=np.float64))
    m = len(t_req)
    if m == 0:
        return np.zeros(0)
    rng = b.rng
    req = np.broadcast_to(np.asarray(req_bytes, dtype=np.int64), (m,)).copy()
    resp_bytes = np.broadcast_to(np.asarray(resp_bytes, dtype=np.int64), (m,)).copy()
    seg = path.quic_payload - SHORT_OVERHEAD
    d_req = transfer_time(req, seg, path.quic_payload * 8.0 / path.up_bw, path.rtt)
    quic_data(b, path, flow, True, t_req, req)
    s_resp = t_req + d_req + path.rtt + rng.uniform(think[0], think[1], m) + np.abs(rng.normal(0, path.jitter, m))
    return quic_data(b, path, flow, False, s_resp, resp_bytes, rate)


__all__ = ["open_quic", "quic_data", "quic_exchanges"]
