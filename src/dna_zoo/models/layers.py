"""Feed-forward blocks, norms, pooling and losses shared by every dna_zoo family.

This file travels to the Hub as remote code: it imports only torch and transformers.
"""

import torch
from torch import nn
from transformers.activations import ACT2FN


def activation(name: str) -> nn.Module:
    """transformers' activation by name, with "gelu_new" (a Python formula of seven elementwise kernels) replaced
    by torch's fused tanh-approximate GELU: the same function (to about 1e-7), in one kernel."""
    return ACT2FN["gelu_pytorch_tanh" if name == "gelu_new" else name]


class GeluMLP(nn.Module):
    """Linear(H, I) -> activation (exact GELU by default) -> Linear(I, H), with biases by default."""

    def __init__(self, hidden_size: int, intermediate_size: int, hidden_act: str = "gelu", bias: bool = True):
        super().__init__()
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.act = activation(hidden_act)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.up_proj(x)))


class SwiGLUMLP(nn.Module):
    """Fused gate/up projection Linear(H, 2I); the FIRST half is the gate: silu(x1) * x2 -> Linear(I, H).

    `hidden_act` "gelu" makes it GeGLU (DNABERT-2); `down_bias` (default: `bias`) sets the output bias alone.
    """

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        bias: bool = False,
        hidden_act: str = "silu",
        down_bias: bool | None = None,
    ):
        super().__init__()
        self.gate_up_proj = nn.Linear(hidden_size, 2 * intermediate_size, bias=bias)
        self.act = activation(hidden_act)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias if down_bias is None else down_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)  # (B, L, I) each
        return self.down_proj(self.act(gate) * up)


class MaskedLMHead(nn.Module):
    """BERT / RoBERTa-style MLM head: dense -> activation -> LayerNorm -> decoder (no bias) + separate bias."""

    def __init__(self, hidden_size: int, vocab_size: int, eps: float, hidden_act: str = "gelu"):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.act = activation(hidden_act)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.decoder = nn.Linear(hidden_size, vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.act(self.dense(hidden_states)))) + self.bias  # (B, L, V)


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


