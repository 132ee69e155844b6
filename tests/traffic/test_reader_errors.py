"""Damaged input, bad options, compression, streaming, pipes, bounded memory, and the pure-Python kernels."""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import captures as C
from t2t_hf.errors import T2TInputError, T2TInputWarning
from t2t_hf.traffic import PacketTable, iter_capture, kernels, read_capture

pytestmark = pytest.mark.timeout(120)

FRAMES = [C.ether(C.v4_tcp(sport=1000 + i)) for i in range(6)]


def _pcap(n=6, **kw) -> bytes:
    return C.pcap(FRAMES[:n], 1, **kw)


# ---------------------------------------------------------------------------------------------- gzip


def test_gzip_compressed_capture_equals_plain(tmp_path, request):
    plain = _pcap()
    gz = tmp_path / "c.pcap.gz"
    gz.write_bytes(gzip.compress(plain))
    C.assert_tables_equal(read_capture(gz), read_capture(plain))
    ng = C.Section(interfaces=[C.Interface(1)]).epb(0, 1.7e9, FRAMES[0]).to_bytes()
    C.assert_tables_equal(read_capture(gzip.compress(ng)), read_capture(ng))
    if C.TSHARK:  # tshark reads gzip too, and sees the same packets
        frames = C.run_tshark(gz, getattr(request.config, "cache", None))["frames"]
        assert len(frames) == len(FRAMES)


