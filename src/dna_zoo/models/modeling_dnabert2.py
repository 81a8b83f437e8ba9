"""DNABERT-2 (Zhou et al., 2023): a MosaicBERT encoder over a DNA BPE, in plain PyTorch (no Triton).

Post-LayerNorm BERT blocks whose attention takes ALiBi biases instead of positions (slope m_h per head, bias
-m_h |i - j|) and whose feed-forward block is gated: GELU(x W_gate) * (x W_up), then W_out. The published remote
code runs its attention through a Triton flash-attention kernel on unpadded tokens; here it is torch SDPA (or
eager) with the ALiBi bias and the padding mask in one additive mask, so padding never changes a sequence's output.

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import math

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import can_return_tuple

from .attention import DNAAttention
from .configuration_dnabert2 import DNABERT2Config, config_from_original
from .layers import MaskedLMHead, SwiGLUMLP, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's head slopes (Press et al.): the geometric sequence 2^(-8/n), 2^(-16/n), ... for n a power of two;
    otherwise those of the power of two below, then every other slope of the one above."""

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return torch.tensor(power_of_two(num_heads))
    below = 2 ** math.floor(math.log2(num_heads))
    return torch.tensor(power_of_two(below) + power_of_two(2 * below)[0::2][: num_heads - below])


def alibi_attention_mask(
    slopes: torch.Tensor, attention_mask: torch.Tensor | None, length: int, dtype: torch.dtype
) -> torch.Tensor:
    """The additive mask of every layer: ALiBi bias -m_h |i - j| plus the padding mask (the dtype's minimum on
    padded keys). slopes (H,), attention_mask (B, L) of 1/0 or None -> (B or 1, H, L, L)."""
    positions = torch.arange(length, device=slopes.device)
    distance = (positions[None, :] - positions[:, None]).abs()  # (L, L)
    bias = (-slopes.to(dtype)[:, None, None] * distance).unsqueeze(0)  # (1, H, L, L)
    if attention_mask is None:
        return bias
    padded = attention_mask[:, None, None, :].to(torch.bool).logical_not()  # (B, 1, 1, L)
    return bias.masked_fill(padded, torch.finfo(dtype).min)


class DNABERT2Embeddings(nn.Module):
    """Token plus token-type embeddings, LayerNorm, dropout: no positions (ALiBi places the tokens)."""

    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, L, H)
        if token_type_ids is None:
            token_type_ids = torch.zeros(embeddings.shape[:2], dtype=torch.long, device=embeddings.device)
        return self.dropout(self.layer_norm(embeddings + self.token_type_embeddings(token_type_ids)))


class DNABERT2Attention(DNAAttention):
    """Bidirectional attention whose queries, keys and values come from one fused projection (the published
    `Wqkv`, rows q then k then v); the ALiBi bias arrives in the additive attention mask."""

    def __init__(self, config: DNABERT2Config, layer_idx: int):
        super().__init__(config, layer_idx, is_causal=False)
        del self.q_proj, self.k_proj, self.v_proj  # one fused projection instead
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        batch, length, _ = hidden_states.shape
        qkv = self.Wqkv(hidden_states).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, L, D)
        output, weights = self.attend(query, key, value, attention_mask, **kwargs)  # (B, L, H, D)
        return self.o_proj(output.reshape(batch, length, -1)), weights


class DNABERT2Layer(GradientCheckpointingLayer):
    """Post-LN block: x = LN(x + Attn(x)), then x = LN(x + GeGLU(x))."""

    def __init__(self, config: DNABERT2Config, layer_idx: int):
        super().__init__()
        self.attention = DNABERT2Attention(config, layer_idx)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = SwiGLUMLP(
            config.hidden_size, config.intermediate_size, bias=False, hidden_act=config.hidden_act, down_bias=True
        )
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_output, attn_weights = self.attention(hidden_states, attention_mask, **kwargs)
        hidden_states = self.attention_norm(hidden_states + self.dropout(attn_output))
        hidden_states = self.mlp_norm(hidden_states + self.dropout(self.mlp(hidden_states)))
        return hidden_states, attn_weights


def _original_key_mapping() -> dict[str, str]:
    """The published layout (the authors' `bert_layers` remote code) -> dna_zoo names."""
    layer = r"^(?:bert\.)?encoder\.layer\.(\d+)\."  # "bert." is absent in a saved base model
    return {
        r"^(?:bert\.)?embeddings\.LayerNorm\.": "model.embeddings.layer_norm.",
        r"^(?:bert\.)?embeddings\.": "model.embeddings.",
        layer + r"attention\.self\.Wqkv\.": r"model.layers.\1.attention.Wqkv.",
        layer + r"attention\.output\.dense\.": r"model.layers.\1.attention.o_proj.",
        layer + r"attention\.output\.LayerNorm\.": r"model.layers.\1.attention_norm.",
        layer + r"mlp\.gated_layers\.": r"model.layers.\1.mlp.gate_up_proj.",
        layer + r"mlp\.wo\.": r"model.layers.\1.mlp.down_proj.",
        layer + r"mlp\.layernorm\.": r"model.layers.\1.mlp_norm.",
        r"^(?:bert\.)?pooler\.dense\.": "pooler.",
        r"^cls\.predictions\.transform\.dense\.": "lm_head.dense.",
        r"^cls\.predictions\.transform\.LayerNorm\.": "lm_head.layer_norm.",
        r"^cls\.predictions\.decoder\.weight$": "lm_head.decoder.weight",
        r"^cls\.predictions\.bias$": "lm_head.bias",
    }


