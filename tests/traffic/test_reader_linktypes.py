"""Hand-made captures for every container variant and link type, checked against exact
known answers AND against tshark (which checks the writers in ``captures.py`` too)."""

from __future__ import annotations

import ipaddress
import struct
import warnings

import numpy as np
import pytest

import captures as C
from t2t_hf.traffic import read_capture

T0 = 1_700_000_000.0

# ---------------------------------------------------------------------------------------------- the frames
# Each case: (name, linktype, frame bytes, expected). expected is ("ip", fields...) for the outermost header
# or ("non_ip", reason). ip tuple: (version, src, dst, protocol, sport, dport, flags, ip_len, ip_payload_len)


def _ip(v, src, dst, proto, sport, dport, flags, ip_len, pay):
    return ("ip", v, src, dst, proto, sport, dport, flags, ip_len, pay)


V4T = C.v4_tcp()  # 20 + 20 + 5
V4U = C.v4_udp()  # 20 + 8 + 12
V6T = C.v6_tcp()  # 40 + 20 + 6
V6U = C.v6_udp()  # 40 + 8 + 20
E_V4T = _ip(4, C.A4, C.B4, 6, 40000, 443, 0x18, 45, 25)
E_V4U = _ip(4, C.A4, C.B4, 17, 40001, 53, 0, 40, 20)
E_V6T = _ip(6, C.A6, C.B6, 6, 40002, 443, 0x12, 66, 26)
E_V6U = _ip(6, C.A6, C.B6, 17, 40003, 443, 0, 68, 28)

_opts = C.ipv4(C.A4, C.B4, 6, C.tcp(1, 2, 0x102, b"x"), options=b"\x01\x01\x01\x00")  # NOP NOP NOP EOL, NS flag
_frag_first = C.ipv4(C.A4, C.B4, 17, C.udp(5000, 6000, b"a" * 16), more_frags=True, ident=9)
_frag_next = C.ipv4(C.A4, C.B4, 17, b"b" * 16, frag_off=3, ident=9)
_v6_ext = C.ipv6(C.A6, C.B6, 0, C.ext6(60) + C.ext6(17) + C.udp(7000, 8000, b"z" * 4))
_v6_frag1 = C.ipv6(C.A6, C.B6, 44, C.frag6(17, 0, True) + C.udp(7001, 8001, b"y" * 8))
_v6_frag2 = C.ipv6(C.A6, C.B6, 44, C.frag6(17, 2, False) + b"w" * 8)
_icmp = C.ipv4(C.A4, C.B4, 1, C.icmp_echo())
_ipip = C.ipv4("10.1.0.1", "10.2.0.1", 4, V4T)
_6in4 = C.ipv4("10.1.0.1", "10.2.0.1", 41, V6U)
_gre = C.ipv4("10.1.0.1", "10.2.0.1", 47, C.gre(V4U, 0x0800, key=7))
_gre_eth = C.ipv4("10.1.0.1", "10.2.0.1", 47, C.gre(C.ether(V6T, 0x86DD), 0x6558))
_vxlan = C.ipv4("10.1.0.1", "10.2.0.1", 17, C.udp(49152, 4789, C.vxlan(C.ether(V4T))))
_gtp = C.ipv4("10.1.0.1", "10.2.0.1", 17, C.udp(2152, 2152, C.gtpu(V4U, ext=True)))
_teredo = C.ipv4("10.1.0.1", "10.2.0.1", 17, C.udp(3544, 50000, C.teredo(V6U, origin=True)))

