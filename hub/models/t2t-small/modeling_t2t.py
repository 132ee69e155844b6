"""The T2T (Traffic-to-Text) captioning model, all in one file (the transformers single-model-file policy).

Reading order:
  attention and layers (``T2TAttention``, ``T2TEncoderLayer``, ``T2TDecoderLayer``),
  the T2T parts (``T2TPacketEmbedding``, ``T2TTimeBinEmbedding``, ``T2TFiLM``, ``T2TPrototypes``),
  ``T2TEncoder`` (flow feature encoder), ``T2TDecoder`` (caption decoder with a real KV cache),
  ``T2TModel`` (encoder + decoder), ``T2TForTrafficCaptioning`` (+ LM head, app-type head, contrastive heads,
  losses, ``generate``).

Shapes: B batch, P packets (padded), F packet features (8), N time bins, S window statistics, T encoder tokens
(N + ceil(P / packet_downsample)), K prototypes, M = T + K memory tokens the decoder attends to, L caption tokens,
d = ``config.d_model``, V vocabulary.

This file is also shipped as remote code: it imports only torch, transformers and ``.configuration_t2t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.utils import ModelOutput

from .configuration_t2t import T2TConfig, T2TInputError

FLOW_ID_COLUMN = 6  # packet feature columns holding integer ids (see feature_extraction_t2t.PACKET_FEATURES)
PROTOCOL_ID_COLUMN = 7


# ----------------------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class T2TEncoderOutput(ModelOutput):
    """Output of :class:`T2TEncoder`.

    Args:
        last_hidden_state: [B, M, d] the decoder's memory: fused encoder states (time bins, then pooled packets)
            followed by K prototype tokens when prototypes are on.
        memory_mask: [B, M] long, 1 where the decoder may attend.
        encoder_states: [B, T, d] fused, FiLM-modulated encoder states (before prototype tokens).
        encoder_mask: [B, T] long, 1 for real tokens (time bins always; packet groups holding >= 1 packet).
        pooled_output: [B, d] masked mean of ``encoder_states``: the window's traffic summary (heads use it).
        prototype_assignments: [B, T, K] soft assignment of each encoder state to the prototypes (rows sum to 1).
        hidden_states: per-layer encoder states when ``output_hidden_states``.
    """

    last_hidden_state: torch.Tensor | None = None
    memory_mask: torch.Tensor | None = None
    encoder_states: torch.Tensor | None = None
    encoder_mask: torch.Tensor | None = None
    pooled_output: torch.Tensor | None = None
    prototype_assignments: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class T2TDecoderOutput(ModelOutput):
    """Output of :class:`T2TDecoder`: ``last_hidden_state`` [B, L, d], ``cache`` (EncoderDecoderCache or None),
    ``hidden_states`` (per layer, when asked)."""

    last_hidden_state: torch.Tensor | None = None
    cache: Cache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class T2TModelOutput(ModelOutput):
    """Output of :class:`T2TModel`: decoder ``last_hidden_state`` [B, L, d], ``cache``, and the encoder's output
    (``encoder_last_hidden_state`` [B, M, d] and the full ``encoder_outputs``)."""

    last_hidden_state: torch.Tensor | None = None
    cache: Cache | None = None
    decoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    encoder_outputs: T2TEncoderOutput | None = None


@dataclass
class T2TCaptioningOutput(ModelOutput):
    """Output of :class:`T2TForTrafficCaptioning`.

    Args:
        loss: scalar, the weighted sum of the enabled losses that could be computed (``caption_loss`` needs
            ``labels``, ``app_type_loss`` needs ``app_type_labels``, ``contrastive_loss`` needs ``labels`` and a
            batch of >= 2).
        caption_loss / app_type_loss / contrastive_loss / prototype_loss: each loss on its own (None when off or
            not computable), unweighted.
        logits: [B, L, V] next-token scores.
        app_type_logits: [B, num_app_types] (None when the head is off).
        traffic_embeds / text_embeds: [B, contrastive_dim] L2-normalised projections (None when off; text only
            with labels).
        (The heads are skipped, and these are None, on decoding steps whose cache already holds earlier tokens.)
        prototype_assignments: [B, T, K] (None when prototypes are off).
        cache: the decoder's KV cache (``EncoderDecoderCache``) when ``use_cache``.
        encoder_last_hidden_state: [B, M, d] the decoder's memory.
    """

    loss: torch.Tensor | None = None
    caption_loss: torch.Tensor | None = None
    app_type_loss: torch.Tensor | None = None
    contrastive_loss: torch.Tensor | None = None
    prototype_loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    app_type_logits: torch.Tensor | None = None
    traffic_embeds: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    prototype_assignments: torch.Tensor | None = None
    cache: Cache | None = None
    decoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    encoder_last_hidden_state: torch.Tensor | None = None
    encoder_hidden_states: tuple[torch.Tensor, ...] | None = None


# ----------------------------------------------------------------------------------------------------------------
# Attention and layers
# ----------------------------------------------------------------------------------------------------------------
class T2TAttention(nn.Module):
    """Multi-head attention (PyTorch SDPA). Self-attention when ``key_value_states`` is None, else cross-attention.

    With a cache (decoder only): self-attention appends this step's keys/values to
    ``cache.self_attention_cache`` and attends over all of them; cross-attention projects the memory once, on the
    first step, into ``cache.cross_attention_cache`` and reuses it afterwards.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, layer_idx: int | None = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # [B, L, d] -> [B, H, L, d/H]
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden_states: torch.Tensor, key_value_states: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None, cache: EncoderDecoderCache | None = None,
                is_causal: bool = False) -> torch.Tensor:
        """hidden_states [B, Lq, d]; key_value_states [B, Lk, d] or None; attn_mask bool, broadcastable to
        [B, H, Lq, Lk], True where attention is allowed. Returns [B, Lq, d]."""
        bsz, q_len, _ = hidden_states.shape
        q = self._heads(self.q_proj(hidden_states))
        if key_value_states is None:  # self-attention
            k, v = self._heads(self.k_proj(hidden_states)), self._heads(self.v_proj(hidden_states))
            if cache is not None:
                k, v = cache.self_attention_cache.update(k, v, self.layer_idx)
        elif cache is not None and cache.is_updated.get(self.layer_idx):  # cross-attention, memory already cached
            layer = cache.cross_attention_cache.layers[self.layer_idx]
            k, v = layer.keys, layer.values
        else:  # cross-attention, first step (or no cache)
            k, v = self._heads(self.k_proj(key_value_states)), self._heads(self.v_proj(key_value_states))
            if cache is not None:
                k, v = cache.cross_attention_cache.update(k, v, self.layer_idx)
                cache.is_updated[self.layer_idx] = True
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                             dropout_p=self.dropout if self.training else 0.0,
                                             is_causal=is_causal and attn_mask is None)
        return self.out_proj(out.transpose(1, 2).reshape(bsz, q_len, -1))


