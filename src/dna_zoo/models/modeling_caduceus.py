"""Caduceus (Schiff et al., 2024): a bidirectional Mamba encoder over single bases, with optional exact
reverse-complement equivariance (RCPS, the "ps" checkpoints).

Each block is pre-norm with no MLP: x + BiMamba(Norm(x)). BiMamba runs one Mamba over the sequence and a second
over the reversed sequence (sharing the input and output projections by default) and adds the two. A Mamba mixer
projects to a stream x and a gate z, runs a short causal depthwise convolution and SiLU over x, then the selective
state-space scan h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t, y_t = C_t h_t + D x_t, gated by SiLU(z). The scan here
is plain PyTorch: chunked (a short loop over the positions of a chunk, all chunks at once, then a loop over
chunks) inside fixed-size blocks that carry the state, so time is linear and memory bounded at any length.

RCPS: hidden states have two halves, the forward strand's and the reverse complement's (stored flipped over length
and channels). Every module applies the same weights to both halves, so the model's output for the reverse
complement of a sequence is exactly its output for the sequence, flipped (and complemented, for the LM head).

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput
from transformers.utils import can_return_tuple

from .configuration_caduceus import CaduceusConfig, config_from_original
from .layers import RMSNorm, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel


def _scan_block(log_decay, inputs, C, state, chunk_size: int):
    """One block of the scan from `state`. log_decay = dt A and inputs = dt B x, (b, e, l, n); C (b, l, n);
    state (b, e, n). Returns y (b, e, l) and the state after the block."""
    b, e, length, n = inputs.shape
    pad = -length % chunk_size  # padded positions: no decay, no input, so the state passes through unchanged
    if pad:
        log_decay, inputs = F.pad(log_decay, (0, 0, 0, pad)), F.pad(inputs, (0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, pad))
    chunks = (length + pad) // chunk_size
    log_decay = log_decay.view(b, e, chunks, chunk_size, n)
    inputs = inputs.view(b, e, chunks, chunk_size, n)
    # states of each chunk started from zero: a loop over the positions of a chunk, every chunk at once
    local = torch.empty_like(inputs)
    h = inputs.new_zeros(b, e, chunks, n)
    for t in range(chunk_size):
        h = torch.exp(log_decay[:, :, :, t]) * h + inputs[:, :, :, t]
        local[:, :, :, t] = h
    decay_from_start = torch.exp(log_decay.cumsum(3))  # (b, e, chunks, T, n): decay since the chunk's start
    # the true state at each chunk's start: a loop over chunks
    starts = []
    for c in range(chunks):
        starts.append(state)
        state = decay_from_start[:, :, c, -1] * state + local[:, :, c, -1]
    states = local + decay_from_start * torch.stack(starts, 2)[:, :, :, None]  # (b, e, chunks, T, n)
    y = torch.einsum("bectn,bctn->bect", states, C.view(b, chunks, chunk_size, n))
    return y.reshape(b, e, -1)[..., :length], state


def selective_scan(x, dt, A, B, C, D, z, chunk_size: int = 32, block_size: int = 1024) -> torch.Tensor:
    """Mamba's selective scan (mamba_ssm's selective_scan_ref with dt already through its bias and softplus),
    in float32: x, dt, z (b, e, L); A (e, n); B, C (b, L, n); D (e,) -> (b, e, L). Blocks of `block_size`
    positions bound the memory to O(b e block_size n) at any L."""
    x, dt, A, B, C = x.float(), dt.float(), A.float(), B.float(), C.float()
    state = x.new_zeros(x.shape[0], x.shape[1], A.shape[1])  # (b, e, n)
    outputs = []
    for start in range(0, x.shape[-1], block_size):
        block = slice(start, start + block_size)
        dt_block = dt[..., block, None]  # (b, e, l, 1)
        log_decay = dt_block * A[:, None]  # (b, e, l, n)
        inputs = (dt_block * x[..., block, None]) * B[:, None, block]
        y, state = _scan_block(log_decay, inputs, C[:, block], state, chunk_size)
        outputs.append(y)
    y = torch.cat(outputs, -1) + x * D.float()[:, None]
    return y * F.silu(z.float())


class CaduceusMamba(nn.Module):
    """One Mamba mixer (mamba_ssm's weight names). With `projections=False` it owns no input / output projection
    and borrows another mixer's (BiMamba's weight tying)."""

    def __init__(self, config: CaduceusConfig, projections: bool = True):
        super().__init__()
        inner, rank, state = config.intermediate_size, config.time_step_rank, config.state_size
        if projections:
            self.in_proj = nn.Linear(config.hidden_size, 2 * inner, bias=config.use_bias)
            self.out_proj = nn.Linear(inner, config.hidden_size, bias=config.use_bias)
        kernel = config.conv_kernel
        self.conv1d = nn.Conv1d(inner, inner, kernel, padding=kernel - 1, groups=inner, bias=config.use_conv_bias)
        self.x_proj = nn.Linear(inner, rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(rank, inner, bias=True)
        self.A_log = nn.Parameter(torch.empty(inner, state))
        self.D = nn.Parameter(torch.empty(inner))
        self.rank, self.state = rank, state
        self.chunk_size, self.block_size = config.scan_chunk_size, config.scan_block_size

    def forward(self, hidden_states, keep: torch.Tensor | None = None, projections: "CaduceusMamba | None" = None):
        """hidden_states (B, L, H); keep (B, L, 1) zeroes padding positions, so that they never reach the state."""
        projections = projections or self
        length = hidden_states.shape[1]
        x, z = projections.in_proj(hidden_states).transpose(1, 2).chunk(2, dim=1)  # (B, E, L) each
        keep = keep.transpose(1, 2) if keep is not None else None  # (B, 1, L)
        if keep is not None:
            x = x * keep
        x = F.silu(self.conv1d(x)[..., :length])  # causal: the first L outputs
        if keep is not None:
            x = x * keep
        dt, B, C = self.x_proj(x.transpose(1, 2)).split([self.rank, self.state, self.state], dim=-1)
        dt = F.softplus(self.dt_proj(dt).float()).transpose(1, 2)  # (B, E, L)
        A = -torch.exp(self.A_log.float())
        y = selective_scan(x, dt, A, B, C, self.D, z, self.chunk_size, self.block_size)
        return projections.out_proj(y.transpose(1, 2).to(hidden_states.dtype))  # (B, L, H)


class CaduceusBiMamba(nn.Module):
    """Mamba forwards plus Mamba over the reversed sequence (flipped back), added or multiplied elementwise."""

    def __init__(self, config: CaduceusConfig):
        super().__init__()
        self.mamba_fwd = CaduceusMamba(config)
        self.tied = config.bidirectional_weight_tie
        self.mamba_rev = CaduceusMamba(config, projections=not self.tied) if config.bidirectional else None
        self.strategy = config.bidirectional_strategy

    def forward(self, hidden_states: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        out = self.mamba_fwd(hidden_states, keep)
        if self.mamba_rev is None:
            return out
        flipped_keep = keep.flip(1) if keep is not None else None
        projections = self.mamba_fwd if self.tied else None
        reverse = self.mamba_rev(hidden_states.flip(1), flipped_keep, projections).flip(1)
        return out + reverse if self.strategy == "add" else out * reverse


def split_strands(hidden_states: torch.Tensor) -> torch.Tensor:
    """RCPS hidden states (B, L, 2H) -> (2B, L, H): the forward strand's rows, then the reverse complement's, each
    in its own reading order (the second half is stored aligned with the forward positions, channels flipped)."""
    forward_half, rc_half = hidden_states.chunk(2, dim=-1)
    return torch.cat([forward_half, rc_half.flip(-2, -1)])


def join_strands(strands: torch.Tensor) -> torch.Tensor:
    """The inverse of split_strands: (2B, L, H) -> (B, L, 2H)."""
    forward_strand, rc_strand = strands.chunk(2)
    return torch.cat([forward_strand, rc_strand.flip(-2, -1)], dim=-1)


def strand_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """A (B, L, ...) padding mask for the rows of split_strands: as is, then reversed over length."""
    return torch.cat([mask, mask.flip(1)]) if mask is not None else None


def build_norm(config: CaduceusConfig) -> nn.Module:
    """The norm of each block and the final one: RMSNorm, or LayerNorm when `rms_norm` is off."""
    return (RMSNorm if config.rms_norm else nn.LayerNorm)(config.hidden_size, eps=config.norm_eps)


class CaduceusBlock(GradientCheckpointingLayer):
    """x + BiMamba(Norm(x)). With RCPS both halves go through the same norm and mixer (the reverse-complement half
    in forward order); with `rcps_swap_halves` the halves trade places first, as the authors' fused kernels do."""

    def __init__(self, config: CaduceusConfig):
        super().__init__()
        self.norm = build_norm(config)
        self.mixer = CaduceusBiMamba(config)
        self.rcps = config.rcps
        self.swap_halves = config.rcps and config.rcps_swap_halves
        self.residual_in_fp32 = config.residual_in_fp32

    def forward(self, hidden_states: torch.Tensor, keep: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if self.swap_halves:
            hidden_states = torch.cat(hidden_states.chunk(2, dim=-1)[::-1], dim=-1)
        if self.residual_in_fp32:
            hidden_states = hidden_states.float()
        if not self.rcps:
            return hidden_states + self.mixer(self.norm(hidden_states.to(self.norm.weight.dtype)), keep)
        strands = split_strands(hidden_states).to(self.norm.weight.dtype)  # (2B, L, H): both strands, one batch
        return hidden_states + join_strands(self.mixer(self.norm(strands), strand_mask(keep)))


class CaduceusPreTrainedModel(DNAPreTrainedModel):
    config_class = CaduceusConfig
    config: CaduceusConfig
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "score.")
    # The authors save the complement map (a buffer of their RCPS embedding and LM head); it comes from the config.
    _keys_to_ignore_on_load_unexpected = [r"complement_map$"]
    supports_gradient_checkpointing = True
    _no_split_modules = ["CaduceusBlock"]

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        fields = config_from_original(raw_config)
        if fields is None:
            return None
        mapping = {  # the authors' HF remote code: Caduceus*.caduceus.backbone.*
            r"^(?:caduceus\.)?backbone\.": "model.",
            r"\.word_embeddings\.embedding\.": ".word_embeddings.",  # RCPSEmbedding's inner nn.Embedding
            r"\.(mixer|norm)\.submodule\.": r".\1.",  # RCPSWrapper / RCPSAddNormWrapper
            r"^model\.norm_f\.(?:submodule\.)?": "model.final_norm.",
            r"^lm_head\.lm_head\.": "lm_head.",  # RCPSLMHead's inner nn.Linear
        }
        if fields.get("bidirectional_weight_tie", True):  # the reverse mixer's copies of the shared projections
            mapping[r"\.mamba_rev\.(in_proj|out_proj)\."] = r".mamba_fwd.\1."
        return mapping

    @torch.no_grad()
    def _init_weights(self, module):
        """mamba_ssm's initialisation: A = 1..N per channel, D = 1, time steps log-uniform in [dt_min, dt_max]
        through the inverse softplus of dt_proj's bias, output projections scaled by 1 / sqrt(depth)."""
        super()._init_weights(module)
        config = self.config
        if isinstance(module, CaduceusMamba):
            states = torch.arange(1, config.state_size + 1, dtype=torch.float32, device=module.A_log.device)
            init.copy_(module.A_log, torch.log(states).expand_as(module.A_log))
            init.ones_(module.D)
            std = config.time_step_rank**-0.5 * config.time_step_scale
            if config.time_step_init_scheme == "constant":
                init.constant_(module.dt_proj.weight, std)
            else:
                init.uniform_(module.dt_proj.weight, -std, std)
            low, high = math.log(config.time_step_min), math.log(config.time_step_max)
            dt = torch.exp(torch.rand(config.intermediate_size, device=module.D.device) * (high - low) + low)
            dt = dt.clamp(min=config.time_step_floor)
            init.copy_(module.dt_proj.bias, dt + torch.log(-torch.expm1(-dt)))  # softplus(bias) = dt
            if hasattr(module, "out_proj"):
                # mamba_ssm's kaiming_uniform_(a=sqrt(5)) divided by sqrt(depth): uniform within that bound
                bound = 1 / math.sqrt(config.intermediate_size * config.num_hidden_layers)
                init.uniform_(module.out_proj.weight, -bound, bound)


