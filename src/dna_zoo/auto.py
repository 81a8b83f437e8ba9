"""Every AutoConfig / AutoModel* / AutoTokenizer registration of dna_zoo, in one place.

The classes of each family come from its modeling file's AUTO_MAP (the same map save_pretrained writes as
`auto_map`) and from tokenization_dna.TOKENIZERS, so registration and remote code cannot disagree.
"""

import transformers
from transformers import AutoConfig, AutoTokenizer

from .models import (
    modeling_caduceus,
    modeling_dnabert2,
    modeling_gena_lm,
    modeling_hyena_dna,
    modeling_mistral_dna,
    modeling_ntv3,
    modeling_nucleotide_transformer,
    modeling_trinity_dna,
    tokenization_dna,
)

MODELING_MODULES = (
    modeling_gena_lm,
    modeling_mistral_dna,
    modeling_nucleotide_transformer,
    modeling_trinity_dna,
    modeling_dnabert2,
    modeling_hyena_dna,
    modeling_caduceus,
    modeling_ntv3,
)


def _family(module) -> tuple[type, dict]:
    classes = {getattr(transformers, auto): getattr(module, name) for auto, name in module.AUTO_MAP.items()}
    config_class = next(iter(classes.values())).config_class
    classes[AutoTokenizer] = tokenization_dna.TOKENIZERS[config_class.model_type]
    return config_class, classes


# config class -> {Auto class: dna_zoo class}
FAMILIES = dict(_family(module) for module in MODELING_MODULES)


def register_all() -> None:
    """Register every family; safe to call more than once."""
    for config_class, classes in FAMILIES.items():
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        for auto_class, cls in classes.items():
            if auto_class is AutoTokenizer:
                AutoTokenizer.register(config_class, fast_tokenizer_class=cls, exist_ok=True)
            else:
                auto_class.register(config_class, cls, exist_ok=True)
