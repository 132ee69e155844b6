"""From the annotation JSONL to a ``datasets`` corpus through the corpus's ``pcap`` config."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from annotation_media import SECRET
from t2t_hf.annotation import annotate
from t2t_hf.traffic import read_capture


def _load_corpus():
    try:
        from t2t_hf.data.builders import load_corpus
        import t2t_hf.traffic as traffic
    except ImportError as exc:
        pytest.skip(f"the corpus pcap config is not available yet ({exc})")
    missing = [n for n in ("make_windows", "detect_devices") if not hasattr(traffic, n)]
    if missing:
        pytest.skip(f"the corpus pcap config needs t2t_hf.traffic.{', '.join(missing)} (ingestion not finished yet)")
    return load_corpus


def test_jsonl_loads_through_pcap_config(media_dir, vlm_server, tmp_path):
    load_corpus = _load_corpus()
    data = tmp_path / "mydata"
    data.mkdir()
    shutil.copy(media_dir / "capture.pcap", data / "capture.pcap")
    # default --out: the capture's path with .jsonl, where the pcap config looks for captions
    res = annotate(media_dir / "screen.mp4", data / "capture.pcap", window=10.0, backend="openai",
                   backend_options={"base_url": vlm_server.url, "model": "qwen-vl-max", "api_key": SECRET},
                   app="TikTok", app_type="video", cache_dir=False, progress=False)
    assert res.out == str(data / "capture.jsonl")
    assert (data / "capture.jsonl.alignment.json").is_file()  # the side file does not disturb the corpus
    recs = [json.loads(line) for line in open(data / "capture.jsonl")]
    ds = load_corpus("pcap", data_dir=str(data), window=10.0, cache_dir=tmp_path / "hf", split="train")
    # the annotation windows are the corpus windows: one example per record, same caption, same start
    assert len(ds) == len(recs)
    t0 = float(np.nanmin(read_capture(data / "capture.pcap").timestamp))  # window_start is relative to it
    for ex, r in zip(sorted(ds, key=lambda e: e["window_start"]), recs):
        assert ex["caption"] == r["caption"]
        assert ex["app"] == "TikTok" and ex["app_type"] == "video" and ex["source"] == "pcap"
        assert ex["window_start"] + t0 == pytest.approx(r["start"], abs=1e-3)
        assert ex["window_length"] == pytest.approx(10.0)
        assert len(ex["size"]) > 0
