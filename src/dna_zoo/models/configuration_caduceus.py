"""Configuration of Caduceus (Schiff et al., 2024): a bidirectional Mamba encoder over single bases, in two
variants: "ph" (a plain bidirectional Mamba, trained with reverse-complement augmentation) and "ps" (parameter
sharing: exactly reverse-complement equivariant, RCPS), with the published presets.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

import math

from .pretrained import DNAConfig

# The authors' character tokenizer (as HyenaDNA's): 7 special tokens, then A C G T N.
VOCABULARY = ("[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N")
BASE_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def default_complement_map(rows: int) -> list[int]:
    """Token id -> id of its complement for the authors' vocabulary (A<->T, C<->G; every other id, N and the
    embedding's padding rows included, maps to itself)."""
    ids = {token: i for i, token in enumerate(VOCABULARY)}
    complement = [ids[BASE_COMPLEMENT[token]] if token in BASE_COMPLEMENT else i for i, token in enumerate(VOCABULARY)]
    return complement + list(range(len(VOCABULARY), rows))


def _preset(hidden: int, layers: int, context: int, rcps: bool) -> dict:
    return dict(hidden_size=hidden, num_hidden_layers=layers, max_position_embeddings=context, rcps=rcps)


# The published checkpoints (kuleshov-group/*): width, depth, context and variant from their names.
PRESETS = {
    "kuleshov-group/caduceus-ps_seqlen-131k_d_model-256_n_layer-16": _preset(256, 16, 131072, True),
    "kuleshov-group/caduceus-ph_seqlen-131k_d_model-256_n_layer-16": _preset(256, 16, 131072, False),
    "kuleshov-group/caduceus-ps_seqlen-1k_d_model-118_n_layer-4_lr-8e-3": _preset(118, 4, 1024, True),
    "kuleshov-group/caduceus-ph_seqlen-1k_d_model-118_n_layer-4_lr-8e-3": _preset(118, 4, 1024, False),
    "tiny": dict(_preset(16, 2, 1024, True), state_size=4),
}
UNVERIFIED_PRESETS = {
    name: "width, depth, context and variant from the checkpoint names, the rest from the authors' training config "
    "(configs/model/caduceus.yaml); the Hub configs were not read"
    for name in PRESETS
    if name != "tiny"
}

# Published config.json field -> CaduceusConfig field (the authors' HF remote code, `model_type: caduceus`).
ORIGINAL_FIELDS = {
    "vocab_size": "vocab_size",
    "d_model": "hidden_size",
    "n_layer": "num_hidden_layers",
    "rms_norm": "rms_norm",
    "residual_in_fp32": "residual_in_fp32",
    "fused_add_norm": "rcps_swap_halves",
    "pad_vocab_size_multiple": "pad_vocab_size_multiple",
    "norm_epsilon": "norm_eps",
    "bidirectional": "bidirectional",
    "bidirectional_strategy": "bidirectional_strategy",
    "bidirectional_weight_tie": "bidirectional_weight_tie",
    "rcps": "rcps",
}
# The authors' `ssm_cfg` (mamba_ssm's Mamba arguments) -> CaduceusConfig field.
ORIGINAL_SSM_FIELDS = {
    "d_state": "state_size",
    "d_conv": "conv_kernel",
    "expand": "expand",
    "dt_rank": "time_step_rank",
    "dt_min": "time_step_min",
    "dt_max": "time_step_max",
    "dt_init": "time_step_init_scheme",
    "dt_scale": "time_step_scale",
    "dt_init_floor": "time_step_floor",
    "conv_bias": "use_conv_bias",
    "bias": "use_bias",
}


def config_from_original(raw: dict) -> dict | None:
    """Translate the authors' config.json (`model_type: caduceus`); None for any other config."""
    if raw.get("model_type") != "caduceus":
        return None
    fields = {ours: raw[theirs] for theirs, ours in ORIGINAL_FIELDS.items() if theirs in raw}
    ssm = raw.get("ssm_cfg") or {}
    fields.update({ours: ssm[theirs] for theirs, ours in ORIGINAL_SSM_FIELDS.items() if theirs in ssm})
    if raw.get("complement_map") is not None:  # {"0": 0, ..., "7": 10, ...}: a list in id order
        complement = {int(token): int(other) for token, other in raw["complement_map"].items()}
        fields["complement_map"] = [complement.get(i, i) for i in range(max(complement) + 1)]
    initializer = raw.get("initializer_cfg") or {}
    if "initializer_range" in initializer:
        fields["initializer_range"] = initializer["initializer_range"]
    for key in ("architectures", "num_labels", "id2label", "label2id", "problem_type", "pad_token_id"):
        if key in raw:
            fields[key] = raw[key]
    return fields


