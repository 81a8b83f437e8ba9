"""Nucleotide Transformer v3 (InstaDeep, 2025): a U-Net over single bases, for contexts up to 1 Mb at base
resolution.

Token embeddings -> stem convolution -> down blocks (LayerNorm, convolution, GELU, a pointwise residual block,
average pooling by 2) -> pre-LN Transformer layers (Nucleotide Transformer v2's: rotary positions, SwiGLU) at
1 / 2^num_downsamples of the length -> up blocks (a stride-2 transposed convolution, a pointwise residual block,
plus the matching down block's input) -> per-base states -> LM head. GELU is the tanh approximation (jax.nn.gelu's
default, as the authors' JAX code) and the transposed convolutions are jax.lax.conv_transpose's (kernel not flipped,
SAME padding), so the published weights give the published outputs.

Lengths: each row is extended with N (the authors' advice; the models never saw padding) to a multiple of
2^num_downsamples, and every convolution sees zeros past that, as its own zero padding would: each row of a padded
batch gives what it gives alone, and the output has the input's length.

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import initialization as init
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
from .configuration_ntv3 import NTv3Config, config_from_original
from .layers import activation, build_mlp, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel

STEM_KERNEL, TOWER_KERNEL = 15, 5  # the authors' fixed kernel sizes


gelu = activation("gelu_pytorch_tanh")  # jax.nn.gelu's default: the tanh approximation


class NTv3TransposedConv(nn.Module):
    """The authors' Conv1DTranspose: jax.lax.conv_transpose with SAME padding and the kernel not flipped (the
    input dilated by `stride`, padded, correlated with the kernel): (B, C_in, L) -> (B, C_out, stride x L). The
    weight is (in, out, kernel), as torch's ConvTranspose1d stores it; torch's transposed convolution of the flipped
    kernel computes it, with its padding on the right trimmed to SAME's."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.stride = stride
        total = kernel_size + stride - 2  # jax's SAME padding of the dilated input
        left = kernel_size - 1 if stride > kernel_size - 1 else math.ceil(total / 2)
        self.padding = kernel_size - 1 - left  # torch pads kernel_size - 1 - padding on both sides
        self.output_padding = max(0, (total - left) - left)  # SAME's right padding beyond torch's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv_transpose1d(
            x, self.weight.flip(-1), self.bias, self.stride, self.padding, output_padding=self.output_padding
        )
        return out[..., : self.stride * x.shape[-1]]


class NTv3RepeatConv(nn.Conv1d):
    """The "repeat+conv" upsampling: each position twice, then a SAME convolution."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.repeat_interleave(2, dim=-1))


def same_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv1d:
    """A stride-1 convolution with SAME padding (odd kernels)."""
    return nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class NTv3AdaptiveLayerNorm(nn.LayerNorm):
    """LayerNorm; in post-trained models each condition's embedding c_i (B, E) then rescales and shifts it per
    sequence: x * prod_i (1 + scale_i) + sum_i shift_i, with (shift_i, scale_i) = Linear_i(c_i) (zero-initialised:
    an unconditioned start). Without conditions, a LayerNorm."""

    def __init__(self, channels: int, config: NTv3Config, eps: float = 1e-5):
        super().__init__(channels, eps=eps)
        self.modulation_layers = condition_projections(config, 2 * channels)

    def forward(self, x: torch.Tensor, conditions: tuple = ()) -> torch.Tensor:
        x = super().forward(x)
        if not self.modulation_layers:
            return x
        scale, shift = 1.0, 0.0
        for layer, condition in zip(self.modulation_layers, conditions):
            shift_i, scale_i = layer(condition)[:, None].chunk(2, dim=-1)  # (B, 1, C) each
            scale, shift = scale * (1 + scale_i), shift + shift_i
        return x * scale + shift


def condition_projections(config: NTv3Config, width: int) -> nn.ModuleList:
    """One Linear(token_embedding_size, width) per condition (none for an unconditioned model)."""
    return nn.ModuleList(nn.Linear(config.token_embedding_size, width) for _ in config.conditions_vocab_sizes)


def condition_gate(layers: nn.ModuleList, conditions: tuple) -> torch.Tensor | float:
    """prod_i (1 + Linear_i(c_i)), (B, 1, C): the post-trained models' gate on a residual branch; 1 without."""
    gate = 1.0
    for layer, condition in zip(layers, conditions):
        gate = gate * (1 + layer(condition)[:, None])
    return gate


