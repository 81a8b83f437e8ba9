"""GENA-LM (AIRI): BERT encoders for DNA, pre-LN (the GENA fork of BERT) or post-LN with BigBird block-sparse
attention, loading the published GENA BERT-fork and transformers BigBird layouts.

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import torch
from torch import nn
from transformers import initialization as init
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import can_return_tuple

from .attention import BlockSparseAttention, DNAAttention, RotaryEmbedding
from .configuration_gena_lm import GenaLMConfig, config_from_original
from .layers import GeluMLP, MaskedLMHead, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel


class GenaLMEmbeddings(nn.Module):
    """Word + learned absolute position (unless rotary) + token type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: GenaLMConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        if config.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, input_ids, token_type_ids=None, inputs_embeds=None) -> torch.Tensor:
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, L, H)
        positions = torch.arange(embeddings.shape[1], device=embeddings.device)
        if token_type_ids is None:
            token_type_ids = torch.zeros(embeddings.shape[:2], dtype=torch.long, device=embeddings.device)
        embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if hasattr(self, "position_embeddings"):
            embeddings = embeddings + self.position_embeddings(positions)
        return self.dropout(self.layer_norm(embeddings))


class GenaLMLayer(GradientCheckpointingLayer):
    """Pre-LN (GENA fork): h = x + Attn(LN(x)); out = h + FFN(LN(h)).
    Post-LN (BERT, BigBird): h = LN(x + Attn(x)); out = LN(h + FFN(h))."""

    def __init__(self, config: GenaLMConfig, layer_idx: int):
        super().__init__()
        self.pre_layer_norm = config.pre_layer_norm
        attention_class = BlockSparseAttention if config.attention_type == "block_sparse" else DNAAttention
        self.attention = attention_class(config, layer_idx, is_causal=False)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GeluMLP(config.hidden_size, config.intermediate_size, config.hidden_act, bias=True)
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states, attention_mask=None, position_embeddings=None, output_attentions=False):
        """(B, L, H) -> (B, L, H) and the attention weights (B, heads, L, L) when asked (None from SDPA)."""
        if self.pre_layer_norm:
            attn_output, weights = self.attention(
                self.attention_norm(hidden_states),
                attention_mask,
                position_embeddings,
                output_attentions=output_attentions,
            )
            hidden_states = hidden_states + self.dropout(attn_output)
            return hidden_states + self.dropout(self.mlp(self.mlp_norm(hidden_states))), weights
        attn_output, weights = self.attention(
            hidden_states, attention_mask, position_embeddings, output_attentions=output_attentions
        )
        hidden_states = self.attention_norm(hidden_states + self.dropout(attn_output))
        return self.mlp_norm(hidden_states + self.dropout(self.mlp(hidden_states))), weights


def _original_key_mapping(pre_layer_norm: bool) -> dict[str, str]:
    """GENA BERT fork / transformers BigBird names -> dna_zoo names."""
    layer = r"^(?:bert\.)?encoder\.layer\.(\d+)\."  # "bert." is absent in a saved base model
    norms = (
        {
            layer + r"pre_attention_ln\.": r"model.layers.\1.attention_norm.",
            layer + r"post_attention_ln\.": r"model.layers.\1.mlp_norm.",
        }
        if pre_layer_norm
        else {
            layer + r"attention\.output\.LayerNorm\.": r"model.layers.\1.attention_norm.",
            layer + r"output\.LayerNorm\.": r"model.layers.\1.mlp_norm.",
        }
    )
    return {
        r"LayerNorm\.gamma$": "LayerNorm.weight",
        r"LayerNorm\.beta$": "LayerNorm.bias",
        r"^(?:bert\.)?embeddings\.LayerNorm\.": "model.embeddings.layer_norm.",
        r"^(?:bert\.)?embeddings\.": "model.embeddings.",
        **norms,
        layer + r"attention\.self\.query\.": r"model.layers.\1.attention.q_proj.",
        layer + r"attention\.self\.key\.": r"model.layers.\1.attention.k_proj.",
        layer + r"attention\.self\.value\.": r"model.layers.\1.attention.v_proj.",
        layer + r"attention\.output\.dense\.": r"model.layers.\1.attention.o_proj.",
        layer + r"intermediate\.dense\.": r"model.layers.\1.mlp.up_proj.",
        layer + r"output\.dense\.": r"model.layers.\1.mlp.down_proj.",
        r"^(?:bert\.)?encoder\.last_layer_ln\.": "model.final_norm.",
        r"^(?:bert\.)?pooler\.(dense\.)?": "model.pooler.",
        r"^cls\.predictions\.transform\.dense\.": "lm_head.dense.",
        r"^cls\.predictions\.transform\.LayerNorm\.": "lm_head.layer_norm.",
        r"^cls\.predictions\.decoder\.weight": "lm_head.decoder.weight",
        r"^cls\.predictions\.bias": "lm_head.bias",
    }


