"""Shared helpers of the app tests (CLI, Space, live): a tiny *untrained* model folder and small T2T-Sim captures.

The model has random weights (for tests only, never shipped): its captions are arbitrary words from the caption
vocabulary, which is all the app tests need (they check the plumbing and the formats, not the words).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CAPTIONS = [
    "The user is watching a short video on TikTok and swipes to the next one.",
    "The user is chatting on WhatsApp, sending short text messages.",
    "The user is browsing news articles in Chrome.",
    "The user is listening to music on Spotify.",
    "The phone is idle: only background traffic.",
    "The user scrolls through the Instagram feed and watches a story.",
]
REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def make_tiny_model(path: Path) -> Path:
    """Write a tiny untrained T2T model + processor folder to ``path`` (random weights; tests only)."""
    import torch

    from t2t_hf.configuration_t2t import T2TConfig
    from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning
    from t2t_hf.processing_t2t import T2TProcessor
    from t2t_hf.tokenization_t2t import train_caption_tokenizer
    from t2t_hf.traffic.window import Window

    tok = train_caption_tokenizer(CAPTIONS, vocab_size=64, model_max_length=16)
    config = T2TConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                       decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_packets=64,
                       packet_downsample=4, num_time_bins=8, max_flows=8, num_prototypes=4, film_hidden_dim=16,
                       contrastive_dim=16, max_target_positions=16, dropout=0.0)
    fe = T2TFeatureExtractor(max_packets=config.max_packets, num_time_bins=config.num_time_bins,
                             max_flows=config.max_flows)
    rng = np.random.default_rng(1)
    wins = []
    for _ in range(20):
        n = int(rng.integers(1, 150))
        flow = rng.integers(0, 6, n).astype(np.int32)
        wins.append(Window(device="10.0.0.2", start=0.0, end=10.0, time=np.sort(rng.uniform(0, 10, n)),
                           size=rng.integers(-1500, 1500, n).astype(np.int32),
                           protocol=rng.choice([6, 17], n).astype(np.uint8), flow=flow))
    fe.fit(wins)
    torch.manual_seed(0)
    model = T2TForTrafficCaptioning(config).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a wider spread than the default init, so the untrained model writes varied tokens
        for name, p in model.named_parameters():
            if "layer_norm" not in name and not name.endswith("logit_scale"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    model.save_pretrained(path)
    T2TProcessor(fe, tok).save_pretrained(path)
    return path


def make_sim_capture(path: Path, *, seed: int = 11, duration: float = 30.0, app: str | None = "Netflix",
                     environment: str = "wifi", user: str = "user01"):
    """Write a T2T-Sim session as an Ethernet pcap at ``path``; returns the Session (``.device`` is its phone)."""
    from t2t_hf.data.sim import generate_session

    s = generate_session(seed, user, environment, app=app, duration=duration)
    s.write_pcap(path)
    return s
