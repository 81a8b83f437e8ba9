"""A saved dna_zoo model loads with transformers alone (trust_remote_code=True) where dna_zoo cannot be imported."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from dna_zoo import (
    CaduceusConfig,
    CaduceusForMaskedLM,
    CaduceusTokenizer,
    DNABERT2Config,
    DNABERT2ForMaskedLM,
    DNABERT2Tokenizer,
    GenaLMConfig,
    GenaLMForMaskedLM,
    GenaLMTokenizer,
    HyenaDNAConfig,
    HyenaDNAForCausalLM,
    HyenaDNATokenizer,
    MistralDNAConfig,
    MistralDNAForCausalLM,
    MistralDNATokenizer,
    NTv3Config,
    NTv3ForMaskedLM,
    NTv3Tokenizer,
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerTokenizer,
    TrinityDNAConfig,
    TrinityDNAForMaskedLM,
    TrinityDNATokenizer,
)

SEQUENCES = ["ACGTTGCAGGCTAAGTACGTNNNNNNNNNNNNACGTAGCTAGCTAGG", "acgtaggct"]
FAMILIES = {
    "nucleotide_transformer": (
        NucleotideTransformerForMaskedLM,
        NucleotideTransformerConfig,
        NucleotideTransformerTokenizer,
        "AutoModelForMaskedLM",
    ),
    "mistral_dna": (MistralDNAForCausalLM, MistralDNAConfig, MistralDNATokenizer, "AutoModelForCausalLM"),
    "gena_lm": (GenaLMForMaskedLM, GenaLMConfig, GenaLMTokenizer, "AutoModelForMaskedLM"),
    "trinity_dna": (TrinityDNAForMaskedLM, TrinityDNAConfig, TrinityDNATokenizer, "AutoModelForMaskedLM"),
    "dnabert2": (DNABERT2ForMaskedLM, DNABERT2Config, DNABERT2Tokenizer, "AutoModelForMaskedLM"),
    "hyena_dna": (HyenaDNAForCausalLM, HyenaDNAConfig, HyenaDNATokenizer, "AutoModelForCausalLM"),
    "caduceus_dna": (CaduceusForMaskedLM, CaduceusConfig, CaduceusTokenizer, "AutoModelForMaskedLM"),
    "ntv3_dna": (NTv3ForMaskedLM, NTv3Config, NTv3Tokenizer, "AutoModelForMaskedLM"),
}

LOADER = textwrap.dedent(
    """
    import sys
    sys.modules["dna_zoo"] = None  # dna_zoo cannot be imported in this process
    try:
        import dna_zoo  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("dna_zoo was importable")
    import torch
    import transformers

    path, out, auto_name, sequences = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=True)
    model = getattr(transformers, auto_name).from_pretrained(path, trust_remote_code=True).eval()
    assert "dna_zoo" not in type(model).__module__ and "dna_zoo" not in type(tokenizer).__module__
    batch = tokenizer(sequences, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    torch.save({"input_ids": batch["input_ids"], "logits": logits, "class": type(model).__name__}, out)
    """
)


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_folder_loads_without_dna_zoo(tmp_path, family):
    model_class, config_class, tokenizer_class, auto_name = FAMILIES[family]
    torch.manual_seed(0)
    model = model_class(config_class.from_preset("tiny")).eval()
    tokenizer = tokenizer_class()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    batch = tokenizer(SEQUENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = ""
    subprocess.run(
        [sys.executable, "-c", LOADER, str(tmp_path / "model"), str(tmp_path / "out.pt"), auto_name, *SEQUENCES],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
    )
    remote = torch.load(tmp_path / "out.pt")
    assert remote["class"] == model_class.__name__
    assert torch.equal(remote["input_ids"], batch["input_ids"])
    torch.testing.assert_close(remote["logits"], expected)


def test_with_dna_zoo_installed_the_same_folder_loads_with_no_flag(tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny"))
    model.save_pretrained(tmp_path)
    NucleotideTransformerTokenizer().save_pretrained(tmp_path)
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path)) is NucleotideTransformerForMaskedLM
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is NucleotideTransformerTokenizer