class GenaLMPreTrainedModel(DNAPreTrainedModel):
    config_class = GenaLMConfig
    config: GenaLMConfig
    base_model_prefix = "model"
    # The pooler counts as a head: masked-LM saves have none, and a head that uses it initialises it when missing.
    head_prefixes = ("lm_head.", "classifier.", "pooler.")
    # In published checkpoints but never used: the decoder bias stored twice (it is cls.predictions.bias), position
    # and type id buffers, the rotary frequencies of the fork's rotary layers, and the next-sentence head of
    # BertForPreTraining / BigBirdForPreTraining saves.
    _keys_to_ignore_on_load_unexpected = [
        r"predictions\.decoder\.bias",
        r"embeddings\.(position_ids|token_type_ids)",
        r"attention\.self\.rotary_emb\.inv_freq",
        r"^cls\.seq_relationship\.",
    ]
    supports_gradient_checkpointing = True
    _no_split_modules = ["GenaLMLayer"]
    _supports_sdpa = True

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        fields = config_from_original(raw_config)
        return None if fields is None else _original_key_mapping(fields["pre_layer_norm"])


class GenaLMModel(GenaLMPreTrainedModel):
    """The encoder; `pooler_output` is dense + tanh on the first ([CLS]) token, as in BERT. As in transformers' BERT,
    heads that never use the pooler (masked LM, token classification) build the encoder without it
    (`add_pooling_layer=False`), so the original code's saves, which have none, load exactly.

    Block-sparse models pad inputs to a multiple of the block size and run BigBird attention when the input is
    longer than (5 + 2r) * block_size tokens, full attention otherwise (decided per call: nothing is switched
    for later calls, unlike transformers' BigBird).
    """

    def __init__(self, config: GenaLMConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = GenaLMEmbeddings(config)
        self.layers = nn.ModuleList(GenaLMLayer(config, i) for i in range(config.num_hidden_layers))
        head_dim = config.hidden_size // config.num_attention_heads
        rotary = config.position_embedding_type == "rotary"
        self.rotary = RotaryEmbedding(config.rotary_dim or head_dim, config.rotary_base) if rotary else None
        self.final_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.last_layer_norm else None
        )
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def uses_block_sparse(self, length: int) -> bool:
        return self.config.attention_type == "block_sparse" and length > self.config.sparse_threshold

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
    ) -> BaseModelOutputWithPooling:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        reference = input_ids if input_ids is not None else inputs_embeds
        batch, length = reference.shape[:2]
        if self.config.position_embedding_type == "absolute" and length > self.config.max_position_embeddings:
            raise ValueError(
                f"input of {length} tokens is longer than this model's {self.config.max_position_embeddings} "
                "learned positions; truncate it, cut it into windows or use the recurrent-memory wrapper"
            )
        if attention_mask is None:
            attention_mask = torch.ones(batch, length, dtype=torch.long, device=reference.device)
        sparse = self.uses_block_sparse(length)
        padding = (-length) % self.config.block_size if sparse else 0
        if padding:  # as BigBird: pad ids, mask and token types up to a whole number of blocks
            pad = (0, padding)
            if input_ids is not None:
                input_ids = nn.functional.pad(input_ids, pad, value=self.config.pad_token_id)
            else:
                pad_embedding = self.embeddings.word_embeddings.weight[self.config.pad_token_id]
                inputs_embeds = torch.cat([inputs_embeds, pad_embedding.expand(batch, padding, -1)], dim=1)
            attention_mask = nn.functional.pad(attention_mask, pad, value=0)
            if token_type_ids is not None:
                token_type_ids = nn.functional.pad(token_type_ids, pad, value=0)

        hidden_states = self.embeddings(input_ids, token_type_ids, inputs_embeds)  # (B, L, H)
        mask = attention_mask if sparse else create_bidirectional_mask(self.config, hidden_states, attention_mask)
        position_embeddings = None
        if self.rotary is not None:
            positions = torch.arange(hidden_states.shape[1], device=hidden_states.device).unsqueeze(0)
            position_embeddings = self.rotary(hidden_states, positions)  # cos, sin (1, L, rotary dim)
        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for layer in self.layers:
            hidden_states, weights = layer(hidden_states, mask, position_embeddings, output_attentions)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            if output_attentions:  # block-sparse weights come as a dense array, padding blocks cut off
                all_attentions.append(weights if weights is None else weights[:, :, :length, :length])
        if self.final_norm is not None:
            hidden_states = self.final_norm(hidden_states)
        pooled = torch.tanh(self.pooler(hidden_states[:, 0])) if self.pooler is not None else None
        if padding:
            hidden_states = hidden_states[:, :length]
            all_hidden_states = [h[:, :length] for h in all_hidden_states] if output_hidden_states else None
        if output_hidden_states:
            all_hidden_states[-1] = hidden_states
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden_states,
            pooler_output=pooled,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )


