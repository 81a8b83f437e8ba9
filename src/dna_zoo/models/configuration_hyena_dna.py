"""Configuration of HyenaDNA (Nguyen et al., 2023): a causal language model over single bases whose blocks mix
tokens with Hyena long convolutions (implicit filters, FFT) instead of attention, with the published presets.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .pretrained import DNAConfig


def _preset(hidden: int, layers: int, context: int) -> dict:
    return dict(
        hidden_size=hidden, num_hidden_layers=layers, intermediate_size=4 * hidden, max_position_embeddings=context
    )


# The published checkpoints (LongSafari/*-hf): width, depth and context from their names and the paper's table.
PRESETS = {
    "LongSafari/hyenadna-tiny-1k-seqlen-hf": _preset(128, 2, 1024),
    "LongSafari/hyenadna-tiny-1k-seqlen-d256-hf": _preset(256, 2, 1024),
    "LongSafari/hyenadna-tiny-16k-seqlen-d128-hf": _preset(128, 2, 16386),
    "LongSafari/hyenadna-small-32k-seqlen-hf": _preset(256, 4, 32768),
    "LongSafari/hyenadna-medium-160k-seqlen-hf": _preset(256, 8, 160000),
    "LongSafari/hyenadna-medium-450k-seqlen-hf": _preset(256, 8, 450000),
    "LongSafari/hyenadna-large-1m-seqlen-hf": _preset(256, 8, 1_000_000),
    "tiny": _preset(32, 2, 256),
}
UNVERIFIED_PRESETS = {
    name: "context lengths (from the checkpoint names) and widths (from the paper); the Hub configs were not read"
    for name in PRESETS
    if name != "tiny"
}

# Published config.json field -> HyenaDNAConfig field (the authors' HF remote code, `model_type: hyenadna`).
ORIGINAL_FIELDS = {
    "vocab_size": "vocab_size",
    "d_model": "hidden_size",
    "n_layer": "num_hidden_layers",
    "d_inner": "intermediate_size",
    "max_seq_len": "max_position_embeddings",
    "emb_dim": "filter_emb_dim",
    "filter_order": "filter_order",
    "short_filter_order": "short_filter_order",
    "num_inner_mlps": "num_inner_mlps",
    "activation_freq": "activation_freq",
    "train_freq": "train_freq",
    "hyena_order": "hyena_order",
    "use_bias": "filter_bias",
    "pad_vocab_size_multiple": "pad_vocab_size_multiple",
    "layer_norm_epsilon": "layer_norm_eps",
    "embed_dropout": "embedding_dropout",
    "hyena_dropout": "hidden_dropout",
    "hyena_filter_dropout": "filter_dropout",
    "initializer_range": "initializer_range",
    "tie_word_embeddings": "tie_word_embeddings",
}


def config_from_original(raw: dict) -> dict | None:
    """Translate the authors' config.json (`model_type: hyenadna`); None for any other config."""
    if raw.get("model_type") != "hyenadna":
        return None
    fields = {ours: raw[theirs] for theirs, ours in ORIGINAL_FIELDS.items() if theirs in raw}
    for key in ("architectures", "num_labels", "id2label", "label2id", "problem_type"):
        if key in raw:
            fields[key] = raw[key]
    return fields


class HyenaDNAConfig(DNAConfig):
    r"""HyenaDNA: pre-LN blocks of a Hyena operator (order-2: two gates, one implicit long convolution) and an MLP.

    Args:
        vocab_size: 12 (the authors' character tokenizer: 7 special tokens, then A C G T N); the embedding has
            `pad_vocab_size_multiple` rows more or less, rounded up.
        hidden_size, num_hidden_layers, intermediate_size: width, depth and MLP width (4x the width).
        max_position_embeddings: the longest input (the implicit filter's length, the checkpoint's context).
        hyena_order: gates plus one (2: `in_proj` makes 3 streams: two gates and a value).
        filter_order: width of the filter MLP; filter_emb_dim: its positional input (time plus sin / cos bands).
        short_filter_order: the depthwise causal convolution before gating (3).
        num_inner_mlps: hidden layers of the filter MLP (2); activation_freq: their Sin frequency (10), learned if
            train_freq.
        filter_bias: the per-channel skip term of the long convolution (`D`).
        embedding_dropout, hidden_dropout, filter_dropout: dropout after the embeddings, after each gating, and in
            the filter.
        classifier_pooling: "mean" (default) or "max" over non-padding tokens.
    """

    presets = PRESETS
    unverified_presets = UNVERIFIED_PRESETS
    config_from_original = staticmethod(config_from_original)
    model_type = "hyena_dna"

    def __init__(
        self,
        vocab_size: int = 12,
        hidden_size: int = 256,
        num_hidden_layers: int = 2,
        intermediate_size: int = 1024,
        max_position_embeddings: int = 1024,
        hyena_order: int = 2,
        filter_order: int = 64,
        filter_emb_dim: int = 5,
        short_filter_order: int = 3,
        num_inner_mlps: int = 2,
        activation_freq: float = 10.0,
        train_freq: bool = True,
        filter_bias: bool = True,
        pad_vocab_size_multiple: int = 8,
        layer_norm_eps: float = 1e-5,
        embedding_dropout: float = 0.1,
        hidden_dropout: float = 0.0,
        filter_dropout: float = 0.0,
        initializer_range: float = 0.02,
        classifier_pooling: str = "mean",
        classifier_dropout: float = 0.0,
        pad_token_id: int = 4,
        mask_token_id: int = 3,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if hyena_order != 2:
            raise NotImplementedError(f"hyena_order {hyena_order}: dna_zoo implements order 2 (every HyenaDNA model)")
        if filter_emb_dim < 3 or filter_emb_dim % 2 == 0:
            raise ValueError(f"filter_emb_dim must be odd and >= 3 (time plus sin/cos bands), got {filter_emb_dim}")
        if classifier_pooling not in ("mean", "max"):
            raise ValueError(f"classifier_pooling must be 'mean' or 'max', got {classifier_pooling!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.hyena_order = hyena_order
        self.filter_order = filter_order
        self.filter_emb_dim = filter_emb_dim
        self.short_filter_order = short_filter_order
        self.num_inner_mlps = num_inner_mlps
        self.activation_freq = activation_freq
        self.train_freq = train_freq
        self.filter_bias = filter_bias
        self.pad_vocab_size_multiple = pad_vocab_size_multiple
        self.layer_norm_eps = layer_norm_eps
        self.embedding_dropout = embedding_dropout
        self.hidden_dropout = hidden_dropout
        self.filter_dropout = filter_dropout
        self.initializer_range = initializer_range
        self.classifier_pooling = classifier_pooling
        self.classifier_dropout = classifier_dropout
        self.mask_token_id = mask_token_id
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    @property
    def padded_vocab_size(self) -> int:
        """Rows of the embedding (and LM head): vocab_size rounded up to pad_vocab_size_multiple."""
        multiple = self.pad_vocab_size_multiple
        return -(-self.vocab_size // multiple) * multiple

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens (the implicit filter's length)."""
        return self.max_position_embeddings


__all__ = ["HyenaDNAConfig", "PRESETS", "config_from_original"]
