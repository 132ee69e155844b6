"""Clock alignment on a generated recording and capture, and bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from annotation_media import DURATION, SCENES, T0, burst_traffic, make_recording, write_pcap
from t2t_hf.annotation import align_auto, align_marker, align_metadata, annotate, probe_video
from t2t_hf.annotation.align import lagged_pearson, parse_time
from t2t_hf.annotation.video import change_signal, read_frames_at
from t2t_hf.errors import T2TInputError, T2TInputWarning
from t2t_hf.traffic import read_capture


@pytest.fixture(scope="module")
def plain_video(tmp_path_factory):
    """A recording with no creation_time tag (auto alignment must search the whole capture)."""
    d = tmp_path_factory.mktemp("plain")
    make_recording(d / "plain.mp4", duration=DURATION, scene_changes=SCENES, seed=3)
    return probe_video(d / "plain.mp4")


@pytest.fixture(scope="module")
def plain_change(plain_video):
    """Its on-screen change signal, decoded once for the tests below."""
    return change_signal(plain_video)


def test_probe_and_frames(media_dir):
    info = probe_video(media_dir / "screen.mp4")
    assert info.duration == pytest.approx(DURATION) and (info.width, info.height) == (160, 120)
    assert info.creation_time == pytest.approx(T0)
    got = read_frames_at(info, [0.0, 3.15, 3.25, 30.0, 59.99, 75.0])
    assert [round(t, 3) for t, _ in got] == [0.0, 3.1, 3.2, 30.0, 59.9, 59.9]
    # the frame shown after a scene change differs from the one before it
    a, b = np.asarray(got[1][1], float), np.asarray(got[2][1], float)
    assert np.abs(a - b).mean() > 10


def test_lagged_pearson_matches_direct_computation():
    rng = np.random.default_rng(0)
    v, c = rng.normal(size=40), rng.normal(size=90)
    lags, r, n = lagged_pearson(v, c, min_overlap=5)
    for lag in (-20, -3, 0, 11, 50, 80):
        k = int(np.nonzero(lags == lag)[0][0])
        lo, hi = max(0, -lag), min(40, 90 - lag)
        assert n[k] == hi - lo
        assert r[k] == pytest.approx(np.corrcoef(v[lo:hi], c[lo + lag:hi + lag])[0, 1], abs=1e-9)


@pytest.mark.parametrize("true_offset", [T0 + 37.3, T0 + 101.85])
def test_auto_alignment_recovers_known_offset(plain_video, plain_change, tmp_path, true_offset):
    pk = burst_traffic([true_offset + s for s in SCENES], start=T0, end=T0 + 200, seed=1, background_rate=5)
    write_pcap(tmp_path / "c.pcap", pk)
    table = read_capture(tmp_path / "c.pcap")
    a = align_auto(plain_video, table.timestamp, table.ip_len, change=plain_change)
    assert a.method == "auto"
    assert a.offset == pytest.approx(true_offset, abs=0.25)
    assert a.confidence > 0.2 and a.details["correlation"] > 0.5
    # traffic unrelated to the screen: bursts at other times -> a much weaker, less distinct fit
    rng = np.random.default_rng(7)
    other = burst_traffic(sorted(T0 + rng.uniform(0, 190, len(SCENES))), start=T0, end=T0 + 200, seed=2,
                          background_rate=5)
    write_pcap(tmp_path / "u.pcap", other)
    tu = read_capture(tmp_path / "u.pcap")
    u = align_auto(plain_video, tu.timestamp, tu.ip_len, change=plain_change)
    assert u.details["correlation"] < a.details["correlation"]
    assert u.confidence < a.confidence


def test_auto_alignment_with_metadata_prior(media_dir):
    """Through the pipeline: the recording's creation_time is T0 and the bursts are at T0 + scenes."""
    info = probe_video(media_dir / "screen.mp4")
    table = read_capture(media_dir / "capture.pcap")
    a = align_auto(info, table.timestamp, table.ip_len, prior=T0 + 20.0, search=40.0)
    assert a.offset == pytest.approx(T0, abs=0.25)
    with pytest.raises(T2TInputError, match="overlap"):
        align_auto(info, table.timestamp, table.ip_len, prior=T0 + 5000.0, search=30.0)


def test_metadata_alignment(media_dir, plain_video):
    info = probe_video(media_dir / "screen.mp4")
    assert align_metadata(info).offset == pytest.approx(T0)
    assert align_metadata(info, correction=2.5).offset == pytest.approx(T0 + 2.5)
    assert align_metadata(info, anchor="end").offset == pytest.approx(T0 - DURATION)
    assert align_metadata(plain_video, video_start="2026-05-28T20:26:40.5Z").offset == pytest.approx(T0 + 0.5)
    with pytest.raises(T2TInputError, match="--video-start"):
        align_metadata(plain_video)


