"""dna_zoo: a Hugging Face transformers-compatible zoo of DNA language models.

Importing dna_zoo registers every family with AutoConfig, AutoModel* and AutoTokenizer.
"""

from .auto import register_all
from .checkpoints import config_from_preset, list_presets
from .models import (
    CheckpointKeyError,
    InvalidSequenceError,
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForSequenceClassification,
    NucleotideTransformerForTokenClassification,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
)

register_all()

__version__ = "0.1.0"

__all__ = [
    "CheckpointKeyError",
    "InvalidSequenceError",
    "NucleotideTransformerConfig",
    "NucleotideTransformerForMaskedLM",
    "NucleotideTransformerForSequenceClassification",
    "NucleotideTransformerForTokenClassification",
    "NucleotideTransformerModel",
    "NucleotideTransformerTokenizer",
    "config_from_preset",
    "list_presets",
]