class CaduceusConfig(DNAConfig):
    r"""Caduceus: pre-norm blocks of a bidirectional Mamba mixer (no MLP), over single bases.

    Args:
        vocab_size: 12 (the authors' character tokenizer); the embedding has `pad_vocab_size_multiple` rows more or
            less, rounded up.
        hidden_size, num_hidden_layers: width (d_model) and depth. With `rcps` the hidden states have 2 x
            hidden_size channels: the forward strand's, then the reverse complement's (flipped over length and
            channels), and the parameter count is the same as without.
        max_position_embeddings: the context the checkpoint was trained at (Mamba has no position limit; windows
            for long inputs are cut at this length).
        state_size, conv_kernel, expand: the SSM state per channel (d_state), the short causal convolution (d_conv)
            and the inner width factor (expand).
        time_step_rank: rank of the time step projection ("auto": ceil(hidden_size / 16)); time_step_min / max /
            floor / scale / init_scheme: its initialisation (mamba_ssm's dt_*).
        use_bias, use_conv_bias: biases of the input / output projections and of the convolution.
        rms_norm: RMSNorm (else LayerNorm) before each mixer and at the end; norm_eps its epsilon.
        residual_in_fp32: keep the residual stream in float32.
        bidirectional: a second Mamba reads the sequence backwards; bidirectional_strategy: "add" or "ew_multiply"
            its output with the forward one; bidirectional_weight_tie: both share the input and output
            projections.
        rcps: reverse-complement parameter sharing ("ps"): equivariant embeddings, blocks and LM head.
        complement_map: token id -> its complement's id (default: the authors' vocabulary, A<->T, C<->G).
        rcps_swap_halves: reproduce the authors' fused add + norm path (`fused_add_norm: true`, how every published
            model was trained and runs): each RCPS block hands the reverse-complement half to the forward slot
            and the forward half to the reverse-complement slot. Still exactly equivariant; the published
            weights need it. False is their unfused path.
        scan_chunk_size, scan_block_size: the selective scan runs over blocks of `scan_block_size` positions
            (memory stays bounded at any length), each split into chunks of `scan_chunk_size` scanned in parallel.
        classifier_pooling: "mean" (default) or "max" over non-padding positions.
    """

    presets = PRESETS
    unverified_presets = UNVERIFIED_PRESETS
    config_from_original = staticmethod(config_from_original)
    model_type = "caduceus_dna"

    def __init__(
        self,
        vocab_size: int = 12,
        hidden_size: int = 256,
        num_hidden_layers: int = 4,
        max_position_embeddings: int = 131072,
        state_size: int = 16,
        conv_kernel: int = 4,
        expand: int = 2,
        time_step_rank: int | str = "auto",
        time_step_min: float = 0.001,
        time_step_max: float = 0.1,
        time_step_floor: float = 1e-4,
        time_step_scale: float = 1.0,
        time_step_init_scheme: str = "random",
        use_bias: bool = False,
        use_conv_bias: bool = True,
        rms_norm: bool = True,
        norm_eps: float = 1e-5,
        residual_in_fp32: bool = False,
        pad_vocab_size_multiple: int = 8,
        bidirectional: bool = True,
        bidirectional_strategy: str = "add",
        bidirectional_weight_tie: bool = True,
        rcps: bool = True,
        complement_map: list[int] | None = None,
        rcps_swap_halves: bool = True,
        scan_chunk_size: int = 32,
        scan_block_size: int = 1024,
        initializer_range: float = 0.02,
        classifier_pooling: str = "mean",
        pad_token_id: int = 4,
        mask_token_id: int = 3,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if bidirectional_strategy not in ("add", "ew_multiply"):
            raise ValueError(f"bidirectional_strategy must be 'add' or 'ew_multiply', got {bidirectional_strategy!r}")
        if time_step_init_scheme not in ("random", "constant"):
            raise ValueError(f"time_step_init_scheme must be 'random' or 'constant', got {time_step_init_scheme!r}")
        if classifier_pooling not in ("mean", "max"):
            raise ValueError(f"classifier_pooling must be 'mean' or 'max', got {classifier_pooling!r}")
        if scan_block_size % scan_chunk_size:
            raise ValueError(f"scan_block_size ({scan_block_size}) must be a multiple of scan_chunk_size")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.max_position_embeddings = max_position_embeddings
        self.state_size = state_size
        self.conv_kernel = conv_kernel
        self.expand = expand
        self.time_step_rank = math.ceil(hidden_size / 16) if time_step_rank == "auto" else int(time_step_rank)
        self.time_step_min = time_step_min
        self.time_step_max = time_step_max
        self.time_step_floor = time_step_floor
        self.time_step_scale = time_step_scale
        self.time_step_init_scheme = time_step_init_scheme
        self.use_bias = use_bias
        self.use_conv_bias = use_conv_bias
        self.rms_norm = rms_norm
        self.norm_eps = norm_eps
        self.residual_in_fp32 = residual_in_fp32
        self.pad_vocab_size_multiple = pad_vocab_size_multiple
        self.bidirectional = bidirectional
        self.bidirectional_strategy = bidirectional_strategy
        self.bidirectional_weight_tie = bidirectional_weight_tie
        self.rcps = rcps
        rows = -(-vocab_size // pad_vocab_size_multiple) * pad_vocab_size_multiple
        complement_map = list(complement_map) if complement_map is not None else default_complement_map(rows)
        self.complement_map = complement_map + list(range(len(complement_map), rows))
        if sorted(self.complement_map) != list(range(rows)):
            raise ValueError(f"complement_map must be a permutation of the {rows} token ids, got {self.complement_map}")
        self.rcps_swap_halves = rcps_swap_halves
        self.scan_chunk_size = scan_chunk_size
        self.scan_block_size = scan_block_size
        self.initializer_range = initializer_range
        self.classifier_pooling = classifier_pooling
        self.mask_token_id = mask_token_id
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    @property
    def intermediate_size(self) -> int:
        """Inner width of each Mamba mixer (d_inner)."""
        return self.expand * self.hidden_size

    @property
    def padded_vocab_size(self) -> int:
        """Rows of the embedding (and LM head): vocab_size rounded up to pad_vocab_size_multiple."""
        return len(self.complement_map)

    @property
    def max_tokens(self) -> int:
        """Longest window in tokens for chunked inference: the trained context."""
        return self.max_position_embeddings


__all__ = ["CaduceusConfig", "PRESETS", "config_from_original", "default_complement_map"]
