"""T2T-Sim pcaps: tshark reads them with no malformed packets or bad checksums, and our reader agrees."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from t2t_hf.data.sim import generate_session
from t2t_hf.traffic import read_capture

TSHARK = shutil.which("tshark")
CHECKS = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
          "-o", "tcp.reassemble_out_of_order:TRUE"]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    d = tmp_path_factory.mktemp("simpcap")
    out = []
    # TCP video, QUIC video, RTP calls + DNS + STUN, UDP game: every payload kind the writer makes
    for i, (app, act, env) in enumerate([("Netflix", "watching_episode", "wifi"), ("YouTube", "watching_video", "cellular"),
                                         ("WhatsApp", "video_call", "cellular"), ("PUBG Mobile", "voice_chat_in_match", "wifi"),
                                         ("Chrome", "browsing_pages", "wifi")]):
        s = generate_session(20 + i, "user0%d" % (i + 1), env, app, duration=15.0, activity=act)
        p = s.write_pcap(d / f"s{i}.pcap")
        s.write_captions_jsonl(d / f"s{i}.jsonl")
        out.append((s, p))
    return out


def test_pcap_is_written_atomically_and_captions_read_back(sessions):
    for s, p in sessions:
        assert p.exists() and not list(p.parent.glob(".*.tmp"))
        recs = [json.loads(x) for x in p.with_suffix(".jsonl").read_text().splitlines()]
        assert recs == s.captions


def test_our_reader_agrees_with_the_generator(sessions):
    for s, p in sessions:
        t = read_capture(p)
        g = s.packets
        assert len(t) == len(g)
        np.testing.assert_allclose(t.timestamp, g.timestamp, atol=1e-6, rtol=0)
        for col in ("ip_len", "protocol", "src_port", "dst_port", "tcp_flags"):
            assert np.array_equal(getattr(t, col), getattr(g, col)), col
        assert t.src_ip() == g.src_ip() and t.dst_ip() == g.dst_ip()


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_finds_nothing_malformed_and_agrees(sessions):
    for s, p in sessions:
        bad = subprocess.run([TSHARK, "-r", str(p), *CHECKS, "-Y",
                              "_ws.malformed || _ws.expert.severity == error || ip.checksum.status == 0 || "
                              "tcp.checksum.status == 0 || udp.checksum.status == 0", "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 0, bad.stderr
        assert bad.stdout.strip() == "", f"{p.name}: frames {bad.stdout.split()[:10]}"
        times = subprocess.run([TSHARK, "-r", str(p), "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.len"],
                               capture_output=True, text=True, timeout=120).stdout.split("\n")
        rows = [x.split("\t") for x in times if x]
        t = read_capture(p)
        assert len(rows) == len(t)
        np.testing.assert_allclose(np.array([float(r[0]) for r in rows]), t.timestamp, atol=1e-6, rtol=0)
        assert np.array_equal(np.array([int(r[1]) for r in rows]), t.ip_len)


def test_both_tcp_header_variants_are_covered(sessions):
    assert {s.raw.tcp_timestamps for s, _ in sessions} == {True, False}


def test_sim_recording_reads_back_through_the_pcap_config(sessions):
    """A simulated pcap + its caption JSONL is exactly what a user's annotated recording looks like."""
    from t2t_hf.data.builders import capture_examples
    from t2t_hf.data.caption_files import read_caption_file

    s, p = sessions[4]
    recs = read_caption_file(p.with_suffix(".jsonl"))
    assert [r.caption for r in recs] == [c["caption"] for c in s.captions]
    exs = list(capture_examples(p))
    assert sum(len(e["size"]) for e in exs) == len(s.raw)
    assert all(e["caption"] in {c["caption"] for c in s.captions} for e in exs if e["caption"])
    assert {e["activity"] for e in exs} <= {c["activity"] for c in s.captions}


def test_every_activity_generates_and_writes_a_readable_pcap(tmp_path):
    """Every app and activity, in both environments, down to 1-s sessions (edge cases: no SYN in
    the capture, no packets at all) makes a session whose pcap our reader reads back in full."""
    from t2t_hf.data.sim import APPS

    n = 0
    for a in APPS:
        for act in a.activities:
            for dur in (1.0, 12.0):
                env = ("wifi", "cellular")[n % 2]
                s = generate_session(n, "user0%d" % (n % 8 + 1), env, a.name, duration=dur, activity=act.name)
                n += 1
                assert len(s.raw) == 0 or s.raw.time.max() < dur
                if dur > 1.0 and len(s.raw):
                    assert s.spells[0].activity == act.name
                p = s.write_pcap(tmp_path / "x.pcap")
                t = read_capture(p, allow_empty=True)
                assert len(t) == len(s.raw)
                assert np.array_equal(t.ip_len, s.packets.ip_len)


def test_command_line_writes_pcap_caption_pairs(tmp_path, capsys):
    from t2t_hf.data.sim.__main__ import main

    assert main(["--out", str(tmp_path / "o"), "--sessions", "2", "--duration", "8", "--seed", "3"]) == 0
    pcaps = sorted((tmp_path / "o").glob("*.pcap"))
    assert len(pcaps) == 2 and all(p.with_suffix(".jsonl").exists() for p in pcaps)
    assert len(read_capture(pcaps[0])) > 0
    assert json.loads(pcaps[0].with_suffix(".jsonl").read_text().splitlines()[0])["model"] == "t2t-sim"
    assert main(["--out", str(tmp_path / "bad"), "--user", "nobody"]) == 2
    assert "unknown user" in capsys.readouterr().err
    assert not list((tmp_path / "bad").glob("*"))
