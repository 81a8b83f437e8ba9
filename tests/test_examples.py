"""Every script in examples/ runs, on a tiny model saved by the test."""

import importlib.util
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from dna_zoo import NucleotideTransformerConfig, NucleotideTransformerModel, NucleotideTransformerTokenizer

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
