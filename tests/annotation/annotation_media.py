"""Synthetic but real media for the annotation tests: an H.264 screen recording
written with PyAV (scenes with drawn text, optional white flash), a classic
pcap written byte by byte with ``struct`` (Ethernet / IPv4 / TCP), and a real
chat-completions HTTP server (:class:`FakeVLM`). Imported by the tests under this
unique name (never ``from conftest import``: every test folder has a conftest)."""

from __future__ import annotations

import datetime as dt
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image, ImageDraw

SECRET = "sk-test-SECRET-0123456789abcdef"
T0 = 1_780_000_000.0          # capture clock of the recording's first frame
SCENES = [3.2, 9.0, 17.5, 21.0, 30.3, 38.8, 45.1, 52.6]   # video seconds of the scene changes
DURATION = 60.0


class FakeVLM:
    """A chat-completions server. ``errors``: statuses to answer (in order) before succeeding;
    ``delay``: seconds before each answer; every request is recorded in ``requests``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.errors: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep the test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    n = len(outer.requests)
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "json": json.loads(body)})
                    status = outer.errors.pop(0) if outer.errors else 200
                if outer.delay:
                    time.sleep(outer.delay)
                if status != 200:
                    # a careless server that echoes the key back: the client must mask it
                    payload = json.dumps({"error": {"message": f"busy (key {self.headers.get('Authorization')})"}})
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                else:
                    msgs = json.loads(body)["messages"]
                    user = msgs[-1]["content"]
                    n_img = sum(1 for p in user if p["type"] == "image_url")
                    payload = json.dumps({
                        "id": f"chat-{n}", "object": "chat.completion",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant",
                            "content": f"Caption: \"the user is looking at {n_img} screens in request {n}. Extra.\""}}],
                        "usage": {"prompt_tokens": 100 * n_img, "completion_tokens": 12, "total_tokens": 100 * n_img + 12}})
                    self.send_response(200)
                data = payload.encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


PHONE = "10.0.0.2"
SERVER = "93.184.216.34"


def make_recording(path, *, duration: float, scene_changes, fps: int = 10, size=(160, 120),
                   creation_time: float | None = None, flash_at: float | None = None, seed: int = 0,
                   codec: str = "libx264") -> list[float]:
    """Write a screen recording: a new scene (colour + text) at each time in ``scene_changes``
    (video seconds); between changes the picture is still, except a small clock digit that changes
    every second. ``flash_at``: one full-white frame at that time. Returns the frame times."""
    import av

    rng = np.random.default_rng(seed)
    changes = sorted(scene_changes)
    out = av.open(str(path), mode="w")
    if creation_time is not None:
        out.metadata["creation_time"] = dt.datetime.fromtimestamp(creation_time, dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    if codec == "libx264":
        stream.options = {"preset": "ultrafast", "g": str(2 * fps)}
    colors = [tuple(int(c) for c in rng.integers(0, 200, 3)) for _ in range(len(changes) + 1)]
    times = []
    n = int(round(duration * fps))
    flash_index = int(round(flash_at * fps)) if flash_at is not None else None
    for i in range(n):
        t = i / fps
        scene = int(np.searchsorted(changes, t, side="right"))
        if i == flash_index:
            img = Image.new("RGB", size, (255, 255, 255))
        else:
            img = Image.new("RGB", size, colors[scene])
            d = ImageDraw.Draw(img)
            d.rectangle([10, 10 + 7 * (scene % 8), size[0] - 10, 40 + 7 * (scene % 8)], fill=(240, 240, 240))
            d.text((14, 14 + 7 * (scene % 8)), f"scene {scene}", fill=(0, 0, 0))
            d.text((size[0] - 24, size[1] - 14), str(int(t) % 10), fill=(255, 255, 255))
        frame = av.VideoFrame.from_image(img)
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
        times.append(t)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return times


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _ip(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def write_pcap(path, packets) -> None:
    """``packets``: iterable of ``(timestamp_s, uplink: bool, ip_total_len[, phone_port])``; writes
    Ethernet/IPv4/TCP frames between :data:`PHONE` (port ``phone_port``, default 40000) and
    :data:`SERVER` port 443 (payload zero bytes), microsecond pcap."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k, (ts, up, ip_len, *port) in enumerate(packets):
            ip_len = max(40, int(ip_len))
            phone_port = port[0] if port else 40000
            src, dst = (PHONE, SERVER) if up else (SERVER, PHONE)
            sport, dport = (phone_port, 443) if up else (443, phone_port)
            tcp = struct.pack("!HHIIBBHHH", sport, dport, k, 0, 5 << 4, 0x18, 65535, 0, 0)
            payload = b"\0" * (ip_len - 40)
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, k & 0xFFFF, 0, 64, 6, 0, _ip(src), _ip(dst))
            hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
            eth = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x08\x00"
            frame = eth + hdr + tcp + payload
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1_000_000:
                sec, usec = sec + 1, usec - 1_000_000
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def burst_traffic(burst_times, *, start: float, end: float, seed: int = 0, background_rate: float = 2.0,
                  burst_packets: int = 60, burst_len: float = 0.6):
    """Packets for :func:`write_pcap`: sparse background (``background_rate`` packets/s, small, one
    long flow) plus, at each burst time, a request and ``burst_packets`` large downlink packets over
    ``burst_len`` s on a new connection (a new phone port per burst)."""
    rng = np.random.default_rng(seed)
    pk = []
    n_bg = int((end - start) * background_rate)
    for t in np.sort(rng.uniform(start, end, n_bg)):
        pk.append((float(t), bool(rng.random() < 0.5), int(rng.integers(52, 120))))
    for i, b in enumerate(burst_times):
        port = 41000 + i
        pk.append((float(b), True, 600, port))
        for t in np.sort(b + rng.uniform(0, burst_len, burst_packets)):
            pk.append((float(t), False, 1500, port))
    pk.sort(key=lambda p: p[0])
    return pk
