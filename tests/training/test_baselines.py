"""Baselines and helpers of training/: the fast CIDEr-D reward, consensus captions, oracle, classifier + template,
retrieval, Transformer-LSTM, and the knocking random-forest peer (on the real traffic.mat)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from training.common import FastCider, SplitData, consensus_caption, flow_stats  # noqa: E402

CLASSES = {
    ("YouTube", "watching_video", "video"): ["The user is watching a video on YouTube.",
                                             "Someone watches a clip in the YouTube app."],
    ("WhatsApp", "chatting", "messaging"): ["The user is chatting on WhatsApp.",
                                            "Someone sends short messages in WhatsApp."],
    ("Chrome", "reading_article", "browsing"): ["The user reads a news article in Chrome.",
                                                "Someone is browsing a web page in Chrome."],
}


def synthetic_split(n_per_class: int, seed: int) -> SplitData:
    """Windows whose statistical features separate the classes (class k centred at k), captions per class."""
    rng = np.random.default_rng(seed)
    meta, feats = [], []
    for k, ((app, act, typ), caps) in enumerate(CLASSES.items()):
        for i in range(n_per_class):
            cap = caps[i % len(caps)]
            meta.append({"id": f"{app}-{i}", "caption": cap, "references": caps, "app": app, "app_type": typ,
                         "activity": act, "user": "u", "environment": "wifi", "session": "s"})
            feats.append(rng.normal(3.0 * k, 0.3, 12))
    n = len(meta)
    arrays = {"input_features": rng.normal(size=(n, 16, 8)).astype(np.float32),
              "attention_mask": np.ones((n, 16), np.int32),
              "time_bin_features": rng.normal(size=(n, 4, 6)).astype(np.float32),
              "window_stats": rng.normal(size=(n, 10)).astype(np.float32),
              "stat_features": np.asarray(feats, np.float32)}
    for i in range(n):  # make the traffic separable too (Transformer-LSTM)
        arrays["input_features"][i, :, 0] += 2.0 * (i // n_per_class)
    return SplitData(arrays, [np.ones((1, 6), np.float32)] * n, meta)


def test_fast_cider_orders_candidates():
    refs = [["the user is watching a video on youtube", "someone watches a clip in the youtube app"],
            ["the user is chatting on whatsapp", "someone sends short messages in whatsapp"]]
    c = FastCider(refs)
    good = c.score("the user is watching a video on youtube", refs[0])
    bad = c.score("the user is chatting on whatsapp", refs[0])
    assert good > bad >= 0.0
    assert c.score("", refs[0]) == 0.0
    assert c.corpus(["the user is chatting on whatsapp"], [refs[1]]) > 100 * bad


def test_consensus_caption_prefers_most_frequent_then_medoid():
    assert consensus_caption(["a b c", "x y z", "a b c"]) == "a b c"
    caps = ["the user watches a video on youtube", "the user watches a clip on youtube",
            "the user watches a video on tiktok", "completely unrelated words here"]
    assert consensus_caption(caps) != "completely unrelated words here"


def test_flow_stats_columns():
    fs = flow_stats(np.array([100, -1500, 60, 40]), np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(fs[0], [2, 100, -1500, 1600, -700, 800])
    np.testing.assert_allclose(fs[1], [2, 60, 40, 20, 50, 10])


def test_oracle_classifier_and_retrieval_on_separable_data():
    from training.baselines.classifier_template import classify_and_template
    from training.baselines.oracle import oracle
    from training.baselines.retrieval import retrieve

    train, test = synthetic_split(12, 0), synthetic_split(4, 1)
    o = oracle(train, test)
    assert o["app_types"] == test.column("app_type")
    for pred, m in zip(o["predictions"], test.meta):
        assert pred in m["references"]
    c = classify_and_template(train, test, n_estimators=20)
    assert c["class_accuracy"] == 100.0 and c["predictions"] == o["predictions"]
    r = retrieve(train, test, k=5)
    assert r["app_types"] == test.column("app_type")
    assert all(p in m["references"] for p, m in zip(r["predictions"], test.meta))


def test_retrieval_breaks_distance_ties_by_training_index():
    """Identical training windows (e.g. idle ones) are equally near; the neighbours must not depend on the sort
    algorithm or on BLAS rounding, so ties go to the lower training index."""
    from training.baselines.retrieval import retrieve

    train, test = synthetic_split(100, 0), synthetic_split(2, 1)  # hundreds of windows: quicksort reorders ties
    levels = np.random.default_rng(0).integers(0, 3, len(train)).astype(float)  # three groups of identical windows
    feats = np.repeat(levels[:, None], 3, axis=1)
    out = retrieve(train, test, k=1, train_features=feats, test_features=np.full((len(test), 3), feats.min()))
    first = int(np.flatnonzero(levels == 0)[0])
    assert out["predictions"] == [train.column("caption")[first]] * len(test)


def test_caption_to_label_maps_paraphrases_and_near_misses_to_classes():
    from training.baselines.classifier_template import class_of
    from training.baselines.random_forest import caption_to_label

    train = synthetic_split(4, 0)
    caps = ["The user is chatting on WhatsApp.",            # an exact training paraphrase
            "someone watches a long clip in the youtube app",  # a near miss: highest CIDEr-D wins
            "the user reads an article in chrome"]
    assert caption_to_label(caps, train, class_of) == ["WhatsApp|chatting", "YouTube|watching_video",
                                                       "Chrome|reading_article"]
    # a paraphrase two classes share is decided among those two only
    shared = synthetic_split(2, 0)
    for m in shared.meta:
        if m["app"] != "Chrome":
            m["references"] = m["references"] + ["The user is using the phone in Chrome."]
    assert caption_to_label(["The user is using the phone in Chrome."], shared, class_of)[0] in \
        {"YouTube|watching_video", "WhatsApp|chatting"}


def test_transformer_lstm_learns_separable_captions():
    import torch

    from training.baselines.transformer_lstm import TransformerLSTM, train_and_predict
    from training.train import build_tokenizer

    torch.set_num_threads(1)
    train = synthetic_split(8, 0)
    tok = build_tokenizer(train.column("references"), {"vocab_size": 100}, 16)
    m = TransformerLSTM(len(tok), d_model=32, layers=1, heads=2, ffn=64, downsample=4, max_packets=16,
                        num_time_bins=4)
    labels = torch.tensor([[5, 6, 2], [7, 2, -100]])
    assert m(train.model_inputs([0, 1]), labels).shape == (2, 3, len(tok))
    assert m.generate(train.model_inputs([0, 1]), max_len=5).shape[0] == 2
    res = train_and_predict(train, train, tok, steps=120, batch_size=12, lr=3e-3, max_len=16, log=lambda *a: None)
    exact = np.mean([p.lower().rstrip(".") in [r.lower().rstrip(".") for r in m_["references"]]
                     for p, m_ in zip(res["predictions"], train.meta)])
    assert exact >= 0.6, res["predictions"][:6]


def test_random_forest_peer_on_knocking(knocking_file):
    from t2t_hf.data.knocking import generate_examples
    from training.baselines.random_forest import action_key, caption_to_action, random_forest

    def split(name, n):
        exs = []
        for e in generate_examples(knocking_file.parent, split=name):
            exs.append(e)
            if len(exs) >= n:
                break
        meta = [{k: e[k] for k in ("id", "caption", "references", "app", "app_type", "activity", "user",
                                   "environment", "session")} for e in exs]
        z = np.zeros((len(exs), 1), np.float32)
        arrays = dict(input_features=z, attention_mask=z, time_bin_features=z, window_stats=z, stat_features=z)
        return SplitData(arrays, [flow_stats(e["size"], e["flow"]) for e in exs], meta)

    train, test = split("train", 2500), split("test", 400)
    r = random_forest(train, test, n_estimators=40)
    assert 10.0 < r["flow_accuracy"] < 90.0
    assert r["instance_accuracy"] > 20.0  # 41 actions: chance is about 2.4%
    assert len(r["predictions"]) == len(test)
    # a captioner's output is scored as an action: every paraphrase maps back to its own action
    caps = [m["references"][-1] for m in test.meta[:50]]
    assert caption_to_action(caps, train) == [action_key(m) for m in test.meta[:50]]
