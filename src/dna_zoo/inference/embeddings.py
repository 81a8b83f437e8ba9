"""One vector per sequence (or per base) from any dna_zoo model, independent of what it is batched with."""

import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models.layers import pool_hidden_states
from ..models.tokenization_dna import TOKENIZERS, DNATokenizer, InvalidSequenceError
from .resolution import tokens_to_bases

COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")
POOLINGS = ("mean", "max", "cls", "none")


def reverse_complement(sequence: str) -> str:
    """Reverse complement over A C G T N and the IUPAC codes, case kept."""
    return sequence.translate(COMPLEMENT)[::-1]


def check_vocabulary(model, tokenizer) -> None:
    """A tokenizer whose ids the model cannot embed is a mistake (a tokenizer of another model): say so up front,
    not as an index error deep inside torch."""
    expected = TOKENIZERS.get(model.config.model_type)
    if isinstance(tokenizer, DNATokenizer) and expected is not None and not isinstance(tokenizer, expected):
        raise ValueError(
            f"a {type(tokenizer).__name__} does not belong to a {model.config.model_type} model "
            f"({type(model).__name__}), which reads {expected.__name__} ids; load both from the same folder"
        )
    rows = model.get_input_embeddings().num_embeddings
    needed = getattr(tokenizer, "embedded_vocab_size", len(tokenizer))
    if needed > rows:
        raise ValueError(
            f"the tokenizer ({type(tokenizer).__name__}) has {needed} tokens but the model "
            f"({type(model).__name__}) embeds {rows}: they do not belong together; load both from the same folder"
        )


def _hidden_states(model, inputs: dict, layer: int) -> torch.Tensor:
    """(B, L, H) hidden states of `layer`; a GENA-LM recurrent-memory (RMT) model runs the whole input segment by
    segment, carrying its memory, and returns the last layer at every input position (special tokens: zeros).
    A reverse-complement equivariant model (Caduceus ps, `rcps`) holds both strands' states in 2H channels: this is
    the forward strand's half (the other is the reverse complement's, which strand="both" averages in, exactly)."""
    if not hasattr(model, "run_segments"):
        hidden = model(**inputs, output_hidden_states=True).hidden_states[layer]
        if hidden.shape[1] != inputs["input_ids"].shape[1]:
            raise ValueError(
                f"layer {layer} of this {model.config.model_type} model runs at a coarser resolution than its input "
                f"({hidden.shape[1]} positions for {inputs['input_ids'].shape[1]} tokens): use layer=-1, the "
                "per-token output"
            )
        return hidden[..., : model.config.hidden_size] if getattr(model.config, "rcps", False) else hidden
    if layer != -1:
        raise ValueError("a recurrent-memory (RMT) model gives the last layer only: use layer=-1")
    input_ids = inputs["input_ids"]
    hidden = torch.zeros(*input_ids.shape, model.config.hidden_size, device=input_ids.device)
    for _, active, segment, slots, positions in model.run_segments(input_ids, inputs.get("attention_mask")):
        for row in range(input_ids.shape[0]):
            if active[row]:
                hidden[row, positions[row]] = segment[row][slots[row]].to(hidden.dtype)
    return hidden


def context_bases(tokenizer, context: int) -> int:
    """Bases of a sequence that are sure to hold more than `context` tokens, with a margin of as many again so that
    cutting there cannot change the first `context` tokens: longer sequences are clipped to this before
    tokenizing, and memory stays bounded by the context, not by the sequence (a 50 Mb record is refused at once)."""
    if isinstance(tokenizer, DNATokenizer):
        longest = tokenizer.longest_token_bases
    else:
        longest = max(len(t) for t in tokenizer.get_vocab() if t not in set(tokenizer.all_special_tokens))
    return 2 * (context + 1) * longest


