"""A machine-readable on-screen clock: the timecode marker.

Open the marker page (:func:`write_marker_page`) in the phone's browser for a few
seconds while the screen is being recorded. The page redraws, on every display
frame, the phone's current time (``Date.now()``, milliseconds since the epoch) as
a 10 x 10 grid of black and white cells:

* the outer ring of cells is black (it locates the grid);
* the 8 x 8 inner cells hold 64 bits, row by row, black = 1: the sync pattern
  ``10101010``, the 48-bit time in milliseconds (most significant bit first),
  and a CRC-8 (polynomial 0x07) of the time's 6 bytes.

:func:`decode_timecode` reads a frame back; :func:`find_timecodes` scans a
recording. Each decoded frame gives one pair ``(video time, phone clock time)``;
``align_marker`` takes their median. The phone's clock must be the capture's
clock: true when the capture runs on the phone (e.g. PCAPdroid), and within
NTP's tens of milliseconds when the capture host and the phone both sync time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SYNC = (1, 0, 1, 0, 1, 0, 1, 0)
GRID = 10  # cells per side, ring included


def crc8(data: bytes) -> int:
    """CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial value 0, no reflection."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_timecode(epoch_ms: int) -> np.ndarray:
    """Milliseconds since the epoch -> ``uint8 [10, 10]`` cells (1 = black), ring included."""
    value = int(epoch_ms) & ((1 << 48) - 1)
    raw = value.to_bytes(6, "big")
    bits = list(SYNC) + [(value >> (47 - i)) & 1 for i in range(48)] + [(crc8(raw) >> (7 - i)) & 1 for i in range(8)]
    grid = np.ones((GRID, GRID), np.uint8)
    grid[1:-1, 1:-1] = np.asarray(bits, np.uint8).reshape(8, 8)
    return grid


def render_timecode(epoch_ms: int, size=(360, 640), fill: float = 0.9):
    """A PIL image (RGB, ``size`` = (width, height)) of the marker page showing ``epoch_ms``: white
    background, the grid as a centred square of side ``fill * min(width, height)``."""
    from PIL import Image

    w, h = size
    side = int(min(w, h) * fill) // GRID * GRID
    cell = side // GRID
    img = np.full((h, w), 255, np.uint8)
    y0, x0 = (h - side) // 2, (w - side) // 2
    cells = encode_timecode(epoch_ms)
    block = np.kron(1 - cells, np.ones((cell, cell), np.uint8)) * 255
    img[y0:y0 + side, x0:x0 + side] = block
    return Image.fromarray(img).convert("RGB")


def decode_timecode(gray: np.ndarray) -> int | None:
    """Read a marker from a gray frame (``uint8 [H, W]``); returns epoch milliseconds or None.

    Finds the largest dark connected region (the ring), requires it to be roughly square, samples
    the centre of each cell, and accepts the code only if the ring is black, the sync pattern
    matches and the CRC checks.
    """
    from scipy import ndimage

    g = np.asarray(gray, np.float32)
    lo, hi = np.percentile(g, 2), np.percentile(g, 98)
    if hi - lo < 60:
        return None
    dark = g < (lo + hi) / 2
    labels, n = ndimage.label(dark)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    k = int(np.argmax(sizes)) + 1
    sl = ndimage.find_objects(labels)[k - 1]
    y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
    hh, ww = y1 - y0, x1 - x0
    if min(hh, ww) < 2 * GRID or not 0.8 <= hh / ww <= 1.25:
        return None
    ch, cw = hh / GRID, ww / GRID
    cells = np.zeros((GRID, GRID), np.uint8)
    for i in range(GRID):
        for j in range(GRID):
            a, b = int(y0 + (i + 0.3) * ch), int(y0 + (i + 0.7) * ch) + 1
            c, d = int(x0 + (j + 0.3) * cw), int(x0 + (j + 0.7) * cw) + 1
            cells[i, j] = dark[a:b, c:d].mean() > 0.5
    ring = np.concatenate([cells[0], cells[-1], cells[1:-1, 0], cells[1:-1, -1]])
    if ring.mean() < 0.95:
        return None
    bits = cells[1:-1, 1:-1].ravel()
    if tuple(bits[:8]) != SYNC:
        return None
    value = 0
    for b in bits[8:56]:
        value = (value << 1) | int(b)
    crc = 0
    for b in bits[56:]:
        crc = (crc << 1) | int(b)
    if crc8(value.to_bytes(6, "big")) != crc:
        return None
    return value


