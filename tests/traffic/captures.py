"""Hand-made captures, written in code (no binary fixtures in the repo).

Frame builders return the bytes of one protocol layer and everything inside it;
container writers (:func:`pcap`, :func:`pcapng`) wrap frames into files. The
reader tests run both our reader and tshark on these files, which checks the
writers and the reader at once.

All multi-byte network fields are big-endian, as on the wire; container fields
follow the byte order asked for.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- L4


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(sport: int, dport: int, flags: int = 0x18, payload: bytes = b"", seq: int = 1000, ack: int = 1) -> bytes:
    """TCP header (20 bytes, no options; the NS flag goes in bit 0 of byte 12) + payload."""
    off_ns = (5 << 4) | ((flags >> 8) & 1)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off_ns, flags & 0xFF, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp_echo(payload: bytes = b"ping") -> bytes:
    body = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + payload
    return body[:2] + struct.pack("!H", _csum(body)) + body[4:]


# --------------------------------------------------------------------------- IP


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, ttl: int = 64, ident: int = 1, frag_off: int = 0,
         more_frags: bool = False, dont_frag: bool = False, options: bytes = b"", total_length: int | None = None,
         version: int = 4) -> bytes:
    """IPv4 header with a correct checksum. ``frag_off`` in 8-byte units."""
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    tl = 4 * ihl + len(payload) if total_length is None else total_length
    ff = (0x4000 if dont_frag else 0) | (0x2000 if more_frags else 0) | frag_off
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tl, ident, ff, ttl, proto, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed) + options
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src: str, dst: str, nh: int, payload: bytes, *, hlim: int = 64, plen: int | None = None) -> bytes:
    """IPv6 fixed header; ``payload`` includes any extension headers (see :func:`ext6`)."""
    pl = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, pl, nh, hlim, ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def ext6(nh: int, body: bytes = b"\x00" * 6) -> bytes:
    """Hop-by-hop / routing / destination-options header: next header, length in 8-byte units - 1, body.

    ``body`` gets padded with PadN so the header is a multiple of 8 bytes.
    """
    total = 2 + len(body)
    pad = (-total) % 8
    if pad == 1:
        body += b"\x00"
    elif pad:
        body += bytes([1, pad - 2]) + b"\x00" * (pad - 2)
    return bytes([nh, (2 + len(body)) // 8 - 1]) + body


def frag6(nh: int, offset: int = 0, more: bool = False, ident: int = 7) -> bytes:
    """IPv6 fragment header; ``offset`` in 8-byte units."""
    return struct.pack("!BBHI", nh, 0, (offset << 3) | int(more), ident)


# --------------------------------------------------------------------------- tunnels


def gre(inner: bytes, ptype: int = 0x0800, *, key: int | None = None, checksum: bool = False,
        seq: int | None = None) -> bytes:
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    out = struct.pack("!HH", flags, ptype)
    if checksum:
        out += b"\x00\x00\x00\x00"
    if key is not None:
        out += struct.pack("!I", key)
    if seq is not None:
        out += struct.pack("!I", seq)
    return out + inner


def vxlan(inner_eth: bytes, vni: int = 42) -> bytes:
    return struct.pack("!BBHI", 0x08, 0, 0, vni << 8) + inner_eth


def gtpu(inner_ip: bytes, teid: int = 0x1234, *, ext: bool = False) -> bytes:
    """GTPv1-U T-PDU; ``ext=True`` adds a PDU session container extension header."""
    if ext:
        opt = struct.pack("!HBB", 0, 0, 0x85)  # seq, N-PDU, next ext type
        exthdr = bytes([1, 0x00, 0x01, 0x00])  # length 1 (4 bytes), content, next = 0
        body = opt + exthdr + inner_ip
        return struct.pack("!BBHI", 0x34, 0xFF, len(body), teid) + body
    return struct.pack("!BBHI", 0x30, 0xFF, len(inner_ip), teid) + inner_ip


def teredo(inner_ipv6: bytes, *, origin: bool = False) -> bytes:
    pre = b"\x00\x00" + b"\x00" * 6 if origin else b""
    return pre + inner_ipv6


# --------------------------------------------------------------------------- link layers

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
MAC_C = bytes.fromhex("020000000003")
MAC_D = bytes.fromhex("020000000004")


def ether(payload: bytes, ethertype: int = 0x0800, *, vlans: tuple[int, ...] = (), qinq: bool = False,
          dst: bytes = MAC_B, src: bytes = MAC_A) -> bytes:
    """Ethernet II; ``vlans`` adds 802.1Q tags (outer first; the outer uses 0x88a8 when ``qinq``)."""
    out = dst + src
    for i, vid in enumerate(vlans):
        tpid = 0x88A8 if (qinq and i == 0 and len(vlans) > 1) else 0x8100
        out += struct.pack("!HH", tpid, vid & 0x0FFF)
    return out + struct.pack("!H", ethertype) + payload


def ether_llc_snap(payload: bytes, ethertype: int = 0x0800) -> bytes:
    """802.3 length field + LLC/SNAP."""
    body = b"\xaa\xaa\x03\x00\x00\x00" + struct.pack("!H", ethertype) + payload
    return MAC_B + MAC_A + struct.pack("!H", len(body)) + body


def pppoe(ppp_proto: int, payload: bytes, session: int = 0x11) -> bytes:
    """PPPoE session header + PPP protocol (goes after ethertype 0x8864)."""
    return struct.pack("!BBHHH", 0x11, 0, session, len(payload) + 2, ppp_proto) + payload


def mpls(payload: bytes, labels: tuple[int, ...] = (100,)) -> bytes:
    out = b""
    for i, lab in enumerate(labels):
        bos = 1 if i == len(labels) - 1 else 0
        out += struct.pack("!I", (lab << 12) | (bos << 8) | 64)
    return out + payload


def arp() -> bytes:
    return ether(struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + bytes(4) + bytes(6) + bytes([10, 0, 0, 2]),
                 0x0806, dst=b"\xff" * 6)


def sll(payload: bytes, proto: int = 0x0800, pkttype: int = 0) -> bytes:
    return struct.pack("!HHH8sH", pkttype, 1, 6, MAC_A + b"\x00\x00", proto) + payload


def sll2(payload: bytes, proto: int = 0x0800, ifindex: int = 3) -> bytes:
    return struct.pack("!HHIHBBB8s", proto, 0, ifindex, 1, 0, 6, 0, MAC_A + b"\x00\x00")[:20] + payload


def null(payload: bytes, af: int = 2, big: bool = False) -> bytes:
    """BSD null: 4-byte address family in the capturing host's byte order."""
    return struct.pack(">I" if big else "<I", af) + payload