class CaduceusEmbeddings(nn.Module):
    """Token embeddings; with RCPS, the embeddings of the complement bases, flipped over channels, as the second
    half (over the whole sequence this is the reverse complement's embedding in the flipped storage order)."""

    def __init__(self, config: CaduceusConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.padded_vocab_size, config.hidden_size)
        self.rcps = config.rcps
        self.complement_map = config.complement_map

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        embeddings = self.word_embeddings(input_ids)  # (B, L, H)
        if not self.rcps:
            return embeddings
        complement = torch.tensor(self.complement_map, device=input_ids.device)[input_ids]
        return torch.cat([embeddings, self.word_embeddings(complement).flip(-1)], dim=-1)  # (B, L, 2H)


class CaduceusModel(CaduceusPreTrainedModel):
    """The backbone. Padding never reaches the state of either direction, so each row of a padded batch (padded on
    either side) gives what it gives alone. `hidden_states` (on request): the embeddings and every block's output,
    the last with the final norm applied. With RCPS every hidden state has 2 x hidden_size channels."""

    def __init__(self, config: CaduceusConfig):
        super().__init__(config)
        self.embeddings = CaduceusEmbeddings(config)
        self.layers = nn.ModuleList(CaduceusBlock(config) for _ in range(config.num_hidden_layers))
        self.final_norm = build_norm(config)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def normalize(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """The final norm, per strand with RCPS."""
        hidden_states = hidden_states.to(self.final_norm.weight.dtype)
        if not self.config.rcps:
            return self.final_norm(hidden_states)
        return join_strands(self.final_norm(split_strands(hidden_states)))

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        r"""inputs_embeds: (B, L, H), or (B, L, 2H) with RCPS (both halves, as the embeddings give them)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        hidden_states = self.embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        width = self.config.hidden_size * (2 if self.config.rcps else 1)
        if hidden_states.shape[-1] != width:
            raise ValueError(f"inputs_embeds have {hidden_states.shape[-1]} channels; this model takes {width}")
        keep = attention_mask[..., None].to(hidden_states.dtype) if attention_mask is not None else None
        all_hidden_states = [hidden_states] if output_hidden_states else None
        for layer in self.layers:
            hidden_states = layer(hidden_states, keep)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
        hidden_states = self.normalize(hidden_states)
        if output_hidden_states:
            all_hidden_states[-1] = hidden_states
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
        )


class CaduceusLMHead(nn.Module):
    """Tied to the embeddings. With RCPS: logits = W h_fwd + W[complement] flip_channels(h_rc), so that a base's
    logit and its complement's swap under reverse complement."""

    def __init__(self, config: CaduceusConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(config.padded_vocab_size, config.hidden_size))
        self.rcps = config.rcps
        self.complement_map = config.complement_map

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if not self.rcps:
            return F.linear(hidden_states, self.weight)
        forward_half, rc_half = hidden_states.chunk(2, dim=-1)
        complement = torch.tensor(self.complement_map, device=self.weight.device)
        return F.linear(forward_half, self.weight) + F.linear(rc_half.flip(-1), self.weight[complement])


class CaduceusForMaskedLM(CaduceusPreTrainedModel):
    """Masked-base prediction over the padded vocabulary; the LM head is tied to the input embeddings."""

    _tied_weights_keys = {"lm_head.weight": "model.embeddings.word_embeddings.weight"}

    def __init__(self, config: CaduceusConfig):
        super().__init__(config)
        self.model = CaduceusModel(config)
        self.lm_head = CaduceusLMHead(config)
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
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        r"""labels: (B, L) token ids at masked positions, -100 elsewhere."""
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, inputs_embeds, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)  # (B, L, padded V)
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits, labels, self.config.padded_vocab_size, num_items_in_batch=num_items_in_batch
            )
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


