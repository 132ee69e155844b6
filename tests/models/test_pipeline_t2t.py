"""The traffic-captioning pipeline on windows, features, and a real capture (tiny *untrained* model: the captions
are random words; the tests check the plumbing: windows, devices, batching, scores, options, errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _t2t_helpers import random_window
from transformers import pipeline

from t2t_hf.errors import T2TInputError
from t2t_hf.pipeline_t2t import TrafficCaptioningPipeline

KEYS = {"start", "end", "device", "caption", "app_type", "score", "app_type_scores"}


@pytest.fixture(scope="module")
def captioner(tiny_model_dir):
    return pipeline("traffic-captioning", model=str(tiny_model_dir), device="cpu")


def test_task_is_registered(captioner):
    assert isinstance(captioner, TrafficCaptioningPipeline)


def test_windows_batching_and_outputs(captioner, windows):
    one = captioner(windows, batch_size=1, max_new_tokens=8)
    many = captioner(windows, batch_size=5, max_new_tokens=8)
    assert len(one) == len(many) == len(windows)
    for a, b, w in zip(one, many, windows):
        assert set(a) == KEYS
        assert (a["start"], a["end"], a["device"]) == (w.start, w.end, w.device)
        assert a["caption"] == b["caption"] and a["score"] == pytest.approx(b["score"], rel=1e-4)
        assert isinstance(a["caption"], str) and 0.0 < a["score"] <= 1.0
        assert a["app_type"] in captioner.model.config.app_types
        assert sum(a["app_type_scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert a["app_type"] == max(a["app_type_scores"], key=a["app_type_scores"].get)


def test_score_is_the_caption_probability(captioner, windows):
    """score = exp(mean log p(token)) of the generated caption, including </s>."""
    out = captioner(windows[:1], max_new_tokens=8)[0]
    fe, model, tok = captioner.feature_extractor, captioner.model, captioner.tokenizer
    batch = fe(windows[:1], return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**batch, max_new_tokens=8)
        logits = model(**batch, decoder_input_ids=ids[:, :-1]).logits
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[0, :, 0]
    targets = ids[0, 1:]
    eos = (targets == tok.eos_token_id).nonzero()
    n = int(eos[0]) + 1 if len(eos) else len(targets)
    assert out["score"] == pytest.approx(float(torch.exp(logp[:n].mean())), rel=1e-4)
    assert out["caption"] == tok.decode(ids[0], skip_special_tokens=True).strip()


def test_generation_options_pass_through(captioner, windows):
    greedy = captioner(windows[:3], max_new_tokens=5)
    short = captioner(windows[:3], max_new_tokens=2)
    beam = captioner(windows[:3], num_beams=3, max_new_tokens=5, generate_kwargs={"length_penalty": 1.0})
    assert all(len(s["caption"].split()) <= 2 for s in short)
    assert any(len(g["caption"].split()) > 2 for g in greedy)
    assert len(beam) == 3
    torch.manual_seed(0)
    a = captioner(windows[:3], do_sample=True, top_k=5, max_new_tokens=6)
    torch.manual_seed(0)
    b = captioner(windows[:3], do_sample=True, top_k=5, max_new_tokens=6)
    assert [x["caption"] for x in a] == [x["caption"] for x in b]


def test_ready_features_and_corpus_examples(captioner, windows):
    feats = captioner.feature_extractor(windows[:2], return_tensors="pt")
    out = captioner(feats, max_new_tokens=6)
    ref = captioner(windows[:2], max_new_tokens=6)
    assert [o["caption"] for o in out] == [r["caption"] for r in ref]
    assert out[0]["start"] is None and out[0]["device"] is None
    example = dict(windows[0].to_dict(), window_start=5.0, window_length=10.0)
    got = captioner(example, max_new_tokens=6)
    assert len(got) == 1 and (got[0]["start"], got[0]["end"]) == (5.0, 15.0)


def test_real_capture_windows_and_devices(captioner, pcaps_dir):
    traffic = pytest.importorskip("t2t_hf.traffic")
    if not hasattr(traffic, "make_windows"):
        pytest.skip("t2t_hf.traffic.make_windows is not available yet")
    path = pcaps_dir / "443-chrome.pcap"
    table = traffic.read_capture(path)
    expected = traffic.make_windows(table, window=5.0)
    out = captioner(str(path), window_length=5.0, batch_size=4, max_new_tokens=6)
    assert len(out) == len(expected) > 0
    assert [(o["device"], o["start"], o["end"]) for o in out] == [(w.device, w.start, w.end) for w in expected]
    assert all(o["end"] - o["start"] == pytest.approx(5.0) for o in out)
    same = captioner(path.read_bytes(), window_length=5.0, max_new_tokens=6)  # bytes input
    assert [o["caption"] for o in same] == [o["caption"] for o in out]
    devices = sorted({o["device"] for o in out})
    only = captioner(table, window_length=5.0, devices=devices[0], max_new_tokens=6)  # PacketTable input
    assert {o["device"] for o in only} == {devices[0]}
    several = captioner([str(path), str(path)], window_length=5.0, max_new_tokens=4)
    assert len(several) == 2 and len(several[0]) == len(out)


def test_bad_inputs(captioner, tmp_path):
    with pytest.raises(T2TInputError, match="no such capture"):
        captioner(str(tmp_path / "missing.pcap"))
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file at all" * 4)
    with pytest.raises(T2TInputError):
        captioner(str(junk))
    with pytest.raises(T2TInputError):
        captioner(b"")
    with pytest.raises(T2TInputError):
        captioner([])
    with pytest.raises(T2TInputError):
        captioner(random_window(np.random.default_rng(0)), window_length=-3)
    with pytest.raises(T2TInputError):
        captioner(random_window(np.random.default_rng(0)), batch_size=0)
    with pytest.raises(T2TInputError):
        captioner(12345)


def test_beam_search_through_a_generation_config_scores_the_final_captions(captioner, windows):
    """Beam search asked for with ``generation_config=`` (not ``num_beams=``) must score the returned captions, not
    read per-beam logits as if they were per caption; user-passed output flags do not clash with the pipeline's."""
    from transformers import GenerationConfig

    gc = GenerationConfig.from_dict({**captioner.model.generation_config.to_dict(), "num_beams": 3,
                                     "max_new_tokens": 6})
    got = captioner(windows[:4], generation_config=gc, output_logits=True, output_scores=True)
    ref = captioner(windows[:4], num_beams=3, max_new_tokens=6)
    assert [g["caption"] for g in got] == [r["caption"] for r in ref]
    assert [g["score"] for g in got] == pytest.approx([r["score"] for r in ref], rel=1e-5)
