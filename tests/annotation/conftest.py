"""Fixtures for the annotation tests: a real chat-completions HTTP server on 127.0.0.1,
a generated screen recording and the matching capture."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from annotation_media import burst_traffic, make_recording, write_pcap  # noqa: E402

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


@pytest.fixture()
def vlm_server():
    srv = FakeVLM()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """``screen.mp4`` (60 s, scene changes at SCENES, creation_time T0) and ``capture.pcap`` whose
    bursts start at the scene changes on the capture clock (capture starts 12 s before the video)."""
    d = tmp_path_factory.mktemp("annotation_media")
    make_recording(d / "screen.mp4", duration=DURATION, scene_changes=SCENES, creation_time=T0)
    pk = burst_traffic([T0 + s for s in SCENES], start=T0 - 12.0, end=T0 + DURATION + 20.0, background_rate=5)
    write_pcap(d / "capture.pcap", pk)
    return d
