"""T2TConfig: documented defaults, the t2t-small preset, id2label from app_types, validation, round trip."""

from __future__ import annotations

import pytest

from t2t_hf.configuration_t2t import DEFAULT_APP_TYPES, T2TConfig
from t2t_hf.errors import T2TInputError


def test_defaults_and_attribute_map():
    c = T2TConfig()
    assert c.model_type == "t2t" and c.is_encoder_decoder
    assert c.num_hidden_layers == c.decoder_layers and c.hidden_size == c.d_model
    assert c.get_text_config(decoder=True).num_hidden_layers == c.decoder_layers
    assert c.app_types == DEFAULT_APP_TYPES == ["video", "social", "messaging", "browsing", "music_games"]
    assert c.id2label == dict(enumerate(DEFAULT_APP_TYPES)) and c.label2id["music_games"] == 4
    assert (c.pad_token_id, c.bos_token_id, c.eos_token_id, c.decoder_start_token_id) == (0, 1, 2, 1)


def test_disabled_components_default_to_zero_weight():
    c = T2TConfig(use_prototypes=False, use_contrastive=False, use_app_type_head=False)
    assert c.prototype_loss_weight == c.contrastive_loss_weight == c.app_type_loss_weight == 0.0
    on = T2TConfig()
    assert (on.app_type_loss_weight, on.contrastive_loss_weight, on.prototype_loss_weight) == (0.5, 0.1, 0.1)


def test_small_preset():
    c = T2TConfig.small(vocab_size=700)
    assert (c.d_model, c.encoder_layers, c.decoder_layers, c.packet_downsample, c.vocab_size) == (128, 2, 2, 8, 700)


def test_round_trip(tmp_path):
    c = T2TConfig(d_model=64, app_types=["a", "b", "c"], use_modulation=False, label_smoothing=0.1)
    c.save_pretrained(tmp_path)
    d = T2TConfig.from_pretrained(tmp_path)
    assert d.d_model == 64 and d.app_types == ["a", "b", "c"] and d.id2label == {0: "a", 1: "b", 2: "c"}
    assert d.use_modulation is False and d.label_smoothing == 0.1
    assert d.to_dict()["auto_map"]["AutoConfig"] == "configuration_t2t.T2TConfig"


@pytest.mark.parametrize("kwargs, message", [
    (dict(use_prototypes=False, prototype_loss_weight=0.2), "prototype_loss_weight"),
    (dict(use_contrastive=False, contrastive_loss_weight=1.0), "contrastive_loss_weight"),
    (dict(use_app_type_head=False, app_type_loss_weight=0.5), "app_type_loss_weight"),
    (dict(d_model=100, encoder_attention_heads=3), "divisible"),
    (dict(max_packets=100, packet_downsample=8), "multiple"),
    (dict(num_prototypes=1), "num_prototypes"),
    (dict(caption_loss_weight=-1.0), "caption_loss_weight"),
    (dict(dropout=1.5), "dropout"),
    (dict(app_types=["video", "video"]), "duplicates"),
    (dict(app_types=["video"]), "two app_types"),
    (dict(vocab_size=2), "special token"),
    (dict(activation_function="swish"), "activation_function"),
    (dict(num_packet_features=4), "num_packet_features"),
])
def test_contradictions_raise(kwargs, message):
    with pytest.raises(T2TInputError, match=message):
        T2TConfig(**kwargs)
