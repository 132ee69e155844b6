"""Tiny-config tests of T2TForTrafficCaptioning in the transformers style: shapes, every component on and off,
losses, save/load round trips, Auto* loading, cached == uncached decoding, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _t2t_helpers import random_window, spread_weights, tiny_config_kwargs

from t2t_hf.configuration_t2t import T2TConfig
from t2t_hf.errors import T2TInputError
from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
from t2t_hf.modeling_t2t import T2TForTrafficCaptioning, T2TModel


def make(**overrides):
    torch.manual_seed(0)
    config = T2TConfig(**tiny_config_kwargs(**overrides))
    return T2TForTrafficCaptioning(config), config


def features(config, windows):
    fe = T2TFeatureExtractor(max_packets=config.max_packets, num_time_bins=config.num_time_bins,
                             max_flows=config.max_flows)
    return dict(fe(windows, return_tensors="pt"))


def labels_for(batch: int, length: int = 7, vocab: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, vocab, (batch, length), generator=g)
    labels[:, -1] = 2
    labels[0, 3:] = -100  # a short caption padded with -100
    labels[0, 2] = 2
    return labels


def test_forward_shapes_and_losses(windows):
    model, config = make()
    batch = features(config, windows)
    b = len(windows)
    labels = labels_for(b)
    app = torch.tensor([0, 1, 2, 3, 4, -100, 1, 0])
    out = model(**batch, labels=labels, app_type_labels=app)
    p_tokens = config.max_packets // config.packet_downsample
    t = config.num_time_bins + p_tokens
    assert batch["input_features"].shape == (b, config.max_packets, 8)
    assert out.logits.shape == (b, labels.shape[1], config.vocab_size)
    assert out.app_type_logits.shape == (b, len(config.app_types))
    assert out.traffic_embeds.shape == out.text_embeds.shape == (b, config.contrastive_dim)
    assert torch.allclose(out.traffic_embeds.norm(dim=-1), torch.ones(b), atol=1e-5)
    assert out.prototype_assignments.shape == (b, t, config.num_prototypes)
    assert out.encoder_last_hidden_state.shape == (b, t + config.num_prototypes, config.d_model)
    for name in ("caption_loss", "app_type_loss", "contrastive_loss", "prototype_loss"):
        value = getattr(out, name)
        assert value is not None and value.dim() == 0 and torch.isfinite(value), name
    expected = (config.caption_loss_weight * out.caption_loss + config.app_type_loss_weight * out.app_type_loss
                + config.contrastive_loss_weight * out.contrastive_loss
                + config.prototype_loss_weight * out.prototype_loss)
    assert torch.allclose(out.loss, expected)
    # the caption loss is the usual token cross-entropy over non-ignored labels
    ce = torch.nn.functional.cross_entropy(out.logits.reshape(-1, config.vocab_size), labels.reshape(-1),
                                           ignore_index=-100)
    assert torch.allclose(out.caption_loss, ce)
    out.loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    for part in ("model.encoder.film", "model.encoder.prototypes.prototypes", "app_type_head", "traffic_projection",
                 "text_projection", "model.decoder.layers.1.cross_attn", "model.encoder.packet_embed.flow_embed"):
        assert any(n.startswith(part) for n in grads), f"no gradient reaches {part}"


def test_assignments_are_distributions_over_real_tokens(windows):
    model, config = make()
    batch = features(config, windows)
    enc = model.get_encoder()(**batch)
    a = enc.prototype_assignments
    real = enc.encoder_mask.bool()
    assert torch.allclose(a[real].sum(-1), torch.ones(int(real.sum())), atol=1e-5)
    assert torch.all(a[~real] == 0)
    # the idle window (index 5) has only its time-bin tokens
    assert int(enc.encoder_mask[5].sum()) == config.num_time_bins


FLAGS = ["use_modulation", "use_prototypes", "use_app_type_head", "use_contrastive"]


# all on, all off, and each component off on its own
COMBOS = [dict.fromkeys(FLAGS, True), dict.fromkeys(FLAGS, False)] + [
    {f: f != off for f in FLAGS} for off in FLAGS]


@pytest.mark.parametrize("flags", COMBOS, ids=lambda f: "-".join(k[4:] if v else "no_" + k[4:] for k, v in f.items()))
def test_every_component_switches(flags, windows):
    model, config = make(**flags)
    names = {n.split(".")[0] if not n.startswith("model.") else ".".join(n.split(".")[:3])
             for n, _ in model.named_parameters()}
    assert ("model.encoder.film" in names) == flags["use_modulation"]
    assert ("model.encoder.prototypes" in names) == flags["use_prototypes"]
    assert ("app_type_head" in names) == flags["use_app_type_head"]
    assert ("traffic_projection" in names) == flags["use_contrastive"]
    batch = features(config, windows[:4])
    out = model(**batch, labels=labels_for(4), app_type_labels=torch.tensor([0, 1, 2, 3]))
    assert (out.prototype_loss is not None) == flags["use_prototypes"]
    assert (out.app_type_loss is not None) == flags["use_app_type_head"]
    assert (out.contrastive_loss is not None) == flags["use_contrastive"]
    assert (out.prototype_assignments is not None) == flags["use_prototypes"]
    mem = config.num_time_bins + config.max_packets // config.packet_downsample
    mem += config.num_prototypes if flags["use_prototypes"] else 0
    assert out.encoder_last_hidden_state.shape[1] == mem
    out.loss.backward()
    model.eval()
    ids = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert ids.shape[0] == 4


def test_loss_weights_stage_training(windows):
    model, config = make(caption_loss_weight=0.0, app_type_loss_weight=1.0, contrastive_loss_weight=0.0,
                         prototype_loss_weight=0.0)
    batch = features(config, windows[:4])
    out = model(**batch, labels=labels_for(4), app_type_labels=torch.tensor([0, 1, 2, 3]))
    assert torch.allclose(out.loss, out.app_type_loss)
    assert out.caption_loss is not None  # still reported
    # encoder + heads only: no labels, no decoder
    out = model(**batch, app_type_labels=torch.tensor([0, 1, -100, 3]))
    assert out.logits is None and torch.allclose(out.loss, out.app_type_loss)


def test_film_is_identity_at_init_and_conditions_on_stats(windows):
    model, config = make()
    model.eval()
    batch = features(config, windows[:3])
    other = dict(batch, window_stats=batch["window_stats"] + 3.0)
    enc = model.get_encoder()
    assert torch.allclose(enc(**batch).encoder_states, enc(**other).encoder_states)  # zero-initialised FiLM
    torch.nn.init.normal_(enc.film.proj.weight, std=0.1)
    assert not torch.allclose(enc(**batch).encoder_states, enc(**other).encoder_states, atol=1e-4)
    no_film, cfg2 = make(use_modulation=False)
    no_film.eval()
    e2 = no_film.get_encoder()
    assert torch.allclose(e2(**batch).encoder_states, e2(**other).encoder_states)


def test_padding_does_not_change_outputs():
    """Padding packets (attention_mask 0) changes nothing: the same window padded to 10 or to 64 packets, alone or
    next to a longer window, gets the same pooled encoder state and the same memory over real tokens."""
    model, config = make()
    spread_weights(model, std=0.1)
    model.eval()
    fe = T2TFeatureExtractor(max_packets=config.max_packets, num_time_bins=config.num_time_bins,
                             max_flows=config.max_flows)
    rng = np.random.default_rng(7)
    w, other = random_window(rng, n=10), random_window(rng, n=60)
    short = fe([w], return_tensors="pt", padding="longest")
    long = fe([w], return_tensors="pt", padding="max_length")
    pair = fe([w, other], return_tensors="pt")
    assert short["input_features"].shape[1] == 10 and long["input_features"].shape[1] == 64
    enc = model.get_encoder()
    a, b, c = enc(**short), enc(**long), enc(**pair)
    assert torch.allclose(a.pooled_output[0], b.pooled_output[0], atol=1e-5)
    assert torch.allclose(a.pooled_output[0], c.pooled_output[0], atol=1e-5)
    n_real = int(a.encoder_mask[0].sum())
    assert torch.allclose(a.encoder_states[0, :n_real], b.encoder_states[0, :n_real], atol=1e-5)


def _decode_models():
    model, config = make()
    spread_weights(model)
    return model.eval(), config


@pytest.mark.parametrize("mode", ["greedy", "beam", "sample"])
def test_cached_and_uncached_generate_the_same_tokens(mode, windows):
    model, config = _decode_models()
    batch = features(config, windows)
    kw = {"greedy": dict(do_sample=False), "beam": dict(num_beams=3, do_sample=False),
          "sample": dict(do_sample=True, top_k=8)}[mode]
    torch.manual_seed(1)
    cached = model.generate(**batch, max_new_tokens=12, use_cache=True, **kw)
    torch.manual_seed(1)
    uncached = model.generate(**batch, max_new_tokens=12, use_cache=False, **kw)
    assert torch.equal(cached, uncached)
    assert cached.shape[1] > 3
    assert len(set(cached[:, 1:].flatten().tolist())) > 3  # varied tokens: the comparison is not trivial
    assert torch.all(cached[:, 0] == config.decoder_start_token_id)


def test_cache_is_real_step_by_step(windows):
    """Feeding one token at a time with the cache gives the logits of the full uncached pass."""
    model, config = _decode_models()
    batch = features(config, windows[:3])
    ids = torch.randint(4, config.vocab_size, (3, 9), generator=torch.Generator().manual_seed(3))
    ids[:, 0] = config.decoder_start_token_id
    with torch.no_grad():
        full = model(**batch, decoder_input_ids=ids, use_cache=False).logits
        enc = model.get_encoder()(**batch)
        out = model(encoder_outputs=enc, decoder_input_ids=ids[:, :4], use_cache=True)
        cache = out.cache
        steps = [out.logits]
        assert cache.get_seq_length() == 4
        for i in range(4, 9):
            out = model(encoder_outputs=enc, decoder_input_ids=ids[:, i:i + 1], cache=cache, use_cache=True)
            steps.append(out.logits)
        assert cache.get_seq_length() == 9
        assert cache.cross_attention_cache.get_seq_length() == enc.last_hidden_state.shape[1]
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


def test_save_load_round_trip_safetensors_only(windows, tmp_path):
    model, config = _decode_models()
    batch = features(config, windows[:4])
    model.save_pretrained(tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert "model.safetensors" in files and not any(f.endswith(".bin") for f in files)
    assert {"configuration_t2t.py", "modeling_t2t.py", "generation_config.json"} <= files
    loaded = T2TForTrafficCaptioning.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        a = model(**batch, labels=labels_for(4), app_type_labels=torch.tensor([0, 1, 2, 3]))
        b = loaded(**batch, labels=labels_for(4), app_type_labels=torch.tensor([0, 1, 2, 3]))
    assert torch.allclose(a.logits, b.logits, atol=1e-6) and torch.allclose(a.loss, b.loss, atol=1e-6)
    assert loaded.lm_head.weight.data_ptr() == loaded.model.decoder.embed_tokens.weight.data_ptr()
    assert torch.equal(model.generate(**batch, max_new_tokens=6), loaded.generate(**batch, max_new_tokens=6))
    with pytest.raises(T2TInputError, match="safetensors"):
        model.save_pretrained(tmp_path / "bin", safe_serialization=False)


def test_auto_classes(tiny_model_dir):
    from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

    assert isinstance(AutoConfig.from_pretrained(tiny_model_dir), T2TConfig)
    assert isinstance(AutoModel.from_pretrained(tiny_model_dir), T2TModel)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir)
    assert isinstance(model, T2TForTrafficCaptioning)
    assert type(model).__module__ == "t2t_hf.modeling_t2t"  # the package's class, not a remote copy
    assert model.config.id2label[2] == "messaging"


def test_bad_inputs_raise_one_clear_error(windows):
    model, config = make()
    batch = features(config, windows[:2])
    bad = [
        dict(batch, input_features=batch["input_features"][..., :5]),  # wrong feature count
        dict(batch, input_features=batch["input_features"][0]),  # 2-D
        dict(batch, time_bin_features=batch["time_bin_features"][:, :3]),  # wrong bins
        dict(batch, window_stats=batch["window_stats"][:1]),  # batch mismatch
        dict(batch, attention_mask=batch["attention_mask"][:, :3]),  # mask mismatch
        dict(batch, input_features=batch["input_features"].clone().fill_(float("nan"))),
        dict(batch, input_features=torch.zeros(2, config.max_packets + 1, 8),
             attention_mask=torch.ones(2, config.max_packets + 1)),  # too many packets
        dict(batch, input_features=torch.zeros(2, 0, 8), attention_mask=torch.zeros(2, 0)),  # no rows at all
        {"input_features": batch["input_features"]},  # missing branches
    ]
    for i, kwargs in enumerate(bad):
        with pytest.raises(T2TInputError):
            model(**kwargs, labels=labels_for(2))
    with pytest.raises(T2TInputError, match="batch size"):
        model(**batch, labels=labels_for(3))
    with pytest.raises(T2TInputError, match="app_type_labels"):
        model(**batch, labels=labels_for(2), app_type_labels=torch.tensor([0, 9]))
    model.eval()
    with pytest.raises(T2TInputError, match="max_target_positions"):
        model.generate(**batch, max_new_tokens=config.max_target_positions + 5, min_new_tokens=config.max_target_positions + 5)


def test_idle_and_untimed_windows_encode():
    rng = np.random.default_rng(5)
    model, config = make()
    model.eval()
    ws = [random_window(rng, n=0), random_window(rng, n=0), random_window(rng, n=12, timed=False)]
    enc = model.get_encoder()(**features(config, ws))
    assert torch.isfinite(enc.last_hidden_state).all() and torch.isfinite(enc.pooled_output).all()
    assert model.generate(**features(config, ws), max_new_tokens=3).shape[0] == 3


def test_small_preset_sizes():
    config = T2TConfig.small(vocab_size=1000)
    model = T2TForTrafficCaptioning(config)
    n = sum(p.numel() for p in model.parameters())
    assert config.num_hidden_layers == config.decoder_layers == 2
    assert 1_000_000 < n < 2_000_000, n
