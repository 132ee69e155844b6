"""Helpers for the model tests: tiny configs, random windows, a tiny *untrained* model folder (random weights,
for tests only; never shipped as a trained model)."""

from __future__ import annotations

import numpy as np
import torch

CAPTIONS = [
    "The user is watching a short video on TikTok and swipes to the next one.",
    "The user is chatting on WhatsApp, sending short text messages.",
    "The user is browsing news articles in Chrome.",
    "The user is listening to music on Spotify.",
    "The phone is idle: only background traffic.",
    "The user scrolls through the Instagram feed and watches a story.",
]


def tiny_config_kwargs(**overrides) -> dict:
    """Sizes of a tiny T2T model (fast in tests)."""
    kw = dict(vocab_size=64, d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2,
              decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_packets=64, packet_downsample=4,
              num_time_bins=8, max_flows=8, num_prototypes=4, film_hidden_dim=16, contrastive_dim=16,
              max_target_positions=24, dropout=0.0)
    kw.update(overrides)
    return kw


def random_window(rng: np.random.Generator, n: int | None = None, timed: bool = True, duration: float = 10.0):
    from t2t_hf.traffic.window import Window

    n = int(rng.integers(1, 150)) if n is None else n
    t = np.sort(rng.uniform(0, duration, n)) if timed else np.full(n, np.nan)
    flow = rng.integers(0, 6, n).astype(np.int32)
    new_flow = np.zeros(n, bool)
    if n:
        new_flow[np.unique(flow, return_index=True)[1]] = True
    return Window(device="10.0.0.2", start=100.0, end=100.0 + duration, time=t,
                  size=rng.integers(-1500, 1500, n).astype(np.int32), protocol=rng.choice([6, 17], n).astype(np.uint8),
                  flow=flow, new_flow=new_flow)


def example_windows():
    rng = np.random.default_rng(0)
    ws = [random_window(rng) for _ in range(5)]
    ws.append(random_window(rng, n=0))  # idle window
    ws.append(random_window(rng, n=40, timed=False))  # knocking-style: no timestamps
    ws.append(random_window(rng, n=500))  # longer than max_packets
    return ws


def make_untrained_folder(path, **config_overrides):
    """Write a tiny untrained model + processor folder (config, safetensors, tokenizer, feature extractor) to
    ``path`` and return it. Random weights: for tests only."""
    from t2t_hf.configuration_t2t import T2TConfig
    from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning
    from t2t_hf.processing_t2t import T2TProcessor
    from t2t_hf.tokenization_t2t import train_caption_tokenizer

    tok = train_caption_tokenizer(CAPTIONS, vocab_size=64, model_max_length=24)
    kw = tiny_config_kwargs(vocab_size=len(tok))
    kw.update(config_overrides)
    config = T2TConfig(**kw)
    fe = T2TFeatureExtractor(max_packets=config.max_packets, num_time_bins=config.num_time_bins,
                             max_flows=config.max_flows)
    rng = np.random.default_rng(1)
    fe.fit([random_window(rng) for _ in range(20)])
    torch.manual_seed(0)
    model = T2TForTrafficCaptioning(config).eval()
    spread_weights(model)
    model.save_pretrained(path)
    T2TProcessor(fe, tok).save_pretrained(path)
    return path


def spread_weights(model, std: float = 0.3, seed: int = 0):
    """Re-draw every weight with a larger spread, so an untrained model writes varied tokens (with the default
    small init, tied embeddings make it repeat one token), which makes decoding tests meaningful."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or name.endswith("logit_scale"):
                continue
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model
