"""Configuration of Nucleotide Transformer v3 (InstaDeep, 2025): a U-Net over single bases (a convolution tower
that halves the length `num_downsamples` times, a Transformer at the coarsest resolution, a transposed-convolution
tower back to base resolution with skip connections), with the published presets.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .pretrained import DNAConfig

UPSAMPLE_TYPES = ("conv_transpose", "repeat+conv")


def _preset(stem: int, hidden: int, intermediate: int, layers: int, heads: int, downsamples: int, context: int):
    return dict(
        stem_hidden_size=stem,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_downsamples=downsamples,
        max_position_embeddings=context,
    )


MEGABASE = 2**20
# The published pre-trained checkpoints (InstaDeepAI/NTv3_*): downsamples and context from the authors' model table,
# widths and depths chosen to give the parameter counts in the names.
PRESETS = {
    "InstaDeepAI/NTv3_8M_pre": _preset(64, 256, 1024, 6, 8, 7, MEGABASE),
    "InstaDeepAI/NTv3_8M_pre_8kb": _preset(64, 256, 1024, 6, 8, 7, 8192),
    "InstaDeepAI/NTv3_100M_pre": _preset(256, 768, 2048, 12, 16, 7, MEGABASE),
    "InstaDeepAI/NTv3_100M_pre_8kb": _preset(256, 768, 2048, 12, 16, 7, 8192),
    "InstaDeepAI/NTv3_650M_pre": _preset(512, 1536, 4096, 20, 24, 7, MEGABASE),
    "InstaDeepAI/NTv3_650M_pre_8kb": _preset(512, 1536, 4096, 20, 24, 7, 8192),
    "InstaDeepAI/NTv3_5downsample_pre": _preset(512, 1536, 4096, 18, 24, 5, MEGABASE),
    "InstaDeepAI/NTv3_5downsample_pre_8kb": _preset(512, 1536, 4096, 18, 24, 5, 8192),
    # The bundled demo model (dna_zoo/demo, model_cards/demo.md): 1.29M parameters, 4 transformer layers at a quarter
    # of the base resolution.
    "demo": _preset(64, 128, 512, 4, 4, 2, 1024),
    "tiny": dict(_preset(16, 32, 64, 2, 2, 2, 1024), token_embedding_size=8),
}
UNVERIFIED_PRESETS = {
    name: "downsamples and context from the authors' model table; widths, depths and heads guessed from the "
    "parameter counts in the names (the Hub configs were not read: load the checkpoint to get its own)"
    for name in PRESETS
    if name not in ("demo", "tiny")
}

# Published config.json field(s) -> NTv3Config field, as the authors' JAX loader reads the HF configs
# (nucleotide_transformer_v3.pretrained.parse_hf_config_to_ntv3_config): the first name present wins.
ORIGINAL_FIELDS = {
    ("alphabet_size", "vocab_size"): "vocab_size",
    ("pad_token_id",): "pad_token_id",
    ("mask_token_id",): "mask_token_id",
    ("num_downsamples",): "num_downsamples",
    ("attention_heads", "num_attention_heads"): "num_attention_heads",
    ("key_size",): "head_dim",
    ("token_embed_dim",): "token_embedding_size",
    ("conv_init_embed_dim",): "stem_hidden_size",
    ("embed_dim", "hidden_size"): "hidden_size",
    ("ffn_embed_dim", "intermediate_size"): "intermediate_size",
    ("num_layers", "num_hidden_layers"): "num_hidden_layers",
    ("layer_norm_eps",): "layer_norm_eps",
    ("num_hidden_layers_head",): "lm_head_hidden_layers",
    ("use_skip_connection",): "use_skip_connections",
    ("deconv_upsample_type",): "upsample_type",
}
# Fields of the post-trained checkpoints (species conditioning, functional-track and annotation heads), as published.
POST_TRAINED_FIELDS = {
    "conditions_vocab_size": "conditions_vocab_sizes",
    "conditions_names": "conditions_names",
    "bigwigs_per_species": "bigwigs_per_species",
    "bed_elements_names": "bed_elements_names",
    "species_to_token_id": "species_to_token_id",
    "keep_target_center_fraction": "keep_target_center_fraction",
    "num_species_special_tokens": "num_species_special_tokens",
}


def config_from_original(raw: dict) -> dict | None:
    """Translate the authors' config.json, pre- or post-trained (recognised by its U-Net fields `num_downsamples`
    and `conv_init_embed_dim`); None for any other config."""
    if raw.get("model_type") == NTv3Config.model_type or not {"num_downsamples", "conv_init_embed_dim"} <= set(raw):
        return None
    fields = {}
    for names, ours in ORIGINAL_FIELDS.items():
        present = next((name for name in names if raw.get(name) is not None), None)
        if present is not None:
            fields[ours] = raw[present]
    fields.update({ours: raw[theirs] for theirs, ours in POST_TRAINED_FIELDS.items() if raw.get(theirs) is not None})
    for key in ("architectures", "num_labels", "id2label", "label2id", "problem_type", "max_position_embeddings"):
        if key in raw:
            fields[key] = raw[key]
    return fields


class NTv3Config(DNAConfig):
    r"""NTv3: token embeddings (`token_embedding_size`) -> stem convolution (width `stem_hidden_size`, kernel 15) ->
    `num_downsamples` down blocks (LayerNorm, convolution, GELU, a pointwise residual block, average pooling by 2;
    widths linearly from `stem_hidden_size` to `hidden_size`) -> `num_hidden_layers` pre-LN Transformer layers
    (rotary positions, SwiGLU MLP) at 1 / 2^num_downsamples of the input length -> as many up blocks (transposed
    convolution by 2, a pointwise residual block, plus the matching down block's input) -> per-base states of width
    `stem_hidden_size`.

    Args:
        vocab_size: 11 (the authors' tokenizer: 6 special tokens, then A T C G N).
        hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, head_dim: the Transformer (the
            authors' embed_dim, ffn_embed_dim, num_layers, attention_heads, key_size; head_dim None:
            hidden_size / heads).
        token_embedding_size, stem_hidden_size: the token embedding's width and the stem's (per-base output) width.
        num_downsamples: the Transformer runs on inputs 2^num_downsamples times shorter. Inputs of any length are
            accepted: each row is extended with `length_padding_token_id` (N, as the authors advise) to a multiple
            of 2^num_downsamples and the output cut back to the input's length.
        upsample_type: "conv_transpose" (a stride-2 transposed convolution, the published models) or
            "repeat+conv" (each position repeated, then a convolution).
        use_skip_connections: add each down block's input to the matching up block's output (the U-Net skips).
        lm_head_hidden_layers: Linear + GELU layers of the LM head before its output projection.
        max_position_embeddings: the context the checkpoint was trained at (no learned position table: windows
            for long inputs are cut at this length).
        classifier_pooling: "mean" (default) or "max" over non-padding positions for sequence classification.
        conditions_vocab_sizes: post-trained models: the vocabulary of each discrete condition (one, the species /
            assembly). Each condition's embedding (width token_embedding_size) rescales and shifts every LayerNorm
            and gates every residual branch of the towers and MLPs (adaptive norms); None: unconditioned.
        conditions_names: a name per condition (default condition_0, ...): the condition heads' output names.
        bigwigs_per_species: species -> its functional-track (BigWig) names; one track head per species.
        bed_elements_names: the genome-annotation (BED) elements, each predicted as 2 classes per base.
        species_to_token_id: species -> its condition token id; num_species_special_tokens: ids below this are
            special tokens, not species.
        keep_target_center_fraction: the track and annotation heads predict the centre of the input (as trained).
    """

    presets = PRESETS
    unverified_presets = UNVERIFIED_PRESETS
    config_from_original = staticmethod(config_from_original)
    published_layout = "ntv3"
    model_type = "ntv3_dna"

    def __init__(
        self,
        vocab_size: int = 11,
        hidden_size: int = 512,
        intermediate_size: int = 2048,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 16,
        head_dim: int | None = None,
        token_embedding_size: int = 16,
        stem_hidden_size: int = 512,
        num_downsamples: int = 8,
        upsample_type: str = "conv_transpose",
        use_skip_connections: bool = True,
        lm_head_hidden_layers: int = 0,
        layer_norm_eps: float = 1e-5,
        rope_theta: float = 10000.0,
        max_position_embeddings: int = MEGABASE,
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        initializer_range: float = 0.02,
        classifier_pooling: str = "mean",
        pad_token_id: int = 1,
        mask_token_id: int = 2,
        length_padding_token_id: int = 10,
        conditions_vocab_sizes: list[int] | None = None,
        conditions_names: list[str] | None = None,
        bigwigs_per_species: dict[str, list[str]] | None = None,
        bed_elements_names: list[str] | None = None,
        species_to_token_id: dict[str, int] | None = None,
        keep_target_center_fraction: float = 1.0,
        num_species_special_tokens: int = 6,
        **kwargs,
    ):
        if upsample_type not in UPSAMPLE_TYPES:
            raise ValueError(f"upsample_type must be one of {UPSAMPLE_TYPES}, got {upsample_type!r}")
        if classifier_pooling not in ("mean", "max"):
            raise ValueError(f"classifier_pooling must be 'mean' or 'max', got {classifier_pooling!r}")
        if num_downsamples < 1:
            raise ValueError(f"num_downsamples must be at least 1, got {num_downsamples}")
        if head_dim is None and hidden_size % num_attention_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by {num_attention_heads} heads")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.head_dim = head_dim if head_dim is not None else hidden_size // num_attention_heads
        self.token_embedding_size = token_embedding_size
        self.stem_hidden_size = stem_hidden_size
        self.num_downsamples = num_downsamples
        self.upsample_type = upsample_type
        self.use_skip_connections = use_skip_connections
        self.lm_head_hidden_layers = lm_head_hidden_layers
        self.layer_norm_eps = layer_norm_eps
        self.rope_theta = rope_theta
        self.max_position_embeddings = max_position_embeddings
        self.attention_dropout = attention_dropout
        self.hidden_dropout = hidden_dropout
        self.initializer_range = initializer_range
        self.classifier_pooling = classifier_pooling
        self.mask_token_id = mask_token_id
        self.length_padding_token_id = length_padding_token_id
        self.conditions_vocab_sizes = list(conditions_vocab_sizes or [])
        names = conditions_names or [f"condition_{i}" for i in range(len(self.conditions_vocab_sizes))]
        if len(names) != len(self.conditions_vocab_sizes):
            raise ValueError(f"{len(names)} conditions_names for {len(self.conditions_vocab_sizes)} conditions")
        self.conditions_names = list(names)
        self.bigwigs_per_species = dict(bigwigs_per_species or {})
        self.bed_elements_names = list(bed_elements_names or [])
        self.species_to_token_id = dict(species_to_token_id or {})
        missing = sorted(set(self.bigwigs_per_species) - set(self.species_to_token_id))
        if missing:
            raise ValueError(f"bigwigs_per_species names species without a token id: {missing}")
        if not 0.0 < keep_target_center_fraction <= 1.0:
            raise ValueError(f"keep_target_center_fraction must be in (0, 1], got {keep_target_center_fraction}")
        self.keep_target_center_fraction = keep_target_center_fraction
        self.num_species_special_tokens = num_species_special_tokens
        # The Transformer layer is Nucleotide Transformer v2's: biased attention projections, bias-free SwiGLU.
        self.attention_bias = True
        self.mlp_type = "swiglu"
        self.mlp_bias = False
        super().__init__(pad_token_id=pad_token_id, **kwargs)

    @property
    def tower_widths(self) -> list[int]:
        """Widths from the stem to the Transformer, one more than num_downsamples: linearly spaced and truncated,
        as the authors' `np.linspace(conv_init_embed_dim, embed_dim, num_downsamples + 1).astype(int)`."""
        start, stop, steps = self.stem_hidden_size, self.hidden_size, self.num_downsamples
        step = (stop - start) / steps if steps else 0.0
        return [int(i * step + start) for i in range(steps)] + [stop]

    @property
    def track_species(self) -> list[str]:
        """The species with functional-track heads, in the order of their token ids (the heads' order)."""
        return sorted(self.bigwigs_per_species, key=self.species_to_token_id.__getitem__)

    @property
    def length_multiple(self) -> int:
        """The Transformer's position covers this many bases; inputs are extended to a multiple of it."""
        return 2**self.num_downsamples

    @property
    def embedding_size(self) -> int:
        """Width of the per-base output (last_hidden_state): the stem's."""
        return self.stem_hidden_size

    @property
    def max_tokens(self) -> int:
        """Longest window in tokens for chunked inference: the trained context."""
        return self.max_position_embeddings


__all__ = ["NTv3Config", "PRESETS", "config_from_original"]
