"""Every script in examples/ runs, on a tiny model saved by the test."""

import importlib.util
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from dna_zoo import (
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
)

from reference_nt_v2 import random_v2_checkpoint

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_embed_sequences_on_a_saved_dna_zoo_model(tmp_path, capsys):
    example = load_example("embed_sequences")
    NucleotideTransformerModel(NucleotideTransformerConfig.from_preset("tiny")).save_pretrained(tmp_path)
    NucleotideTransformerTokenizer().save_pretrained(tmp_path)
    sequences = ["ACGTACGTTGCAACGT", "acgtNNNNacgtaggctagctagct", "A"]
    vectors = example.main(["--model", str(tmp_path), *sequences])
    assert vectors.shape == (3, 32) and torch.isfinite(vectors).all()
    alone = example.main(["--model", str(tmp_path), sequences[1]])
    torch.testing.assert_close(alone[0], vectors[1], atol=1e-5, rtol=1e-5)  # batching does not change a vector
    assert "dim=32" in capsys.readouterr().out


def test_embed_sequences_on_a_published_v2_layout(tmp_path):
    example = load_example("embed_sequences")
    weights, config = random_v2_checkpoint()
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_file(weights, str(tmp_path / "model.safetensors"))
    NucleotideTransformerTokenizer().save_vocabulary(str(tmp_path))  # the Hub ships vocab.txt
    vectors = example.main(["--model", str(tmp_path), "ACGTACGTTGCAACGTAA"])
    assert vectors.shape == (1, 64)


def test_coding_windows_runs_from_a_plain_clone_on_the_lambda_phage(tmp_path):
    """The defaults use the genome that ships in tests/data, split by position (train before the cut, test after)."""
    example = load_example("coding_windows")
    model = tmp_path / "tiny"
    NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny")).save_pretrained(model)
    NucleotideTransformerTokenizer().save_pretrained(model)
    out = tmp_path / "out"
    results = example.main(
        ["--model", str(model), "--out", str(out), "--window", "120", "--limit", "30", "--epochs", "1"]
    )
    assert results["train"] == results["test"] == ["lambda_phage"] and results["windows"]["test"] == 60
    assert set(results["mcc"]) == {f"{model} (full fine-tuning)", "6-mer logistic regression"}
    assert all(-1 <= value <= 1 for value in results["mcc"].values())
    assert (out / "results.png").stat().st_size > 1000 and "| 6-mer" in (out / "results.md").read_text()


def test_a_genome_in_train_and_test_is_split_by_position_without_shared_windows():
    example = load_example("coding_windows")
    genome, window = str(Path(__file__).parent / "data" / "lambda_phage"), 120
    train = example.balanced_windows(genome, window, 50, None, 0, "train", 0.7)
    test = example.balanced_windows(genome, window, 50, None, 0, "test", 0.7)
    assert max(train["start"]) + window <= min(test["start"]) and len(train) > 0 and len(test) > 0
    assert 0.65 < min(test["start"]) / 48502 < 0.75  # the cut near 70% of the genome


def test_variant_effects_on_lambda_genes(tmp_path):
    example = load_example("variant_effects")
    model = tmp_path / "tiny"
    NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny")).save_pretrained(model)
    NucleotideTransformerTokenizer().save_pretrained(model)
    genome = str(Path(__file__).parent / "data" / "lambda_phage")
    args = ["--model", str(model), "--genome", genome, "--out", str(tmp_path / "out"), "--genes", "10"]
    results = example.main([*args, "--per-class", "15", "--window", "120", "--bootstrap", "50"])
    assert results["variants"] == {"stop_gained": 15, "synonymous": 15}
    low, high = results["auroc_95ci"]
    assert 0 <= low <= high <= 1 and 0 <= results["auroc_minus_llr"] <= 1
    assert (tmp_path / "out" / "roc.png").exists() and "AUROC" in (tmp_path / "out" / "results.md").read_text()


def test_stop_gained_and_synonymous_variants_are_what_they_claim():
    example = load_example("variant_effects")
    # a plus-strand gene ATG AAA TGG TAA and, after it, the same gene on the minus strand
    gene = "ATGAAATGGTAA"
    sequence = gene + "CC" + example.reverse_complement(gene)
    found = example.candidate_variants(sequence, [(0, 12, "+"), (14, 26, "-")], "chr")
    assert ("chr", 4, "A", "T") in found["stop_gained"]  # AAA -> TAA at gene base 3
    assert ("chr", 6, "A", "G") in found["synonymous"]  # AAA -> AAG (Lys)
    assert ("chr", 26 - 3, "T", "A") in found["stop_gained"]  # minus strand: gene base 3 is forward 22 (1-based 23)
    for record, position, ref, alt in found["stop_gained"] + found["synonymous"]:
        assert sequence[position - 1] == ref != alt


def test_the_bundled_demo_model_is_the_default_of_the_main_job(capsys):
    """README's main job with no --model: the bundled demo model (single-base NTv3-style U-Net, <= 8 MB) loads
    offline."""
    from dna_zoo.checkpoints import DEMO_MODEL, resolve_model

    assert resolve_model("demo") == DEMO_MODEL and resolve_model("some/folder") == "some/folder"
    assert (Path(DEMO_MODEL) / "model.safetensors").stat().st_size <= 8 * 1024 * 1024
    vectors = load_example("embed_sequences").main(["ACGTACGTTGCAACGT", "acgtNNNNacgtaggctagctagct"])
    assert vectors.shape == (2, 64) and torch.isfinite(vectors).all()
    assert "dim=64" in capsys.readouterr().out
    card = (Path(DEMO_MODEL) / "README.md").read_text()
    assert "dna-zoo pretrain --family ntv3_dna --preset demo" in card and "loss_curve.png" in card
