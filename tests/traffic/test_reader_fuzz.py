"""Property tests: whatever the bytes, the reader returns a PacketTable or raises T2TInputError."""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import captures as C
from t2t_hf.errors import T2TInputError
from t2t_hf.traffic import PacketTable, read_capture
from t2t_hf.traffic.table import COLUMNS

pytestmark = pytest.mark.timeout(180)

FAST = settings(max_examples=int(os.environ.get("T2T_FUZZ_EXAMPLES", "200")), deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

LINKTYPES = [0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 228, 229, 276, 147, 65535]
PCAP_MAGICS = [0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34]


def check(data: bytes, **kw) -> PacketTable | None:
    """Read ``data``; only a consistent PacketTable or T2TInputError are acceptable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t = read_capture(data, **kw)
        except T2TInputError as e:
            assert str(e)
            return None
    assert isinstance(t, PacketTable)
    n = len(t)
    for name, (dt, _) in COLUMNS.items():
        col = getattr(t, name)
        assert col.shape == (n,) and col.dtype == np.dtype(dt), name
    assert t.stats["records"] == n + sum(t.stats["non_ip"].values())
    assert np.all(t.caplen <= 262_144 + 16 * 1024 * 1024)
    assert set(np.unique(t.ip_version).tolist()) <= {4, 6}
    return t


@FAST
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    check(data)


@FAST
@given(magic=st.sampled_from(PCAP_MAGICS), big=st.booleans(), linktype=st.sampled_from(LINKTYPES),
       body=st.binary(max_size=3000), decap=st.booleans())
def test_random_bytes_after_a_pcap_header(magic, big, linktype, body, decap):
    e = ">" if big else "<"
    check(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype) + body, decapsulate=decap)


@FAST
@given(big=st.booleans(), linktypes=st.lists(st.sampled_from(LINKTYPES), min_size=0, max_size=3),
       body=st.binary(max_size=3000), decap=st.booleans())
def test_random_bytes_after_a_pcapng_header(big, linktypes, body, decap):
    head = C.Section(big=big, interfaces=[C.Interface(lt) for lt in linktypes]).to_bytes()
    check(head + body, decapsulate=decap)


@FAST
@given(linktype=st.sampled_from(LINKTYPES),
       frames=st.lists(st.binary(max_size=200), min_size=1, max_size=20), decap=st.booleans())
def test_random_frames_in_valid_records(linktype, frames, decap):
    """Well-formed containers with random frames: exercises every link-layer and IP decoder."""
    t = check(C.pcap(frames, linktype), decapsulate=decap)
    assert t is not None and t.stats["records"] == len(frames)


def _header_frame(draw_bytes: bytes, kind: int) -> bytes:
    """Random bytes behind plausible headers, so the deeper decoders (tunnels, extension headers) run."""
    if kind == 0:
        return C.ether(C.ipv4(C.A4, C.B4, draw_bytes[0] if draw_bytes else 47, draw_bytes[1:]))
    if kind == 1:
        return C.ether(C.ipv6(C.A6, C.B6, draw_bytes[0] if draw_bytes else 0, draw_bytes[1:]), 0x86DD)
    if kind == 2:
        return C.ether(C.ipv4(C.A4, C.B4, 17, C.udp(4789, 4789, draw_bytes)))
    if kind == 3:
        return C.ether(C.ipv4(C.A4, C.B4, 17, C.udp(2152, 2152, b"\x34\xff" + draw_bytes)))
    if kind == 4:
        return C.ether(C.ipv4(C.A4, C.B4, 17, C.udp(3544, 3544, draw_bytes)))
    return C.radiotap(bytes([0x88, draw_bytes[0] if draw_bytes else 3]) + draw_bytes[1:])


@FAST
@given(parts=st.lists(st.tuples(st.binary(max_size=120), st.integers(0, 5)), min_size=1, max_size=15),
       decap=st.booleans(), cut=st.integers(0, 60))
def test_random_payloads_behind_real_headers(parts, decap, cut):
    frames = [_header_frame(b, k) for b, k in parts]
    frames = [(1.7e9 + i, f[:max(len(f) - cut, 0)], len(f)) for i, f in enumerate(frames)]
    t = check(C.pcap(frames, 1), decapsulate=decap)
    assert t is not None


# ---------------------------------------------------------------------------------------------- mutated real files

_SHARED = Path(os.environ.get("T2T_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
_SEEDS = ["opera-vpn.pcapng", "6in4tunnel.pcap", "KakaoTalk_chat.pcap", "gtp_c.pcap", "vxlan.pcap",
          "reasm_segv_anon.pcapng", "ipv6_in_gtp.pcap", "teredo.pcap"]
_CACHE: dict[str, bytes] = {}


def _seed_files(pcaps_dir: Path) -> list[bytes]:
    if not _CACHE:
        for name in _SEEDS:
            p = pcaps_dir / name
            if p.exists():
                _CACHE[name] = p.read_bytes()[:40_000]
        if not _CACHE:  # the names moved: take the smallest files of each kind
            for p in sorted(pcaps_dir.iterdir(), key=lambda q: q.stat().st_size)[:8]:
                _CACHE[p.name] = p.read_bytes()[:40_000]
    return list(_CACHE.values())


@FAST
@given(data=st.data())
def test_mutated_real_files(pcaps_dir, data):
    seeds = _seed_files(pcaps_dir)
    buf = bytearray(data.draw(st.sampled_from(seeds)))
    op = data.draw(st.sampled_from(["flip", "truncate", "splice", "overwrite", "all"]))
    if op in ("flip", "all"):
        for _ in range(data.draw(st.integers(1, 20))):
            pos = data.draw(st.integers(0, len(buf) - 1))
            buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    if op in ("truncate", "all"):
        buf = buf[:data.draw(st.integers(0, len(buf)))]
    if op in ("splice", "all"):
        other = data.draw(st.sampled_from(seeds))
        a = data.draw(st.integers(0, len(buf)))
        b = data.draw(st.integers(0, len(other)))
        buf = buf[:a] + other[b:]
    if op == "overwrite" and len(buf) > 8:
        pos = data.draw(st.integers(0, len(buf) - 4))
        buf[pos:pos + 4] = data.draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
                                                      b"\x0a\x0d\x0d\x0a", b"\x00\x00\x01\x00"]))
    if data.draw(st.booleans()):  # the same damage inside a gzip-compressed file, or to the compressed bytes
        gz = bytearray(gzip.compress(bytes(buf), compresslevel=1))
        if len(gz) > 20 and data.draw(st.booleans()):
            pos = data.draw(st.integers(10, len(gz) - 1))
            gz[pos] ^= 1 << data.draw(st.integers(0, 7))
        buf = gz[:data.draw(st.integers(0, len(gz)))] if data.draw(st.booleans()) else gz
    check(bytes(buf), decapsulate=data.draw(st.booleans()))
