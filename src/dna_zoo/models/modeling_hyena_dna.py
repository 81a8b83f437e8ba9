"""HyenaDNA (Nguyen et al., 2023): a causal language model over single bases with Hyena long convolutions.

Each block is pre-LN: x + Hyena(LN(x)), then x + MLP(LN(x)). The Hyena operator (order 2) projects to three
streams, runs a short causal depthwise convolution over them, then computes out_proj(x0 * (k * (x1 * v) + D (x1 *
v))), where `*` between k and a stream is a causal convolution over the whole sequence with a filter k as long as
the input, computed through the FFT (O(L log L)). The filter is implicit: a small MLP with Sin activations maps
positional features of each position to one value per channel, times an exponential decay window. Nothing here is
quadratic in the length and there is no attention.

This file travels to the Hub as remote code: it imports only torch, transformers and its siblings.
"""

import math

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, CausalLMOutput, SequenceClassifierOutput
from transformers.utils import can_return_tuple

from .configuration_hyena_dna import HyenaDNAConfig, config_from_original
from .layers import GeluMLP, pool_hidden_states, sequence_classification_loss
from .pretrained import DNAPreTrainedModel


def fft_causal_conv(u: torch.Tensor, kernel: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """y[t] = sum_{s <= t} kernel[s] u[t - s] + skip u[t], per channel, through the FFT (zero-padded to 2L, so
    nothing wraps around). u (B, C, L), kernel (C, L), skip (C,) -> (B, C, L), computed in float32."""
    length = u.shape[-1]
    n = 2 * length
    spectrum = torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(kernel.float(), n=n)
    y = torch.fft.irfft(spectrum, n=n)[..., :length]
    return (y + u.float() * skip.float()[:, None]).to(u.dtype)


class HyenaSin(nn.Module):
    """sin(freq * x) with one frequency per filter channel, learned when `train_freq` (shared by every layer of the
    filter MLP, as the authors' code has it)."""

    def __init__(self, config: HyenaDNAConfig):
        super().__init__()
        self.train_freq = config.train_freq
        self.activation_freq = config.activation_freq
        if config.train_freq:
            self.freq = nn.Parameter(torch.full((1, config.filter_order), float(config.activation_freq)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin((self.freq if self.train_freq else self.activation_freq) * x)


class HyenaFilter(nn.Module):
    """The implicit long filter: positional features (t in [0, 1] over the context, and sin / cos bands) -> MLP
    with Sin activations -> one value per channel and position, times exp(-t |delta_c|) + 0.05 (a decay per channel
    from fast to slow). `bias` is the convolution's skip term D."""

    def __init__(self, config: HyenaDNAConfig):
        super().__init__()
        self.context = config.max_position_embeddings
        self.bands = (config.filter_emb_dim - 1) // 2
        self.bias = nn.Parameter(torch.randn(config.hidden_size))
        # Linear, Sin, (Linear, Sin) x num_inner_mlps, Linear: the authors reuse one Sin module (one set of
        # frequencies, saved as implicit_filter.1.freq) after every hidden Linear; the later places hold an
        # Identity so that the indices, and so the weight names, stay theirs
        layers = [nn.Linear(config.filter_emb_dim, config.filter_order), HyenaSin(config)]
        for _ in range(config.num_inner_mlps):
            layers += [nn.Linear(config.filter_order, config.filter_order), nn.Identity()]
        layers.append(nn.Linear(config.filter_order, config.hidden_size, bias=False))
        self.implicit_filter = nn.Sequential(*layers)
        target, fast, slow = 1e-2, 0.3, 1.5  # the decay reaches `target` at 30% .. 150% of the context
        self.decay_range = (math.log(target) / slow, math.log(target) / fast)
        self.shift = 0.05

    def positional_features(self, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, emb_dim) features and (L, 1) times of the first `length` positions of the context (computed, not
        buffers: from_pretrained builds models on the meta device)."""
        # linspace over the whole context, then its first positions, as the authors' code (their rounding)
        t = torch.linspace(0, 1, self.context, device=device)[:length, None]  # (L, 1)
        positions = torch.linspace(0, self.context - 1, self.context, device=device)[:length, None]
        angle = 2 * math.pi * positions / self.context
        frequencies = torch.linspace(1e-4, self.bands - 1, self.bands, device=device)[None]  # (1, bands)
        return torch.cat([t, torch.cos(-frequencies * angle), torch.sin(-frequencies * angle)], dim=-1), t

    def kernel(self, length: int) -> torch.Tensor:
        """(C, L) filter for an input of `length` positions."""
        weight = self.implicit_filter[0].weight
        features, t = self.positional_features(length, weight.device)
        values, sin = features.to(weight.dtype), self.implicit_filter[1]
        for layer in self.implicit_filter:
            values = layer(values) if isinstance(layer, nn.Linear) else sin(values)  # (L, C) at the end
        deltas = torch.linspace(*self.decay_range, values.shape[-1], device=weight.device).abs()  # (C,)
        return (values * (torch.exp(-t * deltas) + self.shift)).transpose(0, 1)


class HyenaOperator(nn.Module):
    """Order-2 Hyena: in_proj to (x0, x1, v), short causal depthwise convolution, v <- long_conv(x1 * v),
    out_proj(x0 * v)."""

    def __init__(self, config: HyenaDNAConfig):
        super().__init__()
        width = config.hidden_size
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)
        order = config.short_filter_order
        self.short_filter = nn.Conv1d(3 * width, 3 * width, order, padding=order - 1, groups=3 * width)
        self.filter_fn = HyenaFilter(config)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.use_skip = config.filter_bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        length = hidden_states.shape[1]
        streams = self.in_proj(hidden_states).transpose(1, 2)  # (B, 3H, L)
        streams = self.short_filter(streams)[..., :length]  # causal: keep the first L outputs
        x0, x1, v = streams.chunk(3, dim=1)  # (B, H, L) each
        v = self.dropout(v * x1)
        skip = self.filter_fn.bias if self.use_skip else torch.zeros_like(self.filter_fn.bias)
        v = fft_causal_conv(v, self.filter_fn.kernel(length), skip)
        return self.out_proj((x0 * v).transpose(1, 2))  # (B, L, H)


class HyenaDNABlock(GradientCheckpointingLayer):
    """Pre-LN block: x + Hyena(LN(x)), then x + MLP(LN(x)) (tanh-approximate GELU)."""

    def __init__(self, config: HyenaDNAConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mixer = HyenaOperator(config)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GeluMLP(config.hidden_size, config.intermediate_size, "gelu_pytorch_tanh")

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
        hidden_states = hidden_states + self.mixer(self.norm1(hidden_states))
        return hidden_states + self.mlp(self.norm2(hidden_states))


class HyenaDNAPreTrainedModel(DNAPreTrainedModel):
    config_class = HyenaDNAConfig
    config: HyenaDNAConfig
    base_model_prefix = "model"
    head_prefixes = ("lm_head.", "classifier.")
    # In published checkpoints but recomputed here: the filters' positional features and decay rates.
    _keys_to_ignore_on_load_unexpected = [r"filter_fn\.pos_emb\.(z|t)$", r"filter_fn\.modulation\.deltas$"]
    supports_gradient_checkpointing = True
    _no_split_modules = ["HyenaDNABlock"]

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        if config_from_original(raw_config) is None:
            return None
        return {  # the authors' HF remote code: HyenaDNAForCausalLM.hyena.backbone.*
            r"^(?:hyena\.)?backbone\.embeddings\.": "model.embeddings.",
            r"^(?:hyena\.)?backbone\.layers\.": "model.layers.",
            r"^(?:hyena\.)?backbone\.ln_f\.": "model.final_norm.",
            r"\.mlp\.fc1\.": ".mlp.up_proj.",
            r"\.mlp\.fc2\.": ".mlp.down_proj.",
        }

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, HyenaSin) and module.train_freq:
            init.constant_(module.freq, module.activation_freq)
        elif isinstance(module, HyenaFilter):
            init.normal_(module.bias)  # the authors' D: standard normal


class HyenaDNAEmbeddings(nn.Module):
    def __init__(self, config: HyenaDNAConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.padded_vocab_size, config.hidden_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.word_embeddings(input_ids)


class HyenaDNAModel(HyenaDNAPreTrainedModel):
    """The backbone. Causal: a position sees only itself and earlier ones, so right padding never changes the
    real tokens' states (pad on the right). `hidden_states` (on request): the embeddings and every block's output,
    the last with the final LayerNorm applied (equal to `last_hidden_state`)."""

    def __init__(self, config: HyenaDNAConfig):
        super().__init__(config)
        self.embeddings = HyenaDNAEmbeddings(config)
        self.dropout = nn.Dropout(config.embedding_dropout)
        self.layers = nn.ModuleList(HyenaDNABlock(config) for _ in range(config.num_hidden_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
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
        **kwargs,
    ) -> BaseModelOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        hidden_states = self.embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, L, H)
        if hidden_states.shape[1] > self.config.max_position_embeddings:
            raise ValueError(
                f"input of {hidden_states.shape[1]} tokens is longer than this model's context "
                f"({self.config.max_position_embeddings} tokens, the length of its filters); cut it into windows"
            )
        hidden_states = self.dropout(hidden_states)
        all_hidden_states = [hidden_states] if output_hidden_states else None
        for layer in self.layers:
            hidden_states = layer(hidden_states)
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
        hidden_states = self.final_norm(hidden_states)
        if output_hidden_states:
            all_hidden_states[-1] = hidden_states
        return BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
        )


class HyenaDNAForCausalLM(HyenaDNAPreTrainedModel):
    """Next-base prediction; the LM head is tied to the input embeddings (both have the padded vocabulary's rows)."""

    _tied_weights_keys = {"lm_head.weight": "model.embeddings.word_embeddings.weight"}

    def __init__(self, config: HyenaDNAConfig):
        super().__init__(config)
        self.model = HyenaDNAModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.padded_vocab_size, bias=False)
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
    ) -> CausalLMOutput:
        r"""labels: (B, L) token ids, shifted inside, -100 ignored."""
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        outputs = self.model(input_ids, attention_mask, inputs_embeds, **kwargs)
        logits = self.lm_head(outputs.last_hidden_state)  # (B, L, padded V)
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits, labels, self.config.padded_vocab_size, num_items_in_batch=num_items_in_batch
            )
        return CausalLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


class HyenaDNAForSequenceClassification(HyenaDNAPreTrainedModel):
    """Pooled (mean over non-padding tokens by default) backbone output -> dropout -> Linear(H, num_labels);
    single-label, multi-label and regression."""

    def __init__(self, config: HyenaDNAConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = HyenaDNAModel(config)
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
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


# What the model card save_pretrained writes says the model is built on.
MODEL_DESCRIPTION = "a HyenaDNA (Hyena long-convolution) causal language model over single bases"

# Every Auto class of the family: registered by dna_zoo.auto, written as auto_map by save_pretrained.
AUTO_MAP = {
    "AutoModel": "HyenaDNAModel",
    "AutoModelForCausalLM": "HyenaDNAForCausalLM",
    "AutoModelForSequenceClassification": "HyenaDNAForSequenceClassification",
}


__all__ = [
    "HyenaDNAPreTrainedModel",
    "HyenaDNAModel",
    "HyenaDNAForCausalLM",
    "HyenaDNAForSequenceClassification",
    "fft_causal_conv",
]
