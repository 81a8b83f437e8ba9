"""Every AutoConfig / AutoModel* / AutoTokenizer registration of dna_zoo, in one place."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from .models import (
    GenaLMConfig,
    GenaLMForMaskedLM,
    GenaLMForSequenceClassification,
    GenaLMForTokenClassification,
    GenaLMModel,
    GenaLMTokenizer,
    MistralDNAConfig,
    MistralDNAForCausalLM,
    MistralDNAForSequenceClassification,
    MistralDNAModel,
    MistralDNATokenizer,
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForSequenceClassification,
    NucleotideTransformerForTokenClassification,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
    TrinityDNAConfig,
    TrinityDNAForMaskedLM,
    TrinityDNAForSequenceClassification,
    TrinityDNAForTokenClassification,
    TrinityDNAModel,
    TrinityDNATokenizer,
)

FAMILIES = {
    GenaLMConfig: {
        AutoModel: GenaLMModel,
        AutoModelForMaskedLM: GenaLMForMaskedLM,
        AutoModelForSequenceClassification: GenaLMForSequenceClassification,
        AutoModelForTokenClassification: GenaLMForTokenClassification,
        AutoTokenizer: GenaLMTokenizer,
    },
    NucleotideTransformerConfig: {
        AutoModel: NucleotideTransformerModel,
        AutoModelForMaskedLM: NucleotideTransformerForMaskedLM,
        AutoModelForSequenceClassification: NucleotideTransformerForSequenceClassification,
        AutoModelForTokenClassification: NucleotideTransformerForTokenClassification,
        AutoTokenizer: NucleotideTransformerTokenizer,
    },
    MistralDNAConfig: {
        AutoModel: MistralDNAModel,
        AutoModelForCausalLM: MistralDNAForCausalLM,
        AutoModelForSequenceClassification: MistralDNAForSequenceClassification,
        AutoTokenizer: MistralDNATokenizer,
    },
    TrinityDNAConfig: {
        AutoModel: TrinityDNAModel,
        AutoModelForMaskedLM: TrinityDNAForMaskedLM,
        AutoModelForSequenceClassification: TrinityDNAForSequenceClassification,
        AutoModelForTokenClassification: TrinityDNAForTokenClassification,
        AutoTokenizer: TrinityDNATokenizer,
    },
}


def register_all() -> None:
    """Register every family; safe to call more than once."""
    for config_class, classes in FAMILIES.items():
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        for auto_class, cls in classes.items():
            if auto_class is AutoTokenizer:
                AutoTokenizer.register(config_class, fast_tokenizer_class=cls, exist_ok=True)
            else:
                auto_class.register(config_class, cls, exist_ok=True)
