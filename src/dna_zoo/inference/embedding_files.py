"""Embeddings of FASTA records written to Parquet or NPZ as they are computed, one vector per record or per base.

Layouts (H: the model's hidden size):
- pooled Parquet: one row per record (name, length, embedding: H floats); pooled NPZ: names (N,), embeddings (N, H).
- per-base Parquet: one row per base (name, position 0-based, embedding: H floats).
- per-base NPZ: names (N,), lengths (N,) and one (length, H) array per record, `embeddings_0` .. `embeddings_{N-1}`.
Per-base outputs are streamed: memory holds one batch of windows, whatever the record's length.
"""

import itertools
import os
import zipfile

import numpy as np

from ..models import InvalidSequenceError
from .embeddings import embed, iter_per_base

FORMATS = (".parquet", ".npz")
PARQUET_ROWS = 1 << 16  # per-base rows per Parquet write (a row group)


def _named_errors(fasta: str, first: int, names):
    """A bad character in a record names the file, the record's number in it (from 1) and its name."""

    def reraise(error: InvalidSequenceError):
        record = f"record {first + error.index + 1} ({names[error.index]!r})"
        raise ValueError(f"{fasta}: {record}: {error.reason}") from None

    return reraise


def _chunks(records, size: int):
    """Lists of at most `size` (name, sequence) records, read lazily."""
    return iter(lambda: list(itertools.islice(records, size)), [])


def _fixed_size_lists(vectors: np.ndarray):
    import pyarrow as pa

    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.astype(np.float32, copy=False).ravel()), vectors.shape[1])


def _pooled(model, tokenizer, records, fasta, path, file_format, chunk_size, options) -> tuple[int, str]:
    count, hidden = 0, model.config.embedding_size
    if file_format == ".npz":
        names, sequences = map(list, zip(*records))
        try:
            vectors = embed(model, tokenizer, sequences, **options)
        except InvalidSequenceError as error:
            _named_errors(fasta, 0, names)(error)
        with open(path, "wb") as handle:
            np.savez(handle, names=np.array(names), embeddings=vectors)
        return len(names), f"{len(names)} x {vectors.shape[1]}"
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for chunk in _chunks(records, chunk_size):  # one chunk of records in memory at a time
        names, sequences = zip(*chunk)
        try:
            vectors = embed(model, tokenizer, sequences, **options)  # (N, H)
        except InvalidSequenceError as error:
            _named_errors(fasta, count, names)(error)
        lengths = [len(s) for s in sequences]
        table = pa.table({"name": names, "length": lengths, "embedding": _fixed_size_lists(vectors)})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        count += len(names)
    writer.close()
    return count, f"{count} x {hidden}"


def _per_base(model, tokenizer, records, fasta, chunk_size, options):
    """Yield (record number, name, length, start, (n, H) piece) over every record, streamed."""
    count = 0
    for chunk in _chunks(records, chunk_size):
        names, sequences = zip(*chunk)
        try:
            for index, start, piece in iter_per_base(model, tokenizer, list(sequences), **options):
                yield count + index, names[index], len(sequences[index]), start, piece
        except InvalidSequenceError as error:
            _named_errors(fasta, count, names)(error)
        count += len(names)


class _PerBaseParquet:
    def __init__(self, path: str, hidden: int):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.schema = pa.schema(
            [("name", pa.string()), ("position", pa.int64()), ("embedding", pa.list_(pa.float32(), hidden))]
        )
        self.writer, self.pieces, self.rows = pq.ParquetWriter(path, self.schema), [], 0

    def add(self, number: int, name: str, length: int, start: int, piece: np.ndarray) -> None:
        self.pieces.append((name, start, piece))
        self.rows += len(piece)
        if self.rows >= PARQUET_ROWS:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if not self.pieces:
            return
        names = list(itertools.chain.from_iterable(itertools.repeat(n, len(p)) for n, _, p in self.pieces))
        positions = np.concatenate([np.arange(start, start + len(p)) for _, start, p in self.pieces])
        vectors = np.concatenate([p for _, _, p in self.pieces])
        columns = [pa.array(names), pa.array(positions), _fixed_size_lists(vectors)]
        self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        self.pieces, self.rows = [], 0

    def close(self, names, lengths) -> None:
        self.flush()
        self.writer.close()

    def abandon(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: S110 - the write already failed; this error is the one that matters
            pass


class _PerBaseNpz:
    """An NPZ (an uncompressed zip of .npy files) written member by member, each array as its rows arrive."""

    def __init__(self, path: str, hidden: int):
        self.archive, self.member, self.hidden = zipfile.ZipFile(path, "w", allowZip64=True), None, hidden

    def add(self, number: int, name: str, length: int, start: int, piece: np.ndarray) -> None:
        if start == 0:  # a new record: a new member, its shape known from the record's length
            if self.member is not None:
                self.member.close()
            self.member = self.archive.open(f"embeddings_{number}.npy", "w", force_zip64=True)
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False}
            np.lib.format.write_array_header_2_0(self.member, {**header, "shape": (length, self.hidden)})
        self.member.write(np.ascontiguousarray(piece, dtype="<f4").tobytes())

    def close(self, names, lengths) -> None:
        if self.member is not None:
            self.member.close()
        for key, values in (("names", np.array(names)), ("lengths", np.array(lengths, dtype=np.int64))):
            with self.archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, values, allow_pickle=False)
        self.archive.close()

    def abandon(self) -> None:
        for handle in (self.member, self.archive):
            try:
                handle and handle.close()
            except Exception:  # noqa: S110 - the write already failed; this error is the one that matters
                pass


def write_embeddings(
    model,
    tokenizer,
    records,
    fasta: str,
    path: str,
    pooling: str = "mean",
    chunk_size: int = 1024,
    file_format: str | None = None,
    **options,
) -> tuple[int, str]:
    """Embed (name, sequence) `records` (read from the file `fasta`, named by errors) into `path`, in the layouts
    of this module's docstring. pooling: "mean", "max", "cls", or "base" (one vector per base, streamed);
    file_format: ".parquet" or ".npz" (default: `path`'s suffix); `options` go to `embed` / `iter_per_base`
    (layer, strand, batch_size, window, overlap, ...). Returns (records written, shape of the output in words)."""
    file_format = file_format or os.path.splitext(path)[1]
    if file_format not in FORMATS:
        raise ValueError(f"{path}: embeddings are written as {' or '.join(FORMATS)}, not {file_format!r}")
    if pooling != "base":
        return _pooled(model, tokenizer, records, fasta, path, file_format, chunk_size, {"pooling": pooling, **options})
    hidden = model.config.embedding_size
    writer = (_PerBaseParquet if file_format == ".parquet" else _PerBaseNpz)(path, hidden)
    names, lengths = [], []
    try:
        for number, name, length, start, piece in _per_base(model, tokenizer, records, fasta, chunk_size, options):
            if number == len(names):  # the first piece of a new record
                names.append(name)
                lengths.append(length)
            writer.add(number, name, length, start, piece)
        writer.close(names, lengths)
    except BaseException:
        writer.abandon()  # the file handles closed; the caller removes the partial file
        raise
    return len(names), f"{sum(lengths)} bases x {hidden}"