def sequence_classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, config, pos_weight: list[float] | None = None
) -> torch.Tensor:
    """Loss for (B, num_labels) logits; infers `config.problem_type` the way transformers does.

    Unlike a bare MSELoss, regression accepts integer labels and any of the shapes (B,), (B, 1). `pos_weight`
    (one weight per label) up-weights positives in multi-label tasks with rare labels.
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
        weight = torch.tensor(pos_weight, device=logits.device) if pos_weight is not None else None
        return nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.float().view_as(logits), pos_weight=weight
        )
    raise ValueError(f"unknown problem_type {config.problem_type!r}")


def grouped_mm_usable(x: torch.Tensor, *weights: torch.Tensor) -> bool:
    """Whether torch has a grouped matrix multiply for x and these (E, out, in) weights: CPU (any dtype) or CUDA
    bf16 on Hopper or newer, with every matrix dimension a multiple of 16 bytes (the kernel's stride rule)."""
    if not hasattr(torch, "_grouped_mm"):
        return False
    if any(dim * x.element_size() % 16 for w in weights for dim in w.shape[1:]):
        return False
    if x.device.type == "cuda":
        return x.dtype == torch.bfloat16 and torch.cuda.get_device_capability(x.device) >= (9, 0)
    return x.device.type == "cpu"


def grouped_linear(x: torch.Tensor, weight: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Per-group linear maps in one kernel: x (N, in) sorted by group, weight (E, out, in), offsets (E,) int32 row
    ends (the cumulative group sizes) -> (N, out)."""
    return torch._grouped_mm(x, weight.transpose(1, 2), offs=offsets)


ROW_BLOCK = 256  # rows per block of the experts' elementwise work: (256, I) floats stay in cache (2.75 MB at I 2688)


def _row_blocks(rows: int):
    return (slice(start, start + ROW_BLOCK) for start in range(0, rows, ROW_BLOCK))


def _swiglu(gate: torch.Tensor, up: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """out = silu(gate) * up, (N, I), block by block of rows."""
    for rows in _row_blocks(len(gate)):
        torch.mul(nn.functional.silu(gate[rows]), up[rows], out=out[rows])
    return out


class GroupedSwiGLU(torch.autograd.Function):
    """SwiGLU experts over rows sorted by expert, forward and a written-out backward, each in grouped multiplies.

    x (N, H), gate_up_proj (E, 2I, H) (gate first), down_proj (E, H, I), offsets (E,) int32 row ends ->
    down(silu(gate) * up) (N, H). Autograd through the same ops keeps five (N, I)-sized tensors for the backward,
    allocates a fresh one for each elementwise step and concatenates the gate and up gradients into another
    (N, 2I); on CPU each fresh tensor of this size is paid again in page faults at every step, and each
    elementwise pass over it goes to main memory. This keeps x and the (N, 2I) projection only, recomputes silu,
    writes into buffers allocated once, and does the elementwise work block by block of rows, each block's
    temporaries small enough to stay in cache.
    """

    @staticmethod
    def forward(ctx, x, gate_up_proj, down_proj, offsets):
        projected = torch._grouped_mm(x, gate_up_proj.transpose(1, 2), offs=offsets)  # (N, 2I)
        gate, up = projected.chunk(2, dim=-1)
        ctx.save_for_backward(x, projected, gate_up_proj, down_proj, offsets)
        hidden = _swiglu(gate, up, torch.empty_like(gate))  # (N, I)
        return torch._grouped_mm(hidden, down_proj.transpose(1, 2), offs=offsets)  # (N, H)

    @staticmethod
    def backward(ctx, grad_output):
        x, projected, gate_up_proj, down_proj, offsets = ctx.saved_tensors
        grad_output = grad_output.contiguous()  # (N, H)
        gate, up = projected.chunk(2, dim=-1)
        grad_projected = torch.empty_like(projected)  # (N, 2I): the gate's gradient, then the up's
        grad_gate, grad_up = grad_projected.chunk(2, dim=-1)
        hidden = _swiglu(gate, up, grad_up)  # the forward's product, in the buffer grad_up overwrites next
        grad_down = torch._grouped_mm(grad_output.T, hidden, offs=offsets)  # (E, H, I)
        grad_hidden = torch._grouped_mm(grad_output, down_proj, offs=offsets)  # (N, I)
        for rows in _row_blocks(len(gate)):
            g, u, gh = gate[rows], up[rows], grad_hidden[rows]
            sigmoid = torch.sigmoid(g)
            silu = g * sigmoid
            torch.mul(gh, silu, out=grad_up[rows])
            derivative = sigmoid.addcmul_(silu, sigmoid, value=-1).add_(silu)  # silu' = sigmoid + silu (1 - sigmoid)
            torch.mul(gh.mul_(u), derivative, out=grad_gate[rows])
        grad_x = torch._grouped_mm(grad_projected, gate_up_proj, offs=offsets)  # (N, H)
        grad_gate_up = torch._grouped_mm(grad_projected.T, x, offs=offsets)  # (E, 2I, H)
        return grad_x, grad_gate_up, grad_down, None


class TopKRouter(nn.Module):
    """Softmax router: top-k experts per token, their probabilities renormalised to sum to 1."""

    def __init__(self, hidden_size: int, num_experts: int, top_k: int):
        super().__init__()
        self.top_k = top_k
        self.weight = nn.Parameter(torch.empty(num_experts, hidden_size))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (T, H) -> router logits (T, E), routing weights (T, k) in float32, expert indices (T, k)."""
        logits = nn.functional.linear(x, self.weight)
        probs = logits.float().softmax(dim=-1)
        weights, experts = probs.topk(self.top_k, dim=-1)
        return logits, weights / weights.sum(dim=-1, keepdim=True), experts


class SwiGLUExperts(nn.Module):
    """E SwiGLU experts in fused tensors: gate_up_proj (E, 2I, H) whose first half is the gate, down_proj (E, H, I)."""

    def __init__(self, hidden_size: int, intermediate_size: int, num_experts: int):
        super().__init__()
        self.num_experts = num_experts
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, 2 * intermediate_size, hidden_size))
        self.down_proj = nn.Parameter(torch.empty(num_experts, hidden_size, intermediate_size))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """x (T, H), weights and experts (T, k) -> sum over the k chosen experts of weight * expert(x), (T, H).

        Token-expert pairs are sorted by expert. Training (and CUDA) runs all experts as one grouped multiply;
        inference elsewhere runs one expert at a time, which on CPU was measured faster with a quarter of the
        peak memory (benchmarks/README.md). Both give the same result.
        """
        top_k = experts.shape[1]
        flat_experts = experts.reshape(-1)  # (T * k,)
        order = flat_experts.argsort(stable=True)  # token-expert pairs grouped by expert
        token = order // top_k
        routed_weights = weights.reshape(-1)[order, None].to(x.dtype)  # (T * k, 1)
        counts = torch.bincount(flat_experts, minlength=self.num_experts)
        grouped = grouped_mm_usable(x, self.gate_up_proj, self.down_proj)
        if grouped and (torch.is_grad_enabled() or x.device.type == "cuda"):
            return self.grouped_forward(x, token, routed_weights, counts)
        return self.expert_by_expert_forward(x, token, routed_weights, counts)

    def grouped_forward(self, x, token, routed_weights, counts) -> torch.Tensor:
        offsets = counts.cumsum(0).to(torch.int32)  # each expert's last row + 1
        if torch.is_grad_enabled() and not torch.is_autocast_enabled(x.device.type):
            out = GroupedSwiGLU.apply(x[token], self.gate_up_proj, self.down_proj, offsets) * routed_weights
        else:  # autocast casts each multiply's inputs, which a hand-written backward would have to repeat
            gate, up = grouped_linear(x[token], self.gate_up_proj, offsets).chunk(2, dim=-1)  # (T * k, I) each
            out = grouped_linear(nn.functional.silu(gate) * up, self.down_proj, offsets) * routed_weights
        return torch.zeros_like(x).index_add_(0, token, out)  # (T * k, H) rows summed into their tokens

    def expert_by_expert_forward(self, x, token, routed_weights, counts) -> torch.Tensor:
        out = torch.zeros_like(x)
        sizes = counts.tolist()
        for expert, (rows, row_weights) in enumerate(zip(token.split(sizes), routed_weights.split(sizes))):
            if rows.numel():
                gate, up = (x[rows] @ self.gate_up_proj[expert].T).chunk(2, dim=-1)
                out.index_add_(0, rows, (nn.functional.silu(gate) * up) @ self.down_proj[expert].T * row_weights)
        return out


