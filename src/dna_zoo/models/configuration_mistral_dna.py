"""Configuration of Mistral-DNA (R. Mourad): a Mixtral / Mistral causal decoder for DNA, with presets.

This file travels to the Hub as remote code: it imports only transformers and its siblings.
"""

from .pretrained import DNAConfig


def _preset(hidden: int, intermediate: int, experts: int, top_k: int, **overrides) -> dict:
    published = dict(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        num_local_experts=experts,
        num_experts_per_tok=top_k,
        max_position_embeddings=512,
    )
    return {**published, **overrides}


PRESETS = {
    "RaphaelMourad/Mistral-DNA-v0.1": _preset(256, 256, 64, 1),
    "RaphaelMourad/Mistral-DNA-v1-17M-hg38": _preset(256, 256, 8, 1),
    "RaphaelMourad/Mistral-DNA-v1-138M-hg38": _preset(256, 256, 8, 1),
    "RaphaelMourad/Mistral-DNA-v1-422M-hg38": _preset(768, 2688, 8, 1),
    "RaphaelMourad/Mistral-DNA-v1-1.6B-hg38": _preset(768, 2688, 32, 2),
    "tiny": _preset(32, 48, 4, 2, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4),
    "tiny-dense": _preset(
        32, 64, 0, 0, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, sliding_window=8
    ),
}


# Both listed as H 256, I 256, 8 experts, which cannot give both sizes: the loaded checkpoint's config.json decides.
UNVERIFIED_PRESETS = {
    "RaphaelMourad/Mistral-DNA-v1-17M-hg38": "hidden, intermediate and expert sizes",
    "RaphaelMourad/Mistral-DNA-v1-138M-hg38": "hidden, intermediate and expert sizes",
}


def config_from_original(raw: dict) -> dict | None:
    """Translate a transformers Mixtral (`model_type: mixtral`) or Mistral (`mistral`) config.json; else None."""
    if raw.get("model_type") not in ("mixtral", "mistral"):
        return None
    moe = raw["model_type"] == "mixtral"
    rope_theta = raw.get("rope_theta") or (raw.get("rope_parameters") or {}).get("rope_theta", 1e6)
    fields = {
        key: raw[key]
        for key in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "hidden_act",
            "max_position_embeddings",
            "rms_norm_eps",
            "sliding_window",
            "attention_dropout",
            "tie_word_embeddings",
            "pad_token_id",
            "bos_token_id",
            "eos_token_id",
            "initializer_range",
            "router_aux_loss_coef",
            "router_jitter_noise",
            "architectures",
            "num_labels",
            "id2label",
            "label2id",
            "problem_type",
        )
        if key in raw
    }
    fields["rope_theta"] = rope_theta
    fields["num_local_experts"] = raw.get("num_local_experts", 8) if moe else 0
    fields["num_experts_per_tok"] = raw.get("num_experts_per_tok", 2) if moe else 0
    return fields


class MistralDNAConfig(DNAConfig):
    r"""Mistral-DNA: causal decoder with RMSNorm, rotary positions, grouped-query attention, optional sliding window,
    and a SwiGLU feed-forward that is either dense or a mixture of experts.

    Args:
        num_key_value_heads: key/value heads (grouped-query attention when fewer than `num_attention_heads`).
        sliding_window: attend to at most this many previous tokens (None: full causal attention, as published).
        num_local_experts: experts per layer; 0 gives a dense SwiGLU FFN (a Mistral model).
        num_experts_per_tok: experts each token is routed to (top-k; weights renormalised over the k chosen).
        router_aux_loss_coef: weight of the load-balancing loss added to the loss in training (padding ignored).
        router_z_loss_coef: weight of the router z-loss, mean(logsumexp(router logits)^2) (0: off).
        router_jitter_noise: in training, hidden states entering the router are scaled by U(1 - eps, 1 + eps).
        output_router_logits: return the router logits of every layer (and the aux loss) by default.
    """

    presets = PRESETS
    unverified_presets = UNVERIFIED_PRESETS
    config_from_original = staticmethod(config_from_original)
    model_type = "mistral_dna"
    keys_to_ignore_at_inference = ["cache", "past_key_values"]  # the KV cache's name after / before 5.24

    def __init__(
        self,
        vocab_size: int = 4096,
        hidden_size: int = 768,
        intermediate_size: int = 2688,
        num_hidden_layers: int = 8,
        num_attention_heads: int = 8,
        num_key_value_heads: int | None = None,
        head_dim: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 512,
        rms_norm_eps: float = 1e-5,
        rope_theta: float = 1e6,
        sliding_window: int | None = None,
        attention_dropout: float = 0.0,
        num_local_experts: int = 8,
        num_experts_per_tok: int = 1,
        router_aux_loss_coef: float = 0.02,
        router_z_loss_coef: float = 0.0,
        router_jitter_noise: float = 0.0,
        output_router_logits: bool = False,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        pad_token_id: int = 3,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        tie_word_embeddings: bool = False,
        **kwargs,
    ):
        num_key_value_heads = num_key_value_heads or num_attention_heads
        if num_attention_heads % num_key_value_heads:
            raise ValueError(f"num_attention_heads {num_attention_heads} is not a multiple of {num_key_value_heads}")
        if num_local_experts and not 0 < num_experts_per_tok <= num_local_experts:
            raise ValueError(f"num_experts_per_tok must be in 1..{num_local_experts}, got {num_experts_per_tok}")
        if hidden_act != "silu":
            raise ValueError(f"Mistral-DNA uses SwiGLU (hidden_act 'silu'), got {hidden_act!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta
        self.sliding_window = sliding_window
        self.attention_dropout = attention_dropout
        self.attention_bias = False
        self.num_local_experts = num_local_experts
        self.num_experts_per_tok = num_experts_per_tok
        self.router_aux_loss_coef = router_aux_loss_coef
        self.router_z_loss_coef = router_z_loss_coef
        self.router_jitter_noise = router_jitter_noise
        self.output_router_logits = output_router_logits
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    @property
    def is_moe(self) -> bool:
        return self.num_local_experts > 0

    @property
    def max_tokens(self) -> int:
        """Context length in tokens the model was trained with (rotary positions allow longer inputs)."""
        return self.max_position_embeddings


__all__ = ["MistralDNAConfig", "PRESETS", "config_from_original"]
