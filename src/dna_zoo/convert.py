"""Conversion of published checkpoint folders (NT v1/v2, GENA BERT fork and BigBird, Mistral-DNA Mixtral/Mistral)
to the dna_zoo layout, with a parity report against transformers' own class where one exists."""

import os
from dataclasses import asdict, dataclass

import torch
import transformers

from .checkpoints import detect_checkpoint, load_model, load_tokenizer
from .outputs import writing

# Published layout -> transformers' reference class of its language model (the GENA pre-LN fork and NT v2 have
# none: their reference is the source as dna_zoo loads it)
REFERENCES = {
    "esm": "EsmForMaskedLM",
    "big_bird": "BigBirdForMaskedLM",
    "mixtral": "MixtralForCausalLM",
    "mistral": "MistralForCausalLM",
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


def _probe_batch(config, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(6, config.vocab_size, (2, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, length - length // 4 :] = 0  # a padded row
    input_ids[attention_mask == 0] = config.pad_token_id if config.pad_token_id is not None else 0  # masked anyway
    return input_ids, attention_mask


def convert(
    source: str | os.PathLike, destination: str | os.PathLike, probe_length: int = 64, overwrite: bool = False
) -> ConversionReport:
    """Convert `source` (a published layout) into `destination` (dna_zoo layout, safetensors, code, tokenizer).

    The source is never written to; a destination that holds files is replaced only with `overwrite=True`.
    """
    if os.path.isdir(destination) and os.path.realpath(destination) == os.path.realpath(source):
        raise ValueError(f"convert {source} into another folder: converting in place would replace the source's files")
    if os.path.isdir(destination) and os.listdir(destination) and not overwrite:
        raise FileExistsError(f"{destination} is not empty; pass overwrite=True (--overwrite) to replace it")
    checkpoint = detect_checkpoint(source)
    model = load_model(source, task="lm").eval()  # refuses unknown or missing keys, listing them
    tokenizer_converted = any(os.path.exists(os.path.join(source, name)) for name in TOKENIZER_FILES)
    with writing(os.fspath(destination)) as temporary:  # renamed to the destination once written and checked
        model.save_pretrained(temporary)
        if tokenizer_converted:
            load_tokenizer(source).save_pretrained(temporary)
        converted = type(model).from_pretrained(temporary).eval()
        reference_name = REFERENCES.get(checkpoint.layout)
        if reference_name is not None:
            reference = getattr(transformers, reference_name).from_pretrained(source).eval()
        else:
            reference_name, reference = f"{type(model).__name__} loaded from the source", model
        input_ids, attention_mask = _probe_batch(converted.config, probe_length)
        with torch.no_grad():
            expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
            actual = converted(input_ids=input_ids, attention_mask=attention_mask).logits
        difference = (actual - expected)[attention_mask.bool()].abs().max().item()
    return ConversionReport(
        family=checkpoint.family,
        model_class=type(model).__name__,
        reference=reference_name,
        probe_shape=tuple(input_ids.shape),
        max_abs_logit_difference=difference,
        tokenizer_converted=tokenizer_converted,
    )