class T2TFeedForward(nn.Module):
    def __init__(self, d_model: int, ffn_dim: int, activation: str, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(d_model, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, d_model)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.act(self.fc1(x))))


class T2TEncoderLayer(nn.Module):
    """Pre-LayerNorm transformer layer: self-attention over all encoder tokens, then feed-forward. [B, T, d]."""

    def __init__(self, config: T2TConfig):
        super().__init__()
        d = config.d_model
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.self_attn = T2TAttention(d, config.encoder_attention_heads, config.attention_dropout)
        self.ffn_layer_norm = nn.LayerNorm(d)
        self.ffn = T2TFeedForward(d, config.encoder_ffn_dim, config.activation_function, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.self_attn(self.self_attn_layer_norm(x), attn_mask=attn_mask))
        return x + self.dropout(self.ffn(self.ffn_layer_norm(x)))


class T2TDecoderLayer(nn.Module):
    """Pre-LayerNorm decoder layer: causal self-attention (cached), cross-attention to the memory (cached),
    feed-forward. [B, L, d]."""

    def __init__(self, config: T2TConfig, layer_idx: int):
        super().__init__()
        d = config.d_model
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.self_attn = T2TAttention(d, config.decoder_attention_heads, config.attention_dropout, layer_idx)
        self.cross_attn_layer_norm = nn.LayerNorm(d)
        self.cross_attn = T2TAttention(d, config.decoder_attention_heads, config.attention_dropout, layer_idx)
        self.ffn_layer_norm = nn.LayerNorm(d)
        self.ffn = T2TFeedForward(d, config.decoder_ffn_dim, config.activation_function, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, memory, self_mask, cross_mask, cache, is_causal):
        x = x + self.dropout(self.self_attn(self.self_attn_layer_norm(x), attn_mask=self_mask, cache=cache,
                                            is_causal=is_causal))
        x = x + self.dropout(self.cross_attn(self.cross_attn_layer_norm(x), key_value_states=memory,
                                             attn_mask=cross_mask, cache=cache))
        return x + self.dropout(self.ffn(self.ffn_layer_norm(x)))


