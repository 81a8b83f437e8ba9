"""Configuration of GENA-LM (AIRI): BERT encoders, pre-LN (the GENA fork) or post-LN (BigBird), full or
BigBird block-sparse attention, with the published presets.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .attention import BlockSparseLayout
from .configuration_dnabert2 import is_dnabert2_config
from .pretrained import DNAConfig


def _bert(layers: int, hidden: int, heads: int, intermediate: int, eps: float, last_ln: bool) -> dict:
    return dict(
        num_hidden_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        layer_norm_eps=eps,
        pre_layer_norm=True,
        last_layer_norm=last_ln,
        max_position_embeddings=512,
    )


PRESETS = {
    "AIRI-Institute/gena-lm-bert-base-t2t": _bert(12, 768, 12, 3072, 1e-12, False),
    "AIRI-Institute/gena-lm-bert-large-t2t": _bert(24, 1024, 16, 4096, 1e-5, True),
    "AIRI-Institute/gena-lm-bert-base-lastln-t2t": _bert(12, 768, 12, 3072, 1e-12, True),
    "AIRI-Institute/gena-lm-bigbird-base-t2t": dict(
        num_hidden_layers=12,
        hidden_size=768,
        num_attention_heads=12,
        intermediate_size=3072,
        layer_norm_eps=1e-12,
        pre_layer_norm=False,
        last_layer_norm=False,
        hidden_act="gelu_new",
        attention_type="block_sparse",
        block_size=64,
        num_random_blocks=3,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    ),
    "tiny": dict(
        vocab_size=4096,
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        pre_layer_norm=True,
        max_position_embeddings=512,
    ),
    "tiny-bigbird": dict(
        vocab_size=4096,
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        pre_layer_norm=False,
        hidden_act="gelu_new",
        attention_type="block_sparse",
        block_size=16,
        num_random_blocks=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    ),
}

_COMMON_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "max_position_embeddings",
    "type_vocab_size",
    "layer_norm_eps",
    "pad_token_id",
    "architectures",
    "num_labels",
    "id2label",
    "label2id",
    "problem_type",
)


# Keys by which the GENA fork's configs ask for DeepSpeed sparse attention (sparse_config_cls + sparse_attention in the
# published configs; sparse_config_file in some training scripts).
SPARSE_KEYS = ("sparse_config_cls", "sparse_attention", "sparse_config_file")


def config_from_original(raw: dict) -> dict | None:
    """Translate a GENA BERT-fork config (`model_type: bert`) or a transformers BigBird one (`big_bird`)."""
    model_type = raw.get("model_type")
    if model_type not in ("bert", "big_bird") or is_dnabert2_config(raw):
        return None
    fields = {key: raw[key] for key in _COMMON_FIELDS if key in raw}
    fields["attention_dropout"] = raw.get("attention_probs_dropout_prob", 0.1)
    fields["hidden_dropout"] = raw.get("hidden_dropout_prob", 0.1)
    if model_type == "big_bird":
        if raw.get("rescale_embeddings"):
            raise ValueError("BigBird checkpoints with rescale_embeddings=True are not GENA-LM models")
        fields.update(
            pre_layer_norm=False,
            last_layer_norm=False,
            attention_type=raw.get("attention_type", "block_sparse"),
            block_size=raw.get("block_size", 64),
            num_random_blocks=raw.get("num_random_blocks", 3),
            tie_word_embeddings=raw.get("tie_word_embeddings", True),
        )
        return fields
    sparse = {key: raw[key] for key in SPARSE_KEYS if raw.get(key)}
    if sparse:
        raise NotImplementedError(
            f"GENA 'sparse' checkpoints are not supported: this config asks for DeepSpeed block-sparse attention "
            f"({', '.join(f'{key}={value!r}' for key, value in sparse.items())}), whose per-head random layouts "
            "dna_zoo does not reproduce; the dense GENA BERT checkpoints and the BigBird one are supported"
        )
    position_embedding_type = raw.get("position_embedding_type", "absolute")
    if position_embedding_type not in ("absolute", "rotary"):
        raise NotImplementedError(
            f"GENA BERT checkpoints with position_embedding_type {position_embedding_type!r} are not supported "
            "(only 'absolute' and 'rotary')"
        )
    if position_embedding_type == "rotary":
        fields.update(
            position_embedding_type="rotary",
            rotary_dim=raw.get("rotary_dim"),  # the fork's default: the whole head dimension
            rotary_base=raw.get("rotary_base") or 10000.0,
        )
    pre_layer_norm = raw.get("pre_layer_norm", False)
    fields.update(
        pre_layer_norm=pre_layer_norm,
        last_layer_norm=raw.get("last_layer_norm", pre_layer_norm),  # the fork's default, copied
        attention_type="full",
        tie_word_embeddings=raw.get("tie_word_embeddings", True),
    )
    return fields


class GenaLMConfig(DNAConfig):
    r"""GENA-LM: BERT-style masked LM over BPE-tokenized DNA.

    Args:
        pre_layer_norm: GENA fork blocks `h = x + Attn(LN(x)); out = h + FFN(LN(h))` (True) or post-LN BERT /
            BigBird blocks `h = LN(x + Attn(x)); out = LN(h + FFN(h))` (False).
        last_layer_norm: a LayerNorm after the last layer; defaults to the value of `pre_layer_norm`, as in GENA.
        attention_type: "full" or "block_sparse" (BigBird: `num_global_blocks` global blocks at each end, a window of
            `num_window_blocks` blocks, `num_random_blocks` random blocks; inputs of at most
            (2 g + w + 2 r) * block_size tokens use full attention).
        block_size: tokens per block of the block-sparse layout (64 in gena-lm-bigbird-base-t2t, as in BigBird).
        num_random_blocks: random key blocks per query block (3).
        num_window_blocks: sliding-window blocks, odd (3).
        num_global_blocks: global blocks at each end (1).
        type_vocab_size: token type embeddings (2, for sequence pairs).
        position_embedding_type: "absolute" (learned table, as published) or "rotary" (no position table; queries
            and keys rotated, half-split form, over their first `rotary_dim` dimensions, base `rotary_base`, as in
            the GENA fork).
        rotary_dim: dimensions of each head that rotary positions rotate (None: the whole head).
        classifier_pooling: "pooler" (BERT: dense + tanh on [CLS], as GENA fine-tuning does), "mean" or "cls".
        classifier_pos_weight: per-label positive weights for multi-label BCE (rare labels).
        rmt_memory_tokens: memory tokens m of the recurrent-memory wrappers (GenaLMRMTFor*).
        rmt_segment_size: tokens per segment, `[CLS] [MEM]*m [SEP] tokens [SEP]` (default: max_position_embeddings).
        rmt_bptt_depth: segments that gradients flow back through (-1: all).
    """

    presets = PRESETS
    config_from_original = staticmethod(config_from_original)
    model_type = "gena_lm"

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        pre_layer_norm: bool = True,
        last_layer_norm: bool | None = None,
        attention_type: str = "full",
        block_size: int = 64,
        num_random_blocks: int = 3,
        num_window_blocks: int = 3,
        num_global_blocks: int = 1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        position_embedding_type: str = "absolute",
        rotary_dim: int | None = None,
        rotary_base: float = 10000.0,
        layer_norm_eps: float = 1e-12,
        attention_dropout: float = 0.1,
        hidden_dropout: float = 0.1,
        initializer_range: float = 0.02,
        classifier_pooling: str = "pooler",
        classifier_dropout: float | None = None,
        classifier_pos_weight: list[float] | None = None,
        rmt_memory_tokens: int = 10,
        rmt_segment_size: int | None = None,
        rmt_bptt_depth: int = -1,
        pad_token_id: int = 3,
        cls_token_id: int = 1,
        sep_token_id: int = 2,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if position_embedding_type not in ("absolute", "rotary"):
            raise ValueError(f"position_embedding_type must be 'absolute' or 'rotary', got {position_embedding_type!r}")
        if attention_type not in ("full", "block_sparse"):
            raise ValueError(f"attention_type must be 'full' or 'block_sparse', got {attention_type!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.pre_layer_norm = pre_layer_norm
        self.last_layer_norm = pre_layer_norm if last_layer_norm is None else last_layer_norm
        self.attention_type = attention_type
        self.block_size = block_size
        self.num_random_blocks = num_random_blocks
        self.num_window_blocks = num_window_blocks
        self.num_global_blocks = num_global_blocks
        BlockSparseLayout(block_size, num_global_blocks, num_window_blocks, num_random_blocks)  # validates
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.position_embedding_type = position_embedding_type
        head_dim = hidden_size // num_attention_heads
        if rotary_dim is not None and not (0 < rotary_dim <= head_dim and rotary_dim % 2 == 0):
            raise ValueError(
                f"rotary_dim must be an even number in 2..{head_dim} (the head dimension), got {rotary_dim}"
            )
        self.rotary_dim = rotary_dim
        self.rotary_base = rotary_base
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.attention_bias = True
        self.hidden_dropout = hidden_dropout
        self.initializer_range = initializer_range
        self.classifier_pooling = classifier_pooling
        self.classifier_dropout = hidden_dropout if classifier_dropout is None else classifier_dropout
        self.classifier_pos_weight = classifier_pos_weight
        self.rmt_memory_tokens = rmt_memory_tokens
        self.rmt_segment_size = rmt_segment_size or max_position_embeddings
        self.rmt_bptt_depth = rmt_bptt_depth
        if self.rmt_segment_size - rmt_memory_tokens - 3 < 1:
            raise ValueError(
                f"rmt_segment_size {self.rmt_segment_size} leaves no room beside {rmt_memory_tokens} memory tokens"
            )
        super().__init__(
            pad_token_id=pad_token_id,
            cls_token_id=cls_token_id,
            sep_token_id=sep_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    @property
    def max_tokens(self) -> int:
        return self.max_position_embeddings

    @property
    def block_sparse_layout(self) -> BlockSparseLayout:
        return BlockSparseLayout(
            self.block_size, self.num_global_blocks, self.num_window_blocks, self.num_random_blocks
        )

    @property
    def sparse_threshold(self) -> int:
        """Inputs of at most this many tokens use full attention even in a block-sparse model (as BigBird)."""
        return self.block_sparse_layout.full_attention_threshold


__all__ = ["GenaLMConfig", "PRESETS", "config_from_original"]