ETH_CASES = [
    ("eth_v4_tcp", C.ether(V4T), E_V4T),
    ("eth_v6_udp", C.ether(V6U, 0x86DD), E_V6U),
    ("eth_8021q", C.ether(V4U, vlans=(10,)), E_V4U),
    ("eth_qinq", C.ether(V6T, 0x86DD, vlans=(100, 200), qinq=True), E_V6T),
    ("eth_double_8100", C.ether(V4T, vlans=(5, 6)), E_V4T),
    ("eth_pppoe_v4", C.ether(C.pppoe(0x0021, V4T), 0x8864), E_V4T),
    ("eth_pppoe_v6", C.ether(C.pppoe(0x0057, V6U), 0x8864), E_V6U),
    ("eth_mpls", C.ether(C.mpls(V4U, (16, 17)), 0x8847), E_V4U),
    ("eth_llc_snap", C.ether_llc_snap(V4T), E_V4T),
    ("eth_arp", C.arp(), ("non_ip", "arp")),
    ("eth_ip_options_ns", C.ether(_opts), _ip(4, C.A4, C.B4, 6, 1, 2, 0x102, 45, 21)),
    ("eth_icmp", C.ether(_icmp), _ip(4, C.A4, C.B4, 1, 0, 0, 0, 32, 12)),
    ("eth_frag_first", C.ether(_frag_first), _ip(4, C.A4, C.B4, 17, 5000, 6000, 0, 44, 24)),
    ("eth_frag_next", C.ether(_frag_next), _ip(4, C.A4, C.B4, 17, 0, 0, 0, 36, 16)),
    ("eth_v6_ext", C.ether(_v6_ext, 0x86DD), _ip(6, C.A6, C.B6, 17, 7000, 8000, 0, 68, 12)),
    ("eth_v6_frag_first", C.ether(_v6_frag1, 0x86DD), _ip(6, C.A6, C.B6, 17, 7001, 8001, 0, 64, 16)),
    ("eth_v6_frag_next", C.ether(_v6_frag2, 0x86DD), _ip(6, C.A6, C.B6, 17, 0, 0, 0, 56, 8)),
    ("eth_ipip", C.ether(_ipip), _ip(4, "10.1.0.1", "10.2.0.1", 4, 0, 0, 0, 65, 45)),
    ("eth_6in4", C.ether(_6in4), _ip(4, "10.1.0.1", "10.2.0.1", 41, 0, 0, 0, 88, 68)),
    ("eth_gre", C.ether(_gre), _ip(4, "10.1.0.1", "10.2.0.1", 47, 0, 0, 0, 68, 48)),
    ("eth_gre_eth", C.ether(_gre_eth), _ip(4, "10.1.0.1", "10.2.0.1", 47, 0, 0, 0, 104, 84)),
    ("eth_vxlan", C.ether(_vxlan), _ip(4, "10.1.0.1", "10.2.0.1", 17, 49152, 4789, 0, 95, 75)),
    ("eth_gtpu", C.ether(_gtp), _ip(4, "10.1.0.1", "10.2.0.1", 17, 2152, 2152, 0, 84, 64)),
    ("eth_teredo", C.ether(_teredo), _ip(4, "10.1.0.1", "10.2.0.1", 17, 3544, 50000, 0, 104, 84)),
    ("eth_bad_ip_version", C.ether(C.ipv4(C.A4, C.B4, 6, C.tcp(1, 2), version=5)), ("non_ip", "bad_ip_header")),
    ("eth_truncated_ip", C.ether(V4T[:12]), ("non_ip", "truncated_ip_header")),
]
# innermost headers with decapsulate=True
DECAP = {
    "eth_ipip": E_V4T, "eth_6in4": E_V6U, "eth_gre": E_V4U, "eth_gre_eth": E_V6T, "eth_vxlan": E_V4T,
    "eth_gtpu": E_V4U, "eth_teredo": E_V6U,
}

