"""Predictions of fine-tuned heads for new sequences: class probabilities, multi-label probabilities, regression
values, or per-base class probabilities for token (nucleotide) classifiers."""

import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from .embeddings import check_vocabulary, tokenize_within_context
from .resolution import tokens_to_bases


@torch.no_grad()
def predict(model, tokenizer, sequences: list[str], batch_size: int = 16, device=None, progress: bool = True):
    """(N, labels) probabilities (softmax for single-label, sigmoid for multi-label) or values (regression); for
    token classifiers, a list of (bases, labels) per-base probability arrays. Sequences longer than the model's
    context are truncated (a warning says how many)."""
    check_vocabulary(model, tokenizer)
    model = model.eval().to(device)
    device = next(model.parameters()).device
    token_task = "TokenClassification" in type(model).__name__
    problem = model.config.problem_type
    max_length = model.config.max_tokens
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    results = [None] * len(sequences)
    truncated = 0
    for start in tqdm(range(0, len(order), batch_size), desc="predicting", disable=not progress, unit="batch"):
        index = order[start : start + batch_size]
        batch = [sequences[i] for i in index]
        encoded, too_long = tokenize_within_context(
            tokenizer,
            batch,
            max_length,
            True,
            index,
            return_offsets_mapping=token_task,
            return_special_tokens_mask=token_task,
        )
        truncated += len(too_long)
        offsets, special = encoded.pop("offset_mapping", None), encoded.pop("special_tokens_mask", None)
        logits = model(**{k: v.to(device) for k, v in encoded.items()}).logits.float().cpu()
        if problem == "regression":
            values = logits.numpy()
        elif problem == "multi_label_classification":
            values = torch.sigmoid(logits).numpy()
        else:
            values = torch.softmax(logits, -1).numpy()
        for row, i in enumerate(index):
            if token_task:
                keep = (encoded["attention_mask"][row].bool() & ~special[row].bool()).numpy()
                covered = int(offsets[row][keep][:, 1].max()) if keep.any() else 0
                results[i] = tokens_to_bases(values[row][keep], offsets[row][keep].tolist(), covered)
            else:
                results[i] = values[row]
    if truncated:
        warnings.warn(
            f"{truncated} sequences longer than the model's context ({max_length} tokens) were truncated", stacklevel=2
        )
    return results if token_task else np.stack(results)
