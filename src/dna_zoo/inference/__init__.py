"""Inference: embeddings, nucleotide-resolution outputs, long sequences, zero-shot variant scores."""

from .embeddings import embed, iter_per_base, reverse_complement
from .predict import predict
from .resolution import bases_to_tokens, tokens_to_bases
from .variants import read_variants, score_variants, write_scores

__all__ = [
    "bases_to_tokens",
    "embed",
    "iter_per_base",
    "predict",
    "read_variants",
    "reverse_complement",
    "score_variants",
    "tokens_to_bases",
    "write_scores",
]
