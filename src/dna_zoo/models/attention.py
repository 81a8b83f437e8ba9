"""The one attention module of dna_zoo: q/k/v projections, rotary positions, eager or SDPA dispatch.

This file travels to the Hub as remote code: it imports only torch and transformers.
"""

from collections.abc import Callable

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Half-split rotation: (x1, x2) -> (-x2, x1) over the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys (B, H, L, D) by positions given as cos, sin of shape (B, L, D)."""
    return x * cos.unsqueeze(1) + rotate_half(x) * sin.unsqueeze(1)


class RotaryEmbedding(nn.Module):
    """Rotary position embeddings over the full head dimension, half-split form (as ESM and Llama)."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        self.head_dim = head_dim
        self.base = base
        self.register_buffer("inv_freq", self.compute_inv_freq(), persistent=False)

    def compute_inv_freq(self) -> torch.Tensor:
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float) / self.head_dim
        return 1.0 / (self.base**exponents)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # position_ids (B, L) -> cos, sin (B, L, D) in the dtype of x
        freqs = position_ids[..., None].float() * self.inv_freq.to(x.device)
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(x.dtype), angles.sin().to(x.dtype)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, H_kv, L, D) -> (B, H_kv * n_rep, L, D) for grouped-query attention."""
    if n_rep == 1:
        return x
    batch, kv_heads, length, head_dim = x.shape
    return x[:, :, None].expand(batch, kv_heads, n_rep, length, head_dim).reshape(batch, -1, length, head_dim)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference attention. query (B, H, Lq, D), key/value (B, H_kv, Lk, D) -> (B, Lq, H, D), weights (B, H, Lq, Lk)."""
    key = repeat_kv(key, module.num_key_value_groups)
    value = repeat_kv(value, module.num_key_value_groups)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class DNAAttention(nn.Module):
    """Multi-head (or grouped-query) self-attention shared by every dna_zoo family.

    Reads from the config: hidden_size, num_attention_heads, optional num_key_value_heads and head_dim,
    attention_bias, attention_dropout and `_attn_implementation` ("eager" or "sdpa"; SDPA picks the
    flash / memory-efficient kernels on CUDA and the fused kernel on CPU).
    """

    def __init__(self, config, layer_idx: int = 0, is_causal: bool = False):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.is_causal = is_causal  # SDPA reads this: an encoder must say False explicitly
        self.num_heads = config.num_attention_heads
        self.num_key_value_heads = getattr(config, "num_key_value_heads", None) or self.num_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.num_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values=None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, _ = hidden_states.shape
        query = self.q_proj(hidden_states).view(batch, length, -1, self.head_dim).transpose(1, 2)  # (B, H, L, D)
        key = self.k_proj(hidden_states).view(batch, length, -1, self.head_dim).transpose(1, 2)  # (B, H_kv, L, D)
        value = self.v_proj(hidden_states).view(batch, length, -1, self.head_dim).transpose(1, 2)
        if position_embeddings is not None:
            cos, sin = position_embeddings
            query, key = apply_rotary(query, cos, sin), apply_rotary(key, cos, sin)
        if past_key_values is not None:
            key, value = past_key_values.update(key, value, self.layer_idx)
        output, weights = self.attend(query, key, value, attention_mask, **kwargs)  # (B, L, H, D)
        output = output.reshape(batch, length, -1)  # (B, L, H * D)
        return self.o_proj(output), weights

    def attend(self, query, key, value, attention_mask, **kwargs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Full attention through transformers' interface (eager, sdpa, ...): (B, H, L, D) -> (B, L, H, D)."""
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        return attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )


def window_block_size(window: int) -> int:
    """Query block length for a window: half the window, at least 64 (fewer, larger kernels on short windows)."""
    return max(64, window // 2)


def sliding_window_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    radius: int,
    key_valid: torch.Tensor | None,
    scaling: float,
    eager: bool = False,
) -> torch.Tensor:
    """Bidirectional band attention: query i attends key j when |i - j| <= radius (and key j is not padding).

    query/key/value (B, H, L, D), key_valid (B, L) bool -> (B, H, L, D). Queries are processed in blocks, each
    against the slice of keys its window can reach (a view, not a copy), so time and memory grow as L x radius,
    not L^2. A query always sees itself, so no row is fully masked (padding queries give finite garbage).
    """
    length = query.shape[2]
    block = window_block_size(2 * radius)
    outputs = []
    for start in range(0, length, block):
        stop = min(start + block, length)
        key_start, key_stop = max(0, start - radius), min(length, stop + radius)
        query_pos = torch.arange(start, stop, device=query.device)[:, None]
        key_pos = torch.arange(key_start, key_stop, device=query.device)[None, :]
        allowed = (query_pos - key_pos).abs() <= radius  # (Lq, Lk)
        if key_valid is not None:
            allowed = allowed[None] & key_valid[:, None, key_start:key_stop]  # (B, Lq, Lk)
            allowed = (allowed | (query_pos == key_pos))[:, None]  # (B, 1, Lq, Lk)
        q, k, v = query[:, :, start:stop], key[:, :, key_start:key_stop], value[:, :, key_start:key_stop]
        if eager:
            scores = (q @ k.transpose(-1, -2)) * scaling
            scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
            outputs.append(scores.softmax(-1, dtype=torch.float32).to(q.dtype) @ v)
        else:
            outputs.append(nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scaling))
    return torch.cat(outputs, dim=2)


class MultiWindowAttention(DNAAttention):
    """Sliding multi-window attention: every head has its own bidirectional window (`config.head_windows`, one
    width per head; a head of width w sees w // 2 tokens on each side). Heads of equal width run together.

    Takes a 2D padding mask (B, L) instead of a 4D one; `attn_implementation="eager"` uses explicit softmax,
    anything else torch's SDPA on each block.
    """

    def __init__(self, config, layer_idx: int = 0):
        super().__init__(config, layer_idx, is_causal=False)
        windows = list(config.head_windows)
        if len(windows) != self.num_heads:
            raise ValueError(f"head_windows has {len(windows)} entries for {self.num_heads} heads")
        self.head_groups = {width: [h for h, w in enumerate(windows) if w == width] for width in sorted(set(windows))}

    def attend(self, query, key, value, attention_mask, **kwargs):
        key_valid = attention_mask.bool() if attention_mask is not None else None
        eager = self.config._attn_implementation == "eager"
        output = torch.empty_like(query)
        for width, heads in self.head_groups.items():
            index = torch.tensor(heads, device=query.device)
            output[:, index] = sliding_window_attention(
                query[:, index], key[:, index], value[:, index], width // 2, key_valid, self.scaling, eager
            )
        return output.transpose(1, 2), None


def _block_sparse_slots(x: torch.Tensor, block_size: int, random_blocks: torch.Tensor) -> torch.Tensor:
    """(B, H, L, ...) -> (B, H, n - 2, (5 + r) * b, ...): for each non-global query block i, the key blocks
    [0, i - 1, i, i + 1, n - 1, random...]. The window is an unfold view and the global blocks are expanded; only the
    random blocks are gathered (index_select, whose backward is a cheap index_add)."""
    batch, heads, length = x.shape[:3]
    rest = x.shape[3:]
    blocks = length // block_size
    window = x.unfold(2, 3 * block_size, block_size).movedim(-1, 3)  # (B, H, n - 2, 3b, ...)
    first = x[:, :, None, :block_size].expand(batch, heads, blocks - 2, block_size, *rest)
    last = x[:, :, None, -block_size:].expand(batch, heads, blocks - 2, block_size, *rest)
    flat_index = (torch.arange(heads, device=x.device)[:, None, None] * blocks + random_blocks).reshape(-1)
    random = x.reshape(batch, heads * blocks, block_size, *rest).index_select(1, flat_index)
    return torch.cat([first, window, last, random.view(batch, heads, blocks - 2, -1, *rest)], dim=3)