# ----------------------------------------------------------------------------------------------------------------
# The T2T parts
# ----------------------------------------------------------------------------------------------------------------
class T2TPacketEmbedding(nn.Module):
    """Packet-sequence branch: per-packet features -> tokens, ``packet_downsample`` (s) packets per token.

    Each packet becomes a small vector (``packet_embed_dim`` = e): a linear map of its continuous columns (all but
    flow id and protocol id) plus embeddings of its flow index and protocol id; padding packets are zeroed. Each
    group of s consecutive packets is concatenated ([s * e]) and projected to one token (linear + GELU), so the
    token sees the order, sizes, directions and gaps of its packets; a learned position embedding marks the
    group's place in the sequence.
    input_features [B, P, F], attention_mask [B, P] -> tokens [B, ceil(P/s), d], mask [B, ceil(P/s)] (1 where the
    group holds at least one real packet).
    """

    def __init__(self, config: T2TConfig):
        super().__init__()
        d, e = config.d_model, config.packet_embed_dim
        self.stride = config.packet_downsample
        self.max_flows = config.max_flows
        self.num_protocols = config.num_protocols
        self.value_proj = nn.Linear(config.num_packet_features - 2, e)
        self.flow_embed = nn.Embedding(config.max_flows, e)
        self.protocol_embed = nn.Embedding(config.num_protocols, e)
        self.group_proj = nn.Linear(self.stride * e, d)
        self.act = nn.GELU()
        self.position_embed = nn.Embedding(config.max_packets // config.packet_downsample, d)

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor):
        bsz, n_packets, _ = input_features.shape
        pad = (-n_packets) % self.stride
        if pad:
            input_features = F.pad(input_features, (0, 0, 0, pad))
            attention_mask = F.pad(attention_mask, (0, pad))
        mask = attention_mask.to(input_features.dtype)
        flow = input_features[..., FLOW_ID_COLUMN].round().long().clamp(0, self.max_flows - 1)
        proto = input_features[..., PROTOCOL_ID_COLUMN].round().long().clamp(0, self.num_protocols - 1)
        values = torch.cat([input_features[..., :FLOW_ID_COLUMN], input_features[..., PROTOCOL_ID_COLUMN + 1:]], -1)
        x = (self.value_proj(values) + self.flow_embed(flow) + self.protocol_embed(proto)) * mask.unsqueeze(-1)
        x = self.act(self.group_proj(x.reshape(bsz, -1, self.stride * x.shape[-1])))  # [B, P/s, d]
        group_mask = attention_mask.view(bsz, -1, self.stride).amax(-1)
        positions = torch.arange(x.shape[1], device=x.device)
        return x + self.position_embed(positions), group_mask


