"""push_to_hub without network: the upload is intercepted and the folder it would upload is checked file by file."""

import json
import shutil
from types import SimpleNamespace

import torch
import transformers.utils.hub as hub

from dna_zoo import MistralDNAConfig, MistralDNAForCausalLM, MistralDNATokenizer


def intercept_uploads(monkeypatch, captured):
    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            return SimpleNamespace(repo_id=repo_id)

    def fake_upload(self, working_dir, repo_id, **kwargs):
        shutil.copytree(working_dir, captured / repo_id.replace("/", "__"), dirs_exist_ok=True)
        return SimpleNamespace(commit_url=f"https://example.invalid/{repo_id}")

    monkeypatch.setattr(hub, "hf_api", lambda: FakeApi())
    monkeypatch.setattr(hub.PushToHubMixin, "_upload_modified_files", fake_upload)
    monkeypatch.setattr(
        hub,
        "create_and_tag_model_card",
        lambda *args, **kwargs: SimpleNamespace(
            save=lambda path: open(path, "w").write("---\nlibrary_name: transformers\n---\n")
        ),
    )


def test_push_to_hub_uploads_weights_code_and_tokenizer(tmp_path, monkeypatch):
    captured = tmp_path / "uploads"
    intercept_uploads(monkeypatch, captured)
    torch.manual_seed(0)
    model = MistralDNAForCausalLM(MistralDNAConfig.from_preset("tiny"))
    MistralDNATokenizer().push_to_hub("lab/mistral-dna-tiny")
    model.push_to_hub("lab/mistral-dna-tiny")
    folder = captured / "lab__mistral-dna-tiny"
    files = {path.name for path in folder.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "tokenizer.json", "tokenizer_config.json"} <= files
    assert {"modeling_mistral_dna.py", "configuration_mistral_dna.py", "attention.py", "layers.py"} <= files
    assert {"pretrained.py", "tokenization_dna.py"} <= files
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_mistral_dna.MistralDNAForCausalLM"
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tokenizer_config["auto_map"]["AutoTokenizer"][1] == "tokenization_dna.MistralDNATokenizer"
    card = (folder / "README.md").read_text()
    assert "pipeline_tag: text-generation" in card and "## Configuration" in card  # dna_zoo's card, not a generic one
    reloaded = MistralDNAForCausalLM.from_pretrained(folder)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reloaded.state_dict()[name]), name
