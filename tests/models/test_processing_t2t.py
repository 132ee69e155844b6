"""T2TProcessor: features + labels (+ app-type labels), decoding, save/load through AutoProcessor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _t2t_helpers import CAPTIONS, random_window
from transformers import AutoProcessor

from t2t_hf.errors import T2TInputError
from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
from t2t_hf.processing_t2t import T2TProcessor
from t2t_hf.tokenization_t2t import train_caption_tokenizer


@pytest.fixture(scope="module")
def processor():
    return T2TProcessor(T2TFeatureExtractor(max_packets=64, num_time_bins=8),
                        train_caption_tokenizer(CAPTIONS, vocab_size=64))


def test_features_labels_and_decode(processor):
    rng = np.random.default_rng(0)
    ws = [random_window(rng) for _ in range(3)]
    out = processor(traffic=ws, text=CAPTIONS[:3], app_type=["video", "messaging", "unknown"], return_tensors="pt")
    assert set(out) == {"input_features", "attention_mask", "time_bin_features", "window_stats", "labels",
                        "app_type_labels"}
    assert out["labels"].shape[0] == 3 and out["labels"].dtype == torch.long
    assert out["app_type_labels"].tolist() == [0, 2, -100]
    lengths = (out["labels"] != -100).sum(1)
    assert lengths.max() == out["labels"].shape[1] and lengths.min() < lengths.max()  # padding became -100
    ids = out["labels"].masked_fill(out["labels"] == -100, processor.tokenizer.pad_token_id)
    assert processor.batch_decode(ids) == [c.lower() for c in CAPTIONS[:3]]
    assert processor.decode(ids[0]) == CAPTIONS[0].lower()
    np.testing.assert_array_equal(out["input_features"].numpy(),
                                  processor.feature_extractor(ws)["input_features"])


def test_text_only_and_numpy(processor):
    out = processor(text=CAPTIONS[0])
    assert "input_features" not in out and out["labels"].shape[0] == 1


def test_save_load_auto(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, T2TProcessor)
    assert loaded.feature_extractor.max_packets == 64 and loaded.feature_extractor.num_time_bins == 8
    assert loaded.tokenizer(CAPTIONS[2])["input_ids"] == processor.tokenizer(CAPTIONS[2])["input_ids"]


def test_bad_input(processor):
    rng = np.random.default_rng(1)
    ws = [random_window(rng) for _ in range(2)]
    with pytest.raises(T2TInputError, match="one caption per window"):
        processor(traffic=ws, text=CAPTIONS[:3])
    with pytest.raises(T2TInputError, match="unknown app type"):
        processor(traffic=ws, app_type=["video", "podcasts"])
    with pytest.raises(T2TInputError):
        processor()
    with pytest.raises(T2TInputError):
        processor(text=[1, 2])