class SparseMoE(nn.Module):
    """Mixture-of-experts feed-forward: router + experts; optional multiplicative jitter on the input in training."""

    def __init__(self, config):
        super().__init__()
        self.jitter_noise = config.router_jitter_noise
        self.gate = TopKRouter(config.hidden_size, config.num_local_experts, config.num_experts_per_tok)
        self.experts = SwiGLUExperts(config.hidden_size, config.intermediate_size, config.num_local_experts)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, H) -> output (B, L, H) and router logits (B * L, E)."""
        batch, length, hidden = hidden_states.shape
        if self.training and self.jitter_noise > 0:
            noise = torch.empty_like(hidden_states).uniform_(1.0 - self.jitter_noise, 1.0 + self.jitter_noise)
            hidden_states = hidden_states * noise
        flat = hidden_states.reshape(-1, hidden)
        logits, weights, experts = self.gate(flat)
        return self.experts(flat, weights, experts).reshape(batch, length, hidden), logits


def load_balancing_loss(
    router_logits: tuple[torch.Tensor, ...], top_k: int, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Switch-Transformer load-balancing loss over all layers, padding tokens excluded.

    router_logits: one (B * L, E) tensor per layer; attention_mask (B, L). E * sum_e f_e * P_e, where f_e is the
    fraction of routing slots and P_e the mean router probability of expert e, both over real tokens of all layers.
    """
    num_experts = router_logits[0].shape[-1]
    logits = torch.cat(router_logits, dim=0)  # (layers * B * L, E)
    probs = logits.float().softmax(dim=-1)
    chosen = nn.functional.one_hot(probs.topk(top_k, dim=-1).indices, num_experts).sum(1).float()  # (N, E)
    if attention_mask is None:
        keep = probs.new_ones(probs.shape[0], 1)
    else:
        keep = attention_mask.reshape(-1, 1).to(probs).repeat(len(router_logits), 1)  # (layers * B * L, 1)
    total = keep.sum()
    slots_per_expert = (chosen * keep).sum(0) / total
    prob_per_expert = (probs * keep).sum(0) / total
    return num_experts * (slots_per_expert * prob_per_expert).sum()


def router_z_loss(router_logits: tuple[torch.Tensor, ...], attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """ST-MoE router z-loss: mean over real tokens and layers of logsumexp(router logits)^2."""
    z = torch.cat(router_logits, dim=0).float().logsumexp(dim=-1).square()  # (layers * B * L,)
    if attention_mask is None:
        return z.mean()
    keep = attention_mask.reshape(-1).to(z).repeat(len(router_logits))
    return (z * keep).sum() / keep.sum()
