"""The timecode marker: Python and JavaScript encoders agree, frames decode after video coding,
a recording of the marker aligns, and a real browser's rendering of the page decodes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from annotation_media import T0
from t2t_hf.annotation import align_marker, probe_video
from t2t_hf.annotation.marker import (MARKER_JS, decode_timecode, encode_timecode, render_timecode,
                                      write_marker_page)
from t2t_hf.errors import T2TInputError
from t2t_hf.traffic import read_capture

SAMPLES = [0, 1, 1_780_000_000_123, 1_780_000_037_999, (1 << 48) - 1, 1_796_316_069_528]


@pytest.mark.parametrize("ms", SAMPLES)
def test_roundtrip_through_scaling_and_noise(ms):
    img = render_timecode(ms, size=(360, 640))
    assert decode_timecode(np.asarray(img.convert("L"))) == ms
    small = img.resize((150, 267), Image.BILINEAR)
    noisy = np.asarray(small.convert("L"), np.float32) + np.random.default_rng(ms % 1000).normal(0, 20, (267, 150))
    assert decode_timecode(np.clip(noisy, 0, 255).astype(np.uint8)) == ms


def test_rejects_non_markers():
    rng = np.random.default_rng(0)
    assert decode_timecode(rng.integers(0, 255, (120, 160), dtype=np.uint8)) is None
    assert decode_timecode(np.full((120, 160), 255, np.uint8)) is None
    # one flipped bit fails the CRC
    g = np.asarray(render_timecode(1_780_000_000_123).convert("L")).copy()
    cells = encode_timecode(1_780_000_000_123)
    side = int(min(360, 640) * 0.9) // 10 * 10
    cell, y0, x0 = side // 10, (640 - side) // 2, (360 - side) // 2
    r, c = 5, 5
    g[y0 + r * cell:y0 + (r + 1) * cell, x0 + c * cell:x0 + (c + 1) * cell] = 255 if cells[r, c] else 0
    assert decode_timecode(g) is None


def test_javascript_encoder_matches_python(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the page's JavaScript encoder is checked against Python with it")
    script = tmp_path / "enc.js"
    script.write_text(MARKER_JS + "\nfor (const ms of %s) console.log(JSON.stringify(timecodeCells(ms)));\n"
                      % [m for m in SAMPLES if m < 2 ** 53])
    out = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=30, check=True).stdout
    for ms, line in zip(SAMPLES, out.splitlines()):
        assert np.array_equal(np.array(json.loads(line)), encode_timecode(ms)), ms


def test_recorded_marker_aligns(tmp_path, vlm_server, capsys):
    """A recording that shows the marker page from 2 s to 4 s, on a phone whose clock reads
    T0 + 50 + video time: the offset is T0 + 50."""
    import av

    fps, size = 10, (180, 320)
    out = av.open(str(tmp_path / "rec.mp4"), mode="w")
    st = out.add_stream("libx264", rate=fps)
    st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
    st.options = {"preset": "ultrafast"}
    for i in range(60):
        t = i / fps
        if 2.0 <= t < 4.0:
            img = render_timecode(int(round((T0 + 50.0 + t) * 1000)), size=size)
        else:
            img = Image.new("RGB", size, (30 + 3 * i, 90, 160))
        frame = av.VideoFrame.from_image(img)
        frame.pts = i
        for p in st.encode(frame):
            out.mux(p)
    for p in st.encode():
        out.mux(p)
    out.close()
    a = align_marker(probe_video(tmp_path / "rec.mp4"))
    assert a.details["source"] == "timecode" and a.details["frames"] >= 18
    assert a.offset == pytest.approx(T0 + 50.0, abs=1e-3)
    assert a.confidence == 1.0
    # end to end through the CLI: windows on the capture clock get frames from the right video times
    from annotation_media import SECRET, burst_traffic, write_pcap
    from t2t_hf.annotation.cli import main

    write_pcap(tmp_path / "c.pcap", burst_traffic([T0 + 52.0], start=T0 + 48.0, end=T0 + 58.0))
    rc = main(["--video", str(tmp_path / "rec.mp4"), "--pcap", str(tmp_path / "c.pcap"), "--align", "marker",
               "--marker-scan", "5", "--window", "2", "--base-url", vlm_server.url, "--api-key", SECRET,
               "--no-cache", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    t0 = float(np.nanmin(read_capture(tmp_path / "c.pcap").timestamp))
    recs = [json.loads(x) for x in open(tmp_path / "c.jsonl")]
    assert recs and all(abs((r["start"] - t0) / 2 - round((r["start"] - t0) / 2)) < 1e-6 for r in recs)
    for r in recs:
        assert all(r["start"] - 1e-6 <= T0 + 50.0 + t < r["end"] for t in r["frame_times"])


def test_browser_renders_a_readable_marker(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no chromium: the marker page is checked by rendering it in a headless browser")
    page = write_marker_page(tmp_path / "marker.html")
    shot = tmp_path / "shot.png"
    before = time.time()
    try:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=360,640", "--virtual-time-budget=500", f"--screenshot={shot}",
                        page.as_uri()], capture_output=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.skip("headless chromium did not finish in 90 s")
    after = time.time()
    if not shot.exists():
        pytest.skip("headless chromium wrote no screenshot here")
    ms = decode_timecode(np.asarray(Image.open(shot).convert("L")))
    assert ms is not None
    assert before - 5 <= ms / 1000 <= after + 5  # the page showed the clock of this machine


def test_timecode_errors_are_clear(tmp_path):
    from annotation_media import make_recording

    make_recording(tmp_path / "n.mp4", duration=2, scene_changes=[1.0])
    with pytest.raises(T2TInputError, match="t2t_hf.annotation.marker"):
        align_marker(probe_video(tmp_path / "n.mp4"))
