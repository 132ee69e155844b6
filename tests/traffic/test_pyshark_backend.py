"""The pyshark backend gives the same packet table as read_capture (on real and hand-made files)."""

from __future__ import annotations

import shutil
import threading
import warnings

import numpy as np
import pytest

import captures as C
from t2t_hf.errors import T2TInputError
from t2t_hf.traffic import read_capture

pytest.importorskip("pyshark")
pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")]

from t2t_hf.traffic.pyshark_backend import read_capture_pyshark  # noqa: E402

# small real files covering Ethernet, SLL, raw IP, IPv6, tunnels, fragments, pcapng
REAL = ["KakaoTalk_chat.pcap", "6in4tunnel.pcap", "teredo.pcap", "NTPv4.pcap", "vxlan.pcap", "gtp_c.pcap",
        "tls_2_reasms.pcapng"]
COMPARED = ("timestamp", "caplen", "origlen", "ip_version", "src_addr", "dst_addr", "protocol", "src_port",
            "dst_port", "tcp_flags", "ip_len", "ip_payload_len", "record_index")


def _same(ours, theirs, name):
    assert theirs.stats["records"] == ours.stats["records"], name
    assert len(theirs) == len(ours), name
    for col in COMPARED:
        a, b = getattr(ours, col), getattr(theirs, col)
        if col == "timestamp":
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=name)
        else:
            bad = np.flatnonzero(a != b)
            assert bad.size == 0, (f"{name}: {col} differs at rows {bad[:5].tolist()} (frames "
                                   f"{(ours.record_index[bad[:5]] + 1).tolist()}): {a[bad[:5]]} vs {b[bad[:5]]}")


@pytest.mark.parametrize("name", REAL)
def test_parity_on_real_files(pcaps_dir, name):
    path = pcaps_dir / name
    if not path.exists():
        pytest.skip(f"{name} not in this copy of the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = read_capture(path)
    theirs = read_capture_pyshark(path)
    # frames with bad/truncated IP headers are IP for Wireshark but not rows for us
    bad = ours.stats["non_ip"].get("bad_ip_header", 0) + ours.stats["non_ip"].get("truncated_ip_header", 0)
    if bad:
        keep = np.isin(theirs.record_index, ours.record_index)
        theirs = theirs[keep]
        theirs.stats["records"] = ours.stats["records"]
    _same(ours, theirs, name)


def test_parity_on_hand_made_link_types(tmp_path):
    import test_reader_linktypes as L

    cases = [c for c in L.ALL_CASES if c[0] not in ("eth_bad_ip_version", "eth_truncated_ip")]
    path = tmp_path / "links.pcapng"
    path.write_bytes(L._multi_link_pcapng(cases))
    ours = read_capture(path)
    theirs = read_capture_pyshark(path)
    _same(ours, theirs, "links")
    assert theirs.interface_id.tolist() == ours.interface_id.tolist()
    assert theirs.stats["non_ip"].get("arp") == 1


def test_not_a_capture_and_missing_file(tmp_path):
    p = tmp_path / "x.pcap"
    p.write_text("not a capture")
    with pytest.raises(T2TInputError, match=r"x.pcap.*(no packets|could not read)"):
        read_capture_pyshark(p)
    with pytest.raises(T2TInputError, match="no packets"):
        read_capture_pyshark(C.pcap([], 1))
    with pytest.raises(T2TInputError, match="not found"):
        read_capture_pyshark(tmp_path / "missing.pcap")
    with pytest.raises(T2TInputError):
        read_capture_pyshark(p, subprocess="maybe")


def test_threads_raise_clearly_or_run_in_a_spawned_process(tmp_path):
    path = tmp_path / "t.pcap"
    path.write_bytes(C.pcap([C.ether(C.v4_tcp()), C.ether(C.v6_udp(), 0x86DD)], 1))
    out: dict = {}

    def worker():
        try:
            read_capture_pyshark(path, subprocess=False)
        except T2TInputError as e:
            out["error"] = str(e)
        out["table"] = read_capture_pyshark(path)  # default: spawned process

    t = threading.Thread(target=worker, name="gradio-like")
    t.start()
    t.join(timeout=150)
    assert "main thread" in out["error"] and "read_capture" in out["error"]
    C.assert_tables_equal(out["table"], read_capture(path), stats=False)