class T2TTimeBinEmbedding(nn.Module):
    """Time-bin branch: per-bin statistics [B, N, 6] -> tokens [B, N, d] (two-layer MLP + bin position)."""

    def __init__(self, config: T2TConfig):
        super().__init__()
        d = config.d_model
        self.fc1 = nn.Linear(config.num_time_bin_features, d)
        self.fc2 = nn.Linear(d, d)
        self.act = nn.GELU()
        self.position_embed = nn.Embedding(config.num_time_bins, d)

    def forward(self, time_bin_features: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(time_bin_features.shape[1], device=time_bin_features.device)
        return self.fc2(self.act(self.fc1(time_bin_features))) + self.position_embed(positions)


class T2TFiLM(nn.Module):
    """Dynamic feature modulation: window statistics [B, S] -> per-layer scale and shift of the encoder states.

    ``h <- h * (1 + gamma_l) + beta_l`` after encoder layer l, with (gamma_l, beta_l) = MLP(window_stats). The last
    linear layer starts at zero, so an untrained FiLM is the identity. Low-rate steady windows (messaging) and
    bursty ones (video) get their own regime of the same encoder.
    """

    def __init__(self, config: T2TConfig):
        super().__init__()
        self.num_layers = config.encoder_layers
        self.d_model = config.d_model
        self.fc1 = nn.Linear(config.num_window_stats, config.film_hidden_dim)
        self.act = nn.GELU()
        self.proj = nn.Linear(config.film_hidden_dim, 2 * config.d_model * config.encoder_layers)
        self.proj.zero_init = True  # see T2TPreTrainedModel._init_weights

    def forward(self, window_stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> gamma, beta, each [layers, B, 1, d]."""
        out = self.proj(self.act(self.fc1(window_stats)))
        out = out.view(window_stats.shape[0], self.num_layers, 2, 1, self.d_model).permute(2, 1, 0, 3, 4)
        return out[0], out[1]


class T2TPrototypes(nn.Module):
    """Flow-pattern prototype learning with K learnable prototypes.

    Soft assignment: ``a[t, k] = softmax_k(cos(h_t, p_k) / temperature)`` over real encoder states h_t.
    Summary of prototype k: the assignment-weighted mean of the states it gathers; its memory token is
    ``LayerNorm(p_k + W s_k + share_k * u)`` (``share_k`` the share of the window's states assigned to k), so the
    decoder sees which traffic patterns the window holds and how much of each.

    Loss (see :meth:`loss`): compactness (states close to their prototypes) + diversity (prototypes apart) + balance
    (all prototypes used across the batch).
    """

    def __init__(self, config: T2TConfig):
        super().__init__()
        d = config.d_model
        self.temperature = config.prototype_temperature
        self.diversity_weight = config.prototype_diversity_weight
        self.balance_weight = config.prototype_balance_weight
        self.prototypes = nn.Parameter(torch.empty(config.num_prototypes, d))
        self.summary_proj = nn.Linear(d, d)
        self.share_embed = nn.Parameter(torch.zeros(d))
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """states [B, T, d], mask [B, T] -> (prototype tokens [B, K, d], assignments [B, T, K])."""
        m = mask.to(states.dtype).unsqueeze(-1)  # [B, T, 1]
        sim = F.normalize(states, dim=-1) @ F.normalize(self.prototypes, dim=-1).t()  # [B, T, K]
        assign = torch.softmax(sim / self.temperature, dim=-1) * m
        mass = assign.sum(1)  # [B, K]
        summary = assign.transpose(1, 2) @ states / mass.clamp_min(1e-6).unsqueeze(-1)  # [B, K, d]
        share = mass / m.sum(1).clamp_min(1.0)  # [B, K]
        tokens = self.layer_norm(self.prototypes.unsqueeze(0) + self.summary_proj(summary)
                                 + share.unsqueeze(-1) * self.share_embed)
        return tokens, assign

    def loss(self, states: torch.Tensor, mask: torch.Tensor, assign: torch.Tensor) -> torch.Tensor:
        """Scalar prototype loss for states [B, T, d], mask [B, T], assignments [B, T, K]:
        compactness ``sum_k a[t,k] (1 - cos(h_t, p_k))`` averaged over real states, plus ``diversity_weight`` times
        the mean squared cosine between distinct prototypes, plus ``balance_weight`` times
        ``KL(mean assignment || uniform)``."""
        m = mask.to(states.dtype)
        n = m.sum().clamp_min(1.0)
        protos = F.normalize(self.prototypes, dim=-1)
        cos = F.normalize(states, dim=-1) @ protos.t()
        compact = ((assign * (1.0 - cos)).sum(-1) * m).sum() / n
        k = protos.shape[0]
        gram = protos @ protos.t()
        diversity = (gram - torch.eye(k, device=gram.device, dtype=gram.dtype)).pow(2).sum() / (k * (k - 1))
        usage = (assign.sum((0, 1)) / n).clamp_min(1e-8)
        balance = (usage * (usage * k).log()).sum()
        return compact + self.diversity_weight * diversity + self.balance_weight * balance


# ----------------------------------------------------------------------------------------------------------------
# Pre-trained model base
# ----------------------------------------------------------------------------------------------------------------
class T2TPreTrainedModel(PreTrainedModel):
    config_class = T2TConfig
    config: T2TConfig
    base_model_prefix = "model"
    main_input_name = "input_features"
    input_modalities = ("text",)
    supports_gradient_checkpointing = False
    _no_split_modules = ["T2TEncoderLayer", "T2TDecoderLayer"]
    _supports_sdpa = True

    def _init_weights(self, module):
        if getattr(module, "zero_init", False):  # FiLM's output layer: an untrained FiLM is the identity
            init.zeros_(module.weight)
            init.zeros_(module.bias)
            return
        super()._init_weights(module)
        if isinstance(module, T2TPrototypes):
            init.normal_(module.prototypes, mean=0.0, std=1.0)
            init.zeros_(module.share_embed)
        elif isinstance(module, T2TForTrafficCaptioning) and module.logit_scale is not None:
            init.constant_(module.logit_scale, math.log(1.0 / self.config.contrastive_temperature))

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save weights (safetensors only), config, generation config, and the remote code with its ``auto_map``
        (AutoConfig, AutoModel, AutoModelForSeq2SeqLM) so that ``trust_remote_code=True`` loads it without
        t2t_hf."""
        if kwargs.pop("safe_serialization", True) is False:
            raise T2TInputError("T2T models are saved as safetensors only; drop safe_serialization=False")
        auto_map = dict(getattr(self.config, "auto_map", None) or {})
        auto_map.update({"AutoConfig": "configuration_t2t.T2TConfig", "AutoModel": "modeling_t2t.T2TModel",
                         "AutoModelForSeq2SeqLM": "modeling_t2t.T2TForTrafficCaptioning"})
        self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)


def _check_inputs(config: T2TConfig, input_features, attention_mask, time_bin_features, window_stats):
    """Shape and value checks with one clear error type."""
    def fail(msg):
        raise T2TInputError(msg + " (make features with T2TFeatureExtractor / T2TProcessor)")

    if input_features is None:
        fail("input_features is required: [batch, packets, features] float")
    if not torch.is_tensor(input_features) or input_features.dim() != 3:
        fail(f"input_features must be a 3-D tensor [batch, packets, {config.num_packet_features}], got "
             f"{tuple(getattr(input_features, 'shape', ()))}")
    bsz, n_packets, n_feat = input_features.shape
    if n_feat != config.num_packet_features:
        fail(f"input_features has {n_feat} features per packet, the model expects {config.num_packet_features}")
    if n_packets > config.max_packets:
        fail(f"input_features has {n_packets} packets per window, more than max_packets={config.max_packets}")
    if bsz == 0 or n_packets == 0:
        fail(f"input_features is empty (shape {tuple(input_features.shape)}); an idle window is one row of "
             "padding with attention_mask 0")
    if attention_mask is not None and tuple(attention_mask.shape) != (bsz, n_packets):
        fail(f"attention_mask must be [batch, packets] = {(bsz, n_packets)}, got {tuple(attention_mask.shape)}")
    if time_bin_features is None or window_stats is None:
        fail("time_bin_features [batch, bins, 6] and window_stats [batch, 10] are required")
    want_bins = (bsz, config.num_time_bins, config.num_time_bin_features)
    if tuple(time_bin_features.shape) != want_bins:
        fail(f"time_bin_features must be {want_bins}, got {tuple(time_bin_features.shape)}")
    if tuple(window_stats.shape) != (bsz, config.num_window_stats):
        fail(f"window_stats must be {(bsz, config.num_window_stats)}, got {tuple(window_stats.shape)}")
    for name, t in (("input_features", input_features), ("time_bin_features", time_bin_features),
                    ("window_stats", window_stats)):
        if not torch.isfinite(t).all():
            fail(f"{name} holds NaN or infinite values")


# ----------------------------------------------------------------------------------------------------------------
# Encoder, decoder, model
# ----------------------------------------------------------------------------------------------------------------
class T2TEncoder(T2TPreTrainedModel):
    """Flow feature encoder: packet branch + time-bin branch, fused by transformer layers, FiLM-modulated,
    with prototype tokens appended to the memory. See :class:`T2TEncoderOutput` for shapes."""

    def __init__(self, config: T2TConfig):
        super().__init__(config)
        d = config.d_model
        self.packet_embed = T2TPacketEmbedding(config)
        self.time_bin_embed = T2TTimeBinEmbedding(config)
        self.segment_embed = nn.Embedding(2, d)  # 0 time bin, 1 packet group
        self.layers = nn.ModuleList([T2TEncoderLayer(config) for _ in range(config.encoder_layers)])
        self.film = T2TFiLM(config) if config.use_modulation else None
        self.layer_norm = nn.LayerNorm(d)
        self.prototypes = T2TPrototypes(config) if config.use_prototypes else None
        self.dropout = nn.Dropout(config.dropout)
        self.post_init()

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None,
                time_bin_features: torch.Tensor | None = None, window_stats: torch.Tensor | None = None,
                output_hidden_states: bool = False, return_dict: bool = True, **kwargs) -> T2TEncoderOutput:
        """input_features [B, P, F], attention_mask [B, P], time_bin_features [B, N, 6], window_stats [B, S]."""
        _check_inputs(self.config, input_features, attention_mask, time_bin_features, window_stats)
        dtype = self.segment_embed.weight.dtype
        input_features, time_bin_features, window_stats = (input_features.to(dtype), time_bin_features.to(dtype),
                                                           window_stats.to(dtype))
        if attention_mask is None:
            attention_mask = torch.ones(input_features.shape[:2], dtype=torch.long, device=input_features.device)
        packets, packet_mask = self.packet_embed(input_features, attention_mask.long())
        bins = self.time_bin_embed(time_bin_features)
        x = torch.cat([bins + self.segment_embed.weight[0], packets + self.segment_embed.weight[1]], dim=1)
        mask = torch.cat([torch.ones(bins.shape[:2], dtype=torch.long, device=x.device), packet_mask.long()], dim=1)
        x = self.dropout(x)
        attn_mask = mask.bool()[:, None, None, :]  # [B, 1, 1, T]
        gamma, beta = self.film(window_stats) if self.film is not None else (None, None)
        hidden_states = (x,) if output_hidden_states else None
        for i, layer in enumerate(self.layers):
            x = layer(x, attn_mask)
            if gamma is not None:
                x = x * (1.0 + gamma[i]) + beta[i]
            if output_hidden_states:
                hidden_states += (x,)
        x = self.layer_norm(x)
        m = mask.to(x.dtype).unsqueeze(-1)
        pooled = (x * m).sum(1) / m.sum(1).clamp_min(1.0)
        memory, memory_mask, assign = x, mask, None
        if self.prototypes is not None:
            proto_tokens, assign = self.prototypes(x, mask)
            memory = torch.cat([x, proto_tokens], dim=1)
            memory_mask = torch.cat([mask, mask.new_ones(proto_tokens.shape[:2])], dim=1)
        return T2TEncoderOutput(last_hidden_state=memory, memory_mask=memory_mask, encoder_states=x,
                                encoder_mask=mask, pooled_output=pooled, prototype_assignments=assign,
                                hidden_states=hidden_states)


class T2TDecoder(T2TPreTrainedModel):
    """Caption decoder: token + position embeddings, pre-LN layers with causal self-attention and cross-attention
    to the encoder memory, final LayerNorm. Keeps a real KV cache (``EncoderDecoderCache``)."""

    main_input_name = "input_ids"

    def __init__(self, config: T2TConfig):
        super().__init__(config)
        d = config.d_model
        self.embed_tokens = nn.Embedding(config.vocab_size, d, padding_idx=config.pad_token_id)
        self.embed_positions = nn.Embedding(config.max_target_positions, d)
        self.layers = nn.ModuleList([T2TDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.layer_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
                encoder_attention_mask: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                cache: Cache | None = None, use_cache: bool = False, output_hidden_states: bool = False,
                **kwargs) -> T2TDecoderOutput:
        """input_ids [B, L] (only the new tokens when a cache holds the earlier ones); encoder_hidden_states
        [B, M, d]; encoder_attention_mask [B, M]; attention_mask [B, past + L] optional (1 real, 0 pad)."""
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        elif use_cache and not isinstance(cache, EncoderDecoderCache):
            cache = EncoderDecoderCache(cache, DynamicCache(config=self.config))
        elif not use_cache:
            cache = None
        past = cache.get_seq_length() if cache is not None else 0
        bsz, q_len = input_ids.shape
        if past + q_len > self.config.max_target_positions:
            raise T2TInputError(f"caption of {past + q_len} tokens is longer than max_target_positions="
                                f"{self.config.max_target_positions}; lower max_length / max_new_tokens")
        positions = torch.arange(past, past + q_len, device=input_ids.device)
        x = self.dropout(self.embed_tokens(input_ids) + self.embed_positions(positions))

        self_mask, is_causal = None, False
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            causal = torch.ones(q_len, past + q_len, dtype=torch.bool, device=x.device).tril(diagonal=past)
            self_mask = causal[None, None] & attention_mask.bool()[:, None, None, -(past + q_len):]
            # a fully padded query row attends to itself only (its output is ignored anyway)
            diag = torch.zeros(q_len, past + q_len, dtype=torch.bool, device=x.device)
            diag[torch.arange(q_len), past + torch.arange(q_len)] = True
            self_mask = self_mask | diag[None, None]
        elif q_len > 1:
            if past == 0:
                is_causal = True
            else:
                self_mask = torch.ones(q_len, past + q_len, dtype=torch.bool, device=x.device).tril(diagonal=past)
        cross_mask = None
        if encoder_attention_mask is not None:
            cross_mask = encoder_attention_mask.bool()[:, None, None, :]
        hidden_states = (x,) if output_hidden_states else None
        for layer in self.layers:
            x = layer(x, encoder_hidden_states, self_mask, cross_mask, cache, is_causal)
            if output_hidden_states:
                hidden_states += (x,)
        return T2TDecoderOutput(last_hidden_state=self.layer_norm(x), cache=cache, hidden_states=hidden_states)


class T2TModel(T2TPreTrainedModel):
    """The bare T2T encoder-decoder (no heads): traffic features in, decoder hidden states out."""

    def __init__(self, config: T2TConfig):
        super().__init__(config)
        self.encoder = T2TEncoder(config)
        self.decoder = T2TDecoder(config)
        self.post_init()

    def get_encoder(self):
        return self.encoder

    def get_decoder(self):
        return self.decoder

    def get_input_embeddings(self):
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value):
        self.decoder.embed_tokens = value

    def forward(self, input_features: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                time_bin_features: torch.Tensor | None = None, window_stats: torch.Tensor | None = None,
                decoder_input_ids: torch.Tensor | None = None, decoder_attention_mask: torch.Tensor | None = None,
                encoder_outputs: T2TEncoderOutput | None = None, cache: Cache | None = None,
                use_cache: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool = True, **kwargs) -> T2TModelOutput:
        """Encode (unless ``encoder_outputs`` is given) and decode ``decoder_input_ids`` [B, L].
        Returns :class:`T2TModelOutput` (decoder states [B, L, d])."""
        output_hidden_states = bool(output_hidden_states)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_features, attention_mask, time_bin_features, window_stats,
                                           output_hidden_states=output_hidden_states)
        elif not isinstance(encoder_outputs, T2TEncoderOutput):
            encoder_outputs = T2TEncoderOutput(**dict(encoder_outputs))
        if decoder_input_ids is None:
            raise T2TInputError("decoder_input_ids (or labels, for T2TForTrafficCaptioning) are required to decode")
        use_cache = self.config.use_cache if use_cache is None else use_cache
        dec = self.decoder(decoder_input_ids, encoder_outputs.last_hidden_state, encoder_outputs.memory_mask,
                           attention_mask=decoder_attention_mask, cache=cache, use_cache=use_cache,
                           output_hidden_states=output_hidden_states)
        return T2TModelOutput(last_hidden_state=dec.last_hidden_state, cache=dec.cache,
                              decoder_hidden_states=dec.hidden_states,
                              encoder_last_hidden_state=encoder_outputs.last_hidden_state,
                              encoder_hidden_states=encoder_outputs.hidden_states, encoder_outputs=encoder_outputs)


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs from labels [B, L]: start token, then labels[:, :-1], with -100 replaced by pad."""
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1].clone()
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class T2TTextEncoder(nn.Module):
    """Text side of the contrastive loss: the decoder's token embeddings (shared, no gradient tricks) through
    ``contrastive_text_layers`` bidirectional transformer layers, mean-pooled over real tokens. [B, L] -> [B, d]."""

    def __init__(self, config: T2TConfig):
        super().__init__()
        cfg = config
        self.layers = nn.ModuleList([T2TEncoderLayer(cfg) for _ in range(config.contrastive_text_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model)

    def forward(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = embeds
        for layer in self.layers:
            x = layer(x, mask.bool()[:, None, None, :])
        x = self.layer_norm(x)
        m = mask.to(x.dtype).unsqueeze(-1)
        return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


class T2TForTrafficCaptioning(T2TPreTrainedModel, GenerationMixin):
    """T2T: traffic window -> caption, with app-type and contrastive heads and the prototype loss.

    ``forward`` returns :class:`T2TCaptioningOutput`: the total loss (weighted sum of the enabled losses that the
    given labels allow) and each loss on its own, so training can run stages (e.g. contrastive pre-training with
    only ``contrastive_loss_weight > 0``). ``generate`` supports greedy, beam search and sampling, with or without
    the KV cache.
    """

    _tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}

    def __init__(self, config: T2TConfig):
        super().__init__(config)
        d = config.d_model
        self.model = T2TModel(config)
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        self.app_type_head = (nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(config.dropout),
                                            nn.Linear(d, len(config.app_types)))
                              if config.use_app_type_head else None)
        if config.use_contrastive:
            self.traffic_projection = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, config.contrastive_dim))
            self.text_encoder = T2TTextEncoder(config)
            self.text_projection = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, config.contrastive_dim))
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.contrastive_temperature)))
        else:
            self.traffic_projection = self.text_encoder = self.text_projection = None
            self.logit_scale = None
        self.post_init()
        if self.generation_config is not None:  # captions end by </s> or at the decoder's last position
            self.generation_config.max_new_tokens = config.max_target_positions - 1

    def get_encoder(self):
        return self.model.encoder

    def get_decoder(self):
        return self.model.decoder

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def get_input_embeddings(self):
        return self.model.decoder.embed_tokens

    def forward(self, input_features: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                time_bin_features: torch.Tensor | None = None, window_stats: torch.Tensor | None = None,
                decoder_input_ids: torch.Tensor | None = None, decoder_attention_mask: torch.Tensor | None = None,
                encoder_outputs: T2TEncoderOutput | None = None, cache: Cache | None = None,
                labels: torch.Tensor | None = None, app_type_labels: torch.Tensor | None = None,
                use_cache: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool = True, **kwargs) -> T2TCaptioningOutput:
        """Args (shapes as in the module docstring):
            input_features [B, P, F], attention_mask [B, P], time_bin_features [B, N, 6], window_stats [B, S]:
                from ``T2TFeatureExtractor`` (or pass ``encoder_outputs``).
            decoder_input_ids [B, L]: defaults to ``labels`` shifted right behind the decoder start token.
            labels [B, L] long: caption token ids ending with ``</s>``, -100 (or pad) where ignored.
            app_type_labels [B] long: index into ``config.app_types``, -100 for unknown.
        """
        if use_cache is None:
            use_cache = self.config.use_cache and labels is None
        if labels is not None:
            if labels.dim() != 2:
                raise T2TInputError(f"labels must be [batch, tokens], got shape {tuple(labels.shape)}")
            labels = labels.masked_fill(labels == self.config.pad_token_id, -100)
            if decoder_input_ids is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id,
                                                       self.config.decoder_start_token_id)
        if encoder_outputs is None:
            encoder_outputs = self.model.encoder(input_features, attention_mask, time_bin_features, window_stats,
                                                 output_hidden_states=bool(output_hidden_states))
        elif not isinstance(encoder_outputs, T2TEncoderOutput):
            encoder_outputs = T2TEncoderOutput(**dict(encoder_outputs))
        enc = encoder_outputs
        if labels is not None and labels.shape[0] != enc.pooled_output.shape[0]:
            raise T2TInputError(f"labels have batch size {labels.shape[0]}, the traffic batch is "
                                f"{enc.pooled_output.shape[0]}")
        past_length = cache.get_seq_length() if cache is not None else 0
        logits = outputs = None
        if decoder_input_ids is not None:  # without it (and without labels) only the encoder and heads run
            outputs = self.model(decoder_input_ids=decoder_input_ids, decoder_attention_mask=decoder_attention_mask,
                                 encoder_outputs=enc, cache=cache, use_cache=use_cache,
                                 output_hidden_states=output_hidden_states)
            logits = self.lm_head(outputs.last_hidden_state)
        losses: dict[str, torch.Tensor] = {}
        if labels is not None:
            losses["caption_loss"] = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                                     ignore_index=-100, label_smoothing=self.config.label_smoothing)

        # later generation steps (a cache that already holds tokens) need only the logits: skip the heads there
        heads = not (past_length > 0 and labels is None)
        app_type_logits = (self.app_type_head(enc.pooled_output) if self.app_type_head is not None and heads
                           else None)
        if app_type_labels is not None and app_type_logits is not None:
            app_type_labels = torch.as_tensor(app_type_labels, device=app_type_logits.device).long().view(-1)
            if app_type_labels.shape[0] != app_type_logits.shape[0]:
                raise T2TInputError(f"app_type_labels has {app_type_labels.shape[0]} entries for a batch of "
                                    f"{app_type_logits.shape[0]}")
            bad = (app_type_labels != -100) & ((app_type_labels < 0) | (app_type_labels >= app_type_logits.shape[1]))
            if bool(bad.any()):
                raise T2TInputError(f"app_type_labels must be in [0, {app_type_logits.shape[1]}) or -100")
            if bool((app_type_labels != -100).any()):
                losses["app_type_loss"] = F.cross_entropy(app_type_logits.float(), app_type_labels, ignore_index=-100)

        traffic_embeds = text_embeds = None
        if self.traffic_projection is not None and heads:
            traffic_embeds = F.normalize(self.traffic_projection(enc.pooled_output), dim=-1)
            if labels is not None:
                text_ids = labels.masked_fill(labels == -100, self.config.pad_token_id)
                text_mask = (labels != -100) & (labels != self.config.eos_token_id)
                embeds = self.model.decoder.embed_tokens(text_ids)
                text_embeds = F.normalize(self.text_projection(self.text_encoder(embeds, text_mask)), dim=-1)
                if labels.shape[0] >= 2:
                    losses["contrastive_loss"] = self._contrastive_loss(traffic_embeds, text_embeds, labels)

        if enc.prototype_assignments is not None and (self.training or labels is not None
                                                      or app_type_labels is not None):
            losses["prototype_loss"] = self.model.encoder.prototypes.loss(enc.encoder_states, enc.encoder_mask,
                                                                          enc.prototype_assignments)
        weights = {"caption_loss": self.config.caption_loss_weight, "app_type_loss": self.config.app_type_loss_weight,
                   "contrastive_loss": self.config.contrastive_loss_weight,
                   "prototype_loss": self.config.prototype_loss_weight}
        loss = None
        weighted = [weights[k] * v for k, v in losses.items() if weights[k] > 0]
        if weighted and (labels is not None or app_type_labels is not None):
            loss = torch.stack(weighted).sum()
        return T2TCaptioningOutput(
            loss=loss, logits=logits, app_type_logits=app_type_logits, traffic_embeds=traffic_embeds,
            text_embeds=text_embeds, prototype_assignments=enc.prototype_assignments,
            cache=outputs.cache if outputs is not None else None,
            decoder_hidden_states=outputs.decoder_hidden_states if outputs is not None else None,
            encoder_last_hidden_state=enc.last_hidden_state, encoder_hidden_states=enc.hidden_states, **losses)

    def _contrastive_loss(self, traffic: torch.Tensor, text: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE between traffic [B, D] and text [B, D] embeddings. Windows with the same caption are
        all positives of each other (captions repeat across windows), so targets are row-normalised."""
        scale = self.logit_scale.exp().clamp(max=100.0)
        sim = scale * traffic @ text.t()
        same = (labels.unsqueeze(1) == labels.unsqueeze(0)).all(-1).to(sim.dtype)
        targets = same / same.sum(-1, keepdim=True)
        loss_t = -(targets * F.log_softmax(sim, dim=-1)).sum(-1).mean()
        loss_x = -(targets * F.log_softmax(sim.t(), dim=-1)).sum(-1).mean()
        return (loss_t + loss_x) / 2

    @torch.no_grad()
    def score_captions(self, sequences: torch.Tensor, encoder_outputs: T2TEncoderOutput) -> torch.Tensor:
        """Mean per-token log-probability of generated ``sequences`` [B, L] (starting with the decoder start token)
        under the model, given ``encoder_outputs`` of the same batch -> [B] (natural log; ``exp`` gives a
        score in (0, 1])."""
        dec_in = sequences[:, :-1]
        targets = sequences[:, 1:]
        out = self.model(decoder_input_ids=dec_in, encoder_outputs=encoder_outputs, use_cache=False)
        logp = torch.log_softmax(self.lm_head(out.last_hidden_state).float(), dim=-1)
        tok = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return mean_caption_logp(tok, targets, self.config.eos_token_id, self.config.pad_token_id)


def mean_caption_logp(token_logp: torch.Tensor, targets: torch.Tensor, eos_token_id: int,
                      pad_token_id: int) -> torch.Tensor:
    """Mean of ``token_logp`` [B, L] (log-probability of each target token) over the tokens of ``targets`` [B, L]
    up to and including the first ``</s>``; padding after it is ignored -> [B] (natural log)."""
    after_eos = (targets == eos_token_id).long().cumsum(-1) - (targets == eos_token_id).long()
    valid = (after_eos == 0) & (targets != pad_token_id)
    return (token_logp * valid).sum(-1) / valid.sum(-1).clamp_min(1)


T2TModel.register_for_auto_class("AutoModel")
T2TForTrafficCaptioning.register_for_auto_class("AutoModelForSeq2SeqLM")

__all__ = ["T2TPreTrainedModel", "T2TModel", "T2TForTrafficCaptioning", "T2TEncoder", "T2TDecoder",
           "T2TCaptioningOutput", "T2TEncoderOutput", "mean_caption_logp"]
