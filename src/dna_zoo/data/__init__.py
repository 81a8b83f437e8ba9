"""Reading DNA data: FASTA files (through pysam)."""

from .fasta import fasta_chunks, read_fasta

__all__ = ["fasta_chunks", "read_fasta"]