def block_sparse_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    valid: torch.Tensor,
    block_size: int,
    random_blocks: torch.Tensor,
    scaling: float,
    eager: bool = False,
) -> torch.Tensor:
    """BigBird block-sparse attention (ITC layout), in plain PyTorch on top of SDPA.

    query/key/value (B, H, L, D) with L a multiple of block_size; valid (B, L) bool; random_blocks (H, n - 2, r)
    key block index of each non-global query block's random blocks. Returns (B, L, H, D), padding queries zeroed.

    The first and last query blocks attend to every key (global). Every other query block i attends to
    key blocks [0, i - 1, i, i + 1, n - 1] + its r random blocks; for i = 1 and i = n - 2 the global slot that
    repeats a window block is masked, which gives exactly transformers' BigBird, duplicates of random blocks
    included. Cost is (5 + r) blocks per query block: linear in L.
    """
    batch, heads, length, dim = query.shape

    def attend(q, k, v, mask):
        if eager:
            scores = (q @ k.transpose(-1, -2)) * scaling
            return scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1) @ v
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling)

    global_queries = torch.cat([query[:, :, :block_size], query[:, :, -block_size:]], dim=2)  # (B, H, 2b, D)
    global_out = attend(global_queries, key, value, valid[:, None, None, :])

    keys = _block_sparse_slots(key, block_size, random_blocks)  # (B, H, n - 2, (5 + r) b, D)
    values = _block_sparse_slots(value, block_size, random_blocks)
    key_valid = _block_sparse_slots(valid[:, None].expand(batch, heads, length), block_size, random_blocks).clone()
    key_valid[:, :, 0, :block_size] = False  # block 1's window already holds block 0
    key_valid[:, :, -1, 4 * block_size : 5 * block_size] = False  # block n - 2's window already holds block n - 1
    per_block = keys.shape[3]
    middle_out = attend(
        query[:, :, block_size:-block_size].reshape(batch, -1, block_size, dim),  # (B, H * (n - 2), b, D)
        keys.reshape(batch, -1, per_block, dim),
        values.reshape(batch, -1, per_block, dim),
        key_valid.reshape(batch, -1, 1, per_block),
    ).view(batch, heads, -1, dim)
    output = torch.cat([global_out[:, :, :block_size], middle_out, global_out[:, :, block_size:]], dim=2)
    return (output * valid[:, None, :, None]).transpose(1, 2)


def bigbird_random_blocks(heads: int, num_blocks: int, num_random: int, training: bool, device=None) -> torch.Tensor:
    """(H, n - 2, r) random key blocks per non-global query block. In training, r distinct blocks outside the
    global blocks and the block's window, sampled per head; in eval, all zeros, as transformers' BigBird does
    (every random block is then block 0), so that eval outputs are deterministic and match it."""
    if not training:
        return torch.zeros(heads, num_blocks - 2, num_random, dtype=torch.long, device=device)
    scores = torch.rand(heads, num_blocks - 2, num_blocks, device=device)
    rows = torch.arange(1, num_blocks - 1, device=device)
    excluded = torch.stack([rows - 1, rows, rows + 1], dim=1)  # window of each query block
    scores[:, :, [0, num_blocks - 1]] = -1.0
    scores.scatter_(2, excluded.expand(heads, -1, -1), -1.0)
    return scores.topk(num_random, dim=-1).indices


class BlockSparseAttention(DNAAttention):
    """Self-attention that runs BigBird block-sparse attention when given a 2D padding mask of a sequence long
    enough for it (the model decides and pads to the block size), and full attention on a 4D mask otherwise."""

    def attend(self, query, key, value, attention_mask, **kwargs):
        if attention_mask is None or attention_mask.dim() != 2:
            return super().attend(query, key, value, attention_mask, **kwargs)
        config = self.config
        random_blocks = bigbird_random_blocks(
            self.num_heads, query.shape[2] // config.block_size, config.num_random_blocks, self.training, query.device
        )
        eager = config._attn_implementation == "eager"
        output = block_sparse_attention(
            query, key, value, attention_mask.bool(), config.block_size, random_blocks, self.scaling, eager
        )
        return output, None
