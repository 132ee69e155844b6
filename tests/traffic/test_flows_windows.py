"""Devices, directions, flows and windows on hand-made captures whose answer is known."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from t2t_hf import T2TInputError
from t2t_hf.traffic import (FlowTracker, PacketTable, Windower, assign_flows, detect_devices, direction,
                            flow_summary, iter_windows, make_windows, read_capture)
from t2t_hf.traffic.table import encode_addresses

PHONE = "192.168.1.20"
TABLET = "192.168.1.30"
SERVER = "142.250.1.1"
DNS = "8.8.8.8"


def write_pcap(path, packets):
    """packets: (time s, src, dst, proto, sport, dport, tcp_flags, IP length bytes) -> Ethernet/IPv4 pcap."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, src, dst, proto, sp, dp, flags, ip_len in packets:
        plen = ip_len - 20 - (20 if proto == 6 else 8)
        l4 = struct.pack("!HHIIBBHHH", sp, dp, 0, 0, 0x50, flags, 65535, 0, 0) if proto == 6 else \
            struct.pack("!HHHH", sp, dp, 8 + plen, 0)
        body = l4 + b"\x00" * plen
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + body
        sec = int(t)
        out.append(struct.pack("<IIII", sec, int(round((t - sec) * 1e6)), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def table(rows):
    """rows: (time, src, dst, proto, sport, dport, flags, ip_len) -> PacketTable."""
    cols = list(zip(*rows))
    return PacketTable.from_columns({
        "timestamp": cols[0], "src_addr": cols[1], "dst_addr": cols[2], "protocol": cols[3], "src_port": cols[4],
        "dst_port": cols[5], "tcp_flags": cols[6], "ip_len": cols[7], "ip_version": [4] * len(rows)})


def tcp_conversation(t0, client, cport, server, sport=443, n_data=3, gap=0.1, fin=True):
    rows = [(t0, client, server, 6, cport, sport, 0x02, 60), (t0 + 0.02, server, client, 6, sport, cport, 0x12, 60),
            (t0 + 0.04, client, server, 6, cport, sport, 0x10, 52)]
    t = t0 + 0.05
    for i in range(n_data):
        rows.append((t, server, client, 6, sport, cport, 0x18, 1500))
        rows.append((t + 0.01, client, server, 6, cport, sport, 0x10, 52))
        t += gap
    if fin:
        rows.append((t, client, server, 6, cport, sport, 0x11, 52))
        rows.append((t + 0.01, server, client, 6, sport, cport, 0x11, 52))
    return rows


def test_flow_ids_bidirectional_and_timeouts():
    rows = tcp_conversation(0.0, PHONE, 40000, SERVER)  # flow 0, 11 packets
    rows += [(1.0, PHONE, DNS, 17, 50000, 53, 0, 70), (1.05, DNS, PHONE, 17, 53, 50000, 0, 120)]  # flow 1
    # same UDP 5-tuple after a 200 s gap: idle timeout 120 s -> new flow
    rows += [(201.0, PHONE, DNS, 17, 50000, 53, 0, 70)]
    # same TCP 5-tuple reopened with SYN after FIN -> new flow, even within the idle timeout
    rows += tcp_conversation(2.0, PHONE, 40000, SERVER, n_data=1)
    t = table(rows).sort_by_time()
    fid = assign_flows(t)
    src = t.src_ip()
    # flows in order of first appearance
    assert fid[0] == 0
    assert len(np.unique(fid)) == 4
    udp = t.protocol == 17
    assert len(np.unique(fid[udp & (t.timestamp < 100)])) == 1  # both directions share a flow
    assert fid[udp & (t.timestamp > 100)][0] not in fid[t.timestamp < 100]
    tcp_first = fid[(t.protocol == 6) & (t.timestamp < 1.5)]
    tcp_second = fid[(t.protocol == 6) & (t.timestamp >= 2.0)]
    assert len(set(tcp_first)) == 1 and len(set(tcp_second)) == 1 and set(tcp_first) != set(tcp_second)
    assert src[0] == PHONE
    summ = flow_summary(t, fid)
    assert summ["packets"][0] == 11
    assert summ["bytes"][0] == 60 * 2 + 52 + 3 * (1500 + 52) + 2 * 52


def test_active_timeout_splits_long_flows():
    rows = [(float(s), PHONE, SERVER, 17, 40000, 443, 0, 100) for s in range(0, 100, 5)]
    fid = assign_flows(table(rows), idle_timeout=60, active_timeout=30)
    # a new flow every time the current one is older than 30 s: starts at 0, 35, 70
    assert list(np.unique(fid, return_counts=True)[1]) == [7, 7, 6]


def test_streaming_flow_tracker_matches_whole_table():
    rows = tcp_conversation(0.0, PHONE, 40001, SERVER, n_data=20, gap=1.0)
    rows += [(float(s) / 3, PHONE, DNS, 17, 50001 + s % 4, 53, 0, 80) for s in range(60)]
    t = table(rows).sort_by_time()
    whole = FlowTracker().assign(t)[0]
    tr = FlowTracker()
    parts = [tr.assign(t[i:i + 7])[0] for i in range(0, len(t), 7)]
    assert np.array_equal(np.concatenate(parts), whole)


def test_device_detection_and_direction():
    rows = []
    for i in range(6):
        rows += tcp_conversation(i * 2.0, PHONE, 40000 + i, SERVER, n_data=2)
    for i in range(3):
        rows += tcp_conversation(i * 3.0 + 0.5, TABLET, 41000 + i, SERVER, n_data=1)
    rows += [(0.3, "224.0.0.251", PHONE, 17, 5353, 5353, 0, 100)]  # multicast never a device
    t = table(rows)
    assert detect_devices(t) == [PHONE, TABLET]
    d = direction(t, encode_addresses([PHONE])[0])
    assert ((d == 1) == (np.array(t.src_ip()) == PHONE)).all()
    assert ((d == -1) == (np.array(t.dst_ip()) == PHONE)).all()


def test_server_side_capture_mid_flow_uses_ports():
    # capture started mid-connection: the first packet is the server's, no SYN seen
    rows = [(0.0, SERVER, PHONE, 6, 443, 40000, 0x18, 1400), (0.1, PHONE, SERVER, 6, 40000, 443, 0x10, 52)]
    rows += [(1.0, SERVER, PHONE, 6, 443, 40002, 0x18, 1400), (1.1, PHONE, SERVER, 6, 40002, 443, 0x10, 52)]
    assert detect_devices(table(rows)) == [PHONE]


def test_windows_known_answer(tmp_path):
    rows = tcp_conversation(100.0, PHONE, 40000, SERVER, n_data=3)  # 11 packets in [100, 100.4]
    rows += [(125.5, PHONE, DNS, 17, 50000, 53, 0, 70), (125.6, DNS, PHONE, 17, 53, 50000, 0, 120)]
    rows += tcp_conversation(126.0, PHONE, 40001, SERVER, n_data=1)  # second TCP flow, 7 packets
    path = write_pcap(tmp_path / "known.pcap", rows)
    t = read_capture(path)
    assert len(t) == len(rows)
    wins = make_windows(t, window=10.0)
    # grid from 100.0: [100,110) [110,120) idle, [120,130)
    assert [w.start - 100.0 for w in wins] == [0.0, 10.0, 20.0]
    assert [w.num_packets for w in wins] == [11, 0, 9]
    assert wins[1].is_idle and wins[1].device == PHONE
    w0, w2 = wins[0], wins[2]
    assert w0.size[0] == 60 and w0.size[3] == -1500  # uplink SYN (+), downlink data (-)
    assert w0.bytes_down == 3 * 1500 + 60 + 52
    assert np.allclose(w0.time[:3], [0.0, 0.02, 0.04], atol=1e-6)
    assert w0.new_flow[0] and not w0.new_flow[1:].any()
    assert list(w2.flow) == [0, 0] + [1] * 7  # flows numbered by first appearance in the window
    assert list(w2.protocol[:2]) == [17, 17]
    assert w2.new_flow.sum() == 2 and w2.num_flows == 2


def test_windows_stride_overlap_and_explicit_device():
    rows = [(float(s), PHONE, SERVER, 17, 40000, 443, 0, 100) for s in range(20)]
    rows += [(float(s) + 0.5, TABLET, SERVER, 17, 40001, 443, 0, 200) for s in range(20)]
    t = table(rows)
    wins = make_windows(t, window=10.0, stride=5.0, device=TABLET)
    assert {w.device for w in wins} == {TABLET}
    assert [w.start for w in wins] == [0.0, 5.0, 10.0, 15.0]
    assert [w.num_packets for w in wins] == [10, 10, 10, 5]
    both = make_windows(t, window=10.0, device=[PHONE, TABLET])
    assert [w.device for w in both] == [PHONE, PHONE, TABLET, TABLET]
    with pytest.raises(T2TInputError, match="do not appear"):
        make_windows(t, device="10.9.9.9")
    with pytest.raises(T2TInputError, match="not an IP address"):
        make_windows(t, device="phone")
    with pytest.raises(T2TInputError, match="stride"):
        make_windows(t, window=5, stride=10)
    with pytest.raises(T2TInputError, match="window"):
        make_windows(t, window=0)


def test_streaming_windows_equal_file_windows():
    rows = []
    for i in range(10):
        rows += tcp_conversation(i * 4.0, PHONE, 40000 + i, SERVER, n_data=3, gap=0.5)
    t = table(rows).sort_by_time()
    whole = make_windows(t, window=10.0, device=PHONE)
    streamed = list(iter_windows((t[i:i + 13] for i in range(0, len(t), 13)), window=10.0, device=PHONE,
                                 reorder_slack=0.0))
    assert len(streamed) == len(whole)
    for a, b in zip(whole, streamed):
        assert (a.start, a.end) == (b.start, b.end)
        assert np.array_equal(a.size, b.size) and np.array_equal(a.flow, b.flow)
        assert np.array_equal(a.new_flow, b.new_flow) and np.allclose(a.time, b.time)


def test_windower_closes_idle_windows_on_clock_ticks():
    w = Windower(window=10.0, device=PHONE, reorder_slack=0.0)
    first = w.push(table([(0.0, PHONE, SERVER, 17, 40000, 443, 0, 100)]))
    assert first == []
    closed = w.advance(35.0)  # nothing arrived, but time passed: three windows closed
    assert [x.num_packets for x in closed] == [1, 0, 0]


def test_windows_tolerate_missing_timestamps():
    t = table([(0.0, PHONE, SERVER, 17, 1, 443, 0, 100), (float("nan"), PHONE, SERVER, 17, 1, 443, 0, 100),
               (1.0, SERVER, PHONE, 17, 443, 1, 0, 300)])
    wins = make_windows(t, window=10.0, device=PHONE)
    assert len(wins) == 1 and wins[0].num_packets == 2
