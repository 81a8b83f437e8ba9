"""FASTA input through pysam: plain, gzip or bgzip files, record by record (never the whole file in memory).

pysam skips text before the first header and accepts empty records and spaces inside sequences; read_fasta
refuses them with the file and line number (found by a scan of the file that runs only when something is wrong).
"""

import gzip
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pysam

NOT_ACGTN = re.compile("[^ACGTN]")
WHITESPACE = re.compile(r"\s")


class FastaError(ValueError):
    """A malformed FASTA file: the message names the file, the line and what is wrong."""


def numbered_lines(path: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of a text file, plain or gzip/bgzip compressed."""
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    with (gzip.open if compressed else open)(path, "rt", errors="replace") as handle:
        yield from enumerate((line.rstrip("\r\n") for line in handle), start=1)


def _header_line(path: str, name: str) -> int:
    return next(
        number for number, line in numbered_lines(path) if line.startswith(">") and line[1:].split()[:1] == [name]
    )


def _line_of(path: str, name: str, position: int) -> tuple[int, int]:
    """(line, column), both 1-based, of base `position` (0-based) of record `name`."""
    start = _header_line(path, name)
    seen = 0
    for number, line in numbered_lines(path):
        if number > start:
            if seen + len(line) > position:
                return number, position - seen + 1
            seen += len(line)
    return start, 0


def _refuse_nul_bytes(path: str) -> None:
    """htslib ends a sequence at a NUL byte (a crash-damaged file) without a word: find one before reading."""
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    with (gzip.open if compressed else open)(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            if b"\0" in chunk:
                break
        else:
            return
    for number, line in numbered_lines(path):
        if "\0" in line:
            raise FastaError(f"{path} line {number} column {line.index(chr(0)) + 1}: a NUL byte (a damaged file?)")


def read_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(name, sequence) of each record, sequence as written in the file (case kept)."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FASTA file not found: {path}")
    first = next((line for _, line in numbered_lines(path) if line.strip()), None)
    if first is not None and not first.startswith((">", "@")):
        number = next(n for n, line in numbered_lines(path) if line.strip())
        raise FastaError(f"{path} line {number}: expected a '>' header before any sequence, found {first[:40]!r}")
    _refuse_nul_bytes(path)
    count = 0
    with pysam.FastxFile(path) as records:
        for count, record in enumerate(records, start=1):
            if not record.sequence:
                line = _header_line(path, record.name)
                raise FastaError(f"{path} line {line}: record {record.name!r} has no sequence")
            space = WHITESPACE.search(record.sequence)
            if space:
                line, column = _line_of(path, record.name, space.start())
                raise FastaError(
                    f"{path} line {line} column {column}: whitespace inside the sequence of record {record.name!r}"
                )
            yield record.name, record.sequence
    if count == 0:
        raise FastaError(f"{path}: no FASTA records (the file is empty)")


def fasta_chunks(paths: Iterable[str | os.PathLike], chunk_length: int = 1000) -> Iterator[str]:
    """Upper-cased pieces of at most `chunk_length` bases of every record; other letters (IUPAC codes) become N."""
    for path in paths:
        for _, sequence in read_fasta(path):
            sequence = NOT_ACGTN.sub("N", sequence.upper())
            for start in range(0, len(sequence), chunk_length):
                yield sequence[start : start + chunk_length]


def is_plain_gzip(path: str) -> bool:
    """gzip-compressed but not BGZF (bgzip), the only compression htslib can index."""
    with open(path, "rb") as handle:
        header = handle.read(18)
    is_gzip = header[:2] == b"\x1f\x8b"
    is_bgzf = is_gzip and header[3] & 4 and header[12:14] == b"BC"  # FEXTRA with the "BC" subfield
    return bool(is_gzip and not is_bgzf)


@contextmanager
def indexed_fasta(path: str | os.PathLike):
    """A pysam.FastaFile for random access (plain or bgzip, indexed if it is not yet). A plain-gzip file, which
    htslib cannot index, is decompressed into a temporary folder for the time of the `with` block."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FASTA file not found: {path}")
    with tempfile.TemporaryDirectory(prefix="dna_zoo_fasta_") as folder:
        if is_plain_gzip(path):
            plain = os.path.join(folder, os.path.basename(path)[: -len(".gz")] or "reference.fa")
            with gzip.open(path, "rb") as source, open(plain, "wb") as target:
                shutil.copyfileobj(source, target)
            path = plain
        with pysam.FastaFile(path) as fasta:
            yield fasta