def tokenize_within_context(
    tokenizer, sequences: list[str], context: int | None, truncate: bool, indices=None, **kwargs
):
    """Padded tensors of `sequences`, tokenized once; only when a row is longer than `context` tokens and
    `truncate` is the batch tokenized again, truncated. Returns (batch, indices of the rows longer than context).
    `indices`: the caller's index of each sequence, named by a bad-character error instead of its batch row.
    Sequences far longer than the context are clipped first (`context_bases`): what is left has more than
    `context` tokens, and the first `context` tokens are theirs."""
    if context:
        limit = context_bases(tokenizer, context)
        sequences = [sequence[:limit] for sequence in sequences]
    try:
        batch = tokenizer(sequences, padding=True, return_tensors="pt", verbose=False, **kwargs)  # lengths checked here
    except InvalidSequenceError as error:
        index = indices[error.index] if indices is not None else error.index
        raise InvalidSequenceError(index, error.position, error.character, error.reason) from None
    too_long = (batch["attention_mask"].sum(1) > context).nonzero().flatten().tolist() if context else []
    if too_long and truncate:
        batch = tokenizer(sequences, padding=True, truncation=True, max_length=context, return_tensors="pt", **kwargs)
    return batch, too_long


@torch.no_grad()
def _embed_batch(model, tokenizer, sequences, layer, pooling, per_base, device, truncate=False, indices=None):
    unpooled = pooling == "none"
    context = None if hasattr(model, "run_segments") else model.config.max_tokens  # RMT: any length
    batch, too_long = tokenize_within_context(
        tokenizer,
        sequences,
        context,
        truncate,
        indices,
        return_special_tokens_mask=True,
        return_offsets_mapping=unpooled and per_base,
    )
    if too_long and not truncate:
        row = too_long[0]
        tokens = int(batch["attention_mask"][row].sum())
        count = f"{tokens} tokens" if len(sequences[row]) <= context_bases(tokenizer, context) else "far more tokens"
        raise ValueError(
            f"sequence {indices[row] if indices else row} ({len(sequences[row])} bases) is {count}, longer "
            f"than the model's context ({context}): pass window= (and overlap=) to run it in windows, or "
            "too_long='truncate'"
        )
    if too_long:
        warnings.warn(f"{len(too_long)} sequences longer than {context} tokens were truncated", stacklevel=3)
    keep = batch["attention_mask"].bool() & ~batch.pop("special_tokens_mask").bool()  # (B, L) real, non-special
    offsets = batch.pop("offset_mapping", None)
    inputs = {
        key: value.to(device)
        for key, value in batch.items()
        if key in ("input_ids", "attention_mask", "token_type_ids")
    }
    hidden = _hidden_states(model, inputs, layer).float().cpu()  # (B, L, H)
    if pooling == "cls":
        if batch["input_ids"][0, 0] != tokenizer.cls_token_id:
            raise ValueError(f"pooling='cls' needs a tokenizer that prepends {tokenizer.cls_token}; use 'mean'")
        return list(hidden[:, 0].numpy())
    if pooling in ("mean", "max"):  # over the sequence's own tokens: padding and special tokens excluded
        return list(pool_hidden_states(hidden, keep, pooling).numpy())
    rows = []
    for row, sequence in enumerate(sequences):
        tokens = hidden[row][keep[row]].numpy()  # (tokens, H), specials and padding dropped
        if per_base:
            spans = offsets[row][keep[row]].tolist()
            tokens = tokens_to_bases(tokens, spans, len(sequence))  # (bases, H)
        rows.append(tokens)
    return rows