class NTv3ConvBlock(nn.Module):
    """(Adaptive) LayerNorm -> zeros past the sequence -> convolution -> GELU, over (B, L, C). As a residual
    branch (`gated`), post-trained models gate it per condition."""

    def __init__(self, channels: int, conv: nn.Module, config: NTv3Config, gated: bool = False):
        super().__init__()
        self.layer_norm = NTv3AdaptiveLayerNorm(channels, config)
        self.conv = conv
        if gated:
            self.modulation_layers = condition_projections(config, channels)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, conditions: tuple = ()) -> torch.Tensor:
        x = self.layer_norm(x, conditions) * keep  # keep (B, L, 1)
        return gelu(self.conv(x.transpose(1, 2)).transpose(1, 2))

    def residual(self, x: torch.Tensor, keep: torch.Tensor, conditions: tuple = ()) -> torch.Tensor:
        """x + gate * block(x)."""
        return x + condition_gate(self.modulation_layers, conditions) * self(x, keep, conditions)


class NTv3DownBlock(nn.Module):
    """(B, L, C_in) -> (B, L / 2, C_out): convolution block, pointwise residual block, average pooling by 2."""

    def __init__(self, in_channels: int, out_channels: int, config: NTv3Config):
        super().__init__()
        self.conv = NTv3ConvBlock(in_channels, same_conv(in_channels, out_channels, TOWER_KERNEL), config)
        self.res_conv = NTv3ConvBlock(out_channels, same_conv(out_channels, out_channels, 1), config, gated=True)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, conditions: tuple = ()) -> torch.Tensor:
        x = self.res_conv.residual(self.conv(x, keep, conditions), keep, conditions)
        return x.view(x.shape[0], -1, 2, x.shape[-1]).mean(2)


class NTv3UpBlock(nn.Module):
    """(B, L, C_in) -> (B, 2L, C_out): upsampling convolution block, pointwise (transposed) residual block."""

    def __init__(self, in_channels: int, out_channels: int, config: NTv3Config):
        super().__init__()
        if config.upsample_type == "conv_transpose":
            upsample = NTv3TransposedConv(in_channels, out_channels, TOWER_KERNEL, stride=2)
        else:
            upsample = NTv3RepeatConv(in_channels, out_channels, TOWER_KERNEL, padding=TOWER_KERNEL // 2)
        self.conv = NTv3ConvBlock(in_channels, upsample, config)
        pointwise = NTv3TransposedConv(out_channels, out_channels, 1, stride=1)
        self.res_conv = NTv3ConvBlock(out_channels, pointwise, config, gated=True)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, keep_up: torch.Tensor, conditions: tuple = ()):
        return self.res_conv.residual(self.conv(x, keep, conditions), keep_up, conditions)