# A pooler saved beside a head that never uses it (a BertForPreTraining save loaded as a masked LM).
UNUSED_POOLER = r"^(?:bert\.|model\.)?pooler\."


class GenaLMForMaskedLM(GenaLMPreTrainedModel):
    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.word_embeddings.weight"}
    _keys_to_ignore_on_load_unexpected = [*GenaLMPreTrainedModel._keys_to_ignore_on_load_unexpected, UNUSED_POOLER]

    def __init__(self, config: GenaLMConfig):
        super().__init__(config)
        self.model = GenaLMModel(config, add_pooling_layer=False)
        self.lm_head = MaskedLMHead(config.hidden_size, config.vocab_size, config.layer_norm_eps, config.hidden_act)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.lm_head.decoder = new_embeddings

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, token_type_ids, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)  # (B, L, V)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GenaLMForSequenceClassification(GenaLMPreTrainedModel):
    """BERT-style classifier on the pooled [CLS] output (or mean / cls pooling by config); single-label,
    multi-label (optional `classifier_pos_weight` per label) and regression (`num_labels=1`). A pooler absent from
    the checkpoint (masked-LM saves have none) is part of the new head: initialised, like the classifier."""

    def __init__(self, config: GenaLMConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = GenaLMModel(config, add_pooling_layer=config.classifier_pooling == "pooler")
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, token_type_ids, **kwargs)
        if self.config.classifier_pooling == "pooler":
            pooled = outputs.pooler_output
        else:
            pooled = pool_hidden_states(outputs.last_hidden_state, attention_mask, self.config.classifier_pooling)
        logits = self.classifier(self.dropout(pooled))  # (B, num_labels)
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(logits, labels, self.config, self.config.classifier_pos_weight)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GenaLMForTokenClassification(GenaLMPreTrainedModel):
    """Per-token head; labels -100, or positions where `labels_mask` is 0, take no loss."""

    _keys_to_ignore_on_load_unexpected = GenaLMForMaskedLM._keys_to_ignore_on_load_unexpected

    def __init__(self, config: GenaLMConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = GenaLMModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, labels_mask=None, **kwargs
    ):
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, token_type_ids, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, L, num_labels)
        loss = None
        if labels is not None:
            if labels_mask is not None:
                labels = labels.masked_fill(labels_mask == 0, -100)
            loss = self.loss_function(logits, labels, self.config, num_items_in_batch=num_items_in_batch)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GenaLMRecurrentMemory(GenaLMPreTrainedModel):
    """Recurrent memory transformer (RMT) around a GENA-LM encoder, for inputs longer than its context.

    The input's special tokens are dropped and each row is cut into near-equal chunks; chunk s is run as the
    segment `[CLS] [MEM]*m [SEP] chunk [SEP]` (right-padded to `rmt_segment_size`), whose m memory positions carry
    the memory: their input embeddings are the memory states, and the new memory is the last hidden state there.
    The first segment reads a learned initial memory. Gradients flow through all segments, or through the last
    `rmt_bptt_depth` of them. Segments run one after another, so inference memory does not grow with length.
    Subclasses turn the per-segment hidden states into predictions.
    """

    head_prefixes = (*GenaLMPreTrainedModel.head_prefixes, "memory")

    def __init__(self, config: GenaLMConfig):
        super().__init__(config)
        self.model = GenaLMModel(config)
        self.memory = nn.Parameter(torch.empty(config.rmt_memory_tokens, config.hidden_size))
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, GenaLMRecurrentMemory):
            init.normal_(module.memory, mean=0.0, std=self.config.initializer_range)

    def chunk_positions(self, input_ids, attention_mask) -> list[list[torch.Tensor]]:
        """For each row, the input positions of each chunk (specials and padding dropped)."""
        config = self.config
        capacity = config.rmt_segment_size - config.rmt_memory_tokens - 3
        specials = torch.tensor(
            [config.pad_token_id, config.cls_token_id, config.sep_token_id], device=input_ids.device
        )
        keep = ~torch.isin(input_ids, specials)
        if attention_mask is not None:
            keep &= attention_mask.bool()
        chunks = []
        for row_keep in keep:
            positions = row_keep.nonzero().squeeze(1)
            count = max(1, -(-positions.numel() // capacity))  # ceil, at least one segment
            chunks.append(list(positions.tensor_split(count)))
        return chunks

    def run_segments(self, input_ids, attention_mask=None):
        """Yields, segment by segment: (step, active rows (B,), segment hidden states (B, S, H), token slots (B, S)
        bool, input positions of those slots per row). The memory is carried inside."""
        config = self.config
        m, size = config.rmt_memory_tokens, config.rmt_segment_size
        chunks = self.chunk_positions(input_ids, attention_mask)
        steps = max(len(row) for row in chunks)
        batch = input_ids.shape[0]
        memory = self.memory.unsqueeze(0).expand(batch, -1, -1)  # (B, m, H)
        embed = self.model.embeddings.word_embeddings
        for step in range(steps):
            if 0 <= config.rmt_bptt_depth <= steps - 1 - step:
                memory = memory.detach()  # truncated backpropagation through time
            ids = input_ids.new_full((batch, size), config.pad_token_id)
            mask = torch.zeros_like(ids)
            slots = torch.zeros(batch, size, dtype=torch.bool, device=ids.device)
            positions, active = [], []
            for row, row_chunks in enumerate(chunks):
                chunk = row_chunks[step] if step < len(row_chunks) else input_ids.new_zeros(0)
                n = chunk.numel()
                ids[row, 0], ids[row, m + 1], ids[row, m + 2 + n] = (
                    config.cls_token_id,
                    config.sep_token_id,
                    config.sep_token_id,
                )
                ids[row, m + 2 : m + 2 + n] = input_ids[row, chunk]
                mask[row, : m + 3 + n] = 1
                slots[row, m + 2 : m + 2 + n] = True
                positions.append(chunk)
                active.append(step < len(row_chunks))
            active = torch.tensor(active, device=ids.device)
            embeddings = embed(ids)
            embeddings = torch.cat([embeddings[:, :1], memory.to(embeddings.dtype), embeddings[:, m + 1 :]], dim=1)
            hidden = self.model(inputs_embeds=embeddings, attention_mask=mask).last_hidden_state  # (B, S, H)
            memory = torch.where(active[:, None, None], hidden[:, 1 : m + 1], memory)
            yield step, active, hidden, slots, positions


class GenaLMRMTForTokenClassification(GenaLMRecurrentMemory):
    """RMT token classification: one prediction per input token of the full sequence (B, L, num_labels); the
    positions of special and padding tokens get zeros. Labels -100 take no loss."""

    def __init__(self, config: GenaLMConfig):
        super().__init__(config)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs) -> TokenClassifierOutput:
        kwargs.pop("num_items_in_batch", None)
        batch, length = input_ids.shape
        logits = torch.zeros(batch, length, self.config.num_labels, device=input_ids.device)
        for _, active, hidden, slots, positions in self.run_segments(input_ids, attention_mask):
            segment_logits = self.classifier(self.dropout(hidden))  # (B, S, num_labels)
            for row in range(batch):
                if active[row]:
                    logits = logits.index_put(
                        (torch.full_like(positions[row], row), positions[row]), segment_logits[row][slots[row]]
                    )
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config)
        return TokenClassifierOutput(loss=loss, logits=logits)


