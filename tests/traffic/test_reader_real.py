"""The reader on the 271 real captures of ../shared/data/pcaps, with tshark as the oracle.

* every file parses or raises ``T2TInputError`` (never another exception, never a hang);
* where tshark reads a file (or a prefix of it), our records and timestamps equal tshark's;
* the frames tshark marks ``ip``/``ipv6`` are our rows plus the frames we count as bad or
  truncated IP headers, and addresses, protocol, ports, flags and IP length of the outermost
  header agree with tshark's.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from captures import TSHARK, first_ip_layer, our_records, pcap_bad_subsecond_records, run_tshark
from t2t_hf.errors import T2TInputError
from t2t_hf.traffic import PacketTable, read_capture
from t2t_hf.traffic.linklayer import IP

_SHARED = Path(os.environ.get("T2T_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
_PCAPS = _SHARED / "pcaps"
FILES = sorted(p.name for p in _PCAPS.iterdir() if p.is_file()) if _PCAPS.is_dir() else ["<no shared data>"]
BAD_IP = (7, 8)  # truncated_ip_header, bad_ip_header

needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")


def _path(pcaps_dir: Path, name: str) -> Path:
    p = pcaps_dir / name
    if not p.is_file():
        pytest.fail(f"{p} missing")
    return p


def _read(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_capture(path, **kw)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", FILES)
def test_parses_or_input_error(pcaps_dir, name):
    path = _path(pcaps_dir, name)
    for on_error in ("raise", "warn"):
        try:
            table = _read(path, on_error=on_error)
        except T2TInputError as e:
            assert str(e), "an empty error message helps nobody"
            continue
        assert isinstance(table, PacketTable)
        n = len(table)
        assert all(len(a) == n for a in table.columns.values())
        assert table.stats["ip"] == n
        assert table.stats["records"] == n + sum(table.stats["non_ip"].values())
        assert np.all(np.diff(table.record_index.astype(np.int64)) > 0)
        assert set(np.unique(table.ip_version).tolist()) <= {4, 6}


def _tshark_ts(frames) -> np.ndarray:
    return np.array([float(f["frame.time_epoch"] or "nan") for f in frames], dtype=np.float64)


@needs_tshark
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", FILES)
def test_records_and_timestamps_equal_tshark(pcaps_dir, name, request):
    path = _path(pcaps_dir, name)
    ts = run_tshark(path, getattr(request.config, "cache", None))
    frames = ts["frames"]
    ours = our_records(path)
    n_ours = ours["timestamp"].shape[0]
    if ts["error"] is None:
        # tshark read the whole file: same number of records, and read_capture agrees
        assert n_ours == len(frames), f"{n_ours} records, tshark {len(frames)}"
        if n_ours:
            table = _read(path)
            assert table.stats["records"] == len(frames)
    else:
        # tshark stopped at a damaged record: we must read at least the frames it printed
        assert n_ours >= len(frames), f"tshark printed {len(frames)} frames before failing, we read {n_ours}"
    k = len(frames)
    if not k:
        return
    theirs = _tshark_ts(frames)
    mine = ours["timestamp"][:k]
    bad_subsec = pcap_bad_subsecond_records(path.read_bytes())
    check = np.ones(k, bool)
    check[[i for i in bad_subsec if i < k]] = False  # out-of-range sub-second field: tshark prints garbage
    check &= np.isfinite(mine)  # simple packet blocks carry no timestamp
    np.testing.assert_allclose(mine[check], theirs[check], rtol=0, atol=1e-6)
    if bad_subsec:
        # still a number: whole seconds plus the (oversized) fraction, never NaN or a crash
        assert np.all(np.isfinite(mine[~check & np.isfinite(mine)]))


def _addr(s: str) -> bytes:
    ip = ipaddress.ip_address(s)
    return (b"\x00" * 10 + b"\xff\xff" + ip.packed) if ip.version == 4 else ip.packed


@needs_tshark
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", FILES)
def test_ip_frames_and_headers_equal_tshark(pcaps_dir, name, request):
    path = _path(pcaps_dir, name)
    ts = run_tshark(path, getattr(request.config, "cache", None))
    frames = ts["frames"]
    if not frames:
        return
    ours = our_records(path)
    k = min(len(frames), ours["reason"].shape[0])
    reason = ours["reason"][:k]
    layers = [first_ip_layer(f["frame.protocols"]) for f in frames[:k]]
    tshark_ip = np.array([lay[0] is not None for lay in layers], bool)
    our_ip = reason == IP
    # our IP rows are IP for tshark too
    extra = np.flatnonzero(our_ip & ~tshark_ip)
    assert extra.size == 0, f"frames {(extra + 1).tolist()[:10]} decoded as IP by us but not by tshark"
    # tshark's IP frames that we do not decode are the ones we count as bad/truncated IP headers
    missing = np.flatnonzero(tshark_ip & ~our_ip & ~np.isin(reason, BAD_IP))
    assert missing.size == 0, (f"frames {(missing + 1).tolist()[:10]} are IP for tshark "
                               f"({[frames[i]['frame.protocols'] for i in missing[:3]]}) but ours say reasons "
                               f"{reason[missing[:10]].tolist()}")
    if ts["error"] is None:
        table = _read(path, on_error="warn")
        assert table.stats["ip"] + sum(table.stats["non_ip"].get(r, 0) for r in
                                       ("bad_ip_header", "truncated_ip_header")) >= int(tshark_ip.sum())
    # header fields of the outermost IP header
    table = _read(path, on_error="warn")
    rows = np.flatnonzero(table.record_index < k)
    mism = []
    for r in rows.tolist():
        i = int(table.record_index[r])
        f = frames[i]
        kind, nxt = layers[i]
        v = 4 if kind == "ip" else 6
        got = {"v": int(table.ip_version[r]), "src": bytes(table.src_addr[r]).ljust(16, b"\0"),
               "dst": bytes(table.dst_addr[r]).ljust(16, b"\0")}
        want = {"v": v, "src": _addr(f["ip.src" if v == 4 else "ipv6.src"]),
                "dst": _addr(f["ip.dst" if v == 4 else "ipv6.dst"])}
        if v == 4 and f["ip.proto"]:
            got["proto"], want["proto"] = int(table.protocol[r]), int(f["ip.proto"])
            tl = int(f["ip.len"])
            if tl >= 20:
                got["ip_len"], want["ip_len"] = int(table.ip_len[r]), tl
        if v == 6 and f["ipv6.plen"] and int(f["ipv6.plen"]) > 0:
            got["ip_len"], want["ip_len"] = int(table.ip_len[r]), 40 + int(f["ipv6.plen"])
        if nxt in ("tcp", "udp") and f[f"{nxt}.srcport"]:
            got["proto6"] = want["proto6"] = None
            got["l4"] = (int(table.protocol[r]), int(table.src_port[r]), int(table.dst_port[r]))
            want["l4"] = (6 if nxt == "tcp" else 17, int(f[f"{nxt}.srcport"]), int(f[f"{nxt}.dstport"]))
            if nxt == "tcp" and f["tcp.flags"]:
                got["flags"], want["flags"] = int(table.tcp_flags[r]), int(f["tcp.flags"], 16) & 0x1FF  # tshark adds the 3 reserved bits
        if got != want:
            mism.append((i + 1, {k2: (got[k2], want[k2]) for k2 in got if got[k2] != want.get(k2)}))
    assert not mism, f"{len(mism)} rows differ from tshark (frame, {{field: (ours, tshark)}}): {mism[:5]}"
