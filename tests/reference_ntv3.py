"""A reference Nucleotide Transformer v3, written for the tests from InstaDeep's JAX code as read
(nucleotide_transformer_v3/model.py NTv3PreTrained and layers.py), independently of src/: plain functions over
the authors' published PyTorch-layout weights (`core.*`), spelling out each JAX operation: jax.lax.conv_transpose
as an explicit dilation, SAME padding and correlation; attention as einsums with the -1e30 mask over blocks that
hold only <pad>; jax.nn.gelu's tanh formula; nnx.LayerNorm's fast variance (E[x^2] - E[x]^2). Like the authors'
model it takes only lengths that are multiples of 2^num_downsamples. Post-trained weights (NTv3PostTrained:
adaptive LayerNorms and gated residual branches conditioned on the species embedding, the species, BigWig and BED
heads) are read when present.
"""

import math

import torch
from torch.nn import functional as F


def gelu(x):  # jax.nn.gelu(approximate=True)
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def linear(x, weights, prefix):
    return F.linear(x, weights[prefix + ".weight"], weights.get(prefix + ".bias"))


def modulations(weights, prefix, conditions):
    """The outputs of `prefix`.modulation_layers.<j> for each condition, (B, 1, width) each ([] if none)."""
    return [linear(c, weights, f"{prefix}.modulation_layers.{j}")[:, None] for j, c in enumerate(conditions)
            if f"{prefix}.modulation_layers.{j}.weight" in weights]  # fmt: skip


def gate(weights, prefix, conditions):  # AdaptiveResidual*Block / AdaptiveSelfAttentionBlock's MLP gate
    out = 1.0
    for g in modulations(weights, prefix, conditions):
        out = out * (1.0 + g)
    return out


