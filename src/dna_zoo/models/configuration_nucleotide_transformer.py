"""Configuration of the Nucleotide Transformer family (InstaDeep), v1 and v2, with the published presets.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .pretrained import DNAConfig

# Hidden size, layers, heads, FFN width of the published checkpoints (FACTS.md, section 1).
_V1 = dict(
    vocab_size=4105,
    max_position_embeddings=1002,
    position_embedding_type="absolute",
    mlp_type="gelu",
    mlp_bias=True,
    token_dropout=True,
)
_V2 = dict(
    vocab_size=4107,
    max_position_embeddings=2050,
    position_embedding_type="rotary",
    mlp_type="swiglu",
    mlp_bias=False,
    token_dropout=False,
)


def _preset(base: dict, hidden: int, layers: int, heads: int, intermediate: int) -> dict:
    return dict(
        base, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=intermediate
    )


PRESETS = {
    "InstaDeepAI/nucleotide-transformer-500m-human-ref": _preset(_V1, 1280, 24, 20, 5120),
    "InstaDeepAI/nucleotide-transformer-500m-1000g": _preset(_V1, 1280, 24, 20, 5120),
    "InstaDeepAI/nucleotide-transformer-2.5b-1000g": _preset(_V1, 2560, 32, 20, 10240),
    "InstaDeepAI/nucleotide-transformer-2.5b-multi-species": _preset(_V1, 2560, 32, 20, 10240),
    "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species": _preset(_V2, 512, 12, 16, 2048),
    "InstaDeepAI/nucleotide-transformer-v2-100m-multi-species": _preset(_V2, 512, 22, 16, 2048),
    "InstaDeepAI/nucleotide-transformer-v2-250m-multi-species": _preset(_V2, 768, 24, 16, 3072),
    "InstaDeepAI/nucleotide-transformer-v2-500m-multi-species": _preset(_V2, 1024, 29, 16, 4096),
    # The 6-mer demo model bundled until 2026-12 (its card's recipes table): NT-v2 layout, 1.6M parameters, input
    # embedding tied to the LM head. The bundled demo is now ntv3_dna's "demo".
    "demo-6mer": _preset(dict(_V2, max_position_embeddings=1002, tie_word_embeddings=True), 128, 4, 4, 512),
    "tiny": _preset(dict(_V2, max_position_embeddings=130), 32, 2, 4, 64),
    "tiny-v1": _preset(dict(_V1, max_position_embeddings=130), 32, 2, 4, 64),
}


UNVERIFIED_PRESETS = {"InstaDeepAI/nucleotide-transformer-v2-250m-multi-species": "layers and heads"}


def config_from_original(raw: dict) -> dict | None:
    """Translate a published config.json to NucleotideTransformerConfig fields; None if it is not one.

    v1 checkpoints say `model_type: "esm"` (transformers' own ESM: GELU MLP with biases). v2 checkpoints are written
    by InstaDeep's remote `esm_config.EsmConfig` (SwiGLU MLP, `add_bias_fnn: false`): the Hub files have no
    model_type and an `auto_map` into that code, and a re-save through it adds `model_type: "esm"`. A v2 config is
    told apart by InstaDeep's own field `add_bias_fnn` (or that auto_map), never by model_type.
    """
    model_type = raw.get("model_type")
    is_v2 = "add_bias_fnn" in raw or (model_type is None and "esm" in str(raw.get("auto_map", "")).lower())
    if model_type not in ("esm", None) or (model_type is None and not is_v2):
        return None
    is_v1 = not is_v2
    if raw.get("emb_layer_norm_before"):
        raise ValueError("ESM checkpoints with a LayerNorm before the encoder are not Nucleotide Transformers")
    fields = dict(
        vocab_size=raw["vocab_size"],
        hidden_size=raw["hidden_size"],
        num_hidden_layers=raw["num_hidden_layers"],
        num_attention_heads=raw["num_attention_heads"],
        intermediate_size=raw["intermediate_size"],
        max_position_embeddings=raw["max_position_embeddings"],
        position_embedding_type=raw.get("position_embedding_type", "absolute"),
        token_dropout=raw.get("token_dropout", False),
        layer_norm_eps=raw.get("layer_norm_eps", 1e-12),
        attention_dropout=raw.get("attention_probs_dropout_prob", 0.0),
        hidden_dropout=raw.get("hidden_dropout_prob", 0.0),
        pad_token_id=raw.get("pad_token_id", 1),
        mask_token_id=raw.get("mask_token_id", 2),
        tie_word_embeddings=raw.get("tie_word_embeddings", False),
        mlp_type="gelu" if is_v1 else "swiglu",
        mlp_bias=True if is_v1 else raw.get("add_bias_fnn", False),
    )
    for key in ("architectures", "num_labels", "id2label", "label2id", "problem_type"):
        if key in raw:
            fields[key] = raw[key]
    return fields


class NucleotideTransformerConfig(DNAConfig):
    r"""Nucleotide Transformer, v1 and v2 (ESM layout, pre-LayerNorm encoder, masked LM).

    Args:
        vocab_size: 4105 for the v1 6-mer vocabulary, 4107 for v2.
        hidden_size: width of the hidden states.
        num_hidden_layers: transformer blocks.
        num_attention_heads: attention heads per block.
        intermediate_size: width of the feed-forward block (I).
        mlp_type: "gelu" (v1: Linear(H, I) -> exact GELU -> Linear(I, H)) or "swiglu" (v2: Linear(H, 2I) whose first
            half gates the second).
        mlp_bias: biases in the feed-forward block (v1 True, v2 False).
        hidden_act: activation of the "gelu" MLP; the LM head always uses exact GELU.
        attention_bias: biases on q/k/v/o projections (True in every published checkpoint).
        position_embedding_type: "absolute" (v1, ESM positions cumsum(token != pad) + pad) or "rotary" (v2).
        max_position_embeddings: rows of the learned position table (v1: 1002, i.e. 1000 tokens); for rotary
            models the context length plus 2, as in the published configs.
        rope_theta: rotary base (10000).
        token_dropout: ESM mask-dropout: `<mask>` embeddings zeroed, all scaled by 0.88 / (1 - observed mask ratio).
        layer_norm_eps: 1e-12 in every published checkpoint.
        classifier_pooling: "mean" (over non-padding tokens, `<cls>` included, as in the NT paper), "cls" or "max".
    """

    presets = PRESETS
    unverified_presets = UNVERIFIED_PRESETS
    config_from_original = staticmethod(config_from_original)
    model_type = "nucleotide_transformer"

    def __init__(
        self,
        vocab_size: int = 4107,
        hidden_size: int = 512,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 16,
        intermediate_size: int = 2048,
        mlp_type: str = "swiglu",
        mlp_bias: bool = False,
        hidden_act: str = "gelu",
        attention_bias: bool = True,
        position_embedding_type: str = "rotary",
        max_position_embeddings: int = 2050,
        rope_theta: float = 10000.0,
        token_dropout: bool = False,
        layer_norm_eps: float = 1e-12,
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        initializer_range: float = 0.02,
        classifier_pooling: str = "mean",
        classifier_dropout: float = 0.0,
        pad_token_id: int = 1,
        mask_token_id: int = 2,
        cls_token_id: int = 3,
        tie_word_embeddings: bool = False,
        **kwargs,
    ):
        if mlp_type not in ("gelu", "swiglu"):
            raise ValueError(f"mlp_type must be 'gelu' or 'swiglu', got {mlp_type!r}")
        if position_embedding_type not in ("absolute", "rotary"):
            raise ValueError(f"position_embedding_type must be 'absolute' or 'rotary', got {position_embedding_type!r}")
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"
            )
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.mlp_type = mlp_type
        self.mlp_bias = mlp_bias
        self.hidden_act = hidden_act
        self.attention_bias = attention_bias
        self.position_embedding_type = position_embedding_type
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        self.token_dropout = token_dropout
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.hidden_dropout = hidden_dropout
        self.initializer_range = initializer_range
        self.classifier_pooling = classifier_pooling
        self.classifier_dropout = classifier_dropout
        self.mask_token_id = mask_token_id
        self.cls_token_id = cls_token_id
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens, `<cls>` included (1000 for v1, 2048 for v2)."""
        return self.max_position_embeddings - 2


__all__ = ["NucleotideTransformerConfig", "PRESETS", "config_from_original"]