def find_timecodes(info, *, max_side: int = 360, scan_seconds: float | None = None) -> list[tuple[float, int]]:
    """Every frame of the recording that shows a readable marker: ``[(video_time_s, epoch_ms), ...]``.

    ``scan_seconds``: only look at the first this many seconds (None = the whole recording).
    """
    from .video import iter_all_frames

    found = []
    for t, px in iter_all_frames(info, max_side=max_side, gray=True):
        if scan_seconds is not None and t > scan_seconds:
            break
        ms = decode_timecode(px)
        if ms is not None:
            found.append((t, ms))
    return found


MARKER_JS = r"""
function crc8(bytes) {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc & 0x80) ? ((crc << 1) ^ 0x07) & 0xFF : (crc << 1) & 0xFF;
  }
  return crc;
}
function timecodeCells(ms) {           // same layout as t2t_hf.annotation.marker.encode_timecode
  const hi = Math.floor(ms / 16777216) % 16777216, lo = ms % 16777216;   // 24 + 24 bits
  const bytes = [(hi >> 16) & 255, (hi >> 8) & 255, hi & 255, (lo >> 16) & 255, (lo >> 8) & 255, lo & 255];
  const bits = [1, 0, 1, 0, 1, 0, 1, 0];
  for (let i = 0; i < 24; i++) bits.push((hi >> (23 - i)) & 1);
  for (let i = 0; i < 24; i++) bits.push((lo >> (23 - i)) & 1);
  const crc = crc8(bytes);
  for (let i = 0; i < 8; i++) bits.push((crc >> (7 - i)) & 1);
  const cells = [];
  for (let r = 0; r < 10; r++) {
    const row = [];
    for (let c = 0; c < 10; c++) {
      row.push(r === 0 || c === 0 || r === 9 || c === 9 ? 1 : bits[(r - 1) * 8 + (c - 1)]);
    }
    cells.push(row);
  }
  return cells;
}
"""

MARKER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no">
<title>t2t timecode marker</title>
<style>html,body{margin:0;height:100%;background:#fff;overflow:hidden}
canvas{position:fixed;left:0;top:0}</style></head>
<body><canvas id="c"></canvas>
<script>
__JS__
const canvas = document.getElementById("c"), ctx = canvas.getContext("2d");
function draw() {
  const w = window.innerWidth, h = window.innerHeight;
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const side = Math.floor(Math.min(w, h) * 0.9 / 10) * 10, cell = side / 10;
  const x0 = Math.floor((w - side) / 2), y0 = Math.floor((h - side) / 2);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  const cells = timecodeCells(Date.now());
  ctx.fillStyle = "#000";
  for (let r = 0; r < 10; r++) for (let c = 0; c < 10; c++)
    if (cells[r][c]) ctx.fillRect(x0 + c * cell, y0 + r * cell, cell, cell);
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
</script></body></html>
"""


def marker_page_html() -> str:
    """The marker page: a self-contained HTML file that shows the phone's clock as a timecode grid."""
    return MARKER_PAGE.replace("__JS__", MARKER_JS.strip())


def write_marker_page(path: str | os.PathLike) -> Path:
    """Write :func:`marker_page_html` to ``path`` (open it on the phone while recording)."""
    path = Path(path)
    path.write_text(marker_page_html(), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m t2t_hf.annotation.marker marker.html
    import sys

    target = write_marker_page(sys.argv[1] if len(sys.argv) > 1 else "t2t-marker.html")
    print(f"wrote {target}: open it in the phone's browser for a few seconds while recording the screen")


__all__ = ["encode_timecode", "decode_timecode", "render_timecode", "find_timecodes", "crc8", "marker_page_html",
           "write_marker_page", "MARKER_JS"]
