"""T2T-Sim calibration: the statistics and distances, and a run against a real capture."""

from __future__ import annotations

import json

import numpy as np
import pytest

from t2t_hf.data.sim import calibrate as cal
from t2t_hf.errors import T2TInputError


def test_ks_statistic():
    a = np.arange(100.0)
    assert cal.ks(a, a) == 0.0
    assert cal.ks(a, a + 1000) == 1.0
    assert 0.4 < cal.ks(a, a + 50) < 0.6
    assert cal.ks(a, np.array([])) is None


def test_statistics_of_simulated_traffic_and_self_distance():
    tr = cal.sim_traffic("Telegram", "chatting", sessions=2)
    st = cal.statistics(tr)
    assert st["packets"] == len(tr["t"]) > 0
    assert set(cal.STAT_NAMES) <= set(st)
    assert abs(st["protocol_mix"].sum() - 1.0) < 1e-9
    d = cal.compare(st, st)
    assert all(v == 0.0 for v in d.values() if v is not None)
    other = cal.statistics(cal.sim_traffic("YouTube", "watching_video", sessions=2))
    d2 = cal.compare(st, other)
    assert d2["byte_rate"] > 0.5 and d2["size_down"] > 0.3  # chat and video are far apart


def test_calibrate_against_a_real_capture(pcaps_dir, tmp_path):
    d = tmp_path / "pcaps"
    d.mkdir()
    (d / "KakaoTalk_chat.pcap").symlink_to(pcaps_dir / "KakaoTalk_chat.pcap")
    out = tmp_path / "calibration.md"
    assert cal.main(["--pcaps", str(d), "--out", str(out), "--sessions", "2"]) == 0
    md = out.read_text()
    assert "KakaoTalk_chat.pcap" in md and "size_up" in md and "protocol_mix" in md
    res = json.loads(out.with_suffix(".json").read_text())
    assert len(res) == 1 and res[0]["real_packets"] > 300
    assert all(0.0 <= v <= 1.0 for k, v in res[0]["distance"].items() if k in cal.KS_STATS)


def test_calibrate_bad_folder(tmp_path):
    with pytest.raises(T2TInputError, match="not a directory"):
        cal.calibrate(tmp_path / "nope")
    assert cal.main(["--pcaps", str(tmp_path / "nope"), "--out", str(tmp_path / "x.md")]) == 2
    assert not (tmp_path / "x.md").exists()
