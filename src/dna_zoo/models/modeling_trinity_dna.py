"""TrinityDNA (arXiv 2507.19229): groove fusion, sliding multi-window attention, gated reverse complement.

Built from the paper's description (no public code or weights); model_cards/trinity_dna.md says which parts are
the paper's and which are dna_zoo's choices.

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import can_return_tuple

from .attention import MultiWindowAttention, RotaryEmbedding
from .configuration_trinity_dna import TrinityDNAConfig
from .layers import RMSNorm, SwiGLUMLP, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel


def flip_valid_region(x: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Reverse each row of x (B, L, ...) over its real tokens only; padding stays where it is (left or right)."""
    if attention_mask is None:
        return x.flip(1)
    positions = torch.arange(x.shape[1], device=x.device)[None]  # (1, L)
    start = attention_mask.int().argmax(1, keepdim=True)  # (B, 1) first real token
    end = start + attention_mask.sum(1, keepdim=True)  # (B, 1) one past the last
    inside = (positions >= start) & (positions < end)
    source = torch.where(inside, start + end - 1 - positions, positions)  # (B, L)
    return x.gather(1, source.view(*source.shape, *[1] * (x.dim() - 2)).expand_as(x))


class GrooveFusion(nn.Module):
    """embeddings + sum over kernel sizes k of GELU(Conv1d_k(embeddings)), length preserved ("same" zero padding).

    Padding positions are zeroed before the convolutions, so they never leak into their real neighbours.
    """

    def __init__(self, config: TrinityDNAConfig):
        super().__init__()
        hidden = config.hidden_size
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, k, padding=k // 2) for k in config.groove_kernel_sizes)

    def forward(self, embeddings: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        if attention_mask is not None:
            embeddings = embeddings * attention_mask.unsqueeze(-1).to(embeddings.dtype)
        channels_first = embeddings.transpose(1, 2)  # (B, H, L)
        grooves = sum(nn.functional.gelu(conv(channels_first)) for conv in self.convs)
        return embeddings + grooves.transpose(1, 2)


class GatedReverseComplement(nn.Module):
    """Fuses a strand with the other one aligned to it: strand + gate(W_G other), W_G (H, H) starting as identity."""

    def __init__(self, config: TrinityDNAConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(config.hidden_size, config.hidden_size))
        self.gate = config.rc_gate

    def forward(self, strand: torch.Tensor, other_strand: torch.Tensor) -> torch.Tensor:
        gated = nn.functional.linear(other_strand, self.weight)
        return strand + (torch.sigmoid(gated) if self.gate == "sigmoid" else gated)


class TrinityDNALayer(GradientCheckpointingLayer):
    """Pre-RMSNorm block (our choice): x + MultiWindowAttn(norm(x)), then x + SwiGLU(norm(x))."""

    def __init__(self, config: TrinityDNAConfig, layer_idx: int):
        super().__init__()
        self.attention_norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.attention = MultiWindowAttention(config, layer_idx)
        self.mlp_norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.mlp = SwiGLUMLP(config.hidden_size, config.intermediate_size, bias=False)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states, attention_mask=None, position_embeddings=None, output_attentions=False):
        """(B, L, H) -> (B, L, H) and the attention weights (B, heads, L, L) when asked."""
        attn_output, weights = self.attention(
            self.attention_norm(hidden_states), attention_mask, position_embeddings, output_attentions=output_attentions
        )
        hidden_states = hidden_states + self.dropout(attn_output)
        return hidden_states + self.dropout(self.mlp(self.mlp_norm(hidden_states))), weights


class TrinityDNAEncoder(nn.Module):
    """The shared encoder f: embeddings, groove fusion, multi-window layers with rotary positions, final norm."""

    def __init__(self, config: TrinityDNAConfig):
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.groove = GrooveFusion(config) if config.groove_fusion else None
        self.rotary = RotaryEmbedding(config.hidden_size // config.num_attention_heads, config.rope_theta)
        self.layers = nn.ModuleList(TrinityDNALayer(config, i) for i in range(config.num_hidden_layers))
        self.final_norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, input_ids, attention_mask, output_hidden_states=False, output_attentions=False):
        """input_ids (B, L) -> hidden states (B, L, H) and, on request, lists of every layer's input/output and of
        every layer's attention weights (B, heads, L, L)."""
        hidden_states = self.embeddings(input_ids)
        if self.groove is not None:
            hidden_states = self.groove(hidden_states, attention_mask)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        position_embeddings = self.rotary(hidden_states, positions)
        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for layer in self.layers:
            hidden_states, weights = layer(hidden_states, attention_mask, position_embeddings, output_attentions)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            if output_attentions:
                all_attentions.append(weights)
        return self.final_norm(hidden_states), all_hidden_states, all_attentions


class TrinityDNAPreTrainedModel(DNAPreTrainedModel):
    config_class = TrinityDNAConfig
    config: TrinityDNAConfig
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "classifier.")
    supports_gradient_checkpointing = True
    _no_split_modules = ["TrinityDNALayer"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, GatedReverseComplement):
            init.eye_(module.weight)  # W_G starts as the identity
        elif isinstance(module, TrinityDNAModel):  # non-persistent buffer: rebuilt after meta-device loading
            init.copy_(module.complement, torch.tensor(self.config.complement_map))


