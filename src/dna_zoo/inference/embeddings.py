"""One vector per sequence (or per base) from any dna_zoo model, independent of what it is batched with."""

import numpy as np
import torch
from tqdm.auto import tqdm

from .resolution import tokens_to_bases

COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")
POOLINGS = ("mean", "max", "cls", "none")


def reverse_complement(sequence: str) -> str:
    """Reverse complement over A C G T N and the IUPAC codes, case kept."""
    return sequence.translate(COMPLEMENT)[::-1]


@torch.no_grad()
def _embed_batch(model, tokenizer, sequences, layer, pooling, per_base, device):
    unpooled = pooling == "none"
    batch = tokenizer(
        sequences,
        padding=True,
        return_tensors="pt",
        return_special_tokens_mask=True,
        return_offsets_mapping=unpooled and per_base,
    )
    keep = batch["attention_mask"].bool() & ~batch.pop("special_tokens_mask").bool()  # (B, L) real, non-special
    offsets = batch.pop("offset_mapping", None)
    inputs = {
        key: value.to(device)
        for key, value in batch.items()
        if key in ("input_ids", "attention_mask", "token_type_ids")
    }
    hidden = model(**inputs, output_hidden_states=True).hidden_states[layer].float().cpu()  # (B, L, H)
    if pooling == "cls":
        if batch["input_ids"][0, 0] != tokenizer.cls_token_id:
            raise ValueError(f"pooling='cls' needs a tokenizer that prepends {tokenizer.cls_token}; use 'mean'")
        return list(hidden[:, 0].numpy())
    if pooling == "mean":
        weights = keep.unsqueeze(-1).float()
        return list((hidden * weights).sum(1).div(weights.sum(1).clamp(min=1)).numpy())
    if pooling == "max":
        return list(hidden.masked_fill(~keep.unsqueeze(-1), float("-inf")).amax(1).numpy())
    rows = []
    for row, sequence in enumerate(sequences):
        tokens = hidden[row][keep[row]].numpy()  # (tokens, H), specials and padding dropped
        if per_base:
            spans = offsets[row][keep[row]].tolist()
            tokens = tokens_to_bases(tokens, spans, len(sequence))  # (bases, H)
        rows.append(tokens)
    return rows


def embed(
    model,
    tokenizer,
    sequences: list[str],
    layer: int = -1,
    pooling: str = "mean",
    strand: str = "forward",
    per_base: bool = False,
    batch_size: int = 16,
    device=None,
    dtype: torch.dtype | None = None,
    progress: bool = True,
):
    """Embeddings of DNA sequences from any dna_zoo model (a base model or any head).

    layer: index into the hidden states (0 = embeddings, -1 = last, after the final norm; negatives allowed).
    pooling: "mean" or "max" over the sequence's own tokens (padding and special tokens excluded, so a vector does
        not depend on what it was batched with), "cls" (first token), or "none" (one vector per token, or per base
        with `per_base=True`: each base gets the vector of the token that covers it).
    strand: "forward", or "both" to average with the reverse complement (per base: aligned base by base).
    Sequences are run sorted by length (less padding); results come back in input order: an (N, H) array when
    pooled, else a list of (tokens or bases, H) arrays.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if strand not in ("forward", "both"):
        raise ValueError(f"strand must be 'forward' or 'both', got {strand!r}")
    if strand == "both" and pooling == "none" and not per_base:
        raise ValueError("strand='both' without pooling needs per_base=True (tokens of the two strands differ)")
    model = model.eval().to(device=device, dtype=dtype)
    device = next(model.parameters()).device
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    results = [None] * len(sequences)
    for start in tqdm(range(0, len(order), batch_size), desc="embedding", disable=not progress, unit="batch"):
        index = order[start : start + batch_size]
        batch = [sequences[i] for i in index]
        vectors = _embed_batch(model, tokenizer, batch, layer, pooling, per_base, device)
        if strand == "both":
            reverse = _embed_batch(
                model, tokenizer, [reverse_complement(s) for s in batch], layer, pooling, per_base, device
            )
            vectors = [(f + (r[::-1] if pooling == "none" else r)) / 2 for f, r in zip(vectors, reverse)]
        for i, vector in zip(index, vectors):
            results[i] = vector
    return np.stack(results) if pooling != "none" else results
