"""Model, config and tokenizer files. Flat on purpose: each file can travel to the Hub as remote code."""

from .configuration_caduceus import CaduceusConfig
from .configuration_dnabert2 import DNABERT2Config
from .configuration_gena_lm import GenaLMConfig
from .configuration_hyena_dna import HyenaDNAConfig
from .configuration_mistral_dna import MistralDNAConfig
from .configuration_ntv3 import NTv3Config
from .configuration_nucleotide_transformer import NucleotideTransformerConfig
from .configuration_trinity_dna import TrinityDNAConfig
from .modeling_caduceus import CaduceusForMaskedLM, CaduceusForSequenceClassification, CaduceusModel
from .modeling_dnabert2 import (
    DNABERT2ForMaskedLM,
    DNABERT2ForSequenceClassification,
    DNABERT2ForTokenClassification,
    DNABERT2Model,
)
from .modeling_gena_lm import (
    GenaLMForMaskedLM,
    GenaLMForSequenceClassification,
    GenaLMForTokenClassification,
    GenaLMModel,
    GenaLMRMTForSequenceClassification,
    GenaLMRMTForTokenClassification,
)
from .modeling_hyena_dna import HyenaDNAForCausalLM, HyenaDNAForSequenceClassification, HyenaDNAModel
from .modeling_mistral_dna import (
    MistralDNAForCausalLM,
    MistralDNAForSequenceClassification,
    MistralDNAModel,
)
from .modeling_ntv3 import (
    NTv3ForMaskedLM,
    NTv3ForSequenceClassification,
    NTv3ForTokenClassification,
    NTv3Model,
)
from .modeling_nucleotide_transformer import (
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForSequenceClassification,
    NucleotideTransformerForTokenClassification,
    NucleotideTransformerModel,
)
from .modeling_trinity_dna import (
    TrinityDNAForMaskedLM,
    TrinityDNAForSequenceClassification,
    TrinityDNAForTokenClassification,
    TrinityDNAModel,
)
from .pretrained import CheckpointKeyError
from .tokenization_dna import (
    CaduceusTokenizer,
    DNABERT2Tokenizer,
    GenaLMTokenizer,
    HyenaDNATokenizer,
    InvalidSequenceError,
    MistralDNATokenizer,
    NTv3Tokenizer,
    NucleotideTransformerTokenizer,
    TrinityDNATokenizer,
)

__all__ = [
    "CaduceusConfig",
    "CaduceusForMaskedLM",
    "CaduceusForSequenceClassification",
    "CaduceusModel",
    "CaduceusTokenizer",
    "CheckpointKeyError",
    "NTv3Config",
    "NTv3ForMaskedLM",
    "NTv3ForSequenceClassification",
    "NTv3ForTokenClassification",
    "NTv3Model",
    "NTv3Tokenizer",
    "DNABERT2Config",
    "DNABERT2ForMaskedLM",
    "DNABERT2ForSequenceClassification",
    "DNABERT2ForTokenClassification",
    "DNABERT2Model",
    "DNABERT2Tokenizer",
    "GenaLMConfig",
    "GenaLMForMaskedLM",
    "GenaLMForSequenceClassification",
    "GenaLMForTokenClassification",
    "GenaLMModel",
    "GenaLMRMTForSequenceClassification",
    "GenaLMRMTForTokenClassification",
    "GenaLMTokenizer",
    "HyenaDNAConfig",
    "HyenaDNAForCausalLM",
    "HyenaDNAForSequenceClassification",
    "HyenaDNAModel",
    "HyenaDNATokenizer",
    "MistralDNAConfig",
    "MistralDNAForCausalLM",
    "MistralDNAForSequenceClassification",
    "MistralDNAModel",
    "MistralDNATokenizer",
    "InvalidSequenceError",
    "NucleotideTransformerConfig",
    "NucleotideTransformerForMaskedLM",
    "NucleotideTransformerForSequenceClassification",
    "NucleotideTransformerForTokenClassification",
    "NucleotideTransformerModel",
    "NucleotideTransformerTokenizer",
    "TrinityDNAConfig",
    "TrinityDNAForMaskedLM",
    "TrinityDNAForSequenceClassification",
    "TrinityDNAForTokenClassification",
    "TrinityDNAModel",
    "TrinityDNATokenizer",
]
