"""Inputs and outputs of the interpretation commands: regions of a FASTA file in, tidy tables out."""

import csv
import re

from ..data import read_fasta
from ..data.fasta import indexed_fasta

TABLE_FORMATS = (".tsv", ".parquet")


def parse_region(text: str) -> tuple[str, int, int]:
    """ "chr:start-end" (1-based, inclusive, as samtools writes it) -> (record, 0-based start, end exclusive)."""
    match = re.fullmatch(r"(.+):([\d,]+)-([\d,]+)", text)
    if not match:
        raise ValueError(f"region {text!r}: write it as RECORD:START-END (1-based, inclusive), e.g. chr1:1001-2000")
    start, end = (int(value.replace(",", "")) for value in match.group(2, 3))
    if not 1 <= start <= end:
        raise ValueError(f"region {text!r}: need 1 <= START <= END")
    return match.group(1), start - 1, end


def read_regions(fasta: str, regions: list[str] | None = None):
    """(name, 0-based offset, sequence) of each region (a record's part, through the FASTA's index) or, without
    regions, of each record."""
    if not regions:
        yield from ((name, 0, sequence) for name, sequence in read_fasta(fasta))
        return
    with indexed_fasta(fasta) as reference:
        for text in regions:
            record, start, end = parse_region(text)
            if record not in reference.references:
                raise ValueError(f"region {text}: {fasta} has no record {record!r}")
            length = reference.get_reference_length(record)
            if end > length:
                raise ValueError(f"region {text}: past the end of {record} ({length} bases)")
            yield f"{record}:{start + 1}-{end}", start, reference.fetch(record, start, end)


def write_rows(rows: list[dict], path: str, file_format: str) -> None:
    """Rows (dicts with the same keys) as a TSV (csv quoting) or a Parquet file."""
    columns = list(rows[0]) if rows else []
    if file_format == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({column: [row[column] for row in rows] for column in columns}), path)
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(
            [f"{value:.6g}" if isinstance(value, float) else value for value in row.values()] for row in rows
        )


def safe_name(name: str) -> str:
    """A record or region name usable in a file name."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "sequence"
