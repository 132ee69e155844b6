"""Kill-and-resume: a run killed with SIGKILL restarts, skips what was written, loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotation_media import SECRET
from t2t_hf.annotation import annotate
from t2t_hf.errors import T2TInputError

REPO = Path(__file__).resolve().parents[2]


def _cmd(media_dir, out, url, cache):
    return [sys.executable, "-m", "t2t_hf.annotation", "--video", str(media_dir / "screen.mp4"),
            "--pcap", str(media_dir / "capture.pcap"), "--out", str(out), "--window", "5",
            "--backend", "openai", "--base-url", url, "--model", "qwen-vl-max", "--concurrency", "1",
            "--cache-dir", str(cache), "--no-progress", "-v"]


def _env():
    env = dict(os.environ, T2T_VLM_API_KEY=SECRET)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_kill_and_resume(media_dir, vlm_server, tmp_path):
    out, cache = tmp_path / "captions.jsonl", tmp_path / "cache"
    vlm_server.delay = 0.25
    proc = subprocess.Popen(_cmd(media_dir, out, vlm_server.url, cache), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"annotation ended before it could be killed: {proc.communicate()}")
            time.sleep(0.02)
        else:
            pytest.fail("no records written within 90 s")
    finally:
        proc.kill()
        _, err1 = proc.communicate()
    assert proc.returncode != 0
    before = out.read_bytes()
    n_before = before.count(b"\n")
    assert 3 <= n_before < 11  # killed part-way (60 s of video in 5 s windows -> 12 windows)
    # simulate a kill in the middle of a write as well: a torn last line
    with open(out, "ab") as f:
        f.write(b'{"start": 17800000')

    vlm_server.delay = 0.0
    done = subprocess.run(_cmd(media_dir, out, vlm_server.url, cache), env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "incomplete last record" in done.stderr
    after = out.read_bytes()
    assert after.startswith(before)  # nothing written before the kill was rewritten
    recs = [json.loads(line) for line in after.decode().splitlines()]
    starts = [r["start"] for r in recs]
    assert len(starts) == len(set(starts)) == 12  # nothing lost, nothing duplicated
    assert starts == sorted(starts)
    assert all(abs(b - a - 5.0) < 1e-6 for a, b in zip(starts, starts[1:]))
    assert f"{n_before} already done" in done.stdout
    # the key stayed out of both runs' output
    assert SECRET not in err1 and SECRET not in done.stderr and SECRET not in done.stdout

    # a third run finds everything done and sends nothing
    n_req = len(vlm_server.requests)
    again = subprocess.run(_cmd(media_dir, out, vlm_server.url, cache), env=_env(), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and "0 new, 12 already done" in again.stdout
    assert len(vlm_server.requests) == n_req and out.read_bytes() == after


def test_resume_refuses_other_settings(media_dir, vlm_server, tmp_path):
    out = tmp_path / "o.jsonl"
    opts = {"base_url": vlm_server.url, "model": "qwen-vl-max", "api_key": SECRET}
    annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, window=10.0, backend="openai",
             backend_options=opts, cache_dir=False, progress=False, limit=2)
    assert out.read_bytes().count(b"\n") == 2
    with pytest.raises(T2TInputError, match="--window 10"):
        annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, window=5.0, backend="openai",
                 backend_options=opts, cache_dir=False, progress=False)
    with pytest.raises(T2TInputError, match="model 'qwen-vl-max'"):
        annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, window=10.0, backend="openai",
                 backend_options={**opts, "model": "gpt-4o"}, cache_dir=False, progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{}\n")
    with pytest.raises(T2TInputError, match="not an annotation record"):
        annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", bad, backend="openai",
                 backend_options=opts, cache_dir=False, progress=False)
