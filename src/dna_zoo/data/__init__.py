"""Reading DNA data: FASTA files (through pysam), pretraining windows, fine-tuning tables and interval labels."""

from .fasta import fasta_chunks, read_fasta
from .windows import genome_windows, iter_windows, loss_mask, windows_dataset

__all__ = ["fasta_chunks", "genome_windows", "iter_windows", "loss_mask", "read_fasta", "windows_dataset"]
