"""IPv4/IPv6 and transport headers, vectorised, plus optional tunnel decapsulation.

A row describes one IP header: by default the outermost one of the frame. With
``decapsulate=True`` rows describe the innermost IP header reachable through
IP-in-IP (protocol 4), 6in4 / IPv6-in-IP (41), GRE (47, IP or transparent
Ethernet), VXLAN (UDP 4789), GTP-U (UDP 2152) and Teredo (UDP 3544).
"""

from __future__ import annotations

import numpy as np

from .linklayer import ETH_IPV4, ETH_IPV6, IP, be16, dispatch_ethertype, g8, gather_rows, isin

_V6_EXT = (0, 43, 60, 135, 139, 140, 253, 254)  # hop-by-hop, routing, dst options, mobility, HIP, shim6, experiments
_FRAG6 = 44
_AH = 51
_PORT_PROTOS = (6, 17, 132, 136, 33)  # TCP, UDP, SCTP, UDP-Lite, DCCP


def decode_ip(buf: np.ndarray, et: np.ndarray, l3: np.ndarray, end: np.ndarray, origlen_end: np.ndarray,
              reason: np.ndarray) -> dict:
    """Decode the IP header at ``l3`` and the transport header after it.

    Args:
        buf: uint8 chunk buffer.
        et: int64 [N] 0x0800 / 0x86DD per row (rows with ``reason != 0`` are ignored).
        l3: int64 [N] IP header offsets.
        end: int64 [N] end of the captured bytes of each frame.
        origlen_end: int64 [N] where the frame would end if it had not been truncated
            (used for IP lengths of TSO/jumbo packets whose length field is 0).
        reason: int64 [N] non-IP reason codes so far.

    Returns:
        dict of int64 [N] arrays: ip_version, src (uint8 [N,16]), dst (uint8 [N,16]),
        protocol, src_port, dst_port, tcp_flags, ip_len, ip_payload_len, l4 (offset of the
        transport header, -1 when absent), reason (updated: 7 truncated IP header, 8 bad header).
    """
    n = l3.shape[0]
    reason = reason.copy()
    v4 = (reason == IP) & (et == ETH_IPV4)
    v6 = (reason == IP) & (et == ETH_IPV6)
    # the first 40 bytes at each IP header, in one gather; fields are columns of it
    h = gather_rows(buf, l3, 40)
    b0 = h[:, 0].astype(np.int64)
    ver = b0 >> 4
    ihl = (b0 & 0x0F) * 4
    # --- IPv4 checks
    bad4 = v4 & ((ver != 4) | (ihl < 20))
    short4 = v4 & ~bad4 & (l3 + 20 > end)
    bad6 = v6 & (ver != 6)
    short6 = v6 & ~bad6 & (l3 + 40 > end)
    if (bad4 | bad6 | short4 | short6).any():
        reason = np.where(bad4 | bad6, 8, np.where(short4 | short6, 7, reason))
        v4 &= reason == IP
        v6 &= reason == IP
    any6 = bool(v6.any())

    avail = origlen_end - l3  # bytes of the IP packet on the wire
    tot4 = (h[:, 2].astype(np.int64) << 8) | h[:, 3]
    ip_len = np.where(v4, np.where(tot4 >= ihl, tot4, avail), 0)
    if any6:
        pl6 = (h[:, 4].astype(np.int64) << 8) | h[:, 5]
        ip_len = np.where(v6, np.where(pl6 > 0, pl6 + 40, avail), ip_len)

    frag = (h[:, 6].astype(np.int64) << 8) | h[:, 7]
    first_frag4 = (frag & 0x1FFF) == 0
    proto = np.where(v4, h[:, 9], 0).astype(np.int64)
    if any6:
        proto = np.where(v6, h[:, 6], proto)
    hdr = np.where(v4, ihl, 40)
    l4 = np.where(v4 | v6, l3 + hdr, -1)
    has_l4 = v4 & first_frag4 | v6

    # --- IPv6 extension headers
    todo = v6 & isin(proto, _V6_EXT + (_FRAG6, _AH)) if any6 else v6
    for _ in range(8):
        if not todo.any():
            break
        ok = todo & (l4 + 8 <= end)
        nh = g8(buf, l4)
        hl = g8(buf, l4 + 1)
        is_frag = proto == _FRAG6
        is_ah = proto == _AH
        length = np.where(is_frag, 8, np.where(is_ah, (hl + 2) * 4, (hl + 1) * 8))
        nonfirst = is_frag & ((be16(buf, l4 + 2) & 0xFFF8) != 0)
        has_l4 = np.where(ok & nonfirst, False, has_l4)
        proto = np.where(ok, nh, proto)
        l4 = np.where(ok, l4 + length, l4)
        # a truncated extension header: keep the protocol we know, no ports
        has_l4 = np.where(todo & ~ok, False, has_l4)
        todo = ok & isin(proto, _V6_EXT + (_FRAG6, _AH))
    has_l4 &= ~todo

    ip_payload_len = np.where(v4 | v6, np.maximum(ip_len - (l4 - l3), 0), 0)
    # the first 14 bytes of the transport header: ports, and TCP flags in bytes 12-13
    t = gather_rows(buf, np.where(has_l4, l4, 0), 14)
    ports = has_l4 & isin(proto, _PORT_PROTOS) & (l4 + 4 <= end)
    sport = np.where(ports, (t[:, 0].astype(np.int64) << 8) | t[:, 1], 0)
    dport = np.where(ports, (t[:, 2].astype(np.int64) << 8) | t[:, 3], 0)
    tcp = has_l4 & (proto == 6) & (l4 + 14 <= end)
    flags = np.where(tcp, ((t[:, 12].astype(np.int64) & 1) << 8) | t[:, 13], 0)

    ok = v4 | v6
    src = np.zeros((n, 16), np.uint8)
    dst = np.zeros((n, 16), np.uint8)
    if v4.all():
        src[:, 10:12] = 0xFF
        dst[:, 10:12] = 0xFF
        src[:, 12:16] = h[:, 12:16]
        dst[:, 12:16] = h[:, 16:20]
    else:
        if v4.any():
            i4 = np.flatnonzero(v4)
            src[i4, 10:12] = 0xFF
            dst[i4, 10:12] = 0xFF
            src[i4, 12:16] = h[i4, 12:16]
            dst[i4, 12:16] = h[i4, 16:20]
        if any6:
            i6 = np.flatnonzero(v6)
            src[i6] = h[i6, 8:24]
            dst[i6] = h[i6, 24:40]
    return {
        "ip_version": np.where(v4, 4, np.where(v6, 6, 0)), "src": src, "dst": dst,
        "protocol": np.where(ok, proto, 0), "src_port": sport, "dst_port": dport, "tcp_flags": flags,
        "ip_len": ip_len, "ip_payload_len": ip_payload_len, "l4": np.where(has_l4, l4, -1), "reason": reason,
    }


