"""Writing a session as a classic pcap file: Ethernet, IPv4, TCP/UDP, correct lengths and checksums.

The file is built in one numpy byte buffer: a 16-byte record header, a 14-byte
Ethernet header, a 20-byte IPv4 header (DF, checksum) and a TCP header (32 bytes
with the timestamp option; 40 on SYN and SYN-ACK with MSS, SACK-permitted,
timestamps and window scale) or an 8-byte UDP header per packet, then the
transport payload. Payloads carry protocol framing only, never data: TLS record
headers where a TLS record starts in a TCP stream (content type 23, TLS 1.2
legacy version, record length), QUIC long/short headers, RTP/RTCP headers, and
the real DNS and STUN messages the simulation made; everything else is zero
filler. TCP and UDP checksums cover the pseudo-header, header and payload.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ...errors import T2TInputError
from .packets import (K_QUIC_LONG, K_QUIC_SHORT, K_RAW, K_RTCP, K_RTP, SYN, TCP_HDR, TCP_HDR_NO_TS, TCP_SYN_HDR,
                      TCP_SYN_HDR_NO_TS)
from .tls_tcp import TLS_OVERHEAD, TLS_RECORD

REC, ETH, IP = 16, 14, 20
MAX_RECORD = TLS_RECORD + TLS_OVERHEAD


def _ip_bytes(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


def _be(values, dtype) -> np.ndarray:
    """Big-endian bytes of ``values`` as a uint8 [N, size] array."""
    dt = np.dtype(dtype).newbyteorder(">")
    a = np.asarray(values).astype(dt)
    return a.view(np.uint8).reshape(len(a), dt.itemsize)


def build_pcap(s) -> bytes:
    """The bytes of a classic pcap (microsecond timestamps, link type 1 Ethernet) of session ``s``."""
    r = s.raw
    n = len(r)
    ip_len = r.ip_len.astype(np.int64)
    rec_len = REC + ETH + ip_len
    offs = 24 + np.concatenate([[0], np.cumsum(rec_len)[:-1]]).astype(np.int64)
    total = int(24 + rec_len.sum())
    buf = np.zeros(total + 2, np.uint8)
    buf[:24] = np.frombuffer(np.array([0xA1B2C3D4], "<u4").tobytes() + np.array([2, 4], "<u2").tobytes()
                             + np.array([0, 0, 262144, 1], "<u4").tobytes(), np.uint8)
    if n == 0:
        return buf[:24].tobytes()
    ts = s.start_epoch + r.time
    sec = np.floor(ts).astype(np.int64)
    usec = np.round((ts - sec) * 1e6).astype(np.int64)
    sec = sec + (usec >= 1_000_000)
    usec = np.where(usec >= 1_000_000, usec - 1_000_000, usec)
    frame = ETH + ip_len
    rec = np.concatenate([_be(sec, "<u4")[:, ::-1], _be(usec, "<u4")[:, ::-1], _be(frame, "<u4")[:, ::-1],
                          _be(frame, "<u4")[:, ::-1]], axis=1)  # little-endian fields
    h = zlib.crc32(s.session_id.encode())
    phone_mac = np.frombuffer(bytes([0x02 | ((h >> 24) & 0xFC), (h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF,
                                     0x1A, 0x2B]), np.uint8)
    gw_mac = np.frombuffer(bytes([0x02, 0x00, 0x5E, (h >> 3) & 0xFF, 0x10, 0x01]), np.uint8)
    up = r.up
    eth = np.empty((n, ETH), np.uint8)
    eth[:, 0:6] = np.where(up[:, None], gw_mac, phone_mac)
    eth[:, 6:12] = np.where(up[:, None], phone_mac, gw_mac)
    eth[:, 12:14] = (0x08, 0x00)
    # IPv4
    dev = np.frombuffer(_ip_bytes(s.device), np.uint8)
    srv_tab = np.array([np.frombuffer(_ip_bytes(f.server), np.uint8) for f in r.flows], np.uint8)
    srv = srv_tab[r.flow]
    src = np.where(up[:, None], dev, srv)
    dst = np.where(up[:, None], srv, dev)
    rng = np.random.default_rng(h)
    ip_id = (np.arange(n) * 7 + rng.integers(0, 65536)) & 0xFFFF
    ttl = np.where(up, 64, 40 + (r.flow * 7) % 20)
    iph = np.zeros((n, IP), np.uint8)
    iph[:, 0] = 0x45
    iph[:, 2:4] = _be(ip_len, ">u2")
    iph[:, 4:6] = _be(ip_id, ">u2")
    iph[:, 6] = 0x40
    iph[:, 8] = ttl
    iph[:, 9] = r.proto
    iph[:, 12:16] = src
    iph[:, 16:20] = dst
    iph[:, 10:12] = _be(_fold(iph.view(">u2").astype(np.uint64).sum(axis=1)) ^ 0xFFFF, ">u2")
    # record + ethernet + IP headers
    head = np.concatenate([rec, eth, iph], axis=1)
    buf[offs[:, None] + np.arange(REC + ETH + IP)] = head
    l4 = offs + REC + ETH + IP
    sport = np.array([f.server_port for f in r.flows], np.int64)[r.flow]
    cport = np.array([f.client_port for f in r.flows], np.int64)[r.flow]
    sp = np.where(up, cport, sport)
    dp = np.where(up, sport, cport)
    tcp = r.proto == 6
    udp = ~tcp
    # TCP headers
    if tcp.any():
        ti = np.nonzero(tcp)[0]
        syn = (r.flags[ti] & SYN) != 0
        ts_on = r.tcp_timestamps
        h_data, h_syn = (TCP_HDR, TCP_SYN_HDR) if ts_on else (TCP_HDR_NO_TS, TCP_SYN_HDR_NO_TS)
        hl = np.where(syn, h_syn, h_data)
        th = np.zeros((len(ti), TCP_SYN_HDR), np.uint8)
        th[:, 0:2] = _be(sp[ti], ">u2")
        th[:, 2:4] = _be(dp[ti], ">u2")
        th[:, 4:8] = _be(r.seq[ti], ">u4")
        th[:, 8:12] = _be(r.ack[ti], ">u4")
        th[:, 12] = (hl // 4) << 4
        th[:, 13] = r.flags[ti] & 0xFF
        win = np.where(syn, 65535, np.where(up[ti], 2000 + (r.flow[ti] * 37) % 1500, 1000 + (r.flow[ti] * 53) % 800))
        th[:, 14:16] = _be(win, ">u2")
        tsv_c = (r.time[ti] * 1000).astype(np.int64) + (h & 0xFFFFFF)
        tsv_s = (r.time[ti] * 1000).astype(np.int64) + ((h >> 8) & 0xFFFFFF) + r.flow[ti] * 1013
        tsval = np.where(up[ti], tsv_c, tsv_s) & 0xFFFFFFFF
        tsecr = np.where(up[ti], tsv_s - 20, tsv_c - 20) & 0xFFFFFFFF
        tsecr = np.where(syn & up[ti], 0, tsecr)
        mss_v = int(s.path.mss + (12 if ts_on else 0)) if getattr(s, "path", None) is not None else 1460
        th[syn, 20:24] = np.array([2, 4, mss_v >> 8, mss_v & 0xFF], np.uint8)
        if ts_on:
            # options, 32-byte header: NOP NOP TS(10)
            th[~syn, 20:22] = (1, 1)
            th[~syn, 22:24] = (8, 10)
            th[~syn, 24:28] = _be(tsval[~syn], ">u4")
            th[~syn, 28:32] = _be(tsecr[~syn], ">u4")
            # SYN options: MSS(4) SACKOK(2) TS(10) NOP WS(3) = 20
            th[syn, 24:26] = (4, 2)
            th[syn, 26:28] = (8, 10)
            th[syn, 28:32] = _be(tsval[syn], ">u4")
            th[syn, 32:36] = _be(tsecr[syn], ">u4")
            th[syn, 36:40] = (1, 3, 3, 7)
        else:
            # SYN options: MSS(4) NOP WS(3) NOP NOP SACKOK(2) = 12
            th[syn, 24:32] = (1, 3, 3, 7, 1, 1, 4, 2)
        for sel, L in ((~syn, h_data), (syn, h_syn)):
            if sel.any():
                buf[l4[ti[sel]][:, None] + np.arange(L)] = th[sel, :L]
        _tls_framing(buf, s, l4 + np.where(tcp, np.where((r.flags & SYN) != 0, h_syn, h_data), 0))
    if udp.any():
        ui = np.nonzero(udp)[0]
        uh = np.zeros((len(ui), 8), np.uint8)
        uh[:, 0:2] = _be(sp[ui], ">u2")
        uh[:, 2:4] = _be(dp[ui], ">u2")
        uh[:, 4:6] = _be(ip_len[ui] - IP, ">u2")
        buf[l4[ui][:, None] + np.arange(8)] = uh
        _udp_payloads(buf, s, ui, l4[ui] + 8)
    # transport checksums over pseudo-header + segment
    seg_len = ip_len - IP
    start, end = l4, l4 + seg_len
    # one's-complement sums are byte-order independent: sum little-endian words, fold, swap
    sums = np.zeros(n, np.uint64)
    for parity in (0, 1):
        sel = np.nonzero(start % 2 == parity)[0]
        if not len(sel):
            continue
        words = buf[parity: parity + 2 * ((len(buf) - parity) // 2)].view("<u2")
        a = (start[sel] - parity) // 2
        idx = np.empty(2 * len(sel), np.int64)
        idx[0::2] = a
        idx[1::2] = a + seg_len[sel] // 2
        sums[sel] = np.add.reduceat(words, idx, dtype=np.uint64)[0::2]
    le = _fold(sums)
    sums = (((le & 0xFF) << 8) | (le >> 8)).astype(np.uint64)
    odd = seg_len % 2 == 1
    sums[odd] += buf[end[odd] - 1].astype(np.uint64) << 8
    pseudo = (src.view(">u2").astype(np.uint64).sum(axis=1) + dst.view(">u2").astype(np.uint64).sum(axis=1)
              + r.proto.astype(np.uint64) + seg_len.astype(np.uint64))
    csum = _fold(sums + pseudo) ^ 0xFFFF
    csum = np.where(udp & (csum == 0), 0xFFFF, csum)
    pos = np.where(tcp, l4 + 16, l4 + 6)
    cb = _be(csum, ">u2")
    buf[pos] = cb[:, 0]
    buf[pos + 1] = cb[:, 1]
    return buf[:total].tobytes()


def _fold(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64)
    for _ in range(4):
        x = (x & 0xFFFF) + (x >> 16)
    return x.astype(np.int64)


def _tls_framing(buf: np.ndarray, s, payload_pos: np.ndarray) -> None:
    """Write a 5-byte TLS record header wherever a record starts in a TCP stream (all copies)."""
    r = s.raw
    m = r.messages
    if not len(m["length"]):
        return
    lengths = m["length"].astype(np.int64)
    nrec = (lengths + MAX_RECORD - 1) // MAX_RECORD
    rep = np.repeat(np.arange(len(lengths)), nrec)
    first = np.concatenate([[0], np.cumsum(nrec)[:-1]])
    k = np.arange(int(nrec.sum())) - first[rep]
    base = lengths[rep] // nrec[rep]
    extra = lengths[rep] % nrec[rep]
    rlen = base + (k < extra)
    rstart = m["offset"][rep] + k * base + np.minimum(k, extra)
    key_rec = m["flow"][rep].astype(np.int64) * 2 + m["up"][rep]
    hdr = np.stack([np.full(len(rlen), 0x17), np.full(len(rlen), 3), np.full(len(rlen), 3),
                    (rlen - 5) >> 8, (rlen - 5) & 0xFF], axis=1).astype(np.uint8)
    # data packets: stream key and relative offset
    d = np.nonzero((r.proto == 6) & (r.payload > 0))[0]
    if not len(d):
        return
    isn = np.where(r.up[d], np.array([f.isn_client for f in r.flows], np.int64)[r.flow[d]],
                   np.array([f.isn_server for f in r.flows], np.int64)[r.flow[d]])
    rel = (r.seq[d].astype(np.int64) - isn - 1) % (1 << 32)
    key = r.flow[d].astype(np.int64) * 2 + r.up[d]
    coord = (key << 40) + rel
    o = np.argsort(coord, kind="stable")
    coord_s, d_s = coord[o], d[o]
    plen_s = r.payload[d_s].astype(np.int64)
    for b in range(5):
        pc = (key_rec << 40) + rstart + b
        j = np.searchsorted(coord_s, pc, side="right") - 1
        for back in range(3):  # retransmitted copies share the start offset
            jj = j - back
            ok = jj >= 0
            jj = np.where(ok, jj, 0)
            ok &= (coord_s[jj] >> 40) == (pc >> 40)
            ok &= (pc - coord_s[jj]) < plen_s[jj]
            if back:
                ok &= coord_s[jj] == coord_s[np.maximum(j, 0)]
            if not ok.any():
                break
            pk = d_s[jj[ok]]
            buf[payload_pos[pk] + (pc[ok] - coord_s[jj[ok]])] = hdr[ok, b]


def _udp_payloads(buf: np.ndarray, s, ui: np.ndarray, pos: np.ndarray) -> None:
    """QUIC, RTP, RTCP headers and explicit DNS/STUN payloads for UDP packets ``ui`` at byte ``pos``."""
    r = s.raw
    kind = r.kind[ui]
    plen = r.payload[ui].astype(np.int64)
    flow = r.flow[ui].astype(np.int64)
    up = r.up[ui]
    # explicit payloads
    for i in np.nonzero(kind == K_RAW)[0]:
        data = np.frombuffer(r.raw_payloads[int(r.aux[ui[i]])], np.uint8)
        buf[pos[i]: pos[i] + len(data)] = data
    # QUIC: connection ids per flow and direction (8 bytes), packet numbers per flow/direction
    q = np.nonzero((kind == K_QUIC_LONG) | (kind == K_QUIC_SHORT))[0]
    if len(q):
        fu = flow[q].astype(np.uint64)
        cid_srv = (fu * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x1234567)) & np.uint64(0x7FFFFFFFFFFFFFFF)
        cid_cli = (fu * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x7654321)) & np.uint64(0x7FFFFFFFFFFFFFFF)
        dcid = np.where(up[q], cid_srv, cid_cli)
        scid = np.where(up[q], cid_cli, cid_srv)
        pn = _running_count(flow[q] * 2 + up[q]) & 0xFFFF
        long_ = kind[q] == K_QUIC_LONG
        sh = q[~long_]
        if len(sh):
            p = pos[sh]
            buf[p] = 0x41
            buf[p[:, None] + 1 + np.arange(8)] = _be(dcid[~long_], ">u8")
            buf[p[:, None] + 9 + np.arange(2)] = _be(pn[~long_], ">u2")
        lg = q[long_]
        if len(lg):
            p = pos[lg]
            initial = plen[lg] >= 1200
            buf[p] = np.where(initial, 0xC1, 0xE1)  # long header, Initial / Handshake, 2-byte PN
            buf[p[:, None] + 1 + np.arange(4)] = (0, 0, 0, 1)
            buf[p + 5] = 8
            buf[p[:, None] + 6 + np.arange(8)] = _be(dcid[long_], ">u8")
            buf[p + 14] = 8
            buf[p[:, None] + 15 + np.arange(8)] = _be(scid[long_], ">u8")
            # Initial: token length 0 then Length; Handshake: Length directly
            lpos = p + 23 + initial
            length = plen[lg] - (lpos - p) - 2
            buf[lpos] = 0x40 | ((length >> 8) & 0x3F)
            buf[lpos + 1] = length & 0xFF
            pnb = _be(pn[long_], ">u2")
            buf[lpos + 2] = pnb[:, 0]
            buf[lpos + 3] = pnb[:, 1]
    # RTP
    rt = np.nonzero(kind == K_RTP)[0]
    if len(rt):
        stream = flow[rt] * 4 + up[rt] * 2 + r.aux[ui[rt]]
        seq = _running_count(stream) & 0xFFFF
        video = r.aux[ui[rt]] == 1
        pt = np.where(video, 96, 111)
        tsv = np.where(video, (r.time[ui[rt]] * 90000).astype(np.int64), seq * 960) & 0xFFFFFFFF
        ssrc = (stream * 2654435761 + 12345) & 0xFFFFFFFF
        p = pos[rt]
        buf[p] = 0x80
        buf[p + 1] = pt
        buf[p[:, None] + 2 + np.arange(2)] = _be(seq, ">u2")
        buf[p[:, None] + 4 + np.arange(4)] = _be(tsv, ">u4")
        buf[p[:, None] + 8 + np.arange(4)] = _be(ssrc, ">u4")
    rc = np.nonzero(kind == K_RTCP)[0]
    if len(rc):
        p = pos[rc]
        buf[p] = 0x81
        buf[p + 1] = 201
        words = np.maximum(plen[rc] // 4 - 1, 0)
        buf[p[:, None] + 2 + np.arange(2)] = _be(words, ">u2")


def _running_count(key: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... per distinct key in array order (packets are time ordered)."""
    o = np.argsort(key, kind="stable")
    ks = key[o]
    start = np.searchsorted(ks, ks, side="left")
    out = np.empty(len(key), np.int64)
    out[o] = np.arange(len(key)) - start
    return out


def write_pcap(s, path) -> Path:
    """Write session ``s`` to ``path`` as a classic pcap, atomically (temp file + rename)."""
    from .session import atomic_write

    path = Path(path)
    if path.exists() and path.is_dir():
        raise T2TInputError(f"{path} is a directory; give a file name such as session.pcap", path=str(path))
    return atomic_write(path, build_pcap(s))


__all__ = ["build_pcap", "write_pcap"]