def layer_norm(x, weights, prefix, eps=1e-5, conditions=()):
    mean = x.mean(-1, keepdim=True)
    variance = (x * x).mean(-1, keepdim=True) - mean * mean
    x = (x - mean) * torch.rsqrt(variance + eps) * weights[prefix + ".weight"] + weights[prefix + ".bias"]
    scale, shift = 1.0, 0.0  # AdaptiveLayerNorm: jnp.split(modulation, 2) -> shift, scale
    for m in modulations(weights, prefix, conditions):
        shift, scale = shift + m[..., : m.shape[-1] // 2], scale * (1.0 + m[..., m.shape[-1] // 2 :])
    return x * scale + shift


def conv_same(x, weight, bias):
    """nnx.Conv, SAME, stride 1, over (B, L, C); weight (out, in, k) as the PyTorch layout stores it."""
    k = weight.shape[-1]
    x = F.pad(x.transpose(1, 2), ((k - 1) // 2, k - 1 - (k - 1) // 2))
    return F.conv1d(x, weight, bias).transpose(1, 2)


def conv_transpose_same(x, weight, bias, stride):
    """jax.lax.conv_transpose(padding="SAME", transpose_kernel=False) over (B, L, C); weight (in, out, k)."""
    k = weight.shape[-1]
    batch, length, channels = x.shape
    dilated = x.new_zeros(batch, (length - 1) * stride + 1, channels)
    dilated[:, ::stride] = x
    total = k + stride - 2
    left = k - 1 if stride > k - 1 else math.ceil(total / 2)
    dilated = F.pad(dilated.transpose(1, 2), (left, total - left))
    return F.conv1d(dilated, weight.transpose(0, 1), bias).transpose(1, 2)  # correlation, kernel as stored


def conv_block(x, weights, prefix, conv, conditions=()):
    x = layer_norm(x, weights, prefix + ".layer_norm", conditions=conditions)
    return gelu(conv(x, weights[prefix + ".conv.weight"], weights[prefix + ".conv.bias"]))


def rotary(heads):
    """(B, T, H, D): the authors' RotaryEmbedding (first / second halves, UPPER_FREQ 10000)."""
    length, dim = heads.shape[1], heads.shape[-1]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.einsum("i,j->ij", torch.arange(length, dtype=torch.float64), inv_freq).to(heads.dtype)
    cos, sin = freqs.cos()[None, :, None], freqs.sin()[None, :, None]
    first, second = heads[..., : dim // 2], heads[..., dim // 2 :]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], dim=-1)


def attention_block(x, weights, prefix, heads, block_valid, conditions=()):
    def project(name, inputs):
        out = F.linear(inputs, weights[f"{prefix}.sa_layer.{name}.linear.weight"],
                       weights[f"{prefix}.sa_layer.{name}.linear.bias"])  # fmt: skip
        return out.view(*inputs.shape[:-1], heads, -1)  # (B, T, H, D)

    h = layer_norm(x, weights, prefix + ".self_attention_layer_norm", conditions=conditions)
    q, k, v = rotary(project("query_head", h)), rotary(project("key_head", h)), project("value_head", h)
    logits = torch.einsum("bthd,bThd->bhtT", q, k) / math.sqrt(q.shape[-1])
    logits = torch.where(block_valid[:, None, None, :], logits, torch.tensor(-1e30, dtype=logits.dtype))
    attention = torch.einsum("bhtT,bThd->bthd", logits.softmax(-1), v).reshape(*x.shape[:-1], -1)
    x = x + F.linear(attention, weights[prefix + ".sa_layer.mha_output.weight"],
                     weights[prefix + ".sa_layer.mha_output.bias"])  # fmt: skip
    h = layer_norm(x, weights, prefix + ".final_layer_norm", conditions=conditions)
    glu, up = F.linear(h, weights[prefix + ".fc1.weight"]).chunk(2, dim=-1)
    return x + gate(weights, prefix, conditions) * F.linear(F.silu(glu) * up, weights[prefix + ".fc2.weight"])


def reference_ntv3(weights: dict, config: dict, tokens: torch.Tensor, species: torch.Tensor | None = None) -> dict:
    """The authors' NTv3PreTrained (or, with `species` (B,), NTv3PostTrained) forward. weights: the published
    `core.*` tensors; config: the published config.json fields. Returns their model's outputs of the same names
    ("logits", "embedding", "after_transformer_embedding"; post-trained: "bigwig_tracks_logits",
    "bed_tracks_logits", "<condition name>_logits")."""
    downsamples = config["num_downsamples"]
    batch, length = tokens.shape
    assert length % 2**downsamples == 0, "the authors' model takes multiples of 2^num_downsamples only"
    w = {key.removeprefix("core."): value for key, value in weights.items()}
    conditions = [w["cond_tables.0.weight"][species]] if species is not None else []
    x = w["embed_layer.weight"][tokens]
    x = gelu(conv_same(x, w["stem.conv.weight"], w["stem.conv.bias"]))
    residuals = []
    for i in range(downsamples):
        residuals.append(x)
        x = conv_block(x, w, f"conv_tower_blocks.{i}.conv", conv_same, conditions)
        res = f"conv_tower_blocks.{i}.res_conv"
        x = x + gate(w, res, conditions) * conv_block(x, w, res + ".conv_block", conv_same, conditions)
        x = x.view(batch, -1, 2, x.shape[-1]).mean(2)  # nnx.avg_pool, window 2, stride 2
    block_valid = (tokens != config["pad_token_id"]).view(batch, -1, 2**downsamples).any(-1)  # (B, T)
    if conditions:  # the conditioned model attends everywhere (attention_mask=None)
        block_valid = torch.ones_like(block_valid)
    for i in range(config["num_layers"]):
        x = attention_block(x, w, f"transformer_blocks.{i}", config["attention_heads"], block_valid, conditions)
    after_transformer = x

    def upsample(inputs, weight, bias):
        if config.get("deconv_upsample_type", "conv_transpose") == "repeat+conv":
            return conv_same(inputs.repeat_interleave(2, dim=1), weight, bias)
        return conv_transpose_same(inputs, weight, bias, stride=2)

    for i in range(downsamples):
        x = conv_block(x, w, f"deconv_tower_blocks.{i}.conv", upsample, conditions)
        pointwise = lambda inputs, weight, bias: conv_transpose_same(inputs, weight, bias, stride=1)  # noqa: E731
        res = f"deconv_tower_blocks.{i}.res_conv"
        x = x + gate(w, res, conditions) * conv_block(x, w, res + ".conv_block", pointwise, conditions)
        x = x + residuals.pop()
    logits = F.linear(gelu(x), w["lm_head.head.weight"], w["lm_head.head.bias"])
    out = {"logits": logits, "embedding": x, "after_transformer_embedding": after_transformer}
    if not conditions:
        return out
    for i, name in enumerate(config.get("conditions_names") or ["condition_0"]):  # DiscreteConditioned heads
        out[f"{name}_logits"] = linear(gelu(after_transformer.mean(1)), w, f"conditions_heads.{i}")
    crop = int((1.0 - config.get("keep_target_center_fraction", 1.0)) * length) // 2
    centre = x[:, crop : length - crop]
    bigwigs, ids = config["bigwigs_per_species"], config["species_to_token_id"]
    counts = [len(bigwigs[name]) for name in sorted(bigwigs, key=ids.__getitem__)]
    tracks = centre.new_zeros(*centre.shape[:2], max(counts))  # MultiSpeciesHead
    for rank, count in enumerate(counts):
        if count:
            head = f"bigwig_head.species_heads.{rank}"
            values = F.softplus(linear(layer_norm(centre, w, head + ".layer_norm", eps=1e-6), w, head + ".head"))
            chosen = species - config.get("num_species_special_tokens", 6) == rank
            tracks[chosen, :, :count] = values[chosen]
    out["bigwig_tracks_logits"] = tracks
    bed = linear(layer_norm(centre, w, "bed_head.layer_norm", eps=1e-6), w, "bed_head.head")
    out["bed_tracks_logits"] = bed.view(*bed.shape[:-1], len(config["bed_elements_names"]), 2)
    return out
