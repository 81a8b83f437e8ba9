"""peft presets: IA3 as in the NT paper and LoRA, for every family."""

import pytest
import torch
from peft import PeftModel, get_peft_model

import dna_zoo
from dna_zoo.training import ia3_config, lora_config

FAMILIES = {
    "nucleotide_transformer": (
        dna_zoo.NucleotideTransformerForSequenceClassification,
        dna_zoo.NucleotideTransformerConfig,
    ),
    "gena_lm": (dna_zoo.GenaLMForSequenceClassification, dna_zoo.GenaLMConfig),
    "trinity_dna": (dna_zoo.TrinityDNAForSequenceClassification, dna_zoo.TrinityDNAConfig),
    "mistral_dna": (dna_zoo.MistralDNAForSequenceClassification, dna_zoo.MistralDNAConfig),
    "mistral_dna_dense": (dna_zoo.MistralDNAForSequenceClassification, dna_zoo.MistralDNAConfig),
    "dnabert2": (dna_zoo.DNABERT2ForSequenceClassification, dna_zoo.DNABERT2Config),
    "hyena_dna": (dna_zoo.HyenaDNAForSequenceClassification, dna_zoo.HyenaDNAConfig),
    "caduceus_dna": (dna_zoo.CaduceusForSequenceClassification, dna_zoo.CaduceusConfig),
    "ntv3_dna": (dna_zoo.NTv3ForSequenceClassification, dna_zoo.NTv3Config),
}


def classifier(name, preset="tiny"):
    model_class, config_class = FAMILIES[name]
    torch.manual_seed(0)
    preset = "tiny-dense" if name == "mistral_dna_dense" else preset
    overrides = {"hidden_dropout": 0.0, "attention_dropout": 0.0} if name in ("gena_lm", "dnabert2") else {}
    overrides = {"embedding_dropout": 0.0} if name == "hyena_dna" else overrides
    return model_class(config_class.from_preset(preset, num_labels=2, **overrides)).eval()


def batch():
    torch.manual_seed(1)
    input_ids = torch.randint(5, 10, (2, 24))
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def test_ia3_on_nt_v2_50m_trains_about_a_thousandth_of_the_parameters():
    torch.manual_seed(0)
    config = dna_zoo.NucleotideTransformerConfig.from_preset(
        "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species", num_labels=2
    )
    model = get_peft_model(
        dna_zoo.NucleotideTransformerForSequenceClassification(config),
        ia3_config(dna_zoo.NucleotideTransformerForSequenceClassification(config)),
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    assert 0.0003 < trainable / total < 0.002  # 12 layers x (512 + 512 + 2048) scales + the new head
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("k_proj.ia3_l" in n for n in names) and any("down_proj.ia3_l" in n for n in names)
    assert any("classifier" in n for n in names) and not any("word_embeddings" in n for n in names)


def perturb_adapter(model):
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad:  # adapter weights and the head: make them non-trivial
                param.add_(torch.randn_like(param) * 0.3)


@pytest.mark.parametrize("method", ["ia3", "lora"])
@pytest.mark.parametrize("name", FAMILIES)
def test_adapter_save_load_and_merge_give_the_same_logits(tmp_path, name, method):
    base = classifier(name)
    base.save_pretrained(tmp_path / "base")
    make_config = ia3_config if method == "ia3" else lora_config
    model = get_peft_model(base, make_config(base))
    perturb_adapter(model)
    model.eval()
    with torch.no_grad():
        expected = model(**batch()).logits
    model.save_pretrained(tmp_path / "adapter")
    fresh = type(base).from_pretrained(tmp_path / "base").eval()
    loaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch()).logits, expected, atol=1e-5, rtol=1e-5)
        merged = loaded.merge_and_unload().eval()
        assert type(merged) is type(base)  # a plain dna_zoo model again
        torch.testing.assert_close(merged(**batch()).logits, expected, atol=1e-4, rtol=1e-4)
        assert (expected - classifier(name)(**batch()).logits).abs().max() > 1e-4  # guard: the adapter matters