class TrinityDNAModel(TrinityDNAPreTrainedModel):
    """Gated reverse complement around the shared encoder f:

        out = f(S) + gate(W_G Flip(f(RC(S))))

    f runs once on the sequence and its reverse complement batched together. With the identity gate and W_G = I
    (its initial value) the output is exactly reverse-complement symmetric: out(RC(S)) = Flip(out(S)).
    `reverse_complement="none"` gives a single-strand model (out = f(S)).
    """

    def __init__(self, config: TrinityDNAConfig):
        super().__init__(config)
        self.encoder = TrinityDNAEncoder(config)
        self.rc_fusion = GatedReverseComplement(config) if config.reverse_complement == "gated" else None
        self.register_buffer("complement", torch.tensor(config.complement_map), persistent=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.encoder.embeddings

    def set_input_embeddings(self, value):
        self.encoder.embeddings = value

    def reverse_complement_ids(self, input_ids, attention_mask):
        """(B, L) ids of each row's reverse complement (real tokens reversed and complemented, padding kept)."""
        return flip_valid_region(self.complement.to(input_ids.device)[input_ids], attention_mask)

    def strands(self, input_ids, attention_mask=None, output_hidden_states=False, output_attentions=False):
        """f(S) and Flip(f(RC(S))) aligned to S (None for a single-strand model), and the forward strand's f as a
        BaseModelOutput: its layers' hidden states and attention weights, on request."""
        if self.rc_fusion is None:
            hidden, layers, attentions = self.encoder(
                input_ids, attention_mask, output_hidden_states, output_attentions
            )
            return hidden, None, BaseModelOutput(hidden, layers, attentions)
        both_ids = torch.cat([input_ids, self.reverse_complement_ids(input_ids, attention_mask)])  # (2B, L)
        both_mask = None if attention_mask is None else torch.cat([attention_mask, attention_mask])
        hidden, layers, attentions = self.encoder(both_ids, both_mask, output_hidden_states, output_attentions)
        forward, reverse = hidden.chunk(2)  # (B, L, H) each
        layers = [h.chunk(2)[0] for h in layers] if output_hidden_states else None
        attentions = [a.chunk(2)[0] for a in attentions] if output_attentions else None
        return forward, flip_valid_region(reverse, attention_mask), BaseModelOutput(forward, layers, attentions)

    def fuse(self, strand: torch.Tensor, other_strand: torch.Tensor | None) -> torch.Tensor:
        """strand + gate(W_G other_strand), both (B, L, H) and aligned position by position."""
        return strand if other_strand is None else self.rc_fusion(strand, other_strand)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        """`hidden_states` and `attentions` (each layer's (B, heads, L, L) weights, through the eager computation
        whatever the implementation) are the forward strand's encoder's; the last hidden state is the fused one."""
        if input_ids is None:
            raise ValueError("TrinityDNA needs input_ids (the reverse complement is built from them)")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        forward, reverse, strand = self.strands(input_ids, attention_mask, output_hidden_states, output_attentions)
        hidden_states = self.fuse(forward, reverse)
        layers = strand.hidden_states
        if output_hidden_states:
            layers[-1] = hidden_states
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(layers) if layers else None,
            attentions=tuple(strand.attentions) if output_attentions else None,
        )


class TrinityDNAForMaskedLM(TrinityDNAPreTrainedModel):
    """Single-nucleotide masked LM: RMSNorm -> Linear(H, vocab) on the fused output."""

    def __init__(self, config: TrinityDNAConfig):
        super().__init__(config)
        self.model = TrinityDNAModel(config)
        self.lm_head = nn.Sequential(
            RMSNorm(config.hidden_size, eps=config.rms_norm_eps), nn.Linear(config.hidden_size, config.vocab_size)
        )
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs) -> MaskedLMOutput:
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)  # (B, L, V)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class TrinityDNAForSequenceClassification(TrinityDNAPreTrainedModel):
    """Reverse-complement invariant classification: the fused outputs of both strands, mean-pooled over real
    tokens and averaged, so S and RC(S) get the same logits for any W_G and gate."""

    def __init__(self, config: TrinityDNAConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = TrinityDNAModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs) -> SequenceClassifierOutput:
        kwargs.pop("num_items_in_batch", None)
        output_attentions = kwargs.get("output_attentions") or self.config.output_attentions
        forward, reverse, strand = self.model.strands(input_ids, attention_mask, output_attentions=output_attentions)
        pooled = pool_hidden_states(self.model.fuse(forward, reverse), attention_mask, "mean")
        if reverse is not None:  # the other strand's fused output, Flip(out(RC(S))), has the same real tokens
            other = pool_hidden_states(self.model.fuse(reverse, forward), attention_mask, "mean")
            pooled = (pooled + other) / 2
        logits = self.classifier(self.dropout(pooled))  # (B, num_labels)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        attentions = tuple(strand.attentions) if output_attentions else None
        return SequenceClassifierOutput(loss=loss, logits=logits, attentions=attentions)


class TrinityDNAForTokenClassification(TrinityDNAPreTrainedModel):
    """Per-nucleotide labels (one token per base): dropout -> Linear(H, num_labels) on the fused output."""

    def __init__(self, config: TrinityDNAConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = TrinityDNAModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs) -> TokenClassifierOutput:
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, L, num_labels)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config, num_items_in_batch=num_items_in_batch)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = (
    "a TrinityDNA single-nucleotide encoder (groove fusion, multi-window attention, gated reverse complement)"
)

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "TrinityDNAModel",
    "AutoModelForMaskedLM": "TrinityDNAForMaskedLM",
    "AutoModelForSequenceClassification": "TrinityDNAForSequenceClassification",
    "AutoModelForTokenClassification": "TrinityDNAForTokenClassification",
}


__all__ = [
    "TrinityDNAPreTrainedModel",
    "TrinityDNAModel",
    "TrinityDNAForMaskedLM",
    "TrinityDNAForSequenceClassification",
    "TrinityDNAForTokenClassification",
]
