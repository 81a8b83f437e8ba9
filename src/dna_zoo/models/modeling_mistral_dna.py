"""Mistral-DNA (R. Mourad): causal DNA decoder, Mixtral mixture of experts or dense Mistral.

Module names follow the published Mixtral / Mistral layouts (`self_attn`, `input_layernorm`,
`block_sparse_moe.gate`, ...), so checkpoints map one to one; the only conversion is fusing per-expert
weights (`experts.{e}.w1/w3/w2`) and dense `gate_proj`/`up_proj` into the fused tensors used here, registered
with transformers' conversion mapping (and reverted on save, so saved files keep the published layout).

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import inspect

import torch
from torch import nn
from transformers import initialization as init
from transformers.cache_utils import DynamicCache
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import Concatenate, MergeModulelist, WeightConverter
from transformers.generation import GenerationMixin
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import MoeCausalLMOutputWithPast, MoeModelOutputWithPast, SequenceClassifierOutput
from transformers.utils import can_return_tuple

from .attention import DNAAttention, RotaryEmbedding
from .configuration_mistral_dna import MistralDNAConfig
from .layers import (
    RMSNorm,
    SparseMoE,
    SwiGLUExperts,
    SwiGLUMLP,
    TopKRouter,
    load_balancing_loss,
    router_z_loss,
    sequence_classification_loss,
)
from .pretrained import DNAPreTrainedModel

# transformers 5.24 renamed the KV cache from `past_key_values` to `cache`: in `forward` (generate passes it by that
# name), in output classes and in the mask functions. Models here accept both names and call transformers with the
# name of the installed release, so every release of the declared range decodes with its cache.
CACHE_FIELD = "cache" if "cache" in MoeModelOutputWithPast.__dataclass_fields__ else "past_key_values"
MASK_CACHE_ARGUMENT = "cache" if "cache" in inspect.signature(create_causal_mask).parameters else "past_key_values"


def take_cache(cache, kwargs: dict):
    """The KV cache of a forward call, passed as `cache` or (before transformers 5.24) `past_key_values`."""
    legacy = kwargs.pop("past_key_values", None)
    if cache is not None and legacy is not None:
        raise ValueError("pass the KV cache once, as `cache` or as `past_key_values`, not both")
    return legacy if cache is None else cache


register_checkpoint_conversion_mapping(
    MistralDNAConfig.model_type,
    [
        WeightConverter(
            source_patterns=[".experts.*.w1.weight", ".experts.*.w3.weight"],
            target_patterns=".experts.gate_up_proj",
            operations=[MergeModulelist(dim=0), Concatenate(dim=1)],
        ),
        WeightConverter(
            source_patterns=[".experts.*.w2.weight"],
            target_patterns=".experts.down_proj",
            operations=[MergeModulelist(dim=0)],
        ),
        WeightConverter(
            source_patterns=["mlp.gate_proj.weight", "mlp.up_proj.weight"],
            target_patterns="mlp.gate_up_proj.weight",
            operations=[Concatenate(dim=0)],
        ),
    ],
    overwrite=True,
)


class MistralDNADecoderLayer(GradientCheckpointingLayer):
    """Pre-RMSNorm block: x + Attn(norm(x)), then x + FFN(norm(x)); the FFN is a mixture of experts or dense SwiGLU."""

    def __init__(self, config: MistralDNAConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.self_attn = DNAAttention(config, layer_idx, is_causal=True)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        if config.is_moe:
            self.block_sparse_moe = SparseMoE(config)
        else:
            self.mlp = SwiGLUMLP(config.hidden_size, config.intermediate_size, bias=False)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache=None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns hidden states (B, L, H), attention weights (eager only) and router logits (B * L, E) or None."""
        attn_output, attn_weights = self.self_attn(
            self.input_layernorm(hidden_states), attention_mask, position_embeddings, cache, **kwargs
        )
        hidden_states = hidden_states + attn_output
        normed = self.post_attention_layernorm(hidden_states)
        router_logits = None
        if hasattr(self, "block_sparse_moe"):
            ffn_output, router_logits = self.block_sparse_moe(normed)
        else:
            ffn_output = self.mlp(normed)
        return hidden_states + ffn_output, attn_weights, router_logits


class MistralDNAPreTrainedModel(DNAPreTrainedModel):
    config_class = MistralDNAConfig
    config: MistralDNAConfig
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "score.")
    supports_gradient_checkpointing = True
    _no_split_modules = ["MistralDNADecoderLayer"]
    _skip_keys_device_placement = ["cache", "past_key_values"]
    _supports_sdpa = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, SwiGLUExperts):
            init.normal_(module.gate_up_proj, mean=0.0, std=std)
            init.normal_(module.down_proj, mean=0.0, std=std)
        elif isinstance(module, TopKRouter):
            init.normal_(module.weight, mean=0.0, std=std)


