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
    """Rotate queries or keys (B, H, L, D) by positions given as cos, sin of shape (B, L, R): the first R <= D
    dimensions are rotated (partial rotary when R < D), the others pass unchanged."""
    rotary_dim = cos.shape[-1]
    rotated = x[..., :rotary_dim] * cos.unsqueeze(1) + rotate_half(x[..., :rotary_dim]) * sin.unsqueeze(1)
    return rotated if rotary_dim == x.shape[-1] else torch.cat((rotated, x[..., rotary_dim:]), dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position embeddings, half-split form (as ESM and Llama), over `head_dim` dimensions: the whole head,
    or its first dimensions for partial rotary."""

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
        cache=None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, _ = hidden_states.shape
        query = self.q_proj(hidden_states).view(batch, length, -1, self.head_dim).transpose(1, 2)  # (B, H, L, D)
        key = self.k_proj(hidden_states).view(batch, length, -1, self.head_dim).transpose(1, 2)  # (B, H_kv, L, D)
        value = self.v_proj(hidden_states).view(batch, length, -1, self.head_dim).transpose(1, 2)
        if position_embeddings is not None:
            cos, sin = position_embeddings
            query, key = apply_rotary(query, cos, sin), apply_rotary(key, cos, sin)
        if cache is not None:  # a transformers KV cache (decoders)
            key, value = cache.update(key, value, self.layer_idx)
        output, weights = self.attend(query, key, value, attention_mask, **kwargs)  # (B, L, H, D)
        output = output.reshape(batch, length, -1)  # (B, L, H * D)
        return self.o_proj(output), weights

    def attend(
        self, query, key, value, attention_mask, output_attentions: bool = False, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Full attention through transformers' interface (eager, sdpa, ...): (B, H, L, D) -> (B, L, H, D), and the
        weights (B, H, L, L) where the implementation returns them (eager)."""
        attention_interface: Callable = eager_attention_forward
        if self.config._attn_implementation != "eager":  # (the idiom every transformers 5.x release supports)
            attention_interface = ALL_ATTENTION_FUNCTIONS[self.config._attn_implementation]
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
    return_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Bidirectional band attention: query i attends key j when |i - j| <= radius (and key j is not padding).

    query/key/value (B, H, L, D), key_valid (B, L) bool -> (B, H, L, D), and with `return_weights` the weights as a
    dense (B, H, L, L) array (zero outside the band; L^2 memory, so only on request). Queries are processed in
    blocks, each against the slice of keys its window can reach (a view, not a copy), so time and memory grow as
    L x radius, not L^2. A query always sees itself, so no row is fully masked (padding queries give finite garbage).
    """
    batch, heads, length = query.shape[:3]
    block = window_block_size(2 * radius)
    weights = query.new_zeros(batch, heads, length, length) if return_weights else None
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
        if eager or return_weights:
            scores = (q @ k.transpose(-1, -2)) * scaling
            scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
            probabilities = scores.softmax(-1, dtype=torch.float32).to(q.dtype)  # (B, H, Lq, Lk)
            if weights is not None:
                weights[:, :, start:stop, key_start:key_stop] = probabilities
            outputs.append(probabilities @ v)
        else:
            outputs.append(nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scaling))
    return torch.cat(outputs, dim=2), weights


class MultiWindowAttention(DNAAttention):
    """Sliding multi-window attention: every head has its own bidirectional window (`config.head_windows`, one
    width per head; a head of width w sees w // 2 tokens on each side). Heads of equal width run together.

    Takes a 2D padding mask (B, L) instead of a 4D one; `attn_implementation="eager"` uses explicit softmax,
    anything else torch's SDPA on each block. `output_attentions` returns the weights as a dense (B, H, L, L) array.
    """

    def __init__(self, config, layer_idx: int = 0):
        super().__init__(config, layer_idx, is_causal=False)
        windows = list(config.head_windows)
        if len(windows) != self.num_heads:
            raise ValueError(f"head_windows has {len(windows)} entries for {self.num_heads} heads")
        self.head_groups = {width: [h for h, w in enumerate(windows) if w == width] for width in sorted(set(windows))}

    def attend(self, query, key, value, attention_mask, output_attentions: bool = False, **kwargs):
        key_valid = attention_mask.bool() if attention_mask is not None else None
        eager = self.config._attn_implementation == "eager"
        batch, heads, length = query.shape[:3]
        output = torch.empty_like(query)
        weights = query.new_zeros(batch, heads, length, length) if output_attentions else None  # (B, H, L, L)
        for width, group in self.head_groups.items():
            index = torch.tensor(group, device=query.device)
            output[:, index], group_weights = sliding_window_attention(
                query[:, index],
                key[:, index],
                value[:, index],
                width // 2,
                key_valid,
                self.scaling,
                eager,
                return_weights=output_attentions,
            )
            if output_attentions:
                weights[:, index] = group_weights
        return output.transpose(1, 2), weights


def _slot_geometry(layout: "BlockSparseLayout", random_blocks: torch.Tensor, rows: range, shape: torch.Size):
    """-> (first window block of row 0 of `rows`, flat (B * H * len(rows) * r) index of the random key blocks into
    the (B * H * blocks) blocks of a (B, H, L, ...) input). One flat index along dim 0: index_select and index_add
    along an inner dim were measured 1.5x slower."""
    batch, heads, length = shape[:3]
    blocks = length // layout.block_size
    start = layout.global_blocks - layout.window_blocks // 2 + rows.start  # row r is query block g + r
    chosen = random_blocks[:, rows.start : rows.stop]  # (H, count, r)
    first_block = torch.arange(batch * heads, device=chosen.device).view(batch, heads, 1, 1) * blocks
    return start, (first_block + chosen).reshape(-1)


def _gather_slots(x: torch.Tensor, layout: "BlockSparseLayout", random_blocks: torch.Tensor, rows: range):
    batch, heads, length = x.shape[:3]
    rest = x.shape[3:]
    b, g, w = layout.block_size, layout.global_blocks, layout.window_blocks
    count = len(rows)
    start, flat_index = _slot_geometry(layout, random_blocks, rows, x.shape)
    window = x.unfold(2, w * b, b)[:, :, start : start + count].movedim(-1, 3)  # (B, H, count, w b, ...)
    first = x[:, :, None, : g * b].expand(batch, heads, count, g * b, *rest)
    last = x[:, :, None, length - g * b :].expand(batch, heads, count, g * b, *rest)
    random = x.reshape(-1, b, *rest).index_select(0, flat_index)  # (B H count r, b, ...)
    return torch.cat([first, window, last, random.view(batch, heads, count, -1, *rest)], dim=3)


class _GatherSlots(torch.autograd.Function):
    """`_gather_slots` with a backward that adds each slot's gradient straight into the blocks it came from: one
    zero-filled buffer the size of the input, w strided adds for the window, one index_add for the random blocks
    (autograd's own unfold and cat backward copy and zero-fill the whole slot array several times)."""

    @staticmethod
    def forward(ctx, x, layout, random_blocks, rows):
        ctx.layout, ctx.rows, ctx.shape = layout, rows, x.shape
        ctx.save_for_backward(random_blocks)
        return _gather_slots(x, layout, random_blocks, rows)

    @staticmethod
    def backward(ctx, grad):  # grad: (B, H, count, slots * b, ...)
        (random_blocks,) = ctx.saved_tensors
        layout, rows, (batch, heads, length, *rest) = ctx.layout, ctx.rows, ctx.shape
        b, g, w = layout.block_size, layout.global_blocks, layout.window_blocks
        count, blocks = len(rows), length // b
        start, flat_index = _slot_geometry(layout, random_blocks, rows, ctx.shape)
        first, window, last, random = grad.split([g * b, w * b, g * b, layout.random_blocks * b], dim=3)
        grad_x = grad.new_zeros(batch, heads, blocks, b, *rest)
        grad_x[:, :, :g].add_(first.sum(2).view(batch, heads, g, b, *rest))
        grad_x[:, :, blocks - g :].add_(last.sum(2).view(batch, heads, g, b, *rest))
        for offset in range(w):  # window block `offset` of row i is block start + i + offset
            grad_x[:, :, start + offset : start + offset + count].add_(window[:, :, :, offset * b : (offset + 1) * b])
        grad_x.view(-1, b, *rest).index_add_(0, flat_index, random.reshape(-1, b, *rest))
        return grad_x.view(batch, heads, length, *rest), None, None, None


def _block_sparse_slots(
    x: torch.Tensor, layout: "BlockSparseLayout", random_blocks: torch.Tensor, rows: range
) -> torch.Tensor:
    """(B, H, L, ...) -> (B, H, len(rows), slots * b, ...): for each non-global query block of `rows` (0 = block g),
    its key blocks in slot order [first g | window of w | last g | r random]. The window is an unfold view and the
    global blocks are expanded; only the random blocks are gathered. Without a gradient to track (no grad, or the
    bool key mask) autograd records nothing and this is `_gather_slots` itself."""
    return _GatherSlots.apply(x, layout, random_blocks, rows)


# Gathered key elements per chunk of query-block rows (256 MiB in fp32): long inputs run chunk by chunk, so the
# working set, and with it the time per token, stays the same at any length.
SLOT_CHUNK_ELEMENTS = 2**26


class BlockSparseLayout:
    """BigBird layout: g global blocks at each end (attend to and are attended by everything), a sliding window of
    w blocks around each other query block, and r random blocks. BigBird (and GENA) use g = 1, w = 3."""

    def __init__(self, block_size: int, global_blocks: int = 1, window_blocks: int = 3, random_blocks: int = 3):
        if window_blocks % 2 == 0 or global_blocks < window_blocks // 2:
            raise ValueError(
                f"need an odd window and global_blocks >= window // 2, got {window_blocks}, {global_blocks}"
            )
        self.block_size, self.global_blocks = block_size, global_blocks
        self.window_blocks, self.random_blocks = window_blocks, random_blocks

    @property
    def full_attention_threshold(self) -> int:
        """Inputs of at most this many tokens use full attention (transformers: (5 + 2r) * block for g=1, w=3)."""
        return (2 * self.global_blocks + self.window_blocks + 2 * self.random_blocks) * self.block_size

    def rows(self, length: int) -> int:
        return length // self.block_size - 2 * self.global_blocks

    def structural_slots(self, length: int, device=None) -> torch.Tensor:
        """(rows, 2g + w) key block of each non-random slot of each non-global query block."""
        blocks, g, w = length // self.block_size, self.global_blocks, self.window_blocks
        query_blocks = torch.arange(g, blocks - g, device=device)[:, None]  # (rows, 1)
        first = torch.arange(g, device=device).expand(len(query_blocks), g)
        window = query_blocks + torch.arange(-(w // 2), w // 2 + 1, device=device)
        last = torch.arange(blocks - g, blocks, device=device).expand(len(query_blocks), g)
        return torch.cat([first, window, last], dim=1)

    def sample_random(self, heads: int, length: int, training: bool, device=None) -> torch.Tensor:
        """(H, rows, r) random key blocks. Training: distinct blocks outside the globals and the window, per head.
        Eval: all zeros, as transformers' BigBird does (every random block is block 0), so outputs are
        deterministic and match it."""
        rows, r = self.rows(length), self.random_blocks
        if not training:
            return torch.zeros(heads, rows, r, dtype=torch.long, device=device)
        scores = torch.rand(heads, rows, length // self.block_size, device=device)
        scores.scatter_(2, self.structural_slots(length, device).expand(heads, -1, -1), -1.0)
        return scores.topk(r, dim=-1).indices


def _block_sparse_dense_weights(
    global_weights: torch.Tensor,
    middle_weights: torch.Tensor,
    layout: BlockSparseLayout,
    random_blocks: torch.Tensor,
    valid: torch.Tensor,
) -> torch.Tensor:
    """The weights of block-sparse attention as one dense (B, H, L, L) array: global_weights (B, H, 2 g b, L) of the
    global query blocks, middle_weights (B, H, rows, b, slots * b) of the others over their slots in slot order. A
    key block in two slots (random blocks in eval are all block 0) gets the sum of both weights, as its value does."""
    batch, heads, rows, b, per_row = middle_weights.shape
    length = global_weights.shape[-1]
    structural = layout.structural_slots(length, random_blocks.device).expand(heads, -1, -1)  # (H, rows, 2g + w)
    key_blocks = torch.cat([structural, random_blocks], dim=-1)  # (H, rows, slots)
    key_index = (key_blocks[..., None] * b + torch.arange(b, device=key_blocks.device)).reshape(heads, rows, per_row)
    middle = middle_weights.new_zeros(batch, heads, rows, b, length)
    middle.scatter_add_(-1, key_index[None, :, :, None].expand(batch, -1, -1, b, -1), middle_weights)
    edge = layout.global_blocks * b
    dense = torch.cat([global_weights[:, :, :edge], middle.flatten(2, 3), global_weights[:, :, edge:]], dim=2)
    return dense * valid[:, None, :, None]


def block_sparse_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    valid: torch.Tensor,
    layout: BlockSparseLayout,
    random_blocks: torch.Tensor,
    scaling: float,
    eager: bool = False,
    return_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """BigBird block-sparse attention (ITC layout), in plain PyTorch on top of SDPA.

    query/key/value (B, H, L, D) with L a multiple of the block size; valid (B, L) bool; random_blocks (H, rows, r)
    from `layout.sample_random`. Returns (B, L, H, D), padding queries zeroed, and with `return_weights` the
    weights as a dense (B, H, L, L) array (L^2 memory, so only on request).

    The g first and g last query blocks attend to every key. Every other query block attends to its slots:
    the global blocks, its window and its random blocks; a global or window slot that repeats an earlier one
    (near the ends) is masked, which for g = 1, w = 3 gives exactly transformers' BigBird, repeated random blocks
    included. Cost is (2g + w + r) blocks per query block: linear in L.
    """
    batch, heads, length, dim = query.shape
    edge = layout.global_blocks * layout.block_size

    def attend(q, k, v, mask):  # -> output, weights (None from SDPA)
        if not (eager or return_weights):
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling), None
        scores = (q @ k.transpose(-1, -2)) * scaling
        probabilities = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1)
        return probabilities @ v, probabilities

    global_queries = torch.cat([query[:, :, :edge], query[:, :, length - edge :]], dim=2)  # (B, H, 2 g b, D)
    global_out, global_weights = attend(global_queries, key, value, valid[:, None, None, :])

    b, rows = layout.block_size, layout.rows(length)
    structural = layout.structural_slots(length, query.device)  # (rows, 2g + w)
    repeats = (structural[:, :, None] == structural[:, None, :]).tril(-1).any(-1)  # seen in an earlier slot
    slot_used = torch.cat([~repeats, repeats.new_ones(rows, random_blocks.shape[-1])], dim=1).repeat_interleave(b, 1)
    per_row = slot_used.shape[1]  # slots * b keys per query block
    middle_queries = query[:, :, edge : length - edge].reshape(batch, heads, rows, b, dim)
    # contiguous once here, so that each chunk's gather of its random blocks reads a view, not a copy of all keys
    key, value = key.contiguous(), value.contiguous()
    valid_keys = valid[:, None].expand(batch, heads, length).contiguous()
    chunk = max(1, SLOT_CHUNK_ELEMENTS // (batch * heads * per_row * dim))
    middle_out, middle_weights = [], []
    for start in range(0, rows, chunk):
        part = range(start, min(start + chunk, rows))
        keys = _block_sparse_slots(key, layout, random_blocks, part)  # (B, H, n, slots * b, D)
        values = _block_sparse_slots(value, layout, random_blocks, part)
        key_valid = _block_sparse_slots(valid_keys, layout, random_blocks, part) & slot_used[start : part.stop]
        out, weights = attend(
            middle_queries[:, :, start : part.stop].reshape(batch, -1, b, dim),  # (B, H * n, b, D)
            keys.reshape(batch, -1, per_row, dim),
            values.reshape(batch, -1, per_row, dim),
            key_valid.reshape(batch, -1, 1, per_row),
        )
        middle_out.append(out.view(batch, heads, -1, dim))
        if return_weights:
            middle_weights.append(weights.view(batch, heads, len(part), b, per_row))
    middle_out = torch.cat(middle_out, dim=2)  # (B, H, rows * b, D)
    output = torch.cat([global_out[:, :, :edge], middle_out, global_out[:, :, edge:]], dim=2)
    weights = None
    if return_weights:
        middle_weights = torch.cat(middle_weights, dim=2)  # (B, H, rows, b, slots * b)
        weights = _block_sparse_dense_weights(global_weights, middle_weights, layout, random_blocks, valid)
    return (output * valid[:, None, :, None]).transpose(1, 2), weights


class BlockSparseAttention(DNAAttention):
    """Self-attention that runs BigBird block-sparse attention when given a 2D padding mask of a sequence long
    enough for it (the model decides and pads to the block size), and full attention on a 4D mask otherwise."""

    def attend(self, query, key, value, attention_mask, output_attentions: bool = False, **kwargs):
        if attention_mask is None or attention_mask.dim() != 2:
            return super().attend(query, key, value, attention_mask, **kwargs)
        layout = self.config.block_sparse_layout
        random_blocks = layout.sample_random(self.num_heads, query.shape[2], self.training, query.device)
        eager = self.config._attn_implementation == "eager"
        return block_sparse_attention(
            query, key, value, attention_mask.bool(), layout, random_blocks, self.scaling, eager, output_attentions
        )
