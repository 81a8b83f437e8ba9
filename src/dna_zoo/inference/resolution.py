"""Token outputs to per-base outputs through the tokenizer's offsets (k-mer, BPE and single-base alike)."""

import numpy as np


def tokens_to_bases(values: np.ndarray, offsets, length: int) -> np.ndarray:
    """(tokens, ...) values -> (length, ...): each base gets the value of the token that covers it.

    `offsets` are the tokenizer's (start, end) character spans of the same tokens; special tokens have empty spans
    and cover nothing. A 6-mer's value covers its 6 bases, a BPE token's its span, a run of N its whole run.
    """
    token_of_base = np.full(length, -1)
    for token, (start, end) in enumerate(offsets):
        token_of_base[start:end] = token
    if (token_of_base < 0).any():
        missing = int(np.flatnonzero(token_of_base < 0)[0])
        raise ValueError(f"base {missing} of {length} is covered by no token: offsets and sequence do not match")
    return values[token_of_base]


def bases_to_tokens(labels: np.ndarray, offsets, ignore_index: int = -100) -> np.ndarray:
    """(bases,) integer labels -> (tokens,): each token takes the most frequent label of the bases it covers
    (ties: the smallest label); special tokens (empty spans) get `ignore_index`, so the loss skips them."""
    labels = np.asarray(labels)
    out = np.full(len(offsets), ignore_index, dtype=np.int64)
    for token, (start, end) in enumerate(offsets):
        if end > start:
            values, counts = np.unique(labels[start:end], return_counts=True)
            out[token] = values[np.argmax(counts)]
    return out
