"""A reference Nucleotide Transformer v3, written for the tests from InstaDeep's JAX code as read
(nucleotide_transformer_v3/model.py NTv3PreTrained and layers.py), independently of src/: plain functions over
the authors' published PyTorch-layout weights (`core.*`), spelling out each JAX operation: jax.lax.conv_transpose
as an explicit dilation, SAME padding and correlation; attention as einsums with the -1e30 mask over blocks that
hold only <pad>; jax.nn.gelu's tanh formula; nnx.LayerNorm's fast variance (E[x^2] - E[x]^2). Like the authors'
model it takes only lengths that are multiples of 2^num_downsamples.
"""

import math

import torch
from torch.nn import functional as F


def gelu(x):  # jax.nn.gelu(approximate=True)
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def layer_norm(x, weights, prefix, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    variance = (x * x).mean(-1, keepdim=True) - mean * mean
    return (x - mean) * torch.rsqrt(variance + eps) * weights[prefix + ".weight"] + weights[prefix + ".bias"]


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


def conv_block(x, weights, prefix, conv):
    return gelu(conv(layer_norm(x, weights, prefix + ".layer_norm"), weights[prefix + ".conv.weight"],
                     weights[prefix + ".conv.bias"]))  # fmt: skip


def rotary(heads):
    """(B, T, H, D): the authors' RotaryEmbedding (first / second halves, UPPER_FREQ 10000)."""
    length, dim = heads.shape[1], heads.shape[-1]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.einsum("i,j->ij", torch.arange(length, dtype=torch.float64), inv_freq).to(heads.dtype)
    cos, sin = freqs.cos()[None, :, None], freqs.sin()[None, :, None]
    first, second = heads[..., : dim // 2], heads[..., dim // 2 :]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], dim=-1)


def attention_block(x, weights, prefix, heads, block_valid):
    def project(name, inputs):
        out = F.linear(inputs, weights[f"{prefix}.sa_layer.{name}.linear.weight"],
                       weights[f"{prefix}.sa_layer.{name}.linear.bias"])  # fmt: skip
        return out.view(*inputs.shape[:-1], heads, -1)  # (B, T, H, D)

    h = layer_norm(x, weights, prefix + ".self_attention_layer_norm")
    q, k, v = rotary(project("query_head", h)), rotary(project("key_head", h)), project("value_head", h)
    logits = torch.einsum("bthd,bThd->bhtT", q, k) / math.sqrt(q.shape[-1])
    logits = torch.where(block_valid[:, None, None, :], logits, torch.tensor(-1e30, dtype=logits.dtype))
    attention = torch.einsum("bhtT,bThd->bthd", logits.softmax(-1), v).reshape(*x.shape[:-1], -1)
    x = x + F.linear(attention, weights[prefix + ".sa_layer.mha_output.weight"],
                     weights[prefix + ".sa_layer.mha_output.bias"])  # fmt: skip
    h = layer_norm(x, weights, prefix + ".final_layer_norm")
    gate, up = F.linear(h, weights[prefix + ".fc1.weight"]).chunk(2, dim=-1)
    return x + F.linear(F.silu(gate) * up, weights[prefix + ".fc2.weight"])


def reference_ntv3(weights: dict, config: dict, tokens: torch.Tensor) -> dict:
    """The authors' NTv3PreTrained forward. weights: the published `core.*` tensors; config: the published
    config.json fields (num_downsamples, attention_heads, num_layers, pad_token_id, deconv_upsample_type).
    Returns {"logits", "embedding", "after_transformer_embedding"} as their model's outputs of those names."""
    downsamples = config["num_downsamples"]
    batch, length = tokens.shape
    assert length % 2**downsamples == 0, "the authors' model takes multiples of 2^num_downsamples only"
    w = {key.removeprefix("core."): value for key, value in weights.items()}
    x = w["embed_layer.weight"][tokens]
    x = gelu(conv_same(x, w["stem.conv.weight"], w["stem.conv.bias"]))
    residuals = []
    for i in range(downsamples):
        residuals.append(x)
        x = conv_block(x, w, f"conv_tower_blocks.{i}.conv", conv_same)
        x = x + conv_block(x, w, f"conv_tower_blocks.{i}.res_conv.conv_block", conv_same)
        x = x.view(batch, -1, 2, x.shape[-1]).mean(2)  # nnx.avg_pool, window 2, stride 2
    block_valid = (tokens != config["pad_token_id"]).view(batch, -1, 2**downsamples).any(-1)  # (B, T)
    for i in range(config["num_layers"]):
        x = attention_block(x, w, f"transformer_blocks.{i}", config["attention_heads"], block_valid)
    after_transformer = x

    def upsample(inputs, weight, bias):
        if config.get("deconv_upsample_type", "conv_transpose") == "repeat+conv":
            return conv_same(inputs.repeat_interleave(2, dim=1), weight, bias)
        return conv_transpose_same(inputs, weight, bias, stride=2)

    for i in range(downsamples):
        x = conv_block(x, w, f"deconv_tower_blocks.{i}.conv", upsample)
        pointwise = lambda inputs, weight, bias: conv_transpose_same(inputs, weight, bias, stride=1)  # noqa: E731
        x = x + conv_block(x, w, f"deconv_tower_blocks.{i}.res_conv.conv_block", pointwise)
        x = x + residuals.pop()
    logits = F.linear(gelu(x), w["lm_head.head.weight"], w["lm_head.head.bias"])
    return {"logits": logits, "embedding": x, "after_transformer_embedding": after_transformer}
