"""The openai backend and the pipeline against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import logging
import time

import pytest
from PIL import Image

from annotation_media import DURATION, SECRET, T0
from t2t_hf.annotation import PROMPT_VERSION, BackendError, annotate
from t2t_hf.annotation.backends.openai_backend import OpenAIBackend, RateLimiter
from t2t_hf.errors import T2TInputError


def _opts(server, **kw):
    return {"base_url": server.url, "model": "qwen-vl-max", "api_key": SECRET, "backoff": 0.01, **kw}


def _records(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_requests_captions_retries_and_no_key_leak(media_dir, vlm_server, tmp_path, caplog, capsys):
    vlm_server.errors = [429, 500, 503]
    out = tmp_path / "captions.jsonl"
    with caplog.at_level(logging.DEBUG):
        res = annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, window=10.0, backend="openai",
                       backend_options=_opts(vlm_server, concurrency=2), align="metadata",
                       cache_dir=tmp_path / "cache", progress=True)
    recs = _records(out)
    # windows on the capture grid that the 60 s recording covers by >= 50 %
    assert res.windows == len(recs) == res.written > 0
    assert res.failed == 0 and res.already_done == 0
    # three errors were retried: one request more per error than windows
    assert len(vlm_server.requests) == len(recs) + 3
    assert any("429" in r.message for r in caplog.records) and any("500" in r.message for r in caplog.records)
    for req in vlm_server.requests:
        assert req["path"] == "/v1/chat/completions"
        assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
        body = req["json"]
        assert body["model"] == "qwen-vl-max"
        assert body["messages"][0]["role"] == "system"
        parts = body["messages"][-1]["content"]
        images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        assert 1 <= len(images) <= 3
        for url in images:
            assert url.startswith("data:image/jpeg;base64,")
            img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
            assert img.size == (160, 120)
        text = [p["text"] for p in parts if p["type"] == "text"][0]
        assert '"The user is"' in text
    starts = [r["start"] for r in recs]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for r in recs:
        assert r["end"] - r["start"] == pytest.approx(10.0)
        assert r["caption"].startswith("The user is looking at") and r["caption"].endswith(".")
        assert "Extra" not in r["caption"]  # one sentence
        assert r["model"] == "qwen-vl-max" and r["prompt_version"] == PROMPT_VERSION
        assert all(0.0 <= t <= DURATION for t in r["frame_times"])
        # the frames come from the part of the recording inside the window (offset = T0 from metadata)
        assert all(r["start"] - 1e-6 <= T0 + t < r["end"] for t in r["frame_times"])
    assert res.tokens > 0
    # the key never appears in logs, console, output, side files or cache (the server echoed it back)
    printed = capsys.readouterr()
    # progress: count, ETA (tqdm's "<remaining") and tokens spent
    assert f"{len(recs)}/{len(recs)}" in printed.err and f"tokens={res.tokens}" in printed.err
    assert "<" in printed.err
    assert SECRET not in caplog.text and SECRET not in printed.out and SECRET not in printed.err
    for f in [out, out.with_name(out.name + ".alignment.json"), *(tmp_path / "cache").rglob("*")]:
        if f.is_file():
            assert SECRET not in f.read_text(encoding="utf-8")
    assert SECRET not in repr(OpenAIBackend(**_opts(vlm_server)))


def test_cache_avoids_second_requests(media_dir, vlm_server, tmp_path):
    kw = dict(window=10.0, backend="openai", backend_options=_opts(vlm_server), cache_dir=tmp_path / "cache",
              progress=False)
    first = annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", tmp_path / "a.jsonl", **kw)
    n = len(vlm_server.requests)
    second = annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", tmp_path / "b.jsonl", **kw)
    assert len(vlm_server.requests) == n  # all from the cache
    assert second.cached == second.written == first.written and second.tokens == 0
    assert [r["caption"] for r in _records(tmp_path / "a.jsonl")] == [r["caption"] for r in _records(tmp_path / "b.jsonl")]
    # a different model name is a different cache key
    annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", tmp_path / "c.jsonl",
             **{**kw, "backend_options": _opts(vlm_server, model="other-vl")})
    assert len(vlm_server.requests) == 2 * n


def test_bounded_concurrency(media_dir, vlm_server, tmp_path):
    active, peak = [0], [0]
    orig = OpenAIBackend.caption

    def counting(self, *a, **k):
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        try:
            return orig(self, *a, **k)
        finally:
            active[0] -= 1

    vlm_server.delay = 0.05
    OpenAIBackend.caption = counting
    try:
        annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", tmp_path / "o.jsonl", backend="openai",
                 backend_options=_opts(vlm_server, concurrency=2), cache_dir=False, progress=False)
    finally:
        OpenAIBackend.caption = orig
    assert 1 <= peak[0] <= 2


def test_rate_limiter_spaces_requests():
    lim = RateLimiter(50.0)
    t = time.monotonic()
    for _ in range(6):
        lim.acquire()
    assert time.monotonic() - t >= 5 / 50.0 - 1e-3  # lower bound guaranteed by sleeping


def test_persistent_server_error_keeps_written_records(media_dir, vlm_server, tmp_path):
    out = tmp_path / "o.jsonl"
    # the first two windows succeed, then the server fails for good
    orig = vlm_server.errors

    class Failing(list):
        def pop(self, i=0):
            return 500 if len(vlm_server.requests) > 2 else 200

        def __bool__(self):
            return True

    vlm_server.errors = Failing()
    with pytest.raises(BackendError, match="still failing after 2 retries"):
        annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, backend="openai",
                 backend_options=_opts(vlm_server, concurrency=1, max_retries=2), cache_dir=False, progress=False)
    assert len(_records(out)) == 2
    vlm_server.errors = orig
    res = annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, backend="openai",
                   backend_options=_opts(vlm_server), cache_dir=False, progress=False)
    assert res.already_done == 2 and res.written == res.windows - 2
    assert len({r["start"] for r in _records(out)}) == len(_records(out)) == res.windows


def test_missing_api_key_is_clear(media_dir, tmp_path, monkeypatch):
    for v in ("T2T_VLM_API_KEY", "DASHSCOPE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    with pytest.raises(T2TInputError, match="T2T_VLM_API_KEY"):
        annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", tmp_path / "o.jsonl", backend="openai",
                 backend_options={"base_url": "http://127.0.0.1:9/v1"}, progress=False)
    assert not (tmp_path / "o.jsonl").exists()


def test_key_from_environment_and_rejected_key(vlm_server, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    monkeypatch.delenv("T2T_VLM_API_KEY", raising=False)
    be = OpenAIBackend(base_url=vlm_server.url, model="m")
    img = Image.new("RGB", (8, 8), (1, 2, 3))
    assert be.caption([img], "hi").text
    assert vlm_server.requests[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"
    vlm_server.errors = [401]
    with pytest.raises(T2TInputError, match="rejected the API key") as e:
        be.caption([img], "hi")
    assert SECRET not in str(e.value)
    assert len(vlm_server.requests) == 2  # 401 is not retried


def test_cli_reports_bad_input_without_traceback(media_dir, tmp_path, capsys, monkeypatch):
    from t2t_hf.annotation.cli import main

    for v in ("T2T_VLM_API_KEY", "DASHSCOPE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    rc = main(["--video", str(media_dir / "screen.mp4"), "--pcap", str(media_dir / "capture.pcap"),
               "--out", str(tmp_path / "o.jsonl"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "API key" in err and "Traceback" not in err


def test_readme_quotes_the_current_prompt():
    from pathlib import Path

    from t2t_hf.annotation.prompt import SYSTEM_PROMPT, USER_PROMPT

    readme = (Path(__file__).resolve().parents[2] / "t2t_hf" / "annotation" / "README.md").read_text()
    assert f"version `{PROMPT_VERSION}`" in readme
    assert SYSTEM_PROMPT in readme and USER_PROMPT.replace("{seconds:.0f}", "{seconds}") in readme


def test_cli_auto_alignment_with_labels(media_dir, vlm_server, tmp_path, capsys):
    from t2t_hf.annotation.cli import main

    out = tmp_path / "o.jsonl"
    rc = main(["--video", str(media_dir / "screen.mp4"), "--pcap", str(media_dir / "capture.pcap"), "--out", str(out),
               "--align", "auto", "--search", "0", "--base-url", vlm_server.url, "--model", "qwen-vl-max",
               "--api-key", SECRET, "--app", "TikTok", "--app-type", "video", "--frames", "2", "--no-cache",
               "--no-progress", "--rate-limit", "100"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert "alignment auto offset" in printed.out and "confidence" in printed.out
    side = json.loads((tmp_path / "o.jsonl.alignment.json").read_text())
    assert side["method"] == "auto" and side["offset"] == pytest.approx(T0, abs=0.25)
    recs = _records(out)
    assert recs and all(r["app"] == "TikTok" and r["app_type"] == "video" and len(r["frame_times"]) <= 2
                        for r in recs)
    assert "The app in use is TikTok." in vlm_server.requests[0]["json"]["messages"][-1]["content"][-1]["text"]
    assert SECRET not in printed.out + printed.err
