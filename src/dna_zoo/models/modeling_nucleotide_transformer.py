"""Nucleotide Transformer v1 and v2 (InstaDeep): pre-LayerNorm BERT-style encoder in the ESM layout.

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import torch
from torch import nn
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import can_return_tuple

from .attention import DNAAttention, RotaryEmbedding
from .configuration_nucleotide_transformer import NucleotideTransformerConfig, config_from_original
from .layers import MaskedLMHead, build_mlp, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel

MASK_RATIO_TRAIN = 0.15 * 0.8  # ESM token dropout: fraction of tokens replaced by <mask> during pretraining


def esm_position_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """ESM learned positions: padding_idx + 1, 2, ... over non-padding tokens; padding keeps padding_idx."""
    not_pad = input_ids.ne(padding_idx).int()
    return (torch.cumsum(not_pad, dim=1) * not_pad).long() + padding_idx


class NucleotideTransformerEmbeddings(nn.Module):
    """Token embeddings, ESM token dropout and (v1) learned absolute positions. No LayerNorm (as published)."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        if config.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(
                config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
            )

    def forward(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        config = self.config
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, L, H)
        if config.token_dropout and input_ids is not None:
            is_mask = input_ids == config.mask_token_id  # (B, L)
            embeddings = embeddings.masked_fill(is_mask.unsqueeze(-1), 0.0)
            lengths = attention_mask.sum(-1) if attention_mask is not None else input_ids.shape[1]
            observed = is_mask.sum(-1).float() / lengths
            embeddings = (embeddings * (1 - MASK_RATIO_TRAIN) / (1 - observed)[:, None, None]).to(embeddings.dtype)
        if config.position_embedding_type == "absolute":
            if input_ids is not None:
                position_ids = esm_position_ids(input_ids, config.pad_token_id)
            else:
                keep = attention_mask if attention_mask is not None else embeddings.new_ones(embeddings.shape[:2])
                position_ids = esm_position_ids(torch.where(keep.bool(), 0, config.pad_token_id), config.pad_token_id)
            embeddings = embeddings + self.position_embeddings(position_ids)
        if attention_mask is not None:
            embeddings = (embeddings * attention_mask.unsqueeze(-1)).to(embeddings.dtype)
        return embeddings