OTHER_CASES = [
    # (name, linktype, frame, expected)
    ("raw101_v4", 101, V4T, E_V4T), ("raw101_v6", 101, V6U, E_V6U),
    ("raw228", 228, V4U, E_V4U), ("raw229", 229, V6T, E_V6T),
    ("sll_v4", 113, C.sll(V4T), E_V4T), ("sll_v6", 113, C.sll(V6U, 0x86DD), E_V6U),
    ("sll2_v4", 276, C.sll2(V4U), E_V4U), ("sll2_v6", 276, C.sll2(V6T, 0x86DD), E_V6T),
    ("null_le", 0, C.null(V4T, 2, big=False), E_V4T), ("null_be", 0, C.null(V4U, 2, big=True), E_V4U),
    ("null_v6_24", 0, C.null(V6U, 24), E_V6U), ("null_v6_28", 0, C.null(V6T, 28), E_V6T),
    ("null_v6_30_be", 0, C.null(V6U, 30, big=True), E_V6U),
    ("loop_v4", 108, C.loop(V4T, 2), E_V4T), ("loop_v6", 108, C.loop(V6U, 24), E_V6U),
    ("ppp_hdlc", 9, C.ppp(V4T), E_V4T), ("ppp_nohdlc", 9, C.ppp(V4U, hdlc=False), E_V4U),
    ("ppp_compressed", 9, C.ppp(V4T, 0x21, compressed=True), E_V4T),
    ("ppp_v6", 9, C.ppp(V6U, 0x57), E_V6U), ("ppp_lcp", 9, C.ppp(b"\x01\x01\x00\x04", 0xC021),
                                             ("non_ip", "other_ppp_protocol")),
    ("chdlc_v4", 104, C.chdlc(V4T), E_V4T), ("chdlc_v6", 104, C.chdlc(V6U, 0x86DD), E_V6U),
    ("wlan_data", 127, C.radiotap(C.wlan_data(V4T)), E_V4T),
    ("wlan_qos", 127, C.radiotap(C.wlan_data(V6U, 0x86DD, qos=True)), E_V6U),
    ("wlan_4addr", 127, C.radiotap(C.wlan_data(V4U, four_addr=True)), E_V4U),
    ("wlan_4addr_qos", 127, C.radiotap(C.wlan_data(V6T, 0x86DD, four_addr=True, qos=True)), E_V6T),
    ("wlan_protected", 127, C.radiotap(C.wlan_data(b"", protected=True)), ("non_ip", "wlan_protected")),
    ("wlan_null", 127, C.radiotap(C.wlan_data(b"", null_data=True)), ("non_ip", "wlan_non_data")),
    ("wlan_qos_null", 127, C.radiotap(C.wlan_data(b"", null_data=True, qos=True)), ("non_ip", "wlan_non_data")),
    ("wlan_beacon", 127, C.radiotap(C.wlan_beacon()), ("non_ip", "wlan_non_data")),
]
ALL_CASES = [(n, 1, f, e) for n, f, e in ETH_CASES] + OTHER_CASES


def _ts(i: int) -> float:
    return T0 + i * 0.5 + 0.123456


def _mapped(a: str) -> bytes:
    ip = ipaddress.ip_address(a)
    return (b"\x00" * 10 + b"\xff\xff" + ip.packed) if ip.version == 4 else ip.packed


def _check_table(table, cases, *, decap=False):
    """Compare a table with the expected rows of ``cases`` (records in file order)."""
    exp_rows, exp_non = [], {}
    for i, (name, _lt, frame, e) in enumerate(cases):
        if decap and name in DECAP:
            e = DECAP[name]
        if e[0] == "ip":
            exp_rows.append((i, name, len(frame), e))
        else:
            exp_non[e[1]] = exp_non.get(e[1], 0) + 1
    assert table.stats["records"] == len(cases)
    assert table.stats["non_ip"] == exp_non
    assert [int(x) for x in table.record_index] == [r[0] for r in exp_rows]
    for r, (i, name, flen, e) in enumerate(exp_rows):
        _, v, src, dst, proto, sport, dport, flags, ip_len, pay = e
        got = (int(table.ip_version[r]), bytes(table.src_addr[r]).ljust(16, b"\0"),
               bytes(table.dst_addr[r]).ljust(16, b"\0"), int(table.protocol[r]), int(table.src_port[r]),
               int(table.dst_port[r]), int(table.tcp_flags[r]), int(table.ip_len[r]), int(table.ip_payload_len[r]))
        want = (v, _mapped(src), _mapped(dst), proto, sport, dport, flags, ip_len, pay)
        assert got == want, f"{name}: {got} != {want}"
        assert int(table.caplen[r]) == flen and int(table.origlen[r]) == flen, name