def inner_headers(buf: np.ndarray, cols: dict, end: np.ndarray):
    """Where a decoded row is a tunnel, find the inner IP header.

    Returns:
        (mask, et, l3): rows that are tunnels with a decodable inner IP header,
        and the inner ethertype and offset for them.
    """
    proto, l4, dport, sport = cols["protocol"], cols["l4"], cols["dst_port"], cols["src_port"]
    n = proto.shape[0]
    has = (cols["reason"] == IP) & (l4 >= 0)
    et = np.zeros(n, np.int64)
    off = np.zeros(n, np.int64)
    # IP-in-IP and 6in4
    m = has & (proto == 4)
    et = np.where(m, ETH_IPV4, et)
    off = np.where(m, l4, off)
    m6 = has & (proto == 41)
    et = np.where(m6, ETH_IPV6, et)
    off = np.where(m6, l4, off)
    reason = np.where(m | m6, IP, 1)
    eth_inner = np.zeros(n, bool)
    # GRE: 2 bytes flags/version, 2 bytes protocol type, optional checksum/key/sequence
    g = has & (proto == 47) & (l4 + 4 <= end)
    gflags = be16(buf, l4)
    ghl = 4 + 4 * (((gflags & 0x8000) != 0).astype(np.int64) + ((gflags & 0x2000) != 0) + ((gflags & 0x1000) != 0))
    gtype = be16(buf, l4 + 2)
    gok = g & ((gflags & 0x7) == 0)  # version 0 only (version 1 is PPTP's enhanced GRE)
    et = np.where(gok, gtype, et)
    off = np.where(gok, l4 + ghl, off)
    reason = np.where(gok, IP, reason)
    eth_inner |= gok & (gtype == 0x6558)
    # UDP tunnels
    udp = has & (proto == 17)
    vx = udp & ((dport == 4789) | (dport == 8472)) & (l4 + 16 <= end)
    vx &= (g8(buf, l4 + 8) & 0x08) != 0  # VNI-valid flag
    off = np.where(vx, l4 + 16, off)
    reason = np.where(vx, IP, reason)
    eth_inner |= vx
    gtp = udp & ((dport == 2152) | (sport == 2152)) & (l4 + 16 <= end)
    gflag = g8(buf, l4 + 8)
    gtp &= ((gflag >> 5) == 1) & (g8(buf, l4 + 9) == 0xFF)  # GTPv1, T-PDU
    glen = 8 + np.where((gflag & 0x07) != 0, 4, 0)
    goff = l4 + 8 + glen
    # GTP extension headers: length in 4-byte units, next type in the last byte
    nxt = np.where((gflag & 0x04) != 0, g8(buf, goff - 1), 0)
    for _ in range(4):
        more = gtp & (nxt != 0) & (goff + 1 <= end)
        if not more.any():
            break
        elen = g8(buf, goff) * 4
        bad = more & (elen == 0)
        gtp &= ~bad
        nxt = np.where(more & ~bad, g8(buf, goff + elen - 1), nxt)
        goff = np.where(more & ~bad, goff + elen, goff)
    gver = g8(buf, goff) >> 4
    gtp &= (gver == 4) | (gver == 6)
    et = np.where(gtp, np.where(gver == 4, ETH_IPV4, ETH_IPV6), et)
    off = np.where(gtp, goff, off)
    reason = np.where(gtp, IP, reason)
    ter = udp & ((dport == 3544) | (sport == 3544)) & (l4 + 48 <= end)
    toff = l4 + 8
    # Teredo: optional authentication (00 01) and origin indication (00 00) headers
    auth = ter & (g8(buf, toff) == 0) & (g8(buf, toff + 1) == 1)
    toff = np.where(auth, toff + 13 + g8(buf, toff + 2) + g8(buf, toff + 3), toff)
    orig = ter & (g8(buf, toff) == 0) & (g8(buf, toff + 1) == 0)
    toff = np.where(orig, toff + 8, toff)
    ter &= (g8(buf, toff) >> 4) == 6
    et = np.where(ter, ETH_IPV6, et)
    off = np.where(ter, toff, off)
    reason = np.where(ter, IP, reason)
    # inner Ethernet (GRE bridging, VXLAN)
    if eth_inner.any():
        ok = eth_inner & (off + 14 <= end)
        et = np.where(ok, be16(buf, off + 12), et)
        off = np.where(ok, off + 14, off)
        reason = np.where(eth_inner & ~ok, 1, reason)
    et, off, reason = dispatch_ethertype(buf, et, off, end, reason)
    mask = reason == IP
    mask &= off < end
    return mask, et, off