def loop(payload: bytes, af: int = 2) -> bytes:
    """OpenBSD loopback (108): address family always big-endian."""
    return struct.pack(">I", af) + payload


def ppp(payload: bytes, proto: int = 0x0021, *, hdlc: bool = True, compressed: bool = False) -> bytes:
    head = b"\xff\x03" if hdlc else b""
    p = bytes([proto]) if compressed else struct.pack("!H", proto)
    return head + p + payload


def chdlc(payload: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!BBH", 0x0F, 0, proto) + payload


def radiotap(wlan_frame: bytes) -> bytes:
    """Minimal radiotap header (8 bytes + a flags field) around an 802.11 frame."""
    present = 0x00000002  # flags
    body = struct.pack("<BBHI", 0, 0, 10, present) + b"\x00\x00"  # flags byte + pad to 10
    return body + wlan_frame


def wlan_data(payload: bytes, ethertype: int = 0x0800, *, qos: bool = False, four_addr: bool = False,
              protected: bool = False, null_data: bool = False, to_ds: bool = True) -> bytes:
    """802.11 data frame with LLC/SNAP; ``null_data`` builds a (QoS) null-function frame without payload."""
    subtype = (8 if qos else 0) | (4 if null_data else 0)
    fc0 = (subtype << 4) | (2 << 2)
    fc1 = 0
    if four_addr:
        fc1 |= 3
    elif to_ds:
        fc1 |= 1
    if protected:
        fc1 |= 0x40
    hdr = struct.pack("<BBH", fc0, fc1, 0) + MAC_A + MAC_B + MAC_C + struct.pack("<H", 0x10)
    if four_addr:
        hdr += MAC_D
    if qos:
        hdr += b"\x00\x00"
    if null_data:
        return hdr
    if protected:
        return hdr + bytes(8) + bytes(range(40))  # CCMP header + ciphertext
    return hdr + b"\xaa\xaa\x03\x00\x00\x00" + struct.pack("!H", ethertype) + payload


def wlan_beacon() -> bytes:
    hdr = struct.pack("<BBH", 0x80, 0, 0) + b"\xff" * 6 + MAC_A + MAC_A + struct.pack("<H", 0)
    body = struct.pack("<QHH", 0, 100, 0x0411) + b"\x00\x04test"
    return hdr + body


# --------------------------------------------------------------------------- containers


def _frame_list(frames, t0: float = 1_700_000_000.0, step: float = 0.25):
    """Normalise frames to (ts_seconds_int, ts_subsec_fraction, data, origlen)."""
    out = []
    for i, f in enumerate(frames):
        if isinstance(f, (bytes, bytearray)):
            ts, data, orig = t0 + i * step, bytes(f), None
        elif len(f) == 2:
            ts, data, orig = f[0], bytes(f[1]), None
        else:
            ts, data, orig = f[0], bytes(f[1]), f[2]
        out.append((ts, data, len(data) if orig is None else orig))
    return out


def pcap(frames, linktype: int = 1, *, big: bool = False, nano: bool = False, modified: bool = False,
         snaplen: int = 262144, t0: float = 1_700_000_000.0, step: float = 0.25) -> bytes:
    """A classic pcap file.

    ``frames``: bytes, or (timestamp_s, bytes) or (timestamp_s, bytes, origlen) tuples.
    ``modified``: Kuznetsov's modified format (magic a1b2cd34, 24-byte record headers).
    """
    e = ">" if big else "<"
    magic = 0xA1B2CD34 if modified else (0xA1B23C4D if nano else 0xA1B2C3D4)
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    units = 1_000_000_000 if nano else 1_000_000
    for ts, data, orig in _frame_list(frames, t0, step):
        total = round(ts * units)
        sec, frac = divmod(total, units)
        out.append(struct.pack(e + "IIII", sec, frac, len(data), orig))
        if modified:
            out.append(struct.pack(e + "IHBB", 1, 0x0800, 0, 0))  # ifindex, protocol, pkt_type, pad
        out.append(data)
    return b"".join(out)


def pcap_raw_record(sec: int, frac: int, data: bytes, *, big: bool = False, origlen: int | None = None) -> bytes:
    """One classic pcap record with arbitrary (possibly out-of-range) fields."""
    e = ">" if big else "<"
    return struct.pack(e + "IIII", sec, frac, len(data), len(data) if origlen is None else origlen) + data


def _pad4(b: bytes) -> bytes:
    return b + b"\x00" * ((-len(b)) % 4)


def _block(btype: int, body: bytes, e: str) -> bytes:
    body = _pad4(body)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def _options(opts: list[tuple[int, bytes]], e: str) -> bytes:
    if not opts:
        return b""
    out = b"".join(struct.pack(e + "HH", c, len(v)) + _pad4(v) for c, v in opts)
    return out + struct.pack(e + "HH", 0, 0)


@dataclass
class Interface:
    """A pcapng interface: link type, ``tsresol`` byte (6 = us, 9 = ns, 0x80|k = 2^-k), ``tsoffset`` seconds."""

    linktype: int = 1
    tsresol: int | None = None
    tsoffset: int | None = None
    snaplen: int = 0
    name: str | None = None

    @property
    def units(self) -> int:
        r = 6 if self.tsresol is None else self.tsresol
        return 2 ** (r & 0x7F) if r & 0x80 else 10 ** r


@dataclass
class Section:
    """A pcapng section: its byte order, interfaces, and blocks (built with the methods below)."""

    big: bool = False
    interfaces: list[Interface] = field(default_factory=list)
    blocks: list = field(default_factory=list)
    shb_options: bool = True

    def epb(self, if_id: int, ts: float, data: bytes, origlen: int | None = None, *, comment: str | None = None):
        self.blocks.append(("epb", if_id, ts, bytes(data), origlen, comment))
        return self

    def opb(self, if_id: int, ts: float, data: bytes, origlen: int | None = None):
        self.blocks.append(("opb", if_id, ts, bytes(data), origlen, None))
        return self

    def spb(self, data: bytes, origlen: int | None = None):
        self.blocks.append(("spb", 0, None, bytes(data), origlen, None))
        return self

    def custom(self, btype: int, body: bytes):
        """Any other block (name resolution, statistics, custom 0x00000BAD, decryption secrets...)."""
        self.blocks.append(("raw", btype, None, bytes(body), None, None))
        return self

    def to_bytes(self) -> bytes:
        e = ">" if self.big else "<"
        shb_opts = _options([(4, b"t2t-hf test writer")], e) if self.shb_options else b""
        out = [_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts, e)]
        for iface in self.interfaces:
            opts = []
            if iface.name:
                opts.append((2, iface.name.encode()))
            if iface.tsresol is not None:
                opts.append((9, bytes([iface.tsresol])))
            if iface.tsoffset is not None:
                opts.append((14, struct.pack(e + "q", iface.tsoffset)))
            out.append(_block(1, struct.pack(e + "HHI", iface.linktype, 0, iface.snaplen) + _options(opts, e), e))
        for kind, a, ts, data, orig, comment in self.blocks:
            orig = len(data) if orig is None else orig
            if kind == "raw":
                out.append(_block(a, data, e))
                continue
            if kind == "spb":
                out.append(_block(3, struct.pack(e + "I", orig) + data, e))
                continue
            iface = self.interfaces[a]
            t = round((ts - (iface.tsoffset or 0)) * iface.units)
            hi, lo = t >> 32, t & 0xFFFFFFFF
            opts = _options([(1, comment.encode())] if comment else [], e)
            if kind == "epb":
                body = struct.pack(e + "IIIII", a, hi, lo, len(data), orig) + _pad4(data) + opts
                out.append(_block(6, body, e))
            else:
                body = struct.pack(e + "HHIIII", a, 0, hi, lo, len(data), orig) + _pad4(data) + opts
                out.append(_block(2, body, e))
        return b"".join(out)