class GenaLMRMTForSequenceClassification(GenaLMRecurrentMemory):
    """RMT sequence classification from the pooled [CLS] output of each row's last segment, which has read the
    whole sequence through the memory."""

    def __init__(self, config: GenaLMConfig):
        super().__init__(config)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs) -> SequenceClassifierOutput:
        kwargs.pop("num_items_in_batch", None)
        pooled = None
        for _, active, hidden, _, _ in self.run_segments(input_ids, attention_mask):
            segment_pooled = torch.tanh(self.model.pooler(hidden[:, 0]))  # (B, H)
            pooled = segment_pooled if pooled is None else torch.where(active[:, None], segment_pooled, pooled)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(logits, labels, self.config, self.config.classifier_pos_weight)
        return SequenceClassifierOutput(loss=loss, logits=logits)


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a GENA-LM (AIRI) BERT-style encoder over BPE tokens"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "GenaLMModel",
    "AutoModelForMaskedLM": "GenaLMForMaskedLM",
    "AutoModelForSequenceClassification": "GenaLMForSequenceClassification",
    "AutoModelForTokenClassification": "GenaLMForTokenClassification",
}


__all__ = [
    "GenaLMRecurrentMemory",
    "GenaLMRMTForSequenceClassification",
    "GenaLMRMTForTokenClassification",
    "GenaLMPreTrainedModel",
    "GenaLMModel",
    "GenaLMForMaskedLM",
    "GenaLMForSequenceClassification",
    "GenaLMForTokenClassification",
]
