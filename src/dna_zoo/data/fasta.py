"""FASTA input through pysam: plain, gzip or bgzip files, record by record (never the whole file in memory).

pysam skips text before the first header, accepts empty records, empty names, repeated names and spaces inside
sequences, and ends a sequence at a NUL byte; read_fasta and indexed_fasta refuse each with the file and line
(one pass over the text before pysam reads it).
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
    """(1-based line number, line) of a text file, plain or gzip/bgzip compressed; a UTF-8 byte-order mark (some
    editors write one) is not part of the first line."""
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    with (gzip.open if compressed else open)(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        yield from enumerate((line.rstrip("\r\n") for line in handle), start=1)


def check_fasta(path: str) -> None:
    """One pass over the text for what htslib would read wrongly without a word, or fail on with its own stderr:
    a NUL byte (a damaged file), text before the first header, a header without a name, a record name seen before,
    a record without sequence, no record at all. Each is a FastaError naming the file and line."""
    names, header, has_sequence = {}, None, True

    def refuse_empty_record():
        if not has_sequence:
            raise FastaError(f"{path} line {header}: record {list(names)[-1]!r} has no sequence")

    for number, line in numbered_lines(path):
        if "\0" in line:
            raise FastaError(f"{path} line {number} column {line.index(chr(0)) + 1}: a NUL byte (a damaged file?)")
        if line.startswith(">"):
            refuse_empty_record()
            name = (line[1:].split() or [""])[0]
            if not name:
                raise FastaError(f"{path} line {number}: a '>' header with no record name")
            if name in names:
                raise FastaError(f"{path} line {number}: record {name!r} again (first at line {names[name]})")
            names[name], header, has_sequence = number, number, False
        elif line.strip():
            if header is None:
                raise FastaError(
                    f"{path} line {number}: expected a '>' header before any sequence, found {line[:40]!r}"
                )
            has_sequence = True
    if header is None:
        raise FastaError(f"{path}: no FASTA records (the file is empty)")
    refuse_empty_record()


def _line_of(path: str, name: str, position: int) -> tuple[int, int]:
    """(line, column), both 1-based, of base `position` (0-based) of record `name`."""
    start = next(n for n, line in numbered_lines(path) if line.startswith(">") and line[1:].split()[:1] == [name])
    seen = 0
    for number, line in numbered_lines(path):
        if number > start:
            if seen + len(line) > position:
                return number, position - seen + 1
            seen += len(line)
    return start, 0


def read_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(name, sequence) of each record, sequence as written in the file (case kept)."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FASTA file not found: {path}")
    check_fasta(path)
    with pysam.FastxFile(path) as records:
        for record in records:
            space = WHITESPACE.search(record.sequence)
            if space:
                line, column = _line_of(path, record.name, space.start())
                raise FastaError(
                    f"{path} line {line} column {column}: whitespace inside the sequence of record {record.name!r}"
                )
            yield record.name, record.sequence


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
    check_fasta(path)
    with tempfile.TemporaryDirectory(prefix="dna_zoo_fasta_") as folder:
        if is_plain_gzip(path):
            plain = os.path.join(folder, os.path.basename(path)[: -len(".gz")] or "reference.fa")
            with gzip.open(path, "rb") as source, open(plain, "wb") as target:
                shutil.copyfileobj(source, target)
            path = plain
        with pysam.FastaFile(path) as fasta:
            yield fasta