def test_damaged_gzip_is_an_input_error():
    gz = gzip.compress(C.synthetic_pcap(2000, seed=5))
    flipped = gz[:500] + bytes(x ^ 0x55 for x in gz[500:600]) + gz[600:]  # corrupt deflate data
    with pytest.raises(T2TInputError, match="damaged"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_capture(flipped)
    with pytest.raises(T2TInputError, match="gzip"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_capture(gz[:6])
    with pytest.raises(T2TInputError):
        read_capture(b"\x1f\x8b" + b"\x00" * 40)


def test_gzip_cut_short_gives_the_packets_before_the_cut(tmp_path, request):
    data = C.synthetic_pcap(2000, seed=6)
    gz = gzip.compress(data)
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(gz[:len(gz) // 2])
    with pytest.warns(T2TInputWarning, match="cut short"):
        t = read_capture(path)
    full = read_capture(data)
    assert 0 < len(t) < len(full) and t.stats["truncated"] is True
    C.assert_tables_equal(t, full[:len(t)], stats=False)
    if C.TSHARK:  # tshark, too, reads the packets before the cut
        res = C.run_tshark(path, getattr(request.config, "cache", None))
        assert abs(len(res["frames"]) - len(t)) <= 1


# ---------------------------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("cut", [3, 16, 30])
def test_truncated_last_record_warns_and_keeps_the_rest(tmp_path, request, cut):
    data = _pcap()
    cut_data = data[:-cut]
    path = tmp_path / "cut.pcap"
    path.write_bytes(cut_data)
    with pytest.warns(T2TInputWarning, match=r"cut short.*record 5"):
        t = read_capture(path)
    assert len(t) == 5 and t.stats["records"] == 5 and t.stats["truncated"] is True
    assert t.src_port.tolist() == [1000, 1001, 1002, 1003, 1004]
    if C.TSHARK:
        res = C.run_tshark(path, getattr(request.config, "cache", None))
        assert "cut short" in (res["error"] or "")
        assert len(res["frames"]) == 5  # the same packets as tshark


def test_truncated_pcapng_last_block_warns():
    s = C.Section(interfaces=[C.Interface(1)])
    for i, f in enumerate(FRAMES):
        s.epb(0, 1.7e9 + i, f)
    data = s.to_bytes()
    with pytest.warns(T2TInputWarning, match="cut short"):
        t = read_capture(data[:-10])
    assert len(t) == 5


def test_truncated_file_header():
    with pytest.raises(T2TInputError, match=r"header is cut short \(10 of 24"):
        read_capture(_pcap()[:10])


# ---------------------------------------------------------------------------------------------- corruption


def test_corrupt_record_length_mid_file_names_file_record_and_offset(tmp_path):
    data = bytearray(_pcap())
    rec_len = 16 + len(FRAMES[0])
    off3 = 24 + 3 * rec_len
    data[off3 + 8:off3 + 12] = struct.pack("<I", 0x7FFFFFF0)
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(bytes(data))
    with pytest.raises(T2TInputError) as ei:
        read_capture(path)
    msg = str(ei.value)
    assert str(path) in msg and "record 3" in msg and f"byte offset {off3}" in msg, msg
    assert ei.value.record == 3 and ei.value.offset == off3 and ei.value.path == str(path)
    with pytest.warns(T2TInputWarning, match=f"byte offset {off3}"):
        t = read_capture(path, on_error="warn")
    assert len(t) == 3 and t.src_port.tolist() == [1000, 1001, 1002] and "error" in t.stats
    # the same when the corruption lands in a later chunk
    with pytest.raises(T2TInputError, match=f"record 3, byte offset {off3}"):
        read_capture(path, chunk_bytes=rec_len)


def test_corrupt_pcapng_block_length(tmp_path):
    s = C.Section(interfaces=[C.Interface(1)])
    for i, f in enumerate(FRAMES):
        s.epb(0, 1.7e9 + i, f)
    data = bytearray(s.to_bytes())
    # find the 3rd EPB and break its length (not a multiple of 4)
    offs = [m.start() for m in re.finditer(re.escape(struct.pack("<I", 6)), bytes(data))]
    epb_offs = [o for o in offs if o % 4 == 0][:6]
    o = epb_offs[2]
    data[o + 4:o + 8] = struct.pack("<I", 0x1003)
    path = tmp_path / "corrupt.pcapng"
    path.write_bytes(bytes(data))
    with pytest.raises(T2TInputError, match=rf"corrupt\.pcapng, record 2, byte offset {o}: block length"):
        read_capture(path)
    with pytest.warns(T2TInputWarning):
        assert len(read_capture(path, on_error="warn")) == 2


def test_packet_block_with_undeclared_interface():
    s = C.Section(interfaces=[C.Interface(1)])
    s.epb(0, 1.7e9, FRAMES[0])
    f = FRAMES[1]
    s.custom(6, struct.pack("<IIIII", 1, 0, 0, len(f), len(f)) + f)  # an EPB on interface 1, never described
    with pytest.raises(T2TInputError, match="refers to interface 1 but only 1 interface"):
        read_capture(s.to_bytes())
    with pytest.warns(T2TInputWarning):
        assert len(read_capture(s.to_bytes(), on_error="warn")) == 1


@pytest.mark.timeout(60)
def test_many_interfaces_read_in_linear_time():
    """A hostile pcapng with 80,000 interface blocks: once quadratic (minutes), now linear; interface
    ids above 65535 still find their own link type."""
    n = 80_000
    s = C.Section(interfaces=[C.Interface(1 if i % 2 else 101) for i in range(n)], shb_options=False)
    s.epb(n - 1, 1.7e9, C.ether(C.v4_tcp(sport=1)))  # odd id: Ethernet
    s.epb(70_002, 1.7e9, C.v4_tcp(sport=2))  # even id above 65535: raw IP
    s.epb(3, 1.7e9, C.ether(C.v4_tcp(sport=3)))
    t = read_capture(s.to_bytes())
    assert t.stats["non_ip"] == {} and t.src_port.tolist() == [1, 2, 3]


# ---------------------------------------------------------------------------------------------- not captures


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"hello world\nthis is text\n", "text file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG"),
    (b"PK\x03\x04" + bytes(64), "ZIP"),
    (bytes(range(200, 256)) * 3, "not a pcap or pcapng"),
    (b"\xd4\xc3", "not a pcap|empty|cut short"),
])
def test_not_a_capture(tmp_path, content, match):
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(T2TInputError, match=match) as ei:
        read_capture(path)
    assert str(path) in str(ei.value)


def test_header_only_captures_are_empty_errors():
    for data in (C.pcap([], 1), C.Section(interfaces=[C.Interface(1)]).to_bytes()):
        with pytest.raises(T2TInputError, match="no packets"):
            read_capture(data)
        t = read_capture(data, allow_empty=True)
        assert isinstance(t, PacketTable) and len(t) == 0 and t.stats["records"] == 0


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(T2TInputError, match="not found"):
        read_capture(tmp_path / "nope.pcap")
    with pytest.raises(T2TInputError, match="directory"):
        read_capture(tmp_path)


@pytest.mark.parametrize("kwargs", [
    dict(on_error="ignore"), dict(decapsulate="yes"), dict(chunk_bytes=0), dict(chunk_bytes=-5),
    dict(chunk_bytes=1.5), dict(chunk_bytes=True), dict(allow_empty="no"),
])
def test_bad_options(kwargs):
    with pytest.raises(T2TInputError):
        read_capture(_pcap(), **kwargs)
    it_kwargs = {k: v for k, v in kwargs.items() if k != "allow_empty"}
    if it_kwargs:
        with pytest.raises(T2TInputError):
            list(iter_capture(_pcap(), **it_kwargs))


def test_text_mode_file_objects(tmp_path):
    import io

    path = tmp_path / "t.pcap"
    path.write_bytes(_pcap())
    with open(path, encoding="latin-1") as f:
        with pytest.raises(T2TInputError, match="text mode"):
            read_capture(f)
    with pytest.raises(T2TInputError, match="text mode"):
        read_capture(io.StringIO("abc"))
    assert len(read_capture(bytearray(_pcap()))) == len(read_capture(memoryview(_pcap()))) == 6


@pytest.mark.parametrize("source", [123, 4.5, None, ["a.pcap"]])
def test_bad_source_types(source):
    with pytest.raises(T2TInputError, match="cannot read a capture"):
        read_capture(source)


# ---------------------------------------------------------------------------------------------- streaming


def _stream_table(source, chunk_bytes, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PacketTable.concat(list(iter_capture(source, chunk_bytes=chunk_bytes, **kw)))


@pytest.mark.parametrize("chunk", [1, 4096, 10_000])
def test_small_chunks_equal_one_big_chunk_synthetic(chunk):
    data = C.synthetic_pcap(3000, seed=1)
    whole = read_capture(data, chunk_bytes=1 << 26)
    C.assert_tables_equal(_stream_table(data, chunk), whole)
    assert len(list(iter_capture(data, chunk_bytes=4096))) > 10


def test_small_chunks_equal_one_big_chunk_real(pcaps_dir):
    names = ["opera-vpn.pcapng", "netflix.pcap", "6in4tunnel.pcap"]
    for name in names:
        p = pcaps_dir / name
        if not p.exists():
            continue
        whole = read_capture(p, chunk_bytes=1 << 26)
        C.assert_tables_equal(_stream_table(p, 4096), whole)


def test_multi_section_pcapng_streams_across_chunks():
    sec = [C.Section(big=b, interfaces=[C.Interface(1, tsresol=9), C.Interface(101)]) for b in (False, True, False)]
    for k, s in enumerate(sec):
        for i in range(200):
            s.epb(i % 2, 1.7e9 + i + k * 1000, C.ether(C.v4_udp(sport=i)) if i % 2 == 0 else C.v6_tcp(sport=i))
    data = C.pcapng(*sec)
    whole = read_capture(data)
    assert len(whole) == 600 and whole.interface_id.tolist()[:4] == [0, 1, 0, 1]
    for chunk in (1, 4096, 7777):
        C.assert_tables_equal(_stream_table(data, chunk), whole)


def test_reading_from_a_pipe(tmp_path):
    data = C.synthetic_pcap(2000, seed=2)
    path = tmp_path / "p.pcap"
    path.write_bytes(data)
    whole = read_capture(path)
    code = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
    for live in (False, True):
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
        try:
            if live:
                t = PacketTable.concat(list(iter_capture(proc.stdout, chunk_bytes=8192, live=True)))
            else:
                t = read_capture(proc.stdout, chunk_bytes=8192)
        finally:
            proc.stdout.close()
            proc.wait(timeout=30)
        C.assert_tables_equal(t, whole)


def test_bounded_memory_streaming(tmp_path):
    n = 250_000
    path = tmp_path / "big.pcap"
    path.write_bytes(C.synthetic_pcap(n, seed=3))
    size = path.stat().st_size
    chunk = 256 * 1024
    tracemalloc.start()
    try:
        rows = 0
        for t in iter_capture(path, chunk_bytes=chunk):
            rows += len(t)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == n
    # a chunk's bytes plus its per-record numpy temporaries; far below the file (~26 MB) or its table
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file"
    assert peak < size / 2


# ---------------------------------------------------------------------------------------------- kernels


def test_pure_python_kernels_equal_numba(monkeypatch, pcaps_dir):
    inputs = [C.synthetic_pcap(500, seed=4), _pcap(big=True), _pcap(nano=True), _pcap(modified=True),
              C.pcapng(C.Section(interfaces=[C.Interface(1)]).epb(0, 1.7e9, FRAMES[0]),
                       C.Section(big=True, interfaces=[C.Interface(1), C.Interface(101)]).epb(1, 1.8e9, C.v6_udp()))]
    for name in ("opera-vpn.pcapng", "6in4tunnel.pcap", "KakaoTalk_chat.pcap"):
        if (pcaps_dir / name).exists():
            inputs.append((pcaps_dir / name).read_bytes()[:300_000])  # cut: the tail is a truncated record
    ref = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for data in inputs:
            ref.append(read_capture(data, chunk_bytes=65536))
        monkeypatch.setattr(kernels, "walk_pcap", getattr(kernels.walk_pcap, "py_func", kernels.walk_pcap))
        monkeypatch.setattr(kernels, "walk_pcapng", getattr(kernels.walk_pcapng, "py_func", kernels.walk_pcapng))
        for data, r in zip(inputs, ref):
            C.assert_tables_equal(read_capture(data, chunk_bytes=65536), r)
    # the corrupt-length path too
    bad = bytearray(_pcap())
    bad[24 + 8:24 + 12] = b"\xff\xff\xff\x7f"
    with pytest.raises(T2TInputError, match="record 0"):
        read_capture(bytes(bad))