def windows(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of overlapping windows of `window` bases covering [0, length); the last one ends at length."""
    if not 0 <= overlap < window:
        raise ValueError(f"need 0 <= overlap < window, got overlap {overlap} and window {window}")
    starts = list(range(0, max(length - window, 0) + 1, window - overlap))
    if starts[-1] + window < length:
        starts.append(length - window)
    return [(start, min(start + window, length)) for start in starts]


def owned_ranges(length: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of the bases each window gives to the stitched output: those where it is farthest from a cut
    (the sequence's own ends are not cuts; ties go to the earlier window). The ranges follow each other and cover
    [0, length), so a stitched output can be written window by window; memory of one window, whatever the length."""

    def margins(index: int, positions: np.ndarray) -> np.ndarray:  # distance to the nearest cut; -inf outside
        start, end = spans[index]
        left = positions - start if start > 0 else np.inf
        right = end - 1 - positions if end < length else np.inf
        return np.where((positions >= start) & (positions < end), np.minimum(left, right), -np.inf)

    ranges, cursor = [], 0
    for index, (start, end) in enumerate(spans):
        positions = np.arange(cursor, end, dtype=float)  # the earlier windows own everything before the cursor
        mine = margins(index, positions)
        owned = np.ones(len(positions), dtype=bool)
        for later in range(index + 1, len(spans)):
            if spans[later][0] >= end:
                break
            owned &= mine >= margins(later, positions)
        first_lost = int(np.argmin(owned)) if not owned.all() else len(positions)
        ranges.append((cursor, cursor + first_lost))
        cursor += first_lost
    assert cursor == length, "windows must cover the sequence"
    return ranges


def _stitched(model, tokenizer, sequence: str, spans, layer, strand, batch_size, device, dtype, bar):
    """Yield (start, (n, H) per-base output) of one long sequence from its windows, run `batch_size` at a time and
    in order of position: each base has the value of the window that owns it (`owned_ranges`); the bar counts
    bases. Memory: one batch of windows, never the whole sequence's output."""
    ranges = owned_ranges(len(sequence), spans)
    for first in range(0, len(spans), batch_size):
        group = spans[first : first + batch_size]
        pieces = [sequence[start:end] for start, end in group]
        options = (layer, "none", strand, True, batch_size, device, dtype, False, "window", False)
        outputs = _embed_sequences(model, tokenizer, pieces, *options)
        for (start, _), (owned_start, owned_end), piece in zip(group, ranges[first:], outputs):
            if owned_end > owned_start:
                yield owned_start, piece[owned_start - start : owned_end - start]
            bar.update(owned_end - owned_start)


def _embed_windowed(model, tokenizer, sequence: str, spans, pooling, *options) -> np.ndarray:
    """Per-base (L, H) output of one long sequence, or its (H,) mean with pooling "mean", stitched from windows."""
    if pooling == "mean":
        pieces = _stitched(model, tokenizer, sequence, spans, *options)
        total = sum(piece.sum(0, dtype=np.float64) for _, piece in pieces)
        return (total / len(sequence)).astype(np.float32)
    out = None
    for start, piece in _stitched(model, tokenizer, sequence, spans, *options):
        out = np.empty((len(sequence), piece.shape[-1]), dtype=piece.dtype) if out is None else out
        out[start : start + len(piece)] = piece
    return out


def _longest_encoding(tokenizer, pieces: list[str], batch: int = 256) -> int:
    """Tokens in the longest encoding of `pieces`, tokenized `batch` at a time (a chromosome's encodings at once
    would hold hundreds of bytes per token)."""
    return max(
        len(ids)
        for start in range(0, len(pieces), batch)
        for ids in tokenizer(pieces[start : start + batch], verbose=False)["input_ids"]
    )


def fit_window(tokenizer, sequences: list[str], window: int, overlap: int, context: int) -> tuple[int, int]:
    """(window, overlap) in bases: the largest window (at most `window`) whose pieces of `sequences` all fit in
    `context` tokens, and the overlap shrunk with it in proportion (so that a window fitted to a small context does
    not multiply the work: 6,000 / 1,000 asked of a 1,024-token single-base model gives about 1,024 / 170); a
    smaller window than asked for comes with a warning that says why."""

    def shrunk(fitted: int) -> int:
        return min(overlap * fitted // window, fitted - 1)

    fitted, longest = window, None
    for _ in range(8):
        spans = [windows(len(s), fitted, shrunk(fitted)) for s in sequences]
        pieces = [s[start:end] for s, row in zip(sequences, spans) for start, end in row]
        longest = _longest_encoding(tokenizer, pieces)
        if longest <= context:
            break
        fitted = max(1, min(fitted - 1, fitted * context // longest))
    else:
        raise ValueError(f"no window of at most {window} bases fits the model's context of {context} tokens")
    if fitted < window:
        warnings.warn(
            f"windows of {window} bases would be longer than the model's context ({context} tokens): using windows "
            f"of {fitted} bases (overlap {shrunk(fitted)}, shrunk in proportion), the longest of {longest} tokens",
            stacklevel=3,
        )
    return fitted, shrunk(fitted)


def _embed_sequences(
    model, tokenizer, sequences, layer, pooling, strand, per_base, batch_size, device, dtype, progress, unit, truncate
) -> list:
    """Outputs of `sequences` in input order, run in length-sorted batches; the bar counts `unit`s (sequences or
    windows) and is not shown for a single one."""
    check_vocabulary(model, tokenizer)
    model = model.eval().to(device=device, dtype=dtype)
    device = next(model.parameters()).device
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    results = [None] * len(sequences)
    with tqdm(total=len(order), desc="embedding", unit=unit, disable=not progress or len(order) < 2) as bar:
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = [sequences[i] for i in index]
            options = dict(truncate=truncate, indices=index)
            vectors = _embed_batch(model, tokenizer, batch, layer, pooling, per_base, device, **options)
            if strand == "both":
                reverse_strand = [reverse_complement(s) for s in batch]
                reverse = _embed_batch(model, tokenizer, reverse_strand, layer, pooling, per_base, device, **options)
                vectors = [(f + (r[::-1] if pooling == "none" else r)) / 2 for f, r in zip(vectors, reverse)]
            for i, vector in zip(index, vectors):
                results[i] = vector
            bar.update(len(index))
    return results


def _check_arguments(model, sequences, layer: int, strand: str) -> None:
    states = model.config.num_hidden_layers + 1  # the embeddings and every layer's output
    if not -states <= layer < states:
        raise ValueError(
            f"layer {layer}: the model has {states} hidden states (0 the embeddings .. {states - 1} the last; "
            f"negative indices from the end, down to {-states})"
        )
    if strand not in ("forward", "both"):
        raise ValueError(f"strand must be 'forward' or 'both', got {strand!r}")
    empty = next((i for i, s in enumerate(sequences) if not s), None)
    if empty is not None:
        raise ValueError(f"sequence {empty} is empty")


def iter_per_base(
    model,
    tokenizer,
    sequences: list[str],
    layer: int = -1,
    strand: str = "forward",
    batch_size: int = 16,
    device=None,
    dtype: torch.dtype | None = None,
    progress: bool = True,
    window: int | None = None,
    overlap: int = 0,
):
    """Per-base embeddings as a stream of (index, start, (n, H) array): sequence `index`'s bases start..start+n,
    in input order and, within a sequence, in order of position. The same values as `embed(..., pooling="none",
    per_base=True)` with the same arguments, but a sequence longer than `window` comes window by window, so
    memory stays that of one batch of windows whatever the length (a whole chromosome can be written to disk as it
    is computed). The bar counts bases."""
    _check_arguments(model, sequences, layer, strand)
    long = [s for s in sequences if window is not None and len(s) > window]
    if long:
        window, overlap = fit_window(tokenizer, long, window, overlap, model.config.max_tokens)
    options = (layer, strand, batch_size, device, dtype)
    pending = []  # short sequences, run together in batches

    def run_pending():
        pieces = [sequences[i] for i in pending]
        outputs = _embed_sequences(
            model, tokenizer, pieces, layer, "none", strand, True, *options[2:], False, "", False
        )
        yield from ((i, 0, output) for i, output in zip(pending, outputs))
        bar.update(sum(map(len, pieces)))
        pending.clear()

    total = sum(map(len, sequences))
    with tqdm(total=total, desc="embedding", unit="base", unit_scale=True, disable=not progress) as bar:
        for index, sequence in enumerate(sequences):
            if window is None or len(sequence) <= window:
                pending.append(index)
                if len(pending) == batch_size:
                    yield from run_pending()
                continue
            yield from run_pending()
            spans = windows(len(sequence), window, min(overlap, window - 1))
            for start, piece in _stitched(model, tokenizer, sequence, spans, *options, bar):
                yield index, start, piece
        yield from run_pending()


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
    window: int | None = None,
    overlap: int = 0,
    too_long: str = "error",
):
    """Embeddings of DNA sequences from any dna_zoo model (a base model or any head).

    layer: index into the hidden states (0 = embeddings, -1 = last, after the final norm; negatives allowed).
    pooling: "mean" or "max" over the sequence's own tokens (padding and special tokens excluded, so a vector does
        not depend on what it was batched with), "cls" (first token), or "none" (one vector per token, or per base
        with `per_base=True`: each base gets the vector of the token that covers it).
    strand: "forward", or "both" to average with the reverse complement (per base: aligned base by base).
    window, overlap: sequences longer than `window` bases are cut into windows overlapping by `overlap` bases,
        run one by one and stitched: per base, each base keeps its value from the window where it is farthest from
        a cut; pooled ("mean" only), windows are weighted by the bases they give. Works with every family. A window
        whose pieces would be longer than the model's context in tokens is shrunk to fit, with a warning.
        GENA-LM can instead read a long sequence whole through its recurrent memory: pass an RMT model
        (`GenaLMRMTForSequenceClassification` / `GenaLMRMTForTokenClassification`, e.g. a fine-tuned RMT
        checkpoint) and no window; it runs segment by segment and gives the last layer at every token.
    too_long: a sequence longer than the model's context (in tokens) is an error (default) naming its length, or
        with "truncate" is cut to the context (pooled outputs only; a warning gives the count). `window` avoids both.
    An empty sequence is an error naming its index. Sequences are run sorted by length (less padding); results
    come back in input order: an (N, H) array when pooled, else a list of (tokens or bases, H) arrays.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    _check_arguments(model, sequences, layer, strand)
    if too_long not in ("error", "truncate"):
        raise ValueError(f"too_long must be 'error' or 'truncate', got {too_long!r}")
    if too_long == "truncate" and pooling == "none":
        raise ValueError("too_long='truncate' gives pooled outputs only; for per-token outputs use window=")
    if strand == "both" and pooling == "none" and not per_base:
        raise ValueError("strand='both' without pooling needs per_base=True (tokens of the two strands differ)")
    common = (layer, pooling, strand, per_base, batch_size, device, dtype, progress)
    if window is not None and any(len(s) > window for s in sequences):
        if not (pooling == "mean" or (pooling == "none" and per_base)):
            raise ValueError("windows are stitched per base: use pooling='mean' or pooling='none' with per_base=True")
        window, overlap = fit_window(tokenizer, sequences, window, overlap, model.config.max_tokens)
        spans = [windows(len(s), window, overlap) for s in sequences]  # overlap < window: fit_window caps it
        options = (layer, strand, batch_size, device, dtype)
        total = sum(map(len, sequences))
        with tqdm(total=total, desc="embedding", unit="base", unit_scale=True, disable=not progress) as bar:
            results = [
                _embed_windowed(model, tokenizer, s, row, pooling, *options, bar) for s, row in zip(sequences, spans)
            ]
        return np.stack(results) if pooling == "mean" else results
    results = _embed_sequences(model, tokenizer, sequences, *common, "sequence", too_long == "truncate")
    return np.stack(results) if pooling != "none" else results