# ---------------------------------------------------------------------------------------------- files

def _multi_link_pcapng(cases) -> bytes:
    """One pcapng section, one interface per link type (mixed timestamp resolutions and offsets)."""
    lts = sorted({lt for _, lt, _, _ in cases})
    resol = [6, 9, 0x80 | 20, 3, 7, 6, 9, 6, 9, 6, 9, 6]
    ifaces = [C.Interface(linktype=lt, tsresol=resol[k % len(resol)], tsoffset=(3600 if k % 3 == 1 else None),
                          name=f"if{k}") for k, lt in enumerate(lts)]
    sec = C.Section(interfaces=ifaces)
    for i, (_, lt, frame, _) in enumerate(cases):
        sec.epb(lts.index(lt), _ts(i), frame)
    return sec.to_bytes()


def _ts_for(iface_resol, i):
    """The timestamp actually representable at a resolution (ms/us/ns/2^-20)."""
    units = 2 ** (iface_resol & 0x7F) if iface_resol & 0x80 else 10 ** iface_resol
    return round(_ts(i) * units) / units


def _tshark_rows(path, request):
    res = C.run_tshark(path, getattr(request.config, "cache", None))
    assert res["error"] is None, res["error"]
    # tshark >= 4 lists pcapng custom blocks (0x00000BAD) as pseudo-frames with no time and no link layer;
    # they carry no packet and we skip them
    return [f for f in res["frames"] if not (f["frame.protocols"] == "data" and not f["frame.time_epoch"])]


def _compare_with_tshark(table, frames, n_records):
    assert len(frames) == n_records
    for r in range(len(table)):
        i = int(table.record_index[r])
        f = frames[i]
        kind, nxt = C.first_ip_layer(f["frame.protocols"])
        assert kind == ("ip" if table.ip_version[r] == 4 else "ipv6"), (i, f["frame.protocols"])
        src = f["ip.src"] if kind == "ip" else f["ipv6.src"]
        dst = f["ip.dst"] if kind == "ip" else f["ipv6.dst"]
        assert bytes(table.src_addr[r]).ljust(16, b"\0") == _mapped(src)
        assert bytes(table.dst_addr[r]).ljust(16, b"\0") == _mapped(dst)
        if nxt in ("tcp", "udp"):
            assert (int(table.src_port[r]), int(table.dst_port[r])) == (int(f[f"{nxt}.srcport"]),
                                                                        int(f[f"{nxt}.dstport"])), i
        if kind == "ip":
            assert int(table.ip_len[r]) == int(f["ip.len"])
            assert int(table.protocol[r]) == int(f["ip.proto"])
        else:
            assert int(table.ip_len[r]) == 40 + int(f["ipv6.plen"])
    ip_frames = {i for i, f in enumerate(frames) if C.first_ip_layer(f["frame.protocols"])[0]}
    ours = set(table.record_index.astype(int).tolist())
    bad = table.stats["non_ip"].get("bad_ip_header", 0) + table.stats["non_ip"].get("truncated_ip_header", 0)
    assert ours <= ip_frames and len(ip_frames - ours) == bad


@pytest.mark.timeout(120)
def test_every_link_type_in_one_pcapng_known_answers_and_tshark(tmp_path, request):
    data = _multi_link_pcapng(ALL_CASES)
    path = tmp_path / "links.pcapng"
    path.write_bytes(data)
    table = read_capture(path)
    _check_table(table, ALL_CASES)
    # interface ids and per-interface resolutions / offsets
    lts = sorted({lt for _, lt, _, _ in ALL_CASES})
    resol = [6, 9, 0x80 | 20, 3, 7, 6, 9, 6, 9, 6, 9, 6]
    for r in range(len(table)):
        i = int(table.record_index[r])
        k = lts.index(ALL_CASES[i][1])
        assert int(table.interface_id[r]) == k
        assert abs(table.timestamp[r] - _ts_for(resol[k % len(resol)], i)) < 1e-6
    if C.TSHARK:
        frames = _tshark_rows(path, request)
        _compare_with_tshark(table, frames, len(ALL_CASES))
        theirs = np.array([float(f["frame.time_epoch"]) for f in frames])
        mine = C.our_records(path)["timestamp"]
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name,lt,frame,expected", OTHER_CASES[::3] + [c for c in OTHER_CASES if c[1] in (0, 127)],
                         ids=lambda x: x if isinstance(x, str) else None)
