"""The one loader: every published layout of the four families and the dna_zoo layout, found by its config and
loaded as the dna_zoo class of its own architecture, with the family's tokenizer; what transformers' own Auto
classes do with the same folders (they cannot be redirected)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from test_gena_lm import bigbird_reference
from test_mistral_dna import mistral_reference, mixtral_reference
from test_nucleotide_transformer import esm_v1_reference
from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM

import dna_zoo
from dna_zoo import (
    GenaLMConfig,
    GenaLMForMaskedLM,
    GenaLMForSequenceClassification,
    GenaLMTokenizer,
    MistralDNAForCausalLM,
    MistralDNATokenizer,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
    TrinityDNAConfig,
    TrinityDNAForMaskedLM,
    TrinityDNATokenizer,
    detect_checkpoint,
    load_config,
    load_model,
    load_tokenizer,
)
from dna_zoo.cli import main as cli
from dna_zoo.models.tokenization_dna import kmer_vocabulary

from reference_gena_bert import random_gena_checkpoint, reference_logits
from reference_nt_v2 import random_v2_checkpoint

T2T = Path(__file__).parents[2] / "shared" / "data" / "gena_lm" / "tokenizers" / "t2t_1000h_multi_32k"


def write_weights(path: Path, weights: dict, config: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    save_file(weights, str(path / "model.safetensors"))


def nt_vocab(path: Path, layout: str) -> None:
    """The tokenizer files of a published NT folder: vocab.txt and an EsmTokenizer config."""
    (path / "vocab.txt").write_text("\n".join(kmer_vocabulary(layout)))
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "EsmTokenizer", "do_lower_case": False}))


def published_bpe(path: Path, tokenizer) -> None:
    """The tokenizer files of a published GENA / Mistral-DNA folder: a tokenizer.json for PreTrainedTokenizerFast."""
    tokenizer.backend_tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"}))


def nt_v1(path):
    esm_v1_reference(path).save_pretrained(path)
    nt_vocab(path, "v1")


def nt_v2(path, **config_overrides):
    weights, config = random_v2_checkpoint()
    write_weights(path, weights, {**config, **config_overrides})
    nt_vocab(path, "v2")


def gena_bert(path):
    write_weights(path, *random_gena_checkpoint(True))
    published_bpe(path, GenaLMTokenizer())


def gena_bigbird(path):
    bigbird_reference().save_pretrained(path)
    published_bpe(path, GenaLMTokenizer())


def mixtral(path):
    mixtral_reference(2).save_pretrained(path)
    published_bpe(path, MistralDNATokenizer())


def mistral(path):
    mistral_reference().save_pretrained(path)
    published_bpe(path, MistralDNATokenizer())


def dna_zoo_trinity(path):
    TrinityDNAForMaskedLM(TrinityDNAConfig.from_preset("tiny")).save_pretrained(path)
    TrinityDNATokenizer().save_pretrained(path)


LAYOUTS = {  # builder: (family, layout, class of its own architecture, tokenizer class)
    nt_v1: ("nucleotide_transformer", "esm", NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer),
    nt_v2: ("nucleotide_transformer", "esm-swiglu", NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer),
    gena_bert: ("gena_lm", "bert", GenaLMForMaskedLM, GenaLMTokenizer),
    gena_bigbird: ("gena_lm", "big_bird", GenaLMForMaskedLM, GenaLMTokenizer),
    mixtral: ("mistral_dna", "mixtral", MistralDNAForCausalLM, MistralDNATokenizer),
    mistral: ("mistral_dna", "mistral", MistralDNAForCausalLM, MistralDNATokenizer),
    dna_zoo_trinity: ("trinity_dna", "dna_zoo", TrinityDNAForMaskedLM, TrinityDNATokenizer),
}


@pytest.mark.parametrize("build", LAYOUTS, ids=[build.__name__ for build in LAYOUTS])
def test_every_layout_is_found_and_loads_as_its_own_architecture(tmp_path, build):
    family, layout, model_class, tokenizer_class = LAYOUTS[build]
    build(tmp_path)
    checkpoint = detect_checkpoint(tmp_path)
    assert (checkpoint.family, checkpoint.layout) == (family, layout)
    assert type(load_model(tmp_path)) is model_class
    assert type(load_tokenizer(tmp_path)) is tokenizer_class
    assert type(load_model(tmp_path, task="lm")) is model_class
    assert type(load_config(tmp_path)) is model_class.config_class


def test_a_v2_folder_resaved_with_model_type_esm_is_v2(tmp_path):
    nt_v2(tmp_path, model_type="esm")
    assert detect_checkpoint(tmp_path).layout == "esm-swiglu"
    assert load_model(tmp_path).config.mlp_type == "swiglu"
    assert load_tokenizer(tmp_path).layout == "v2"


def test_transformers_auto_classes_take_a_gena_folder_for_bert_but_load_model_does_not(tmp_path):
    """The trap the README warns about: after `import dna_zoo`, AutoModelForMaskedLM on a GENA folder is still
    transformers' post-LN BERT (model_type "bert" is transformers'); load_model gives the GENA fork's outputs."""
    weights, config = random_gena_checkpoint(True)
    write_weights(tmp_path, weights, config)
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path)) is BertForMaskedLM
    model = load_model(tmp_path).eval()
    input_ids = torch.randint(6, 100, (2, 20))
    attention_mask = torch.ones_like(input_ids)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    expected = reference_logits(weights, input_ids, attention_mask, 2, 4, 1e-12, True)
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)