def pcapng(*sections: Section) -> bytes:
    return b"".join(s.to_bytes() for s in sections)


# --------------------------------------------------------------------------- stock packets

A4, B4 = "192.0.2.10", "198.51.100.20"
A6, B6 = "2001:db8::10", "2001:db8:1::20"


def v4_tcp(sport=40000, dport=443, flags=0x18, payload=b"hello", src=A4, dst=B4) -> bytes:
    return ipv4(src, dst, 6, tcp(sport, dport, flags, payload))


def v4_udp(sport=40001, dport=53, payload=b"q" * 12, src=A4, dst=B4) -> bytes:
    return ipv4(src, dst, 17, udp(sport, dport, payload))


def v6_tcp(sport=40002, dport=443, flags=0x12, payload=b"world!", src=A6, dst=B6) -> bytes:
    return ipv6(src, dst, 6, tcp(sport, dport, flags, payload))


def v6_udp(sport=40003, dport=443, payload=b"quic" * 5, src=A6, dst=B6) -> bytes:
    return ipv6(src, dst, 17, udp(sport, dport, payload))


# --------------------------------------------------------------------------- the tshark oracle

import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

TSHARK = shutil.which("tshark")
TSHARK_FIELDS = ("frame.number", "frame.time_epoch", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
                 "ip.proto", "ip.len", "ipv6.plen", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
                 "tcp.flags")