class NTv3Layer(GradientCheckpointingLayer):
    """Nucleotide Transformer v2's pre-LN layer (x + Attn(LN(x)), then x + MLP(LN(x)); biased projections,
    bias-free SwiGLU), with adaptive norms and a gated MLP branch in post-trained models."""

    def __init__(self, config: NTv3Config, layer_idx: int):
        super().__init__()
        self.attention_norm = NTv3AdaptiveLayerNorm(config.hidden_size, config, config.layer_norm_eps)
        self.attention = DNAAttention(config, layer_idx, is_causal=False)
        self.mlp_norm = NTv3AdaptiveLayerNorm(config.hidden_size, config, config.layer_norm_eps)
        self.mlp = build_mlp(config)
        self.modulation_layers = condition_projections(config, config.hidden_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        conditions: tuple = (),
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_output, attn_weights = self.attention(
            self.attention_norm(hidden_states, conditions), attention_mask, position_embeddings, **kwargs
        )
        hidden_states = hidden_states + attn_output
        gate = condition_gate(self.modulation_layers, conditions)
        return hidden_states + gate * self.mlp(self.mlp_norm(hidden_states, conditions)), attn_weights


@dataclass
class NTv3ModelOutput(BaseModelOutput):
    r"""transformer_last_hidden_state: (B, T, hidden_size), the Transformer's output at 1 / 2^num_downsamples of
    the length; transformer_mask: (B, T), its positions that hold bases."""

    transformer_last_hidden_state: torch.Tensor | None = None
    transformer_mask: torch.Tensor | None = None


@dataclass
class NTv3MaskedLMOutput(MaskedLMOutput):
    r"""Post-trained models add, over the centre `keep_target_center_fraction` of the input (as trained):
    bigwig_tracks_logits: (B, L_centre, most tracks of a species), non-negative (softplus): the row's species'
        functional tracks (config.bigwigs_per_species), zeros past its own count;
    bed_tracks_logits: (B, L_centre, annotation elements, 2): per-base logits of each genome-annotation element;
    conditions_logits: per condition, (B, its vocabulary): the condition (species) predicted from the sequence."""

    bigwig_tracks_logits: torch.Tensor | None = None
    bed_tracks_logits: torch.Tensor | None = None
    conditions_logits: tuple[torch.Tensor, ...] | None = None


class NTv3PreTrainedModel(DNAPreTrainedModel):
    config_class = NTv3Config
    config: NTv3Config
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "classifier.")
    supports_gradient_checkpointing = True
    _no_split_modules = ["NTv3Layer"]
    _supports_sdpa = True
    _supports_attention_backend = True

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        if config_from_original(raw_config) is None:
            return None
        layer = r"^model\.transformer_blocks\.(\d+)\."
        return {  # the authors' HF PyTorch layout (`core.` before every name), as their JAX loader reads it
            r"^core\.": "model.",
            r"^model\.embed_layer\.": "model.embed_tokens.",
            r"^model\.stem\.conv\.": "model.stem.",
            r"^model\.conv_tower_blocks\.": "model.down_blocks.",
            r"^model\.deconv_tower_blocks\.": "model.up_blocks.",
            r"\.res_conv\.conv_block\.": ".res_conv.",
            layer + r"self_attention_layer_norm\.": r"model.layers.\1.attention_norm.",
            layer + r"final_layer_norm\.": r"model.layers.\1.mlp_norm.",
            layer + r"sa_layer\.query_head\.linear\.": r"model.layers.\1.attention.q_proj.",
            layer + r"sa_layer\.key_head\.linear\.": r"model.layers.\1.attention.k_proj.",
            layer + r"sa_layer\.value_head\.linear\.": r"model.layers.\1.attention.v_proj.",
            layer + r"sa_layer\.mha_output\.": r"model.layers.\1.attention.o_proj.",
            layer + r"fc1\.": r"model.layers.\1.mlp.gate_up_proj.",
            layer + r"fc2\.": r"model.layers.\1.mlp.down_proj.",
            layer + r"modulation_layers\.": r"model.layers.\1.modulation_layers.",
            r"^model\.lm_head\.": "lm_head.",
            # post-trained: the condition (species) embeddings and heads, the track and annotation heads
            r"^model\.cond_tables\.": "model.condition_embeddings.",
            r"^model\.(conditions_heads|bigwig_head|bed_head)\.": r"\1.",
        }

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, NTv3TransposedConv):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)


