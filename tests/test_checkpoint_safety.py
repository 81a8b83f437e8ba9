"""Checkpoints are data, never code: safetensors first, .bin only through torch.load(weights_only=True)."""

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from dna_zoo import NucleotideTransformerConfig, NucleotideTransformerForMaskedLM

from reference_nt_v2 import random_v2_checkpoint


def test_safetensors_is_preferred_when_both_files_exist(tmp_path):
    weights, config = random_v2_checkpoint(seed=0)
    other, _ = random_v2_checkpoint(seed=1)
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_file(weights, str(tmp_path / "model.safetensors"))
    torch.save(other, tmp_path / "pytorch_model.bin")
    model = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)
    torch.testing.assert_close(model.lm_head.bias, weights["lm_head.bias"])


class Payload:
    """Unpickling this object would write a file: proof that code from the checkpoint ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    _, config = random_v2_checkpoint()
    (tmp_path / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "payload_ran"
    with open(tmp_path / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"esm.embeddings.word_embeddings.weight": Payload(str(marker))}, handle)
    with pytest.raises(Exception, match="(?i)weights_only|unpickl|unsupported|pickle"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)
    assert not marker.exists()
    with open(tmp_path / "pytorch_model.bin", "rb") as handle:
        pickle.load(handle)  # guard: a plain unpickler does run the payload, so the check above can fail
    assert marker.exists()


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "pytorch_model.bin"])
def test_truncated_weights_are_one_clear_error_naming_the_file(tmp_path, safe):
    from dna_zoo import NucleotideTransformerConfig

    model = NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny"))
    model.save_pretrained(tmp_path)
    name = "model.safetensors" if safe else "pytorch_model.bin"
    if not safe:  # transformers 5 always saves safetensors: write the .bin a published checkpoint would have
        (tmp_path / "model.safetensors").unlink()
        torch.save(model.state_dict(), tmp_path / name)
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=rf"{name}\) are truncated or corrupted"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


def test_config_that_does_not_match_the_weights_names_the_files(tmp_path):
    from dna_zoo import NucleotideTransformerConfig

    NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny")).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["intermediate_size"] = 48  # the saved weights were made for 64
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"model\.safetensors\) do not have the shapes its config\.json describes"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


def test_a_config_deeper_than_its_weights_is_refused_before_building(tmp_path, monkeypatch):
    """num_hidden_layers 40000 beside the weights of 2 layers: refused from the safetensors header, no model built."""
    model = NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny"))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 40000}))
    monkeypatch.setattr(NucleotideTransformerForMaskedLM, "__init__", lambda *a, **k: pytest.fail("model built"))
    with pytest.raises(ValueError, match="says num_hidden_layers=40000, but its weights hold 2 layers"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)
