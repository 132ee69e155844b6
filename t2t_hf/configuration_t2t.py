"""Configuration of the T2T (Traffic-to-Text) captioning model.

This file is also shipped next to saved weights as remote code (``trust_remote_code=True``), so it imports
nothing from ``t2t_hf`` at module level and nothing from sibling files except by relative import.
"""

from __future__ import annotations

from transformers import PreTrainedConfig

try:  # inside the t2t_hf package: the project's one input-error type
    from t2t_hf.errors import T2TInputError
except ImportError:  # loaded as remote code without t2t_hf installed

    class T2TInputError(ValueError):
        """Bad input (stand-in for ``t2t_hf.errors.T2TInputError`` when t2t_hf is not installed)."""


DEFAULT_APP_TYPES = ["video", "social", "messaging", "browsing", "music_games"]

#: Sizes of the "t2t-small" preset (see :meth:`T2TConfig.small`).
T2T_SMALL = dict(
    d_model=128,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=256,
    decoder_ffn_dim=512,
    max_packets=256,
    packet_downsample=8,
    num_time_bins=20,
    num_prototypes=16,
    contrastive_dim=128,
    max_target_positions=40,
)


class T2TConfig(PreTrainedConfig):
    r"""Configuration of :class:`~t2t_hf.modeling_t2t.T2TForTrafficCaptioning`.

    The model reads one traffic window (the packets of one device during a few seconds) and writes a caption.
    Every architecture choice is an argument below; each T2T component (FiLM modulation, prototypes, app-type
    head, contrastive heads) can be switched off for ablations.

    Args:
        vocab_size (`int`, 1000): caption vocabulary size (set it from the tokenizer: ``len(tokenizer)``).
        d_model (`int`, 128): width of every hidden state, encoder and decoder.
        encoder_layers (`int`, 2): transformer layers that fuse the packet and time-bin branches.
        decoder_layers (`int`, 2): caption decoder layers (``num_hidden_layers`` for ``generate``'s cache).
        encoder_attention_heads / decoder_attention_heads (`int`, 4): attention heads (must divide ``d_model``).
        encoder_ffn_dim / decoder_ffn_dim (`int`, 512): feed-forward inner sizes.
        activation_function (`str`, "gelu"): "gelu" or "relu".
        dropout (`float`, 0.1): dropout on hidden states; attention_dropout (`float`, 0.0): on attention weights.
        num_packet_features (`int`, 8): last dim of ``input_features`` (see ``T2TFeatureExtractor.PACKET_FEATURES``).
        num_time_bin_features (`int`, 6): last dim of ``time_bin_features``.
        num_window_stats (`int`, 10): size of ``window_stats`` (FiLM conditioning input).
        max_packets (`int`, 256): longest packet sequence the encoder accepts (the feature extractor truncates or
            subsamples longer windows to this length).
        packet_downsample (`int`, 4): the packet branch joins this many consecutive packets into one encoder
            token (so 256 packets become 64 tokens); 1 keeps one token per packet.
        packet_embed_dim (`int`, 32): size of each packet's own vector before the group projection.
        num_time_bins (`int`, 20): number of equal time bins per window (0.5 s bins for 10 s windows).
        max_flows (`int`, 32): size of the flow-index embedding; packets of flow index >= max_flows share the
            last row.
        num_protocols (`int`, 4): size of the protocol embedding (0 other, 1 TCP, 2 UDP, 3 ICMP/ICMPv6).
        use_modulation (`bool`, True): FiLM scale and shift of every encoder layer's output, conditioned on the
            window statistics.
        film_hidden_dim (`int`, 64): hidden size of the FiLM conditioning MLP.
        use_prototypes (`bool`, True): K learnable flow-pattern prototypes; their summaries join the decoder memory.
        num_prototypes (`int`, 16): K.
        prototype_temperature (`float`, 0.1): softmax temperature of the soft assignment (cosine similarities).
        prototype_diversity_weight (`float`, 1.0) / prototype_balance_weight (`float`, 0.1): weights of the
            diversity and usage-balance terms inside the prototype loss (compactness has weight 1).
        use_app_type_head (`bool`, True): a classifier of the app type from the pooled encoder state.
        app_types (`list[str]`): app-type labels; defines ``id2label``/``label2id``.
        use_contrastive (`bool`, True): traffic and text projections into a shared space with an InfoNCE loss.
        contrastive_dim (`int`, 128): size of the shared space.
        contrastive_text_layers (`int`, 1): layers of the small text encoder (over the decoder's token
            embeddings) that gives the text side; 0 means mean-pooled embeddings.
        contrastive_temperature (`float`, 0.07): initial temperature of the learnable logit scale.
        caption_loss_weight / app_type_loss_weight / contrastive_loss_weight / prototype_loss_weight (`float`):
            weights of the four losses in the total loss. ``None`` (the default) means 1.0 / 0.5 / 0.1 / 0.1 when
            the component is on and 0.0 when it is off. A weight of 0 leaves a loss out of the total (it is still
            reported); a positive weight for a switched-off component is a contradiction and raises
            T2TInputError.
        label_smoothing (`float`, 0.0): label smoothing of the caption cross-entropy.
        max_target_positions (`int`, 40): longest caption in tokens (decoder positions, and the default
            ``max_length`` of ``generate``).
        init_std (`float`, 0.02): standard deviation of the weight initialisation.
        pad_token_id / bos_token_id / eos_token_id / decoder_start_token_id (`int`, 0 / 1 / 2 / 1): special token
            ids (the ones ``train_caption_tokenizer`` produces).
    """

    model_type = "t2t"
    attribute_map = {
        "num_hidden_layers": "decoder_layers",
        "hidden_size": "d_model",
        "num_attention_heads": "decoder_attention_heads",
        "num_key_value_heads": "decoder_attention_heads",
    }

    def __init__(
        self,
        vocab_size: int = 1000,
        d_model: int = 128,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        encoder_attention_heads: int = 4,
        decoder_attention_heads: int = 4,
        encoder_ffn_dim: int = 512,
        decoder_ffn_dim: int = 512,
        activation_function: str = "gelu",
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        num_packet_features: int = 8,
        num_time_bin_features: int = 6,
        num_window_stats: int = 10,
        max_packets: int = 256,
        packet_downsample: int = 4,
        packet_embed_dim: int = 32,
        num_time_bins: int = 20,
        max_flows: int = 32,
        num_protocols: int = 4,
        use_modulation: bool = True,
        film_hidden_dim: int = 64,
        use_prototypes: bool = True,
        num_prototypes: int = 16,
        prototype_temperature: float = 0.1,
        prototype_diversity_weight: float = 1.0,
        prototype_balance_weight: float = 0.1,
        use_app_type_head: bool = True,
        app_types: list[str] | None = None,
        use_contrastive: bool = True,
        contrastive_dim: int = 128,
        contrastive_text_layers: int = 1,
        contrastive_temperature: float = 0.07,
        caption_loss_weight: float = 1.0,
        app_type_loss_weight: float | None = None,
        contrastive_loss_weight: float | None = None,
        prototype_loss_weight: float | None = None,
        label_smoothing: float = 0.0,
        max_target_positions: int = 40,
        init_std: float = 0.02,
        use_cache: bool = True,
        pad_token_id: int = 0,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        decoder_start_token_id: int = 1,
        is_encoder_decoder: bool = True,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_attention_heads = decoder_attention_heads
        self.encoder_ffn_dim = encoder_ffn_dim
        self.decoder_ffn_dim = decoder_ffn_dim
        self.activation_function = activation_function
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.num_packet_features = num_packet_features
        self.num_time_bin_features = num_time_bin_features
        self.num_window_stats = num_window_stats
        self.max_packets = max_packets
        self.packet_downsample = packet_downsample
        self.packet_embed_dim = packet_embed_dim
        self.num_time_bins = num_time_bins
        self.max_flows = max_flows
        self.num_protocols = num_protocols
        self.use_modulation = use_modulation
        self.film_hidden_dim = film_hidden_dim
        self.use_prototypes = use_prototypes
        self.num_prototypes = num_prototypes
        self.prototype_temperature = prototype_temperature
        self.prototype_diversity_weight = prototype_diversity_weight
        self.prototype_balance_weight = prototype_balance_weight
        self.use_app_type_head = use_app_type_head
        self.app_types = list(app_types) if app_types is not None else list(DEFAULT_APP_TYPES)
        self.use_contrastive = use_contrastive
        self.contrastive_dim = contrastive_dim
        self.contrastive_text_layers = contrastive_text_layers
        self.contrastive_temperature = contrastive_temperature
        self.caption_loss_weight = caption_loss_weight
        # None means "the default when the component is on, 0 when it is off"
        self.app_type_loss_weight = _weight(app_type_loss_weight, use_app_type_head, 0.5)
        self.contrastive_loss_weight = _weight(contrastive_loss_weight, use_contrastive, 0.1)
        self.prototype_loss_weight = _weight(prototype_loss_weight, use_prototypes, 0.1)
        self.label_smoothing = label_smoothing
        self.max_target_positions = max_target_positions
        self.init_std = init_std
        self.use_cache = use_cache
        kwargs.pop("id2label", None)
        kwargs.pop("label2id", None)
        kwargs.pop("num_labels", None)
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            decoder_start_token_id=decoder_start_token_id,
            is_encoder_decoder=is_encoder_decoder,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
        # app-type labels are the single source of truth for id2label / label2id
        self.id2label = {i: name for i, name in enumerate(self.app_types)}
        self.label2id = {name: i for i, name in enumerate(self.app_types)}
        self.validate_t2t()

    @classmethod
    def small(cls, **overrides) -> "T2TConfig":
        """The "t2t-small" preset: d_model 128, 2 encoder layers (FFN 256) + 2 decoder layers (FFN 512), 4 heads,
        256 packets pooled by 8 into 32 encoder tokens plus 20 time-bin tokens, 16 prototypes, captions up to 40
        tokens (1.13 M parameters plus ``vocab_size * 128`` for the tied embeddings: 1.20 M with the shipped model's
        605-token vocabulary). Sized for >= 200 windows/s greedy on 2 CPU cores (measured by
        ``benchmarks/inference.py``)."""
        return cls(**{**T2T_SMALL, **overrides})

    def validate_t2t(self) -> None:
        """Raise T2TInputError when arguments contradict each other or are out of range."""
        problems = []

        def positive(name):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a positive integer, got {getattr(self, name)!r}")

        for name in ("vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                     "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "num_packet_features",
                     "num_time_bin_features", "num_window_stats", "max_packets", "packet_downsample",
                     "num_time_bins", "max_flows", "num_protocols", "max_target_positions", "packet_embed_dim"):
            positive(name)
        if not problems:
            for heads in ("encoder_attention_heads", "decoder_attention_heads"):
                if self.d_model % getattr(self, heads):
                    problems.append(f"d_model ({self.d_model}) must be divisible by {heads} ({getattr(self, heads)})")
            if self.max_packets % self.packet_downsample:
                problems.append(f"max_packets ({self.max_packets}) must be a multiple of packet_downsample "
                                f"({self.packet_downsample})")
        if self.num_packet_features < 8:
            problems.append("num_packet_features must be >= 8 (the feature extractor's packet columns)")
        if self.activation_function not in ("gelu", "relu"):
            problems.append(f"activation_function must be 'gelu' or 'relu', got {self.activation_function!r}")
        for name in ("dropout", "attention_dropout", "label_smoothing"):
            v = getattr(self, name)
            if not (0.0 <= float(v) < 1.0):
                problems.append(f"{name} must be in [0, 1), got {v}")
        for name in ("caption_loss_weight", "app_type_loss_weight", "contrastive_loss_weight",
                     "prototype_loss_weight", "prototype_diversity_weight", "prototype_balance_weight"):
            if float(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        for flag, weight in (("use_prototypes", "prototype_loss_weight"), ("use_app_type_head", "app_type_loss_weight"),
                             ("use_contrastive", "contrastive_loss_weight")):
            if not getattr(self, flag) and float(getattr(self, weight)) > 0:
                problems.append(f"{weight} is {getattr(self, weight)} but {flag} is False: set {weight}=0.0 "
                                f"or {flag}=True")
        if self.use_prototypes and (not isinstance(self.num_prototypes, int) or self.num_prototypes < 2):
            problems.append(f"num_prototypes must be an integer >= 2 when use_prototypes is True, "
                            f"got {self.num_prototypes!r}")
        if self.prototype_temperature <= 0 or self.contrastive_temperature <= 0:
            problems.append("prototype_temperature and contrastive_temperature must be > 0")
        if self.use_app_type_head and len(self.app_types) < 2:
            problems.append("use_app_type_head needs at least two app_types")
        if len(set(self.app_types)) != len(self.app_types):
            problems.append(f"app_types has duplicates: {self.app_types}")
        if self.use_contrastive and (self.contrastive_dim < 1 or self.contrastive_text_layers < 0):
            problems.append("contrastive_dim must be >= 1 and contrastive_text_layers >= 0")
        special = [t for t in (self.pad_token_id, self.bos_token_id, self.eos_token_id, self.decoder_start_token_id)
                   if t is not None]
        if any(not (0 <= int(t) < self.vocab_size) for t in special if isinstance(self.vocab_size, int)):
            problems.append(f"special token ids {special} must lie in [0, vocab_size={self.vocab_size})")
        if problems:
            raise T2TInputError("invalid T2TConfig: " + "; ".join(problems))


def _weight(value, enabled: bool, default: float) -> float:
    if value is None:
        return default if enabled else 0.0
    return float(value)


T2TConfig.register_for_auto_class()

__all__ = ["T2TConfig", "DEFAULT_APP_TYPES", "T2T_SMALL"]