class NTv3Model(NTv3PreTrainedModel):
    """The U-Net. `last_hidden_state`: (B, L, stem_hidden_size), one vector per input base. `hidden_states` (on
    request): the Transformer's input and every layer's output, at 1 / 2^num_downsamples of the length, then
    `last_hidden_state`."""

    def __init__(self, config: NTv3Config):
        super().__init__(config)
        widths = config.tower_widths
        self.embed_tokens = nn.Embedding(config.vocab_size, config.token_embedding_size)
        self.condition_embeddings = nn.ModuleList(
            nn.Embedding(vocab, config.token_embedding_size) for vocab in config.conditions_vocab_sizes
        )
        self.stem = same_conv(config.token_embedding_size, config.stem_hidden_size, STEM_KERNEL)
        self.down_blocks = nn.ModuleList(NTv3DownBlock(a, b, config) for a, b in zip(widths[:-1], widths[1:]))
        self.rotary = RotaryEmbedding(config.head_dim, config.rope_theta)
        self.layers = nn.ModuleList(NTv3Layer(config, i) for i in range(config.num_hidden_layers))
        up_widths = widths[::-1]
        self.up_blocks = nn.ModuleList(NTv3UpBlock(a, b, config) for a, b in zip(up_widths[:-1], up_widths[1:]))
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def extend_to_multiple(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None):
        """Each row's bases, then N up to a multiple of 2^num_downsamples, then padding: (ids, keep) with keep
        (B, L') True on the row's extended length. The mask must be right-padded (a run of ones, then zeros)."""
        config = self.config
        if attention_mask is None:
            attention_mask = input_ids.ne(config.pad_token_id)
        attention_mask = attention_mask.bool()
        lengths = attention_mask.sum(1)  # (B,)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        if not torch.equal(attention_mask, positions < lengths[:, None]):
            row = int((attention_mask != (positions < lengths[:, None])).any(1).nonzero()[0])
            raise ValueError(
                f"row {row} of attention_mask is not right-padded (ones, then zeros): NTv3 extends each sequence on "
                "the right to a multiple of its downsampling factor; pad on the right (tokenizer.padding_side)"
            )
        multiple = config.length_multiple
        total = -(-input_ids.shape[1] // multiple) * multiple
        extended = -(-lengths // multiple) * multiple  # (B,)
        input_ids = F.pad(input_ids, (0, total - input_ids.shape[1]), value=config.pad_token_id)
        positions = torch.arange(total, device=input_ids.device)
        filler = (positions >= lengths[:, None]) & (positions < extended[:, None])
        input_ids = input_ids.masked_fill(filler, config.length_padding_token_id)
        return input_ids, positions < extended[:, None]

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        species_ids: torch.LongTensor | None = None,
        **kwargs,
    ) -> "NTv3ModelOutput":
        r"""attention_mask: (B, L), right-padded; without it, positions holding the pad token are padding.
        species_ids: post-trained models only: (B,) the condition token of each row (`species_ids_of`), or
            (B, conditions) for several conditions."""
        if input_ids is None or inputs_embeds is not None:
            raise ValueError("NTv3 takes input_ids (the length extension needs the tokens), not inputs_embeds")
        conditions = self.embed_conditions(species_ids, input_ids.shape[0])
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        length = input_ids.shape[1]
        input_ids, keep = self.extend_to_multiple(input_ids, attention_mask)
        dtype = self.embed_tokens.weight.dtype
        # keep at every resolution of the towers: (B, L' / 2^level, 1)
        keeps = [keep[:, :: 2**level, None].to(dtype) for level in range(self.config.num_downsamples + 1)]

        hidden_states = self.embed_tokens(input_ids) * keeps[0]  # (B, L', E)
        hidden_states = gelu(self.stem(hidden_states.transpose(1, 2)).transpose(1, 2))  # (B, L', C_0)
        skips = []
        for level, block in enumerate(self.down_blocks):
            skips.append(hidden_states)
            hidden_states = block(hidden_states, keeps[level], conditions)  # (B, L' / 2^(level+1), C_level+1)

        coarse = keeps[-1][..., 0].bool()  # (B, T): positions of the Transformer that hold bases
        mask = create_bidirectional_mask(self.config, hidden_states, coarse)
        positions = torch.arange(hidden_states.shape[1], device=hidden_states.device).unsqueeze(0)
        position_embeddings = self.rotary(hidden_states, positions)
        all_hidden_states = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for layer in self.layers:
            hidden_states, attn_weights = layer(hidden_states, mask, position_embeddings, conditions, **kwargs)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            if output_attentions:
                all_attentions.append(attn_weights)

        transformer_output = hidden_states  # (B, T, H)
        depth = self.config.num_downsamples
        for step, block in enumerate(self.up_blocks):
            hidden_states = block(hidden_states, keeps[depth - step], keeps[depth - step - 1], conditions)
            if self.config.use_skip_connections:
                hidden_states = hidden_states + skips[depth - step - 1]
        hidden_states = hidden_states[:, :length]  # (B, L, C_0)
        if output_hidden_states:
            all_hidden_states.append(hidden_states)
        return NTv3ModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
            transformer_last_hidden_state=transformer_output,
            transformer_mask=coarse,
        )

    def embed_conditions(self, species_ids: torch.Tensor | None, batch: int) -> tuple:
        """Each condition's embedding (B, E); () for an unconditioned model."""
        config = self.config
        if not config.conditions_vocab_sizes:
            if species_ids is not None:
                raise ValueError("species_ids: this NTv3 is not conditioned (a pre-trained model); do not pass them")
            return ()
        if species_ids is None:
            raise ValueError(
                "this post-trained NTv3 is conditioned on the species: pass species_ids, e.g. "
                f"model.species_ids_of(['human'] * batch) (species: {', '.join(sorted(config.species_to_token_id))})"
            )
        ids = species_ids.reshape(batch, -1)
        if ids.shape[1] != len(config.conditions_vocab_sizes):
            raise ValueError(
                f"species_ids hold {ids.shape[1]} conditions per row; the model has {len(self.condition_embeddings)}"
            )
        for index, (vocab, column) in enumerate(zip(config.conditions_vocab_sizes, ids.unbind(1))):
            bad = ((column < 0) | (column >= vocab)).nonzero()
            if len(bad):
                row = int(bad[0])
                raise ValueError(
                    f"row {row}: condition {index} id {int(column[row])} is outside its vocabulary (0..{vocab - 1})"
                )
        return tuple(embedding(column) for embedding, column in zip(self.condition_embeddings, ids.unbind(1)))

    def species_ids_of(self, species: list[str]) -> torch.LongTensor:
        """(B,) condition ids of species names (config.species_to_token_id), for `species_ids`."""
        table = self.config.species_to_token_id
        unknown = [name for name in species if name not in table]
        if unknown:
            raise ValueError(f"unknown species {unknown}; this model knows {', '.join(sorted(table))}")
        return torch.tensor([table[name] for name in species], device=self.embed_tokens.weight.device)