_TSHARK_CACHE: dict[str, dict] = {}
_ROOT_LINE = "Running as user"


def tshark_version() -> str:
    out = subprocess.run([TSHARK, "--version"], capture_output=True, text=True, timeout=60).stdout
    return out.splitlines()[0] if out else "?"


def run_tshark(path, cache=None) -> dict:
    """tshark's view of a capture: one dict per frame (fields above, first occurrence), plus ``error``.

    Reassembly is off so fragments keep their own headers. The result is cached per file content
    within the session, and across sessions in ``cache`` (pytest's ``config.cache``) when given.
    Returns ``{"frames": [...], "error": str | None}``; ``error`` is tshark's complaint (stderr lines
    other than the running-as-root notice, or a non-zero exit status).
    """
    data = open(path, "rb").read()
    key = hashlib.sha256(data).hexdigest()
    if key in _TSHARK_CACHE:
        return _TSHARK_CACHE[key]
    ckey = f"t2t/tshark/{key[:32]}"
    if cache is not None:
        hit = cache.get(ckey, None)
        if hit is not None and hit.get("version") == tshark_version_cached():
            _TSHARK_CACHE[key] = hit
            return hit
    cmd = [TSHARK, "-n", "-r", os.fspath(path), "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t", "-E", "quote=n"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, timeout=300, env={**os.environ, "LC_ALL": "C"})
    frames = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        parts += [""] * (len(TSHARK_FIELDS) - len(parts))
        frames.append(dict(zip(TSHARK_FIELDS, parts)))
    err_lines = [ln for ln in p.stderr.decode("utf-8", "replace").splitlines()
                 if ln.strip() and not ln.startswith(_ROOT_LINE) and "could be dangerous" not in ln]
    error = "\n".join(err_lines) if (err_lines or p.returncode) else None
    if error is None and p.returncode:
        error = f"exit status {p.returncode}"
    res = {"frames": frames, "error": error, "version": tshark_version_cached()}
    _TSHARK_CACHE[key] = res
    if cache is not None:
        try:
            cache.set(ckey, res)
        except Exception:  # a read-only cache is only slower
            pass
    return res


