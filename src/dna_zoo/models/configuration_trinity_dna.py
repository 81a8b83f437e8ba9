"""Configuration of TrinityDNA (arXiv 2507.19229): groove fusion, sliding multi-window attention, gated reverse
complement. No code or weights of TrinityDNA are public: every field the paper does not fix is a documented
choice of dna_zoo (see model_cards/trinity_dna.md).

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .pretrained import DNAConfig

# Single-nucleotide vocabulary of TrinityDNATokenizer: specials, then the bases.
VOCABULARY = ["[PAD]", "[UNK]", "[MASK]", "[CLS]", "[SEP]", "A", "C", "G", "T", "N"]
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def complement_ids(vocabulary: list[str]) -> list[int]:
    """Id of each token's complement (A<->T, C<->G; N and specials map to themselves)."""
    index = {token: i for i, token in enumerate(vocabulary)}
    return [index[COMPLEMENT.get(token, token)] for token in vocabulary]


def _preset(hidden: int, layers: int, heads: int, intermediate: int) -> dict:
    # The paper's example windows (128 / 512 / 2048 / 8192 tokens), spread evenly over the heads.
    windows = [128, 512, 2048, 8192]
    return dict(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        head_windows=[windows[h * len(windows) // heads] for h in range(heads)],
    )


PRESETS = {
    # Sizes from the paper's scaling range (6M to 1B parameters); widths and depths are dna_zoo's choices.
    "trinity-dna-6m": _preset(256, 6, 8, 688),
    "trinity-dna-100m": _preset(768, 12, 12, 2048),
    "trinity-dna-1b": _preset(2048, 18, 16, 5632),
    "tiny": dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        head_windows=[4, 8, 8, 32],
        max_position_embeddings=256,
    ),
}


class TrinityDNAConfig(DNAConfig):
    r"""TrinityDNA: single-nucleotide masked LM.

    Args:
        head_windows: attention window width of each head, in tokens (a head of width w attends to w // 2 tokens
            on each side). Default: the paper's example widths 128 / 512 / 2048 / 8192 over the heads.
        groove_fusion: add sum_k GELU(Conv1d_k(embeddings)) to the embeddings (paper: kernels 3, 5, 7).
        groove_kernel_sizes: odd kernel sizes; convolutions mix all channels, "same" zero padding (our choice).
        reverse_complement: "gated" (paper's GRC: out = f(S) + gate(W_G Flip(f(RC(S))))) or "none" (one strand).
        rc_gate: "identity" (default; with W_G = I the output is exactly reverse-complement symmetric) or "sigmoid".
        complement_map: id of each token's complement (default: the TrinityDNATokenizer vocabulary).
        max_position_embeddings: training context in tokens (paper: 8 kb); rotary positions allow longer inputs.
        classifier_dropout: dropout before the classification heads.
    """

    presets = PRESETS
    model_type = "trinity_dna"

    def __init__(
        self,
        vocab_size: int = len(VOCABULARY),
        hidden_size: int = 256,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 8,
        intermediate_size: int = 688,
        head_windows: list[int] | None = None,
        groove_fusion: bool = True,
        groove_kernel_sizes: tuple[int, ...] = (3, 5, 7),
        reverse_complement: str = "gated",
        rc_gate: str = "identity",
        complement_map: list[int] | None = None,
        rope_theta: float = 10000.0,
        max_position_embeddings: int = 8192,
        rms_norm_eps: float = 1e-6,
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        classifier_dropout: float = 0.0,
        initializer_range: float = 0.02,
        pad_token_id: int = 0,
        mask_token_id: int = 2,
        tie_word_embeddings: bool = False,
        **kwargs,
    ):
        head_windows = list(head_windows or _preset(hidden_size, 1, num_attention_heads, 1)["head_windows"])
        if len(head_windows) != num_attention_heads:
            raise ValueError(f"head_windows needs one width per head ({num_attention_heads}), got {head_windows}")
        if any(k % 2 == 0 for k in groove_kernel_sizes):
            raise ValueError(f"groove_kernel_sizes must be odd (length-preserving), got {groove_kernel_sizes}")
        if reverse_complement not in ("gated", "none"):
            raise ValueError(f"reverse_complement must be 'gated' or 'none', got {reverse_complement!r}")
        if rc_gate not in ("identity", "sigmoid"):
            raise ValueError(f"rc_gate must be 'identity' or 'sigmoid', got {rc_gate!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.head_windows = head_windows
        self.groove_fusion = groove_fusion
        self.groove_kernel_sizes = list(groove_kernel_sizes)
        self.reverse_complement = reverse_complement
        self.rc_gate = rc_gate
        self.complement_map = list(complement_map or complement_ids(VOCABULARY))
        self.rope_theta = rope_theta
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        self.attention_dropout = attention_dropout
        self.attention_bias = False
        self.hidden_dropout = hidden_dropout
        self.classifier_dropout = classifier_dropout
        self.initializer_range = initializer_range
        self.mask_token_id = mask_token_id
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    @property
    def max_tokens(self) -> int:
        return self.max_position_embeddings


__all__ = ["TrinityDNAConfig", "PRESETS", "VOCABULARY", "complement_ids"]