class NTv3LMHead(nn.Module):
    """GELU -> (Linear -> GELU) x lm_head_hidden_layers -> Linear(C_0, vocab)."""

    def __init__(self, config: NTv3Config):
        super().__init__()
        width = config.stem_hidden_size
        self.hidden_layers = nn.ModuleList(nn.Linear(width, width) for _ in range(config.lm_head_hidden_layers))
        self.head = nn.Linear(width, config.vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = gelu(hidden_states)
        for layer in self.hidden_layers:
            hidden_states = gelu(layer(hidden_states))
        return self.head(hidden_states)  # (B, L, V)


def crop_center(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """The centre `fraction` of (B, L, ...) over L, cut as the authors do: int((1 - fraction) L) // 2 per side."""
    cut = int((1.0 - fraction) * x.shape[1]) // 2
    return x[:, cut : x.shape[1] - cut]


class NTv3TrackHead(nn.Module):
    """The authors' LinearHead / ClassificationHead: LayerNorm (flax's default eps, 1e-6) -> Linear."""

    def __init__(self, width: int, outputs: int):
        super().__init__()
        self.layer_norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer_norm(x))


class NTv3SpeciesTracksHead(nn.Module):
    """One functional-track head per species (softplus outputs), keyed by the species' rank in token-id order; each
    row gets its species' tracks, zero-padded to the largest species' count."""

    def __init__(self, config: NTv3Config):
        super().__init__()
        counts = [len(config.bigwigs_per_species[name]) for name in config.track_species]
        self.tracks = max(counts)
        self.species_heads = nn.ModuleDict(
            {str(rank): NTv3TrackHead(config.stem_hidden_size, count) for rank, count in enumerate(counts) if count}
        )

    def forward(self, x: torch.Tensor, head_index: torch.Tensor) -> torch.Tensor:
        logits = x.new_zeros(*x.shape[:-1], self.tracks)  # (B, L, tracks)
        for rank, head in self.species_heads.items():
            rows = head_index == int(rank)
            if rows.any():
                predicted = F.softplus(head(x[rows]))
                logits[rows] = F.pad(predicted, (0, self.tracks - predicted.shape[-1]))
        return logits


class NTv3ForMaskedLM(NTv3PreTrainedModel):
    """Masked-base prediction at every position (the authors' pre-training objective). Post-trained checkpoints
    (species-conditioned) add their heads: a condition classifier per condition on the mean Transformer output, the
    species' functional tracks and the genome annotation per base (see NTv3MaskedLMOutput)."""

    def __init__(self, config: NTv3Config):
        super().__init__(config)
        self.model = NTv3Model(config)
        self.lm_head = NTv3LMHead(config)
        self.conditions_heads = nn.ModuleList(nn.Linear(config.hidden_size, v) for v in config.conditions_vocab_sizes)
        if config.bigwigs_per_species:
            self.bigwig_head = NTv3SpeciesTracksHead(config)
        if config.bed_elements_names:
            self.bed_head = NTv3TrackHead(config.stem_hidden_size, 2 * len(config.bed_elements_names))
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head.head = new_embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        r"""labels: (B, L) token ids to predict, -100 where no loss is taken. species_ids: post-trained models,
        see NTv3Model."""
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        species_ids = kwargs.pop("species_ids", None)
        outputs = self.model(input_ids, attention_mask, inputs_embeds, species_ids=species_ids, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        return NTv3MaskedLMOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            **self.post_trained_heads(outputs, species_ids),
        )

    def post_trained_heads(self, outputs: NTv3ModelOutput, species_ids: torch.Tensor | None) -> dict:
        """The post-trained heads' outputs (none for a pre-trained model)."""
        config, heads = self.config, {}
        if self.conditions_heads:
            pooled = pool_hidden_states(outputs.transformer_last_hidden_state, outputs.transformer_mask, "mean")
            pooled = gelu(pooled)
            heads["conditions_logits"] = tuple(head(pooled) for head in self.conditions_heads)
        centre = crop_center(outputs.last_hidden_state, config.keep_target_center_fraction)  # (B, L_centre, C)
        if hasattr(self, "bigwig_head"):
            species = species_ids.reshape(centre.shape[0], -1)[:, 0]  # the first condition: the species
            head_index = species - config.num_species_special_tokens
            if (head_index < 0).any():
                row = int((head_index < 0).nonzero()[0])
                raise ValueError(
                    f"row {row}: species id {int(species[row])} is a special "
                    f"token (below {config.num_species_special_tokens}), not a species with tracks"
                )
            heads["bigwig_tracks_logits"] = self.bigwig_head(centre, head_index)
        if hasattr(self, "bed_head"):
            heads["bed_tracks_logits"] = self.bed_head(centre).unflatten(-1, (len(config.bed_elements_names), 2))
        return heads


class NTv3ForSequenceClassification(NTv3PreTrainedModel):
    """Per-base states pooled over non-padding positions (mean by default) -> Linear(C_0, num_labels)."""

    def __init__(self, config: NTv3Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = NTv3Model(config)
        self.classifier = nn.Linear(config.stem_hidden_size, config.num_labels)
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
        logits = self.classifier(pooled)  # (B, num_labels)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class NTv3ForTokenClassification(NTv3PreTrainedModel):
    """Per-base head (genome annotation at base resolution): Linear(C_0, num_labels); labels -100 are ignored."""

    def __init__(self, config: NTv3Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = NTv3Model(config)
        self.classifier = nn.Linear(config.stem_hidden_size, config.num_labels)
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
        logits = self.classifier(outputs.last_hidden_state)  # (B, L, num_labels)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, self.config, num_items_in_batch=num_items_in_batch)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a Nucleotide Transformer v3 (InstaDeep) U-Net masked language model over single bases"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "NTv3Model",
    "AutoModelForMaskedLM": "NTv3ForMaskedLM",
    "AutoModelForSequenceClassification": "NTv3ForSequenceClassification",
    "AutoModelForTokenClassification": "NTv3ForTokenClassification",
}


__all__ = [
    "NTv3PreTrainedModel",
    "NTv3Model",
    "NTv3ForMaskedLM",
    "NTv3ForSequenceClassification",
    "NTv3ForTokenClassification",
]