class DNABERT2PreTrainedModel(DNAPreTrainedModel):
    config_class = DNABERT2Config
    config: DNABERT2Config
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "pooler.", "classifier.")
    # In published checkpoints but never used: the decoder's copy of the LM bias (the head has one bias).
    _keys_to_ignore_on_load_unexpected = [r"cls\.predictions\.decoder\.bias", r"embeddings\.position_ids"]
    supports_gradient_checkpointing = True
    _no_split_modules = ["DNABERT2Layer"]
    _supports_sdpa = True
    _supports_attention_backend = True

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        return None if config_from_original(raw_config) is None else _original_key_mapping()


class DNABERT2Model(DNABERT2PreTrainedModel):
    """The encoder. `hidden_states` (on request) holds the embeddings and every layer's output (the last equals
    `last_hidden_state`: post-LN blocks need no final norm)."""

    def __init__(self, config: DNABERT2Config):
        super().__init__(config)
        self.embeddings = DNABERT2Embeddings(config)
        self.layers = nn.ModuleList(DNABERT2Layer(config, i) for i in range(config.num_hidden_layers))
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
        token_type_ids: torch.LongTensor | None = None,
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
        hidden_states = self.embeddings(input_ids, token_type_ids, inputs_embeds)  # (B, L, H)
        # (B or 1, H, L, L): ALiBi bias plus padding. The slopes are computed, not a buffer: from_pretrained builds
        # models on the meta device, where a non-persistent buffer would be left uninitialised
        slopes = alibi_slopes(self.config.num_attention_heads).to(hidden_states.device)
        mask = alibi_attention_mask(slopes, attention_mask, hidden_states.shape[1], hidden_states.dtype)
        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for layer in self.layers:
            hidden_states, attn_weights = layer(hidden_states, mask, **kwargs)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            if output_attentions:
                all_attentions.append(attn_weights)
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )


class DNABERT2ForMaskedLM(DNABERT2PreTrainedModel):
    """BERT MLM head (dense, GELU, LayerNorm, decoder tied to the input embeddings, plus a bias)."""

    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.word_embeddings.weight"}

    def __init__(self, config: DNABERT2Config):
        super().__init__(config)
        self.model = DNABERT2Model(config)
        self.lm_head = MaskedLMHead(config.hidden_size, config.vocab_size, config.layer_norm_eps, config.hidden_act)
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
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        r"""labels: (B, L) token ids to predict, -100 where no loss is taken."""
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, token_type_ids, inputs_embeds, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)  # (B, L, V)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class DNABERT2ForSequenceClassification(DNABERT2PreTrainedModel):
    """Pooled encoder output -> dropout -> Linear(H, num_labels). `classifier_pooling` "cls" (default, as the
    authors' classifier) pools through BERT's pooler, tanh(Linear(H, H)) of the `[CLS]` state; "mean" / "max" pool
    non-padding tokens.

    Problem types: single-label, multi-label and regression, as every dna_zoo classifier.
    """

    def __init__(self, config: DNABERT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = DNABERT2Model(config)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if config.classifier_pooling == "cls" else None
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, token_type_ids, inputs_embeds, **kwargs)
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(outputs.last_hidden_state[:, 0]))  # (B, H)
        else:
            pooled = pool_hidden_states(outputs.last_hidden_state, attention_mask, self.config.classifier_pooling)
        logits = self.classifier(self.dropout(pooled))  # (B, num_labels)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class DNABERT2ForTokenClassification(DNABERT2PreTrainedModel):
    """Per-token head: dropout -> Linear(H, num_labels); labels -100 are ignored (padding, special tokens)."""

    def __init__(self, config: DNABERT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = DNABERT2Model(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, token_type_ids, inputs_embeds, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, L, num_labels)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config, num_items_in_batch=num_items_in_batch)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a DNABERT-2 (MosaicBERT with ALiBi) encoder over BPE tokens"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "DNABERT2Model",
    "AutoModelForMaskedLM": "DNABERT2ForMaskedLM",
    "AutoModelForSequenceClassification": "DNABERT2ForSequenceClassification",
    "AutoModelForTokenClassification": "DNABERT2ForTokenClassification",
}


__all__ = [
    "DNABERT2PreTrainedModel",
    "DNABERT2Model",
    "DNABERT2ForMaskedLM",
    "DNABERT2ForSequenceClassification",
    "DNABERT2ForTokenClassification",
    "alibi_slopes",
]
