"""dna-zoo convert: published layouts to the dna_zoo layout, with a parity report."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from test_gena_lm import bigbird_reference
from test_mistral_dna import mixtral_reference
from test_nucleotide_transformer import esm_v1_reference
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from dna_zoo import CheckpointKeyError, GenaLMForMaskedLM, MistralDNAForCausalLM, NucleotideTransformerForMaskedLM
from dna_zoo.cli import main as cli
from dna_zoo.convert import convert
from dna_zoo.models.tokenization_dna import kmer_vocabulary

from reference_gena_bert import random_gena_checkpoint
from reference_nt_v2 import random_v2_checkpoint


def write(path, weights, config):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    save_file(weights, str(path / "model.safetensors"))


@pytest.mark.parametrize(
    "family,make_source,probe_length,expected_class",
    [
        ("esm", lambda d: esm_v1_reference(d).save_pretrained(d), 64, NucleotideTransformerForMaskedLM),
        ("big_bird", lambda d: bigbird_reference().save_pretrained(d), 400, GenaLMForMaskedLM),
        ("mixtral", lambda d: mixtral_reference(2).save_pretrained(d), 32, MistralDNAForCausalLM),
        ("nt_v2", lambda d: write(d, *random_v2_checkpoint()), 64, NucleotideTransformerForMaskedLM),
        ("gena_bert", lambda d: write(d, *random_gena_checkpoint(True)), 64, GenaLMForMaskedLM),
    ],
)
def test_convert_gives_parity_and_a_loadable_model(tmp_path, family, make_source, probe_length, expected_class):
    source, destination = tmp_path / "source", tmp_path / "converted"
    make_source(source)
    report = convert(source, destination, probe_length)
    assert report.max_abs_logit_difference < 1e-4 and report.model_class == expected_class.__name__
    if family in ("esm", "big_bird", "mixtral"):
        assert "ForMaskedLM" in report.reference or "ForCausalLM" in report.reference  # transformers' own class
    auto = AutoModelForCausalLM if family == "mixtral" else AutoModelForMaskedLM
    assert type(auto.from_pretrained(destination)) is expected_class
    assert json.loads((destination / "config.json").read_text())["model_type"] == expected_class.config_class.model_type


def test_convert_cli_converts_the_tokenizer_and_prints_the_report(tmp_path, capsys):
    source = tmp_path / "source"
    write(source, *random_v2_checkpoint())
    (source / "vocab.txt").write_text("\n".join(kmer_vocabulary("v2")))
    cli(["convert", str(source), str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "max_abs_logit_difference" in out and "tokenizer_converted: True" in out
    assert (tmp_path / "out" / "tokenizer.json").exists() and (tmp_path / "out" / "tokenization_dna.py").exists()


def test_convert_refuses_an_unknown_key_naming_it(tmp_path):
    source = tmp_path / "source"
    esm_v1_reference(source).save_pretrained(source)
    weights = load_file(source / "model.safetensors")
    weights["esm.encoder.layer.0.attention.self.relative_bias.weight"] = torch.zeros(2, 2)
    save_file(weights, str(source / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointKeyError, match="relative_bias"):
        convert(source, tmp_path / "out")


def test_convert_refuses_an_unknown_layout(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="unknown checkpoint layout"):
        convert(source, tmp_path / "out")


def test_convert_refuses_to_write_into_the_source_or_a_full_destination(tmp_path):
    source = tmp_path / "source"
    write(source, *random_v2_checkpoint())
    published = {path.name: path.read_bytes() for path in source.iterdir()}
    with pytest.raises(ValueError, match="converting in place would replace the source's files"):
        cli(["--debug", "convert", str(source), str(source)])
    assert {path.name: path.read_bytes() for path in source.iterdir()} == published
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not empty; pass overwrite=True"):
        convert(source, tmp_path / "full")
    convert(source, tmp_path / "full", overwrite=True)


def test_convert_a_mixtral_folder_without_pad_token_and_without_tokenizer(tmp_path, capsys):
    source = tmp_path / "source"
    reference = mixtral_reference(1)
    reference.config.pad_token_id = None  # as some published Mixtral configs have it
    reference.save_pretrained(source)
    assert json.loads((source / "config.json").read_text()).get("pad_token_id") is None
    cli(["convert", str(source), str(tmp_path / "out"), "--probe-length", "16"])
    out = capsys.readouterr().out
    assert "tokenizer_converted: False" in out and "has no tokenizer" in out
    assert float(out.split("max_abs_logit_difference: ")[1].split()[0]) < 1e-4