def test_link_types_in_classic_pcap(name, lt, frame, expected):
    """The same frames as classic pcap files of their own link type (no tshark: covered above)."""
    table = read_capture(C.pcap([frame, frame], lt), allow_empty=True)
    _check_table(table, [(name, lt, frame, expected)] * 2)


def test_decapsulate_gives_innermost_headers():
    cases = [(n, 1, f, e) for n, f, e in ETH_CASES]
    data = C.pcap([f for _, _, f, _ in cases], 1)
    outer = read_capture(data)
    _check_table(outer, cases)
    assert outer.stats["decapsulated"] == 0
    inner = read_capture(data, decapsulate=True)
    _check_table(inner, cases, decap=True)
    assert inner.stats["decapsulated"] == len(DECAP)
    # decapsulation changes nothing else
    same = ~np.isin(inner.record_index, [i for i, c in enumerate(cases) if c[0] in DECAP])
    for col in ("src_addr", "dst_addr", "protocol", "src_port", "timestamp", "ip_len"):
        assert np.array_equal(getattr(inner, col)[same], getattr(outer, col)[same])


# ---------------------------------------------------------------------------------------------- containers

PCAP_VARIANTS = [
    dict(big=False, nano=False), dict(big=True, nano=False), dict(big=False, nano=True),
    dict(big=True, nano=True), dict(modified=True), dict(modified=True, big=True),
]


def _variant_frames():
    base = [(n, 1, f, e) for n, f, e in ETH_CASES[:12]]
    ts = [T0 + i * 1.000001 + 0.000000789 * (i % 3) for i in range(len(base))]
    return base, ts


@pytest.mark.timeout(120)
@pytest.mark.parametrize("variant", PCAP_VARIANTS, ids=lambda v: "-".join(k for k, x in v.items() if x) or "le-us")
def test_classic_pcap_variants_known_answers_and_tshark(tmp_path, request, variant):
    base, ts = _variant_frames()
    data = C.pcap([(t, f) for t, (_, _, f, _) in zip(ts, base)], 1, **variant)
    table = read_capture(data)
    _check_table(table, base)
    units = 1e9 if variant.get("nano") else 1e6
    np.testing.assert_allclose(table.timestamp, [round(t * units) / units for t in
                                                 np.array(ts)[table.record_index.astype(int)]], rtol=0, atol=1e-7)
    # the nanoseconds survive (float64 resolution at 1.7e9 s is ~2.4e-7 s)
    if variant.get("nano"):
        assert np.any(np.abs(table.timestamp - np.round(table.timestamp, 6)) > 1e-7)
    if C.TSHARK and not (variant.get("modified") and variant.get("big")):
        path = tmp_path / "v.pcap"
        path.write_bytes(data)
        frames = _tshark_rows(path, request)
        _compare_with_tshark(table, frames, len(base))
        theirs = np.array([float(f["frame.time_epoch"]) for f in frames])
        np.testing.assert_allclose(C.our_records(path)["timestamp"], theirs, rtol=0, atol=1e-6)


