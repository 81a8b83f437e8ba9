"""Pretraining windows cut from FASTA records, as a `datasets` dataset.

Records are split at runs of N (a window never spans one), tiled by `stride` (optionally jittered by a random
offset, so non-overlapping k-mer tokens see every reading phase) and optionally taken from both strands.
Lowercase (soft-masked) bases are either upper-cased or kept lowercase so that training can leave them out of
the loss. Train/validation splits are by file or by record, never by random windows.
"""

import hashlib
import os
import re
from collections.abc import Collection, Iterator, Sequence

import numpy as np
from datasets import Dataset, Features, IterableDataset, Value
from datasets.exceptions import DatasetGenerationError

from ..inference import reverse_complement
from .fasta import read_fasta

FEATURES = Features(
    {"record": Value("string"), "start": Value("int64"), "strand": Value("string"), "sequence": Value("string")}
)
LOWERCASE = ("upper", "exclude")


def iter_windows(
    paths: Sequence[str],
    window: int,
    stride: int | None = None,
    random_offsets: bool = False,
    both_strands: bool = False,
    split_n_run: int = 1,
    lowercase: str = "upper",
    records: Collection[str] | None = None,
    exclude_records: Collection[str] = (),
    seed: int = 0,
) -> Iterator[dict]:
    """{"record", "start" (0-based, forward strand), "strand" ("+"/"-"), "sequence"} of every window.

    `split_n_run`: runs of at least this many N end a window (shorter runs stay inside, as N tokens).
    `random_offsets`: each window start moves right by a random amount below `stride` (fixed by `seed`).
    `lowercase`: "upper" upper-cases soft-masked bases; "exclude" keeps them lowercase (see `loss_mask`).
    `records` / `exclude_records`: keep only / leave out these record names (a split by record).
    """
    if lowercase not in LOWERCASE:
        raise ValueError(f"lowercase must be one of {LOWERCASE}, got {lowercase!r}")
    if window < 1 or split_n_run < 1:
        raise ValueError(f"window ({window}) and split_n_run ({split_n_run}) must be positive")
    stride = stride or window
    rng = np.random.default_rng(seed)
    n_run = re.compile(f"[Nn]{{{split_n_run},}}")
    for path in paths:
        for name, sequence in read_fasta(path):
            if (records is not None and name not in records) or name in exclude_records:
                continue
            if lowercase == "upper":
                sequence = sequence.upper()
            pieces, begin = [], 0
            for run in n_run.finditer(sequence):
                pieces.append((begin, run.start()))
                begin = run.end()
            pieces.append((begin, len(sequence)))
            for piece_start, piece_end in pieces:
                for start in range(piece_start, piece_end - window + 1, stride):
                    if random_offsets:
                        start = min(start + int(rng.integers(stride)), piece_end - window)
                    chunk = sequence[start : start + window]
                    yield {"record": name, "start": start, "strand": "+", "sequence": chunk}
                    if both_strands:
                        yield {"record": name, "start": start, "strand": "-", "sequence": reverse_complement(chunk)}


def windows_dataset(
    paths: Sequence[str], window: int, streaming: bool = False, cache_dir: str | None = None, **options
):
    """`iter_windows` as a `datasets.Dataset` written once to an Arrow cache on disk (memory-mapped, so genomes
    larger than memory are fine), or with `streaming=True` an `IterableDataset` reading the FASTA on the fly."""
    options = {key: tuple(value) if isinstance(value, (list, set)) else value for key, value in options.items()}
    kwargs = dict(paths=[str(p) for p in paths], window=window, **options)  # paths: the one list (shards)
    if streaming:
        return IterableDataset.from_generator(iter_windows, features=FEATURES, gen_kwargs=kwargs)
    stamps = [(os.path.abspath(p), os.path.getsize(p), os.path.getmtime(p)) for p in kwargs["paths"]]
    fingerprint = hashlib.sha256(repr((sorted(kwargs.items()), stamps)).encode()).hexdigest()[:32]
    try:
        return Dataset.from_generator(
            iter_windows, features=FEATURES, gen_kwargs=kwargs, cache_dir=cache_dir, fingerprint=fingerprint
        )
    except DatasetGenerationError as error:  # the reader's own error (file, line) rather than datasets' wrapper
        raise (error.__cause__ or error) from None


def genome_windows(paths: Sequence[str], window: int, **options) -> list[str]:
    """The sequences of `iter_windows`, as a list."""
    return [item["sequence"] for item in iter_windows(paths, window, **options)]


def loss_mask(sequence: str, offsets) -> list[bool]:
    """Per token: True when the token covers no lowercase (soft-masked) base, i.e. it may count in the loss.
    Special tokens (empty spans) are True; the training loop excludes them separately."""
    lower = np.frombuffer(sequence.encode(), dtype=np.uint8) >= ord("a")
    cumulative = np.concatenate([[0], np.cumsum(lower)])
    return [bool(cumulative[end] - cumulative[start] == 0) for start, end in offsets]