def test_load_tokenizer_on_a_published_gena_folder_keeps_lowercase_and_pairs(tmp_path):
    if (T2T / "tokenizer.json").is_file():
        shutil.copytree(T2T, tmp_path, dirs_exist_ok=True)  # AIRI's own files, as on the Hub
    else:
        published_bpe(tmp_path, GenaLMTokenizer())
    write_weights(tmp_path, *random_gena_checkpoint(False))
    generic, ours = AutoTokenizer.from_pretrained(tmp_path), load_tokenizer(tmp_path)
    assert generic.unk_token_id in generic("acgtacgtacgt")["input_ids"]  # transformers' generic backend: [UNK]
    assert ours("acgtacgtacgt")["input_ids"] == ours("ACGTACGTACGT")["input_ids"]
    assert ours.unk_token_id not in ours("acgtacgtacgt")["input_ids"]
    assert ours("ACGTAC", "GGTTCA")["token_type_ids"][-1] == 1


def test_task_choice_and_clear_errors(tmp_path):
    nt_v1(tmp_path / "nt")
    assert type(load_model(tmp_path / "nt", task="base")) is NucleotideTransformerModel
    classifier = load_model(tmp_path / "nt", task="sequence-classification", num_labels=3)
    assert classifier.classifier.out_features == 3
    with pytest.raises(ValueError, match="nucleotide_transformer family has no causal-lm model"):
        load_model(tmp_path / "nt", task="causal-lm")
    with pytest.raises(ValueError, match="unknown task 'mlm'"):
        load_model(tmp_path / "nt", task="mlm")
    with pytest.raises(FileNotFoundError, match="'dmeo' is neither a model folder, 'demo', nor a Hub id"):
        load_model("dmeo")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="holds none of config.json"):
        load_model(tmp_path / "empty")
    (tmp_path / "protein").mkdir()
    (tmp_path / "protein" / "config.json").write_text(json.dumps({"model_type": "t5", "d_model": 8}))
    with pytest.raises(ValueError, match="unknown checkpoint layout \\(model_type 't5'\\)"):
        detect_checkpoint(tmp_path / "protein")


def test_a_peft_adapter_folder_names_what_to_load_instead(tmp_path):
    adapter = tmp_path / "run" / "final"
    adapter.mkdir(parents=True)
    (tmp_path / "run" / "merged").mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "demo"}))
    with pytest.raises(ValueError, match="peft adapter .*load the merged model in .*merged"):
        load_model(adapter)


def test_a_config_file_of_a_published_layout_is_a_config(tmp_path):
    original = Path(__file__).parent / "data" / "gena_lm" / "configs" / "L12-H768-A12-V32k-preln-lastln.json"
    config = load_config(original)
    assert type(config) is GenaLMConfig and config.pre_layer_norm and config.last_layer_norm


def test_cli_commands_load_published_folders(tmp_path):
    """`embed` on an NT v1 folder (model_type esm) once failed on EsmConfig; every command uses the loader."""
    nt_v1(tmp_path / "nt")
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(">a\nACGTACGTAGCTAGCTAGGATCGATCGTAGCTAGTCGA\n>b\nTTGACCAGTAGGATCCAGT\n")
    cli(["embed", "--model", str(tmp_path / "nt"), "--fasta", str(fasta), "--out", str(tmp_path / "e.npz")])
    embeddings = np.load(tmp_path / "e.npz")["embeddings"]
    assert embeddings.shape == (2, 64)
    expected = dna_zoo.embed(
        load_model(tmp_path / "nt", task="base"), load_tokenizer(tmp_path / "nt"), ["TTGACCAGTAGGATCCAGT"]
    )
    np.testing.assert_allclose(embeddings[1], np.asarray(expected[0]), atol=1e-5)


def test_predict_refuses_a_model_without_a_trained_head(tmp_path, capsys):
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(">a\nACGTACGTAGCTAGCTAGG\n")
    with pytest.raises(SystemExit, match="masked-lm model without a trained classification or regression head"):
        cli(["predict", "--model", "demo", "--input", str(fasta), "--out", str(tmp_path / "p.tsv")])
    assert not (tmp_path / "p.tsv").exists()


def test_a_gena_classifier_saved_by_dna_zoo_keeps_its_pooler(tmp_path):
    model = GenaLMForSequenceClassification(GenaLMConfig.from_preset("tiny", num_labels=2))
    model.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    assert type(loaded) is GenaLMForSequenceClassification
    torch.testing.assert_close(loaded.model.pooler.weight, model.model.pooler.weight)


def test_finetune_on_a_published_nt_v1_folder(tmp_path):
    """`finetune` once failed on NT v1 folders ('EsmConfig' object has no attribute 'max_tokens')."""
    from datasets import Dataset

    from dna_zoo.training import FinetuneConfig, finetune

    nt_v1(tmp_path / "nt")
    rng = np.random.default_rng(0)
    rows = [{"sequence": "".join(rng.choice(list("ACGT"), 36)), "label": int(i % 2)} for i in range(16)]
    result = finetune(
        FinetuneConfig(
            model=str(tmp_path / "nt"), train=Dataset.from_list(rows), output_dir=str(tmp_path / "ft"), epochs=1
        )
    )
    assert type(load_model(result["model_dir"])).__name__ == "NucleotideTransformerForSequenceClassification"
    assert load_tokenizer(result["model_dir"]).layout == "v1"