_VERSION: list[str] = []


def tshark_version_cached() -> str:
    if not _VERSION:
        _VERSION.append(tshark_version())
    return _VERSION[0]


def first_ip_layer(protocols: str) -> tuple[str | None, str | None]:
    """('ip' | 'ipv6' | None, the protocol layer right after it, skipping IPv6 extension headers)."""
    toks = protocols.split(":")
    for i, t in enumerate(toks):
        if t in ("ip", "ipv6"):
            j = i + 1
            while j < len(toks) and toks[j].startswith("ipv6."):
                j += 1
            return t, toks[j] if j < len(toks) else None
    return None, None


def dumps(x) -> str:
    return json.dumps(x, sort_keys=True)


# --------------------------------------------------------------------------- our reader, record by record

import gzip as _gzip  # noqa: E402
import warnings as _warnings  # noqa: E402

import numpy as _np  # noqa: E402


def our_records(source) -> dict:
    """Every record our reader finds (IP or not): timestamp, non-IP reason code (0 = IP), record index.

    Uses the same stages as ``decode_records`` (containers -> link layer -> IP) with
    ``on_error='warn'`` so damaged files give their readable prefix.
    """
    from t2t_hf.traffic.formats import open_reader
    from t2t_hf.traffic.ip import decode_ip
    from t2t_hf.traffic.linklayer import to_network_layer

    ts, reason, idx = [], [], []
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        reader, pending = open_reader(source, on_error="warn")
        try:
            for b in reader.batches(pending):
                end = _np.minimum(b.data_off + b.caplen, b.buf.shape[0])
                wire_end = b.data_off + _np.maximum(b.origlen, b.caplen)
                et, l3, r = to_network_layer(b.buf, b.data_off, end, b.linktype)
                cols = decode_ip(b.buf, et, l3, end, wire_end, r)
                ts.append(b.timestamp)
                reason.append(cols["reason"])
                idx.append(b.record_index)
        finally:
            reader.source.close()
    cat = (lambda xs, dt: _np.concatenate(xs) if xs else _np.zeros(0, dt))
    return {"timestamp": cat(ts, float), "reason": cat(reason, _np.int64), "record_index": cat(idx, _np.int64)}


def pcap_bad_subsecond_records(data: bytes) -> set[int]:
    """Record indexes of a classic pcap whose sub-second field is out of range (>= 10^6 us or 10^9 ns).

    Such timestamps cannot be represented faithfully; tshark prints garbage for them. Empty for pcapng.
    """
    if data[:2] == b"\x1f\x8b":
        data = _gzip.decompress(data)
    magics = {b"\xd4\xc3\xb2\xa1": ("<", 10**6, 16), b"\xa1\xb2\xc3\xd4": (">", 10**6, 16),
              b"\x4d\x3c\xb2\xa1": ("<", 10**9, 16), b"\xa1\xb2\x3c\x4d": (">", 10**9, 16),
              b"\x34\xcd\xb2\xa1": ("<", 10**6, 24), b"\xa1\xb2\xcd\x34": (">", 10**6, 24)}
    if data[:4] not in magics:
        return set()
    e, units, hl = magics[data[:4]]
    out, pos, i = set(), 24, 0
    while pos + hl <= len(data):
        _, frac, incl, _ = struct.unpack(e + "IIII", data[pos:pos + 16])
        if frac >= units:
            out.add(i)
        pos += hl + incl
        i += 1
    return out