def test_marker_alignment(tmp_path):
    make_recording(tmp_path / "m.mp4", duration=12, scene_changes=[4.0], flash_at=6.3, fps=10)
    info = probe_video(tmp_path / "m.mp4")
    a = align_marker(info, marker_time=T0 + 100.0)
    assert a.details["flash_video_time"] == pytest.approx(6.3)
    assert a.offset == pytest.approx(T0 + 100.0 - 6.3, abs=1e-6)
    assert a.details["uncertainty_s"] == pytest.approx(0.1)
    b = align_marker(info, clock_pairs=[(1.0, T0 + 11.0), (10.0, T0 + 20.2)])
    assert b.offset == pytest.approx(T0 + 10.1, abs=0.11)
    with pytest.raises(T2TInputError, match="disagree"):
        align_marker(info, clock_pairs=[(1.0, T0 + 11.0), (10.0, T0 + 25.0)])
    with pytest.raises(T2TInputError, match="not both"):
        align_marker(info, marker_time=T0, clock_pairs=[(1.0, T0)])
    with pytest.raises(T2TInputError, match="no timecode marker found"):
        align_marker(info)
    make_recording(tmp_path / "n.mp4", duration=3, scene_changes=[1.0])
    with pytest.raises(T2TInputError, match="no full-white marker"):
        align_marker(probe_video(tmp_path / "n.mp4"), marker_time=T0)


def test_parse_time():
    assert parse_time("1780000000.5") == 1780000000.5
    assert parse_time("2026-05-28T20:26:40Z") == pytest.approx(T0)
    with pytest.raises(T2TInputError, match="ISO 8601"):
        parse_time("yesterday")


def test_unreadable_video(tmp_path, media_dir):
    bad = tmp_path / "screen.mp4"
    bad.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(T2TInputError, match="cannot decode the video") as e:
        annotate(bad, media_dir / "capture.pcap", tmp_path / "o.jsonl", backend="openai",
                 backend_options={"api_key": "x"}, progress=False)
    assert "ffmpeg" in str(e.value)
    with pytest.raises(T2TInputError, match="does not exist"):
        probe_video(tmp_path / "missing.mp4")
    assert not (tmp_path / "o.jsonl").exists()


def test_capture_that_does_not_overlap_the_video(media_dir, tmp_path):
    write_pcap(tmp_path / "late.pcap", burst_traffic([T0 + 4000.0], start=T0 + 3600, end=T0 + 4200))
    with pytest.raises(T2TInputError, match="does not overlap the capture in time") as e:
        annotate(media_dir / "screen.mp4", tmp_path / "late.pcap", tmp_path / "o.jsonl", backend="openai",
                 backend_options={"api_key": "x"}, progress=False)
    assert "--offset" in str(e.value) and "--align auto" in str(e.value)
    assert not (tmp_path / "o.jsonl").exists()


def test_low_confidence_warns(plain_video, tmp_path):
    # traffic with no bursts at all: only background noise
    write_pcap(tmp_path / "noise.pcap", burst_traffic([], start=T0, end=T0 + 200, background_rate=5))
    t = read_capture(tmp_path / "noise.pcap")
    a = align_auto(plain_video, t.timestamp, t.ip_len)
    assert a.confidence < 0.2
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(T2TInputError):  # then the (missing) key stops the run
            annotate(plain_video.path, tmp_path / "noise.pcap", tmp_path / "o.jsonl", align="auto",
                     backend="local", progress=False)
    assert any(issubclass(x.category, T2TInputWarning) and "uncertain" in str(x.message) for x in w)


def test_variable_frame_rate_recording(tmp_path):
    """Screen recorders write a frame only when the screen changes: the frame shown at time t is the
    last one at or before t, whatever the gaps."""
    from fractions import Fraction

    import av
    from PIL import Image

    out = av.open(str(tmp_path / "vfr.mkv"), mode="w")
    st = out.add_stream("libx264", rate=1000)
    st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
    st.time_base = Fraction(1, 1000)
    st.codec_context.time_base = Fraction(1, 1000)
    shown = [(0, 20), (1200, 90), (1250, 160), (5000, 230)]  # (ms, gray level)
    for pts, level in shown:
        frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (level,) * 3))
        frame.pts = pts
        frame.time_base = Fraction(1, 1000)
        for p in st.encode(frame):
            out.mux(p)
    for p in st.encode():
        out.mux(p)
    out.close()
    info = probe_video(tmp_path / "vfr.mkv")
    got = read_frames_at(info, [0.5, 1.2, 1.24, 1.3, 4.99, 5.0, 6.0], max_side=None)
    assert [round(t, 3) for t, _ in got] == [0.0, 1.2, 1.2, 1.25, 1.25, 5.0, 5.0]
    levels = [int(np.asarray(im).mean()) for _, im in got]
    assert [abs(a - b) < 8 for a, b in zip(levels, [20, 90, 90, 160, 160, 230, 230])] == [True] * 7
