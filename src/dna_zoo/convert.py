"""Conversion of published checkpoint folders (NT v1/v2, GENA BERT fork and BigBird, Mistral-DNA Mixtral/Mistral)
to the dna_zoo layout, with a parity report against transformers' own class where one exists."""

import json
import os
from dataclasses import asdict, dataclass

import torch
import transformers

from .auto import FAMILIES

# Published model_type -> (dna_zoo head, transformers' reference class name, or None where none exists)
HEADS = {
    "esm": ("AutoModelForMaskedLM", "EsmForMaskedLM"),
    "big_bird": ("AutoModelForMaskedLM", "BigBirdForMaskedLM"),
    "bert": ("AutoModelForMaskedLM", None),  # the GENA pre-LN fork: no transformers class
    "mixtral": ("AutoModelForCausalLM", "MixtralForCausalLM"),
    "mistral": ("AutoModelForCausalLM", "MistralForCausalLM"),
    None: ("AutoModelForMaskedLM", None),  # NT v2: remote code only, no model_type
}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


@dataclass
class ConversionReport:
    family: str
    model_class: str
    reference: str
    probe_shape: tuple[int, int]
    max_abs_logit_difference: float
    tokenizer_converted: bool

    def __str__(self) -> str:
        return "\n".join(f"{key:>26}: {value}" for key, value in asdict(self).items())


def detect_family(raw_config: dict):
    """The dna_zoo config class whose published layout this config.json is, or a clear error."""
    for config_class in FAMILIES:
        if config_class.config_from_original(raw_config) is not None:
            return config_class
    raise ValueError(
        f"unknown checkpoint layout (model_type {raw_config.get('model_type')!r}); dna_zoo converts Nucleotide "
        "Transformer v1/v2, GENA-LM BERT/BigBird and Mistral-DNA Mixtral/Mistral folders"
    )


def _probe_batch(config, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(6, config.vocab_size, (2, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, length - length // 4 :] = 0  # a padded row
    input_ids[attention_mask == 0] = config.pad_token_id
    return input_ids, attention_mask


def convert(source: str | os.PathLike, destination: str | os.PathLike, probe_length: int = 64) -> ConversionReport:
    """Convert `source` (a published layout) into `destination` (dna_zoo layout, safetensors, code, tokenizer)."""
    with open(os.path.join(source, "config.json"), encoding="utf-8") as handle:
        raw_config = json.load(handle)
    config_class = detect_family(raw_config)
    head_name, reference_name = HEADS.get(raw_config.get("model_type"), HEADS[None])
    classes = FAMILIES[config_class]
    model_class = classes[getattr(transformers, head_name)]
    model = model_class.from_pretrained(source).eval()  # refuses unknown or missing keys, listing them
    model.save_pretrained(destination)
    tokenizer_converted = any(os.path.exists(os.path.join(source, name)) for name in TOKENIZER_FILES)
    if tokenizer_converted:
        classes[transformers.AutoTokenizer].from_pretrained(source).save_pretrained(destination)

    converted = model_class.from_pretrained(destination).eval()
    if reference_name is not None:
        reference = getattr(transformers, reference_name).from_pretrained(source).eval()
    else:
        reference_name, reference = f"{model_class.__name__} loaded from the source", model
    input_ids, attention_mask = _probe_batch(converted.config, probe_length)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = converted(input_ids=input_ids, attention_mask=attention_mask).logits
    difference = (actual - expected)[attention_mask.bool()].abs().max().item()
    return ConversionReport(
        family=config_class.model_type,
        model_class=model_class.__name__,
        reference=reference_name,
        probe_shape=tuple(input_ids.shape),
        max_abs_logit_difference=difference,
        tokenizer_converted=tokenizer_converted,
    )