def assert_tables_equal(a, b, *, stats: bool = True) -> None:
    """Same columns (NaN == NaN) and, optionally, the same counters."""
    from t2t_hf.traffic.table import COLUMNS

    assert len(a) == len(b), (len(a), len(b))
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        if x.dtype.kind == "f":
            assert _np.array_equal(x, y, equal_nan=True), name
        else:
            assert _np.array_equal(x, y), name
    if stats:
        keys = ("records", "ip", "non_ip", "decapsulated")
        assert {k: a.stats.get(k) for k in keys} == {k: b.stats.get(k) for k in keys}


def synthetic_pcap(n: int, seed: int = 0, *, snap: int = 96, hosts: int | None = None) -> bytes:
    """A classic pcap of ``n`` Ethernet/IPv4 TCP (70%) and UDP (30%) packets, written with numpy.

    Payload sizes 0..1399 bytes, records cut at ``snap`` bytes (origlen keeps the wire size),
    timestamps increasing by ~100 us; addresses drawn from ``hosts`` addresses (None: any).
    Used for streaming, memory and speed checks (benchmarks/ingest.py too).
    """
    rng = _np.random.default_rng(seed)
    plen = rng.integers(0, 1400, n)
    is_udp = rng.random(n) < 0.3
    iplen = 20 + _np.where(is_udp, 8, 20) + plen
    caplen = _np.minimum(14 + iplen, snap)
    rec = 16 + caplen
    offs = 24 + _np.concatenate([[0], _np.cumsum(rec)[:-1]])
    buf = _np.zeros(24 + int(rec.sum()), _np.uint8)
    buf[:24] = _np.frombuffer(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, 1), _np.uint8)
    ts = 1_700_000_000 + _np.cumsum(rng.exponential(1e-4, n))
    sec = ts.astype(_np.int64)
    usec = _np.minimum(((ts - sec) * 1e6).round().astype(_np.int64), 999_999)

    def le32(o, v):
        for k in range(4):
            buf[o + k] = (v >> (8 * k)) & 0xFF

    def be16(o, v):
        buf[o] = (v >> 8) & 0xFF
        buf[o + 1] = v & 0xFF

    le32(offs, sec)
    le32(offs + 4, usec)
    le32(offs + 8, caplen)
    le32(offs + 12, 14 + iplen)
    e = offs + 16
    buf[e[:, None] + _np.arange(12)] = _np.frombuffer(MAC_B + MAC_A, _np.uint8)
    buf[e + 12] = 0x08
    i = e + 14
    buf[i] = 0x45
    be16(i + 2, iplen)
    buf[i + 8] = 64
    buf[i + 9] = _np.where(is_udp, 17, 6)
    if hosts:
        pool = rng.integers(0, 2**32, hosts, dtype=_np.int64)
        src = pool[rng.integers(0, hosts, n)]
        dst = pool[rng.integers(0, hosts, n)]
    else:
        src = rng.integers(0, 2**32, n, dtype=_np.int64)
        dst = rng.integers(0, 2**32, n, dtype=_np.int64)
    for k in range(4):
        buf[i + 12 + k] = (src >> (24 - 8 * k)) & 0xFF
        buf[i + 16 + k] = (dst >> (24 - 8 * k)) & 0xFF
    l4 = i + 20
    be16(l4, rng.integers(1, 65536, n))
    be16(l4 + 2, rng.integers(1, 65536, n))
    be16(l4[is_udp] + 4, (8 + plen)[is_udp])
    t = ~is_udp
    buf[l4[t] + 12] = 0x50
    buf[l4[t] + 13] = rng.integers(0, 256, int(t.sum()))
    return buf.tobytes()