class MistralDNAModel(MistralDNAPreTrainedModel):
    """The decoder. Returns hidden states (final RMSNorm applied), the KV cache and, on request, router logits."""

    def __init__(self, config: MistralDNAConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(MistralDNADecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary = RotaryEmbedding(config.head_dim, config.rope_theta)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        output_router_logits: bool | None = None,
        **kwargs,
    ) -> MoeModelOutputWithPast:
        cache = take_cache(cache, kwargs)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        config = self.config
        use_cache = config.use_cache if use_cache is None else use_cache
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        if output_router_logits is None:
            output_router_logits = config.output_router_logits
        if use_cache and cache is None and not (self.gradient_checkpointing and self.training):
            cache = DynamicCache(config=config)

        hidden_states = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (B, L, H)
        if position_ids is None:
            past = cache.get_seq_length() if cache is not None else 0
            position_ids = torch.arange(hidden_states.shape[1], device=hidden_states.device).unsqueeze(0) + past
        make_mask = create_causal_mask if config.sliding_window is None else create_sliding_window_causal_mask
        mask = make_mask(
            config=config,
            inputs_embeds=hidden_states,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **{MASK_CACHE_ARGUMENT: cache},
        )
        position_embeddings = self.rotary(hidden_states, position_ids)  # cos, sin (B, L, D)

        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions, all_router_logits = [], []
        for layer in self.layers:
            hidden_states, attn_weights, router_logits = layer(
                hidden_states, mask, position_embeddings, cache, **kwargs
            )
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            all_attentions.append(attn_weights)
            if router_logits is not None:
                all_router_logits.append(router_logits)
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states[-1] = hidden_states
        return MoeModelOutputWithPast(
            last_hidden_state=hidden_states,
            **{CACHE_FIELD: cache if use_cache else None},
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
            router_logits=tuple(all_router_logits) if output_router_logits and all_router_logits else None,
        )


def router_losses(config: MistralDNAConfig, router_logits, attention_mask, length: int):
    """(load-balancing loss, weighted router losses to add to a task loss); (None, 0) without router logits.

    The weighted sum is router_aux_loss_coef * load balancing + router_z_loss_coef * z-loss, over the last
    `length` positions of the mask (the tokens this forward saw, also when decoding with a cache).
    """
    if not router_logits:
        return None, 0.0
    if attention_mask is not None:
        attention_mask = attention_mask[:, -length:]
    aux_loss = load_balancing_loss(router_logits, config.num_experts_per_tok, attention_mask)
    weighted = config.router_aux_loss_coef * aux_loss
    if config.router_z_loss_coef:
        weighted = weighted + config.router_z_loss_coef * router_z_loss(router_logits, attention_mask)
    return aux_loss, weighted


class MistralDNAForCausalLM(MistralDNAPreTrainedModel, GenerationMixin):
    """Next-token LM. In training (or with `output_router_logits=True`) the MoE load-balancing loss, weighted by
    `router_aux_loss_coef`, is added to the LM loss; padding tokens do not count in it."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: MistralDNAConfig):
        super().__init__(config)
        self.model = MistralDNAModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_router_logits: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> MoeCausalLMOutputWithPast:
        r"""labels: (B, L) token ids, shifted inside, -100 ignored. logits_to_keep: last n positions only (0: all)."""
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        if output_router_logits is None:
            output_router_logits = self.config.output_router_logits
        wants_router_logits = output_router_logits or (self.training and self.config.is_moe)
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            take_cache(cache, kwargs),
            inputs_embeds,
            use_cache,
            output_router_logits=wants_router_logits,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)  # (B, L, V)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        aux_loss, router_loss = router_losses(
            self.config, outputs.router_logits, attention_mask, outputs.last_hidden_state.shape[1]
        )
        if loss is not None:
            loss = loss + router_loss
        return MoeCausalLMOutputWithPast(
            loss=loss,
            aux_loss=aux_loss,
            logits=logits,
            **{CACHE_FIELD: getattr(outputs, CACHE_FIELD)},
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            router_logits=outputs.router_logits if output_router_logits else None,
        )


def last_token_positions(input_ids, attention_mask, pad_token_id) -> torch.Tensor:
    """(B,) index of the last non-padding token of each row, for right or left padding."""
    keep = attention_mask if attention_mask is not None else (input_ids != pad_token_id)
    positions = torch.arange(keep.shape[1], device=keep.device)
    return (positions * keep.to(positions.dtype)).argmax(-1)


class MistralDNAForSequenceClassification(MistralDNAPreTrainedModel):
    """Classifies from the hidden state of the last non-padding token (left or right padding).

    Single-label, multi-label (float labels of shape (B, num_labels)) and regression (`num_labels=1`). For MoE
    models the load-balancing loss is added in training, as for the LM.
    """

    def __init__(self, config: MistralDNAConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = MistralDNAModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        kwargs.pop("num_items_in_batch", None)
        with_router = self.training and self.config.is_moe
        outputs = self.model(
            input_ids,
            attention_mask,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_router_logits=with_router,
            **kwargs,
        )
        hidden = outputs.last_hidden_state
        if input_ids is None and attention_mask is None:
            last = torch.full((hidden.shape[0],), hidden.shape[1] - 1, device=hidden.device)
        else:
            last = last_token_positions(input_ids, attention_mask, self.config.pad_token_id)
        logits = self.score(hidden[torch.arange(hidden.shape[0], device=hidden.device), last])  # (B, num_labels)
        loss = None
        if labels is not None:
            _, router_loss = router_losses(self.config, outputs.router_logits, attention_mask, hidden.shape[1])
            loss = sequence_classification_loss(logits, labels, self.config) + router_loss
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a Mistral-DNA decoder (Mixtral mixture of experts or dense Mistral) over BPE tokens"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "MistralDNAModel",
    "AutoModelForCausalLM": "MistralDNAForCausalLM",
    "AutoModelForSequenceClassification": "MistralDNAForSequenceClassification",
}


__all__ = [
    "MistralDNAPreTrainedModel",
    "MistralDNAModel",
    "MistralDNAForCausalLM",
    "MistralDNAForSequenceClassification",
]
