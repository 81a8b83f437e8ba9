"""Reading DNA data: FASTA files (through pysam), pretraining windows, fine-tuning tables and interval labels."""

from .fasta import fasta_chunks, read_fasta
from .intervals import base_labels, interval_windows, labelled_windows, read_intervals
from .splits import shared_bases, split_windows
from .tables import DataError, balanced, check_table, read_table
from .windows import genome_windows, iter_windows, loss_mask, windows_dataset

__all__ = [
    "DataError",
    "balanced",
    "base_labels",
    "check_table",
    "fasta_chunks",
    "genome_windows",
    "iter_windows",
    "interval_windows",
    "labelled_windows",
    "loss_mask",
    "read_fasta",
    "read_intervals",
    "read_table",
    "shared_bases",
    "split_windows",
    "windows_dataset",
]