class CaduceusForSequenceClassification(CaduceusPreTrainedModel):
    """Pooled backbone output (mean over non-padding positions by default) -> Linear(H, num_labels, no bias), as
    the authors'. With RCPS the two strands are pooled apart and their logits averaged: the prediction for a
    sequence and for its reverse complement is the same."""

    def __init__(self, config: CaduceusConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = CaduceusModel(config)
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
        outputs = self.model(input_ids, attention_mask, inputs_embeds, **kwargs)
        hidden_states, pooling = outputs.last_hidden_state, self.config.classifier_pooling
        if self.config.rcps:
            pooled = pool_hidden_states(split_strands(hidden_states), strand_mask(attention_mask), pooling)
            logits = self.score(pooled).view(2, -1, self.num_labels).mean(0)  # (B, num_labels)
        else:
            logits = self.score(pool_hidden_states(hidden_states, attention_mask, pooling))
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a Caduceus (bidirectional Mamba, reverse-complement equivariant) masked language model"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "CaduceusModel",
    "AutoModelForMaskedLM": "CaduceusForMaskedLM",
    "AutoModelForSequenceClassification": "CaduceusForSequenceClassification",
}


__all__ = [
    "CaduceusPreTrainedModel",
    "CaduceusModel",
    "CaduceusForMaskedLM",
    "CaduceusForSequenceClassification",
    "selective_scan",
]
