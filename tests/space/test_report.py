"""t2t_hf.report: upload checks, throughput series, tables and segment merging (no model, no Gradio)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from t2t_hf.errors import T2TInputError
from t2t_hf.report import (check_capture_file, max_upload_bytes, merge_segments, probability_rows, throughput_series,
                           timeline_rows)
from t2t_hf.traffic import PacketTable, read_capture


def test_check_capture_file(tmp_path, sim_capture, monkeypatch):
    path, _ = sim_capture
    assert check_capture_file(path) == "pcap"
    gz = tmp_path / "c.pcap.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()[:10_000]))
    assert check_capture_file(gz) == "gzip"
    ng = tmp_path / "c.pcapng"
    ng.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)
    assert check_capture_file(ng) == "pcapng"
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"GIF89a....")
    for p, limit, words in [(None, None, "no capture uploaded"), (tmp_path / "gone.pcap", None, "not a readable"),
                            (bad, None, "not a pcap or pcapng"), (path, 1000, "over the"),
                            (tmp_path, None, "not a readable")]:
        with pytest.raises(T2TInputError, match=words):
            check_capture_file(p, limit)
    empty = tmp_path / "e.pcap"
    empty.write_bytes(b"")
    with pytest.raises(T2TInputError, match="empty"):
        check_capture_file(empty)
    monkeypatch.setenv("T2T_MAX_UPLOAD_MB", "0.5")
    assert max_upload_bytes() == 512 * 1024
    monkeypatch.setenv("T2T_MAX_UPLOAD_MB", "lots")
    with pytest.raises(T2TInputError, match="T2T_MAX_UPLOAD_MB"):
        max_upload_bytes()


def test_throughput_series_by_hand():
    t = np.array([100.0, 100.5, 101.2, 103.9, 104.0, np.nan])
    table = PacketTable.from_columns({
        "timestamp": t, "src_addr": ["10.0.0.2", "1.1.1.1", "10.0.0.2", "1.1.1.1", "10.0.0.9", "10.0.0.2"],
        "dst_addr": ["1.1.1.1", "10.0.0.2", "1.1.1.1", "10.0.0.2", "1.1.1.1", "1.1.1.1"],
        "ip_len": [100, 1500, 200, 1000, 50, 999], "protocol": [6] * 6})
    s = throughput_series(table, "10.0.0.2", bin_s=1.0)
    assert s["t0"] == 100.0 and s["bin_s"] == 1.0
    np.testing.assert_allclose(s["time"], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(s["uplink"], [800, 1600, 0, 0, 0])       # bits/s: 100 B then 200 B
    np.testing.assert_allclose(s["downlink"], [12000, 0, 0, 8000, 0])   # 1500 B, then 1000 B at 103.9
    s2 = throughput_series(table, ["10.0.0.2", "10.0.0.9"], bin_s=2.0, t0=99.0)
    np.testing.assert_allclose(s2["uplink"] * 2.0 / 8, [100, 200, 50])  # 10.0.0.9's 50 B at 104.0
    with pytest.raises(T2TInputError):
        throughput_series(table, "10.0.0.2", bin_s=0)


def test_series_total_matches_capture(sim_capture):
    path, session = sim_capture
    table = read_capture(path)
    s = throughput_series(table, session.device, bin_s=0.5)
    total = (s["uplink"].sum() + s["downlink"].sum()) * 0.5 / 8
    assert total == pytest.approx(float(table.ip_len.astype(np.int64).sum()))  # every packet is the phone's


def test_tables_and_merging():
    segs = [{"start": 100.0 + 10 * i, "end": 110.0 + 10 * i, "device": "10.0.0.2", "caption": f"c{i}",
             "app_type": t, "score": 0.5, "app_type_scores": {"video": p, "messaging": 1 - p}}
            for i, (t, p) in enumerate([("video", 0.9), ("video", 0.8), ("messaging", 0.1)])]
    assert timeline_rows(segs, 100.0)[1] == [10.0, 20.0, "10.0.0.2", "c1", "video", 0.5]
    headers, rows = probability_rows(segs, 100.0)
    assert headers == ["start (s)", "device", "video", "messaging"]
    assert rows[2] == [20.0, "10.0.0.2", 0.1, 0.9]
    spans = merge_segments(segs)
    assert [(s["start"], s["end"], s["label"], s["windows"]) for s in spans] == \
        [(100.0, 120.0, "video", 2), (120.0, 130.0, "messaging", 1)]
    other = dict(segs[0], device="10.0.0.3", start=130.0, end=140.0)
    assert len(merge_segments(segs + [other])) == 3  # another device never joins a span
