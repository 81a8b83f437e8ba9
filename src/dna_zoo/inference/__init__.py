"""Inference: embeddings, nucleotide-resolution outputs."""

from .embeddings import embed, reverse_complement
from .resolution import tokens_to_bases

__all__ = ["embed", "reverse_complement", "tokens_to_bases"]
