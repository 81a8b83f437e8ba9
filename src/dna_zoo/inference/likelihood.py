"""Log-likelihoods of sequences under masked and causal language models, batched: what variant scores and
in-silico mutagenesis are made of."""

import numpy as np
import torch

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _device(model) -> torch.device:
    return next(model.parameters()).device


def selected_logits(model, inputs: dict, selection) -> torch.Tensor:
    """(N, V) logits of the selected tokens only: `selection` indexes the (B, T) token grid of `inputs`, a bool
    mask or a (rows, columns) pair of index tensors, rows in its order. The vocabulary projection (the model's
    output embeddings) runs at those tokens alone, where a full (B, T, V) projection would be mostly discarded
    (a masked LM's loss reads 15% of it); a model whose projection is not reached that way projects everywhere
    and the rows are taken after, with the same result."""
    decoder = getattr(model, "module", model).get_output_embeddings()  # `module`: under DistributedDataParallel
    grid = inputs["input_ids"].shape
    selected = []

    def select(module, args):  # (B, T, H) -> (N, H)
        if args[0].shape[:2] != grid:
            return None
        selected.append(True)
        return (args[0][selection], *args[1:])

    handle = decoder.register_forward_pre_hook(select) if isinstance(decoder, torch.nn.Module) else None
    try:
        logits = model(**inputs).logits
    finally:
        if handle is not None:
            handle.remove()
    return logits if selected else logits[selection]


@torch.no_grad()
def masked_span_log_likelihoods(model, tokenizer, sequences: list[str], spans, batch_size: int = 16) -> np.ndarray:
    """(N, 2) sum and mean log p of the tokens of each sequence that overlap its span (start, end) in bases, those
    tokens masked together in one forward (k-mer and BPE aware: a base belongs to whichever token covers it)."""
    results = np.zeros((len(sequences), 2))
    for first in range(0, len(sequences), batch_size):
        batch = list(sequences[first : first + batch_size])
        encoded = tokenizer(batch, padding=True, return_offsets_mapping=True, return_tensors="pt", verbose=False)
        offsets = encoded.pop("offset_mapping")  # (B, T, 2)
        bounds = torch.tensor(spans[first : first + batch_size])  # (B, 2)
        overlapping = (
            (offsets[..., 0] < bounds[:, 1:])
            & (offsets[..., 1] > bounds[:, :1])
            & (offsets[..., 1] > offsets[..., 0])
            & encoded["attention_mask"].bool()
        )  # (B, T)
        targets = encoded["input_ids"][overlapping]  # (n,)
        encoded["input_ids"] = encoded["input_ids"].masked_fill(overlapping, tokenizer.mask_token_id)
        inputs = {key: value.to(_device(model)) for key, value in encoded.items() if key in MODEL_INPUTS}
        logits = selected_logits(model, inputs, overlapping.to(_device(model))).float()  # (n, V): the masked tokens
        token_log_probs = logits.log_softmax(-1).gather(-1, targets[:, None].to(logits.device)).squeeze(-1).cpu()
        rows = overlapping.nonzero()[:, 0]
        sums = torch.zeros(len(batch), dtype=torch.float64).index_add_(0, rows, token_log_probs.double())
        counts = overlapping.sum(1).clamp(min=1)
        results[first : first + len(batch)] = torch.stack([sums, sums / counts], 1).numpy()
    return results


@torch.no_grad()
def causal_log_likelihoods(model, tokenizer, sequences: list[str], batch_size: int = 16) -> np.ndarray:
    """(N, 2) total and per-token log-likelihood of each sequence under a causal LM (every token after the first
    predicted from those before it)."""
    results = np.zeros((len(sequences), 2))
    for first in range(0, len(sequences), batch_size):
        batch = list(sequences[first : first + batch_size])
        encoded = tokenizer(batch, padding=True, padding_side="right", return_tensors="pt", verbose=False)
        inputs = {key: value.to(_device(model)) for key, value in encoded.items() if key in MODEL_INPUTS[:2]}
        logits = model(**inputs, use_cache=False).logits[:, :-1].float()  # (B, T-1, V)
        targets = encoded["input_ids"][:, 1:]
        chosen = logits.gather(-1, targets[..., None].to(logits.device)).squeeze(-1)
        token_log_probs = (chosen - logits.logsumexp(-1)).cpu()  # no (B, T, V) log-softmax kept
        real = encoded["attention_mask"][:, 1:].bool()
        sums = (token_log_probs.double() * real).sum(1)
        results[first : first + len(batch)] = torch.stack([sums, sums / real.sum(1).clamp(min=1)], 1).numpy()
    return results
