"""FASTA input through pysam: plain, gzip or bgzip files, record by record (never the whole file in memory)."""

import os
import re
from collections.abc import Iterable, Iterator

import pysam

NOT_ACGTN = re.compile("[^ACGTN]")


def read_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(name, sequence) of each record, sequence as written in the file (case kept)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FASTA file not found: {path}")
    with pysam.FastxFile(str(path)) as records:
        for record in records:
            if record.sequence is None:
                raise ValueError(f"{path}: record {record.name!r} has no sequence")
            yield record.name, record.sequence


def fasta_chunks(paths: Iterable[str | os.PathLike], chunk_length: int = 1000) -> Iterator[str]:
    """Upper-cased pieces of at most `chunk_length` bases of every record; other letters (IUPAC codes) become N."""
    for path in paths:
        for _, sequence in read_fasta(path):
            sequence = NOT_ACGTN.sub("N", sequence.upper())
            for start in range(0, len(sequence), chunk_length):
                yield sequence[start : start + chunk_length]
