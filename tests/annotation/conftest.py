"""Fixtures for the annotation tests: a real chat-completions HTTP server on 127.0.0.1,
a generated screen recording and the matching capture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from annotation_media import DURATION, SCENES, T0, FakeVLM, burst_traffic, make_recording, write_pcap  # noqa: E402,F401


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
