"""Attention maps per layer and head, mapped from tokens to bases."""

import numpy as np
import torch

from ..inference.embeddings import check_vocabulary


@torch.no_grad()
def attention_maps(model, tokenizer, sequence: str) -> np.ndarray:
    """(layers, heads, L, L) attention of base i (query) on base j (key) for a sequence of L bases: the weight of
    the token covering i on the token covering j, shared by the bases of the key token, so each row sums to the
    attention the query token gives the sequence's own tokens (special tokens left out). The model runs once with
    the eager attention, which returns the weights (SDPA does not), then goes back to its own implementation."""
    check_vocabulary(model, tokenizer)
    encoded = tokenizer(
        [sequence], return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt", verbose=False
    )
    offsets = encoded.pop("offset_mapping")[0].tolist()
    encoded.pop("special_tokens_mask")
    if encoded["input_ids"].shape[1] > model.config.max_tokens:
        raise ValueError(f"{len(sequence)} bases are longer than the model's context: map a shorter region")
    implementation = model.config._attn_implementation
    model.eval().set_attn_implementation("eager")
    try:
        device = next(model.parameters()).device
        outputs = model(**{key: value.to(device) for key, value in encoded.items()}, output_attentions=True)
    finally:
        model.set_attn_implementation(implementation)
    if not getattr(outputs, "attentions", None):
        raise ValueError(f"{type(model).__name__} returns no attention weights (output_attentions)")
    weights = torch.stack(outputs.attentions)[:, 0].float().cpu().numpy()  # (layers, heads, T, T)
    token_of_base = np.full(len(sequence), -1)
    for token, (start, end) in enumerate(offsets):
        token_of_base[start:end] = token
    span = np.array([end - start for start, end in offsets])
    shared = weights / np.maximum(span, 1)[None, None, None, :]  # a key token's weight shared by its bases
    return shared[:, :, token_of_base][:, :, :, token_of_base]  # (layers, heads, L, L)