def _sections_file():
    """Two sections (LE then BE), several interfaces, EPB/OPB/SPB and blocks to skip."""
    s1 = C.Section(big=False, interfaces=[C.Interface(1, tsresol=9), C.Interface(101, tsresol=6, tsoffset=-100)])
    s1.custom(4, struct.pack("<HH", 1, 9) + bytes([10, 0, 0, 1]) + b"host\x00" + bytes(3) + bytes(4))  # NRB
    s1.epb(0, _ts(0), C.ether(V4T))
    s1.custom(0x00000BAD, b"\x00\x00\x7e\xd9" + b"custom data!")  # custom block (PEN 32473)
    s1.epb(1, _ts(1), V6U, comment="a comment")
    s1.opb(0, _ts(2), C.ether(V4U))
    s1.custom(5, struct_isb())  # interface statistics
    s1.custom(0x0000000A, struct.pack("<II", 0x544C534B, 4) + b"abcd")  # decryption secrets
    s2 = C.Section(big=True, interfaces=[C.Interface(113, tsresol=0x80 | 10), C.Interface(1)])
    s2.epb(1, _ts(3), C.ether(V6T, 0x86DD))
    s2.epb(0, _ts(4), C.sll(V4U))
    s2.custom(0x40000000 | 0x1234, b"\x00" * 8)  # unknown local-use block
    s3 = C.Section(big=False, interfaces=[C.Interface(1, snaplen=1500)])
    s3.spb(C.ether(V4T))
    s3.epb(0, _ts(6), C.arp())
    cases = [("a", 1, C.ether(V4T), E_V4T), ("b", 101, V6U, E_V6U), ("c", 1, C.ether(V4U), E_V4U),
             ("d", 1, C.ether(V6T, 0x86DD), E_V6T), ("e", 113, C.sll(V4U), E_V4U),
             ("f", 1, C.ether(V4T), E_V4T), ("g", 1, C.arp(), ("non_ip", "arp"))]
    return C.pcapng(s1, s2, s3), cases


def struct_isb() -> bytes:
    return struct.pack("<III", 0, 0, 0)


@pytest.mark.timeout(120)
def test_pcapng_sections_interfaces_blocks(tmp_path, request):
    data, cases = _sections_file()
    table = read_capture(data)
    _check_table(table, cases)
    assert table.interface_id.tolist() == [0, 1, 0, 1, 0, 0]
    want_ts = [_ts(0), _ts(1), _ts(2), _ts(3), _ts(4), np.nan]
    got = table.timestamp
    assert np.isnan(got[5])  # simple packet blocks carry no time
    np.testing.assert_allclose(got[:5], want_ts[:5], rtol=0, atol=1e-3)  # 2^-10 resolution on if 0 of s2
    np.testing.assert_allclose(got[[0, 1, 2, 3]], [_ts(0), _ts(1), _ts(2), _ts(3)], rtol=0, atol=1e-6)
    if C.TSHARK:
        path = tmp_path / "sections.pcapng"
        path.write_bytes(data)
        frames = _tshark_rows(path, request)
        _compare_with_tshark(table, frames, len(cases))
        theirs = np.array([float(f["frame.time_epoch"] or "nan") for f in frames])
        mine = C.our_records(path)["timestamp"]
        ok = np.isfinite(mine)
        assert np.array_equal(ok, np.isfinite(theirs))
        np.testing.assert_allclose(mine[ok], theirs[ok], rtol=0, atol=1e-6)


def test_spb_caplen_is_limited_by_snaplen_and_block():
    frame = C.ether(V4T)
    s = C.Section(interfaces=[C.Interface(1, snaplen=38)])
    s.spb(frame[:38], origlen=len(frame))  # block padded to 40 bytes of data: the snap length decides
    s.spb(frame[:30], origlen=len(frame))  # 14 + 16 bytes: the IP header is cut
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = read_capture(C.pcapng(s))
    assert t.caplen.tolist() == [38] and t.origlen.tolist() == [len(frame)]
    assert t.ip_len.tolist() == [45] and t.src_port.tolist() == [40000]
    assert t.stats["non_ip"] == {"truncated_ip_header": 1}
    s2 = C.Section(interfaces=[C.Interface(1)])
    s2.spb(frame[:36], origlen=len(frame))  # no snap length: the block length decides
    assert read_capture(C.pcapng(s2)).caplen.tolist() == [36]
