"""Configuration of DNABERT-2 (Zhou et al., 2023): a MosaicBERT encoder (post-LayerNorm, ALiBi attention, gated
GELU feed-forward) over a 4096-token DNA BPE, with the published preset.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .pretrained import DNAConfig

# The published checkpoint's config.json (BERT-base shape, ALiBi; vocabulary of FACTS.md section 3's BPE).
PRESETS = {
    "zhihan1996/DNABERT-2-117M": dict(
        vocab_size=4096, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
    ),
    "tiny": dict(vocab_size=4096, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64),
}
UNVERIFIED_PRESETS = {
    "zhihan1996/DNABERT-2-117M": "every field (read from the authors' code and multimolecule's converter, not from "
    "the Hub file); the weights' own config.json is authoritative when loading them"
}


def is_dnabert2_config(raw: dict) -> bool:
    """Whether a config.json is DNABERT-2's published one: `model_type: bert` with an `alibi_starting_size` or the
    authors' `bert_layers` remote code. GENA-LM's BERT configs also say "bert", with neither."""
    alibi = "alibi_starting_size" in raw or "bert_layers" in str(raw.get("auto_map", ""))
    return raw.get("model_type") == "bert" and alibi


def config_from_original(raw: dict) -> dict | None:
    """Translate DNABERT-2's published config.json; None for any other config."""
    if not is_dnabert2_config(raw):
        return None
    fields = {
        key: raw[key]
        for key in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "hidden_act",
            "type_vocab_size",
            "layer_norm_eps",
            "initializer_range",
            "pad_token_id",
            "architectures",
            "num_labels",
            "id2label",
            "label2id",
            "problem_type",
        )
        if key in raw
    }
    fields["max_position_embeddings"] = raw.get("alibi_starting_size", raw.get("max_position_embeddings", 512))
    fields["attention_dropout"] = raw.get("attention_probs_dropout_prob", 0.0)
    fields["hidden_dropout"] = raw.get("hidden_dropout_prob", 0.1)
    if raw.get("classifier_dropout") is not None:
        fields["classifier_dropout"] = raw["classifier_dropout"]
    return fields


class DNABERT2Config(DNAConfig):
    r"""DNABERT-2: post-LayerNorm BERT encoder with ALiBi attention biases and a gated feed-forward block.

    Args:
        vocab_size: 4096 (the BPE: `[UNK] [CLS] [SEP] [PAD] [MASK]`, then bases and merges).
        hidden_size, num_hidden_layers, num_attention_heads: the encoder's shape.
        intermediate_size: width I of the gated feed-forward block: Linear(H, 2I, no bias), GELU(first half) x second
            half, Linear(I, H).
        hidden_act: activation of the gate (exact GELU in the published model).
        max_position_embeddings: the ALiBi table built at start (the published `alibi_starting_size`, 512); ALiBi
            has no learned positions, so longer inputs run (the bias is extended), as in the authors' code.
        type_vocab_size: token type embeddings (2, all zero in practice).
        attention_dropout, hidden_dropout: dropout of attention weights and of each sublayer's output.
        attention_bias: biases on the fused q/k/v and the output projections (True, as BERT).
        classifier_pooling: "cls" (the BERT pooler, Linear + tanh on `[CLS]`, as DNABERT-2's classifier), "mean" or
            "max" over non-padding tokens (no pooler).
    """

    presets = PRESETS
    unverified_presets = UNVERIFIED_PRESETS
    config_from_original = staticmethod(config_from_original)
    published_layout = "bert-alibi"  # a "bert" config, told apart from GENA-LM's by its ALiBi
    model_type = "dnabert_2"  # multimolecule registers "dnabert2" with the Auto classes

    def __init__(
        self,
        vocab_size: int = 4096,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.1,
        attention_bias: bool = True,
        initializer_range: float = 0.02,
        classifier_pooling: str = "cls",
        classifier_dropout: float = 0.1,
        pad_token_id: int = 3,
        mask_token_id: int = 4,
        cls_token_id: int = 1,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"
            )
        if classifier_pooling not in ("cls", "mean", "max"):
            raise ValueError(f"classifier_pooling must be 'cls', 'mean' or 'max', got {classifier_pooling!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.hidden_dropout = hidden_dropout
        self.attention_bias = attention_bias
        self.initializer_range = initializer_range
        self.classifier_pooling = classifier_pooling
        self.classifier_dropout = classifier_dropout
        self.mask_token_id = mask_token_id
        self.cls_token_id = cls_token_id
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    @property
    def max_tokens(self) -> int:
        """Longest input dna_zoo cuts windows to, in tokens, `[CLS]` and `[SEP]` included (ALiBi itself runs on
        longer inputs, beyond what the model was trained on)."""
        return self.max_position_embeddings


__all__ = ["DNABERT2Config", "PRESETS", "config_from_original", "is_dnabert2_config"]
