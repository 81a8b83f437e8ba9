"""Feed-forward blocks, norms, pooling and losses shared by every dna_zoo family.

This file travels to the Hub as remote code: it imports only torch and transformers.
"""

import torch
from torch import nn
from transformers.activations import ACT2FN


class GeluMLP(nn.Module):
    """Linear(H, I) -> activation (exact GELU by default) -> Linear(I, H), with biases by default."""

    def __init__(self, hidden_size: int, intermediate_size: int, hidden_act: str = "gelu", bias: bool = True):
        super().__init__()
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.act = ACT2FN[hidden_act]
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.up_proj(x)))


class SwiGLUMLP(nn.Module):
    """Fused gate/up projection Linear(H, 2I); the FIRST half is the gate: silu(x1) * x2 -> Linear(I, H)."""

    def __init__(self, hidden_size: int, intermediate_size: int, bias: bool = False):
        super().__init__()
        self.gate_up_proj = nn.Linear(hidden_size, 2 * intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)  # (B, L, I) each
        return self.down_proj(nn.functional.silu(gate) * up)


def build_mlp(config) -> nn.Module:
    """The feed-forward block a config asks for: `mlp_type` "gelu" or "swiglu", biases from `mlp_bias`."""
    if config.mlp_type == "gelu":
        return GeluMLP(config.hidden_size, config.intermediate_size, config.hidden_act, bias=config.mlp_bias)
    if config.mlp_type == "swiglu":
        return SwiGLUMLP(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
    raise ValueError(f"mlp_type must be 'gelu' or 'swiglu', got {config.mlp_type!r}")


class RMSNorm(nn.Module):
    """Root-mean-square norm, computed in float32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_float = x.float()
        x_float = x_float * torch.rsqrt(x_float.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x_float.to(x.dtype)


def pool_hidden_states(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """(B, L, H) -> (B, H) over the tokens the mask keeps, so padding never changes a sequence's vector."""
    if pooling == "cls":
        return hidden_states[:, 0]
    if attention_mask is None:
        attention_mask = hidden_states.new_ones(hidden_states.shape[:2])
    keep = attention_mask.unsqueeze(-1).to(hidden_states.dtype)  # (B, L, 1)
    if pooling == "mean":
        return (hidden_states * keep).sum(1) / keep.sum(1).clamp(min=1)
    if pooling == "max":
        return hidden_states.masked_fill(keep == 0, torch.finfo(hidden_states.dtype).min).max(1).values
    raise ValueError(f"pooling must be 'mean', 'cls' or 'max', got {pooling!r}")


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """Loss for (B, num_labels) logits; infers `config.problem_type` the way transformers does.

    Unlike a bare MSELoss, regression accepts integer labels and any of the shapes (B,), (B, 1).
    """
    num_labels = config.num_labels
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    labels = labels.to(logits.device)
    if config.problem_type == "regression":
        return nn.functional.mse_loss(logits.float().view(-1, num_labels), labels.float().view(-1, num_labels))
    if config.problem_type == "single_label_classification":
        return nn.functional.cross_entropy(logits.float().view(-1, num_labels), labels.view(-1))
    if config.problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float().view_as(logits))
    raise ValueError(f"unknown problem_type {config.problem_type!r}")
