"""The ``pcap`` config: a user's captures + caption files -> captioned windows, with no addresses."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from t2t_hf.data.builders import T2TCaptionsBuilder, capture_examples
from t2t_hf.data.caption_files import CaptionRecord, write_srt
from t2t_hf.data.schema import features, find_addresses, validate_example
from t2t_hf.errors import T2TInputError

T0 = 1_700_000_000.0
PHONE, SERVER, DNS = "10.0.0.2", "93.184.216.34", "10.0.0.1"
PHONE_MAC = bytes.fromhex("3c22fb01a29e")
ROUTER_MAC = bytes.fromhex("0011223344aa")


def _ip(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def _checksum(b: bytes) -> int:
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src: str, dst: str, proto: int, sport: int, dport: int, payload: int) -> bytes:
    """Ethernet/IPv4/(TCP|UDP) frame with ``payload`` zero bytes; returns the frame."""
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, 0x18, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + payload, 0)
    total = 20 + len(l4) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, proto, 0, _ip(src), _ip(dst))
    hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
    up = src == PHONE
    eth = (ROUTER_MAC + PHONE_MAC if up else PHONE_MAC + ROUTER_MAC) + b"\x08\x00"
    return eth + hdr + l4 + b"\0" * payload


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, fr in packets:
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, int(round((ts - sec) * 1e6)), len(fr), len(fr)) + fr)
    path.write_bytes(b"".join(out))


def session(duration: float = 35.0, start: float = T0):
    """A phone talking TLS to a server every 0.25 s plus a DNS query every 5 s.

    Returns (packets, ip_lengths): ip_lengths[i] = signed IP length (+ uplink) of packet i.
    """
    pkts, lens = [], []
    t = 0.0
    k = 0
    while t < duration:
        up = k % 3 == 0
        payload = 100 + (k * 37) % 1200
        src, dst = (PHONE, SERVER) if up else (SERVER, PHONE)
        sport, dport = (50000, 443) if up else (443, 50000)
        fr = frame(src, dst, 6, sport, dport, payload)
        pkts.append((start + t, fr))
        lens.append((1 if up else -1) * (40 + payload))
        if k % 20 == 0:
            pkts.append((start + t + 0.01, frame(PHONE, DNS, 17, 40000 + k, 53, 30)))
            lens.append(58)
        t += 0.25
        k += 1
    return pkts, lens


RECORDS = [
    {"start": 0.0, "end": 12.0, "caption": "The user opens WhatsApp and reads the latest chat.", "app": "WhatsApp",
     "app_type": "messaging", "activity": "read_chat", "model": "qwen2-vl-7b", "frame_times": [0.0, 6.0]},
    {"start": 12.0, "end": 35.0, "caption": "The user is watching a video on YouTube.", "app": "YouTube",
     "app_type": "video", "activity": "watch_video"},
]


@pytest.fixture
def recordings(tmp_path):
    root = tmp_path / "recordings"
    root.mkdir()
    pkts, lens = session()
    write_pcap(root / "morning.pcap", pkts)
    (root / "morning.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    pkts2, _ = session(duration=20.0, start=T0 + 1000)
    write_pcap(root / "phone-192.168.1.5.pcap", pkts2)  # an address in the file name must not leak
    write_srt([CaptionRecord(0.0, 20.0, "The user scrolls the Instagram feed near 192.168.1.5.")],
              root / "phone-192.168.1.5.srt")
    return root, lens


def _expected_caption(start: float, length: float) -> str:
    ov = [max(0.0, min(r["end"], start + length) - max(r["start"], start)) for r in RECORDS]
    best = max(range(len(RECORDS)), key=lambda i: (ov[i], -i))
    return RECORDS[best]["caption"] if ov[best] > 0 else None


def test_capture_examples_windows_and_captions(recordings):
    root, lens = recordings
    exs = list(capture_examples(root / "morning.pcap", window=10.0))
    assert len(exs) >= 3
    for ex in exs:
        validate_example(ex)
        assert ex["caption"] == _expected_caption(ex["window_start"], ex["window_length"])
        assert ex["source"] == "pcap" and ex["session"] == "morning"
        assert math.isclose(ex["window_length"], 10.0)
        assert all(0 <= t <= 10.0 for t in ex["time"])
        assert len(set(ex["flow"])) == max(ex["flow"]) + 1 if ex["flow"] else True
        assert set(ex["protocol"]) <= {6, 17}
    video = [ex for ex in exs if ex["app"] == "YouTube"]
    assert video and all(ex["app_type"] == "video" and ex["activity"] == "watch_video" for ex in video)
    # every phone packet is in exactly one window (windows tile the capture), signs = direction
    got = sorted(s for ex in exs for s in ex["size"])
    assert got == sorted(lens)


def test_builder_round_trip_and_privacy(recordings, tmp_path):
    root, _ = recordings
    builder = T2TCaptionsBuilder(config_name="pcap", data_dir=str(root), cache_dir=str(tmp_path / "cache"),
                                 user="alice", environment="wifi")
    builder.download_and_prepare()
    ds = builder.as_dataset()
    assert list(ds) == ["train"] and ds["train"].features == features()
    rows = ds["train"]
    assert len(set(rows["id"])) == len(rows)
    assert set(rows["user"]) == {"alice"} and set(rows["environment"]) == {"wifi"}
    assert set(rows["session"]) == {"morning", "phone-<address>"}
    for col in ("id", "caption", "app", "activity", "session", "user"):
        for v in rows[col]:
            assert not find_addresses(v), (col, v)
    assert "The user scrolls the Instagram feed near <address>." in rows["caption"]
    # deterministic: a second build gives the same rows in the same order
    again = T2TCaptionsBuilder(config_name="pcap", data_dir=str(root), cache_dir=str(tmp_path / "cache2"),
                               user="alice", environment="wifi")
    again.download_and_prepare()
    assert again.as_dataset()["train"].to_list() == rows.to_list()


def test_load_corpus_one_call(recordings, tmp_path):
    from t2t_hf.data import load_corpus

    root, _ = recordings
    train = load_corpus("pcap", data_dir=str(root), cache_dir=tmp_path, split="train")
    assert len(train) > 0 and set(train["source"]) == {"pcap"}
    stream = load_corpus("pcap", data_dir=str(root), cache_dir=tmp_path, split="train", streaming=True)
    assert [r["id"] for r in stream] == train["id"]


def test_data_files_and_split_folders(recordings, tmp_path):
    root, _ = recordings
    (root / "test").mkdir()
    (root / "train").mkdir()
    for stem, dest in (("morning", "train"), ("phone-192.168.1.5", "test")):
        for suf in (".pcap", ".jsonl", ".srt"):
            if (root / f"{stem}{suf}").exists():
                (root / f"{stem}{suf}").rename(root / dest / f"{stem}{suf}")
    b = T2TCaptionsBuilder(config_name="pcap", data_dir=str(root), cache_dir=str(tmp_path / "c1"))
    b.download_and_prepare()
    ds = b.as_dataset()
    assert set(ds) == {"train", "test"} and set(ds["test"]["session"]) == {"phone-<address>"}
    b = T2TCaptionsBuilder(config_name="pcap", data_files={"validation": [str(root / "train" / "morning.pcap")]},
                           cache_dir=str(tmp_path / "c2"))
    b.download_and_prepare()
    assert list(b.as_dataset()) == ["validation"]


def test_bad_inputs(recordings, tmp_path):
    root, _ = recordings

    def build(**kw):
        T2TCaptionsBuilder(config_name="pcap", cache_dir=str(tmp_path / "cache"), **kw).download_and_prepare()

    with pytest.raises(T2TInputError, match="needs data_dir"):
        build()
    with pytest.raises(T2TInputError, match="not a folder"):
        build(data_dir=str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(T2TInputError, match="no captures"):
        build(data_dir=str(empty))
    (root / "morning.jsonl").unlink()
    with pytest.raises(T2TInputError, match="no caption file beside them.*morning.pcap"):
        build(data_dir=str(root))
    (root / "morning.jsonl").write_text('{"start": 0, "end": 10, "caption": "ok"}\n{"start": 10, "end": 5}\n')
    with pytest.raises(T2TInputError, match=r"morning.jsonl: line 2: missing field 'caption'"):
        build(data_dir=str(root))
    (root / "morning.jsonl").write_text('{"start": 0, "end": 10, "caption": "ok", "app_type": "games"}\n')
    with pytest.raises(T2TInputError, match="app_type 'games' is not one of"):
        build(data_dir=str(root))
    (root / "morning.jsonl").write_text('{"start": 0, "end": 10, "caption": "ok"}\n')
    (root / "morning.pcap").write_bytes(b"GIF89a not a capture at all" * 4)
    with pytest.raises(T2TInputError, match="morning.pcap"):
        build(data_dir=str(root))
    with pytest.raises(T2TInputError):
        build(data_files={"train": [str(tmp_path / "nothing-*.pcap")]})


def test_export_own_recordings_folder(recordings, tmp_path, capsys):
    """Your recordings -> a Hub-ready folder that load_dataset reads (offline, streaming too)."""
    from datasets import load_dataset

    from t2t_hf.data.export import main

    root, _ = recordings
    out = tmp_path / "hub" / "datasets" / "my-captions"
    assert main(["--config", "pcap", "--data-dir", str(root), "--out", str(out), "--license", "cc-by-4.0",
                 "--user", "alice", "--environment", "wifi"]) == 0
    assert "wrote" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "license: cc-by-4.0" in card and "config_name: pcap" in card
    ds = load_dataset(str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert ds.features == features() and set(ds["user"]) == {"alice"}
    assert [r["id"] for r in load_dataset(str(out), split="train", streaming=True)] == ds["id"]
    assert main(["--config", "pcap", "--out", str(out)]) == 2
    assert "needs --data-dir" in capsys.readouterr().err


def test_bundled_sample_gzip_capture(tmp_path):
    """The repository's sample (examples/sample.pcap.gz + sample.jsonl with absolute capture-clock times)."""
    import shutil

    repo = Path(__file__).resolve().parents[2]
    src = repo / "examples" / "sample.pcap.gz"
    if not src.exists():
        pytest.skip("examples/sample.pcap.gz not in this checkout")
    root = tmp_path / "rec"
    root.mkdir()
    shutil.copy(src, root / "sample.pcap.gz")
    shutil.copy(repo / "examples" / "sample.jsonl", root / "sample.jsonl")
    captions = {json.loads(line)["caption"] for line in (root / "sample.jsonl").read_text().splitlines() if line}
    b = T2TCaptionsBuilder(config_name="pcap", data_dir=str(root), cache_dir=str(tmp_path / "c"))
    b.download_and_prepare()
    rows = b.as_dataset()["train"]
    assert len(rows) >= 5 and set(rows["session"]) == {"sample"}
    assert set(rows["caption"]) <= captions and set(rows["app"]) == {"YouTube"}
    assert sum(len(s) for s in rows["size"]) > 1000
    assert all(0 <= r["window_start"] < 70 for r in rows)  # seconds since the capture's first packet
