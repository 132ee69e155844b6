"""The Gradio Space: launched on 127.0.0.1 and driven with gradio_client (captions of a bundled example and of a
real capture, device list, bad uploads) and with a real headless chromium (one-click example, screenshot).

The model is a tiny untrained one (random weights): these tests check the app, not the captions' words."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
SPACE = REPO / "space"
sys.path.insert(0, str(SPACE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

gradio_client = pytest.importorskip("gradio_client")
import app as space_app  # noqa: E402
from cdp_pipe import Browser, find_chromium  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from t2t_hf.report import TIMELINE_HEADERS  # noqa: E402
from t2t_hf.traffic import detect_devices, read_capture  # noqa: E402

LIMIT = 1_000_000  # upload limit of the test app, bytes
EXAMPLE = SPACE / "examples" / "netflix_wifi.pcap"


@pytest.fixture(scope="module")
def served(tiny_model):
    demo = space_app.build_demo(str(tiny_model), max_bytes=LIMIT)
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield demo, Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def _caption(client, path, device=space_app.AUTO, window=10):
    return client.predict(handle_file(str(path)), device, window, api_name="/caption")


def _check_result(result, device: str, window: float):
    status, timeline, plot, probs = result
    assert "windows of" in status
    assert timeline["headers"] == TIMELINE_HEADERS
    rows = timeline["data"]
    assert rows
    for i, (start, end, dev, caption, app_type, conf) in enumerate(rows):
        assert start == pytest.approx(i * window) and end - start == pytest.approx(window)
        assert dev == device and isinstance(caption, str) and app_type
        assert 0 < conf <= 1
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/")
    assert len(plot["plot"]) > 5000  # an encoded image, not an empty figure
    labels = probs["headers"][2:]
    assert {"video", "messaging"} <= set(labels)
    for row, trow in zip(probs["data"], rows):
        assert row[0] == trow[0] and row[1] == device
        assert sum(row[2:]) == pytest.approx(1.0, abs=0.01)
        assert labels[int(np.argmax(row[2:]))] == trow[4]  # the timeline's app type is the most probable one
    return rows


def test_bundled_examples_are_small_captures():
    files = space_app.example_files()
    assert len(files) >= 3
    assert sum(p.stat().st_size for p in files) < 1_000_000
    for p in files:
        table = read_capture(p)
        assert len(table) > 0 and detect_devices(table)


def test_caption_bundled_example(served):
    _, client = served
    phone = detect_devices(read_capture(EXAMPLE))[0]
    rows = _caption(client, EXAMPLE)
    rows = _check_result(rows, phone, 10)
    assert len(rows) == 3  # a 30 s session in 10 s windows


def test_caption_real_capture_with_device_and_window(served, pcaps_dir):
    _, client = served
    path = pcaps_dir / "android.pcap"
    devices = client.predict(handle_file(str(path)), api_name="/devices")
    update, message = devices
    choices = [c[0] for c in update["choices"]]
    assert choices[0] == space_app.AUTO and choices[-1] == space_app.ALL
    assert "192.168.2.16" in choices and "192.168.2.16" in message
    _check_result(_caption(client, path, device="192.168.2.16", window=5), "192.168.2.16", 5)


def test_bad_uploads_are_rejected_and_the_app_keeps_working(served, tmp_path, sim_capture):
    _, client = served
    text = tmp_path / "notes.pcap"
    text.write_text("this is not a capture\n" * 10)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    big = tmp_path / "big.pcap"
    shutil.copy(sim_capture[0], big)  # a real capture, but over the test app's 1 MB limit
    assert big.stat().st_size > LIMIT
    wrong_type = tmp_path / "notes.txt"
    wrong_type.write_text("hello")
    for path, words in [(text, "not a pcap or pcapng"), (empty, "is empty"), (big, "over the 1.0 MiB limit"),
                        (wrong_type, "invalid file type")]:
        with pytest.raises(AppError) as info:
            _caption(client, path)
        msg = str(info.value)
        assert words in msg.lower().replace("mib", "MiB") or words in msg, msg
        assert "Traceback" not in msg
    # the device selector says the same, without an error
    update, message = client.predict(handle_file(str(text)), api_name="/devices")
    assert message.startswith("**Rejected:**") and "not a pcap" in message
    with pytest.raises(AppError, match="device"):
        _caption(client, EXAMPLE, device="10.99.99.99")
    with pytest.raises(AppError, match="minimum value"):  # the slider bounds the window length
        _caption(client, EXAMPLE, window=0)
    # still working
    phone = detect_devices(read_capture(EXAMPLE))[0]
    _check_result(_caption(client, EXAMPLE), phone, 10)


def test_browser_one_click_example_and_screenshot(served, tmp_path):
    """Headless Debian chromium: click an example, wait for the timeline and the plot, take a screenshot."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on this machine: the real-browser test needs Debian's chromium package")
    demo, _ = served
    phone = detect_devices(read_capture(EXAMPLE))[0]
    shot = tmp_path / "space.png"
    profile = Path(tempfile.mkdtemp(prefix="t2t-chromium-", dir=tmp_path))
    with Browser(chromium, profile) as b:
        b.open(demo.local_url)
        b.wait_for("document.readyState === 'complete' && !!document.querySelector('#caption-button')", 90)
        clicked = b.wait_for("""(() => {
            const items = [...document.querySelectorAll('#examples button')];
            const it = items.find(x => x.textContent.trim() === 'netflix wifi');
            if (!it) return false; it.click(); return true; })()""", 30)
        assert clicked
        n_rows = b.wait_for(f"""(() => {{  // the table renders its rows lazily: count the device's cells
            const t = document.querySelector('#timeline');
            const n = t ? (t.textContent.split('{phone}').length - 1) : 0;
            return n >= 3 ? n : 0; }})()""", 120)
        assert n_rows >= 3  # (the table may keep an extra copy of a row for measuring)
        img = b.wait_for("""(() => {
            const im = document.querySelector('#throughput img');
            return im && im.complete && im.naturalWidth > 0 ? [im.naturalWidth, im.naturalHeight] : null; })()""",
                         60)
        assert img[0] >= 500 and img[1] >= 200
        status = b.eval("document.querySelector('#status').textContent")
        assert "3 windows of" in status
        headers = b.eval("[...document.querySelectorAll('#timeline thead th')].map(x => x.textContent.trim())")
        assert all(any(h in x for x in headers) for h in ("caption", "app type", "confidence"))
        b.eval("document.querySelector('#throughput').scrollIntoView()")
        b.screenshot(shot)
    from PIL import Image

    assert shot.stat().st_size > 30_000
    im = np.asarray(Image.open(shot).convert("RGB"))
    assert im.shape[0] >= 1000 and im.shape[1] >= 1000
    colors = np.unique(im.reshape(-1, 3)[::7], axis=0)
    assert len(colors) > 200  # text, a table and a plot, not a blank page
    out = os.environ.get("T2T_SCREENSHOT_DIR")
    if out:  # keep the screenshot for the docs / CI artifacts
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(out) / "space.png")