class NucleotideTransformerLayer(GradientCheckpointingLayer):
    """Pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: NucleotideTransformerConfig, layer_idx: int):
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = DNAAttention(config, layer_idx, is_causal=False)
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = build_mlp(config)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_output, attn_weights = self.attention(
            self.attention_norm(hidden_states), attention_mask, position_embeddings, **kwargs
        )
        hidden_states = hidden_states + self.dropout(attn_output)
        hidden_states = hidden_states + self.dropout(self.mlp(self.mlp_norm(hidden_states)))
        return hidden_states, attn_weights


def _esm_key_mapping(mlp_in: str) -> dict[str, str]:
    """ESM layout -> dna_zoo names. transformers 5 saves ESM LayerNorms as gamma/beta, the Hub has weight/bias."""
    layer = r"^(?:esm\.)?encoder\.layer\.(\d+)\."  # "esm." is absent in a saved base model
    return {
        r"LayerNorm\.gamma$": "LayerNorm.weight",
        r"LayerNorm\.beta$": "LayerNorm.bias",
        r"^(?:esm\.)?embeddings\.": "model.embeddings.",
        layer + r"attention\.LayerNorm\.": r"model.layers.\1.attention_norm.",
        layer + r"attention\.self\.query\.": r"model.layers.\1.attention.q_proj.",
        layer + r"attention\.self\.key\.": r"model.layers.\1.attention.k_proj.",
        layer + r"attention\.self\.value\.": r"model.layers.\1.attention.v_proj.",
        layer + r"attention\.output\.dense\.": r"model.layers.\1.attention.o_proj.",
        layer + r"LayerNorm\.": r"model.layers.\1.mlp_norm.",
        layer + r"intermediate\.dense\.": rf"model.layers.\1.mlp.{mlp_in}.",
        layer + r"output\.dense\.": r"model.layers.\1.mlp.down_proj.",
        r"^(?:esm\.)?encoder\.emb_layer_norm_after\.": "model.final_norm.",
    }


class NucleotideTransformerPreTrainedModel(DNAPreTrainedModel):
    config_class = NucleotideTransformerConfig
    config: NucleotideTransformerConfig
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "classifier.")
    # In published checkpoints but never used: the ESM contact head and per-layer rotary frequencies.
    _keys_to_ignore_on_load_unexpected = [
        r"contact_head\.",
        r"rotary_embeddings\.inv_freq",
        r"embeddings\.position_ids",
    ]
    supports_gradient_checkpointing = True
    _no_split_modules = ["NucleotideTransformerLayer"]
    _supports_sdpa = True
    _supports_attention_backend = True

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        fields = config_from_original(raw_config)
        if fields is None:
            return None
        return _esm_key_mapping("up_proj" if fields["mlp_type"] == "gelu" else "gate_up_proj")


class NucleotideTransformerModel(NucleotideTransformerPreTrainedModel):
    """The encoder. `hidden_states` (on request) holds the embeddings and every layer's output; the last entry
    has the final LayerNorm applied and equals `last_hidden_state`, the NT papers' "last layer embeddings"."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__(config)
        self.embeddings = NucleotideTransformerEmbeddings(config)
        head_dim = config.hidden_size // config.num_attention_heads
        self.rotary = (
            RotaryEmbedding(head_dim, config.rope_theta) if config.position_embedding_type == "rotary" else None
        )
        self.layers = nn.ModuleList(NucleotideTransformerLayer(config, i) for i in range(config.num_hidden_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        if self.rotary is not None:  # v2 checkpoints keep an unused learned position table
            self._keys_to_ignore_on_load_unexpected = [
                *self._keys_to_ignore_on_load_unexpected,
                r"embeddings\.position_embeddings\.",
            ]
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        self._check_length(input_ids if input_ids is not None else inputs_embeds)

        hidden_states = self.embeddings(input_ids, attention_mask, inputs_embeds)  # (B, L, H)
        mask = create_bidirectional_mask(self.config, hidden_states, attention_mask)
        position_embeddings = None
        if self.rotary is not None:
            positions = torch.arange(hidden_states.shape[1], device=hidden_states.device).unsqueeze(0)
            position_embeddings = self.rotary(hidden_states, positions)  # cos, sin (1, L, D)

        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for layer in self.layers:
            hidden_states, attn_weights = layer(hidden_states, mask, position_embeddings, **kwargs)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            if output_attentions:
                all_attentions.append(attn_weights)
        hidden_states = self.final_norm(hidden_states)
        if output_hidden_states:
            all_hidden_states[-1] = hidden_states
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )

    def _check_length(self, inputs: torch.Tensor) -> None:
        length = inputs.shape[1]
        if self.config.position_embedding_type == "absolute" and length > self.config.max_tokens:
            raise ValueError(
                f"input of {length} tokens is longer than this model's learned position table allows "
                f"({self.config.max_tokens} tokens including <cls>); truncate it or cut it into windows"
            )


class NucleotideTransformerForMaskedLM(NucleotideTransformerPreTrainedModel):
    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.word_embeddings.weight"}

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__(config)
        self.model = NucleotideTransformerModel(config)
        # RoBERTa-style head with exact GELU, not tied to the input embeddings
        self.lm_head = MaskedLMHead(config.hidden_size, config.vocab_size, config.layer_norm_eps, "gelu")
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.lm_head.decoder = new_embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        r"""labels: (B, L) token ids to predict, -100 where no loss is taken."""
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, inputs_embeds, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class NucleotideTransformerForSequenceClassification(NucleotideTransformerPreTrainedModel):
    """Pooled (mean over non-padding tokens by default) encoder output -> dropout -> Linear(H, num_labels).

    Problem types: single-label (integer labels), multi-label (float 0/1 labels of shape (B, num_labels)) and
    regression (`num_labels=1` or `problem_type="regression"`, labels of shape (B,) or (B, 1)).
    """

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = NucleotideTransformerModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
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
        outputs = self.model(input_ids, attention_mask, inputs_embeds, **kwargs)
        pooled = pool_hidden_states(outputs.last_hidden_state, attention_mask, self.config.classifier_pooling)
        logits = self.classifier(self.dropout(pooled))  # (B, num_labels)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class NucleotideTransformerForTokenClassification(NucleotideTransformerPreTrainedModel):
    """Per-token head: dropout -> Linear(H, num_labels); labels -100 are ignored (padding, <cls>)."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = NucleotideTransformerModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, inputs_embeds, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, L, num_labels)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config, num_items_in_batch=num_items_in_batch)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a Nucleotide Transformer (InstaDeep) encoder over 6-mer tokens"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "NucleotideTransformerModel",
    "AutoModelForMaskedLM": "NucleotideTransformerForMaskedLM",
    "AutoModelForSequenceClassification": "NucleotideTransformerForSequenceClassification",
    "AutoModelForTokenClassification": "NucleotideTransformerForTokenClassification",
}


__all__ = [
    "NucleotideTransformerPreTrainedModel",
    "NucleotideTransformerModel",
    "NucleotideTransformerForMaskedLM",
    "NucleotideTransformerForSequenceClassification",
    "NucleotideTransformerForTokenClassification",
]
