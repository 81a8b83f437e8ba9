"""Per-nucleotide labels from BED or GFF intervals (e.g. CDS calls), for windows of a genome.

BED is 0-based half-open, GFF 1-based inclusive; both are read into 0-based half-open intervals per record.
A malformed line is reported with its file and line number.
"""

import os
from collections import defaultdict

import numpy as np
from datasets import Dataset

from .fasta import numbered_lines, read_fasta


def read_intervals(path: str | os.PathLike, feature: str | None = None) -> dict[str, list[tuple[int, int, str]]]:
    """{record: [(start, end, strand), ...]} (0-based, end exclusive) from a BED or GFF/GTF file (gzip allowed).

    `feature` keeps only GFF lines of that type (column 3, e.g. "CDS"); BED files have no type and keep all.
    """
    path = str(path)
    name = path[:-3] if path.endswith(".gz") else path
    is_gff = name.endswith((".gff", ".gff3", ".gtf"))
    if not is_gff and not name.endswith(".bed"):
        raise ValueError(f"{path}: interval files must be .bed or .gff/.gff3/.gtf (optionally .gz)")
    intervals = defaultdict(list)
    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t")
        try:
            if is_gff:
                if line.startswith("##FASTA"):
                    break
                record, kind, start, end, strand = fields[0], fields[2], int(fields[3]) - 1, int(fields[4]), fields[6]
                if feature is not None and kind != feature:
                    continue
            else:
                record, start, end = fields[0], int(fields[1]), int(fields[2])
                strand = fields[5] if len(fields) > 5 else "."
        except (IndexError, ValueError):
            kind = "GFF (9 tab-separated columns)" if is_gff else "BED (at least 3 tab-separated columns)"
            raise ValueError(f"{path} line {number}: malformed {kind}: {line[:80]!r}") from None
        if start < 0 or end < start:
            raise ValueError(f"{path} line {number}: interval start {start} / end {end} is not a valid range")
        intervals[record].append((start, end, strand))
    return dict(intervals)


def base_labels(intervals: list[tuple[int, int, str]], start: int, end: int) -> np.ndarray:
    """(end - start,) int64: 1 for bases of [start, end) inside any interval, else 0."""
    labels = np.zeros(end - start, dtype=np.int64)
    for first, last, _ in intervals:
        if last > start and first < end:
            labels[max(first, start) - start : min(last, end) - start] = 1
    return labels


def labelled_windows(fasta: str, intervals: dict, window: int, stride: int | None = None) -> Dataset:
    """Windows of every record with per-base labels (1 inside an interval): columns record, start, sequence,
    labels; the input of a token (nucleotide) classification fine-tuning."""
    rows = defaultdict(list)
    for name, sequence in read_fasta(fasta):
        covered = base_labels(intervals.get(name, []), 0, len(sequence))
        for start in range(0, len(sequence) - window + 1, stride or window):
            for key, value in (("record", name), ("start", start), ("sequence", sequence[start : start + window])):
                rows[key].append(value)
            rows["labels"].append(covered[start : start + window].tolist())
    return Dataset.from_dict(dict(rows))


def interval_windows(fasta: str, intervals: dict, window: int, stride: int | None = None) -> Dataset:
    """Windows labelled 1 when they lie entirely inside one interval (e.g. a CDS) and 0 when they touch none;
    windows that straddle a boundary are left out. Columns record, start, sequence, label (e.g. coding vs
    non-coding windows from gene calls). Cost: linear in the genome and the number of windows."""
    rows = defaultdict(list)
    for name, sequence in read_fasta(fasta):
        spans = intervals.get(name, [])
        starts = np.arange(0, len(sequence) - window + 1, stride or window)  # (W,)
        covered = np.concatenate([[0], np.cumsum(base_labels(spans, 0, len(sequence)))])
        touching = covered[starts + window] - covered[starts]  # interval bases in each window
        # furthest[p]: the furthest end of the intervals that start at or before p; a window [s, s + w) lies
        # inside one interval exactly when furthest[s] >= s + w
        furthest = np.zeros(len(sequence) + 1, dtype=np.int64)
        if spans:
            firsts, lasts = np.array([[first, last] for first, last, _ in spans]).T
            np.maximum.at(furthest, firsts, lasts)
        inside = np.maximum.accumulate(furthest)[starts] >= starts + window
        keep = (touching == 0) | inside
        kept = starts[keep].tolist()
        rows["record"] += [name] * len(kept)
        rows["start"] += kept
        rows["sequence"] += [sequence[start : start + window] for start in kept]
        rows["label"] += inside[keep].astype(int).tolist()
    return Dataset.from_dict({key: rows[key] for key in ("record", "start", "sequence", "label")})
