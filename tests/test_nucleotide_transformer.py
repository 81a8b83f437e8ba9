import json
import re

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    EsmConfig,
    EsmForMaskedLM,
)

from dna_zoo import (
    CheckpointKeyError,
    NucleotideTransformerConfig,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForSequenceClassification,
    NucleotideTransformerForTokenClassification,
    NucleotideTransformerModel,
    list_presets,
)

from model_tester import FamilyModelTests
from reference_nt_v2 import random_v2_checkpoint, reference_logits

PAD, MASK, CLS = 1, 2, 3


def padded_batch(vocab_size=4105, lengths=(20, 13, 7), masks=((2, 5), (1, 9))):
    """<cls> + random 6-mer ids, right-padded with <pad>; `masks` puts <mask> at (row, position)."""
    torch.manual_seed(1)
    input_ids = torch.full((len(lengths), max(lengths)), PAD)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(6, 4100, (length,))
        input_ids[row, 0] = CLS
    for row, position in masks:
        input_ids[row, position] = MASK
    return input_ids, (input_ids != PAD).long()


class TestNucleotideTransformerFamily(FamilyModelTests):
    config_class = NucleotideTransformerConfig
    base_class = NucleotideTransformerModel
    model_classes = {
        NucleotideTransformerModel: AutoModel,
        NucleotideTransformerForMaskedLM: AutoModelForMaskedLM,
        NucleotideTransformerForSequenceClassification: AutoModelForSequenceClassification,
        NucleotideTransformerForTokenClassification: AutoModelForTokenClassification,
    }

    def make_batch(self, config):
        return padded_batch(config.vocab_size)


class TestNucleotideTransformerV1Family(TestNucleotideTransformerFamily):
    """The same checks for the v1 architecture (learned positions, GELU MLP, token dropout)."""

    preset = "tiny-v1"


# ---------------------------------------------------------------- parity with the published layouts


def esm_v1_reference(tmp_path, **overrides):
    """A random transformers EsmForMaskedLM shaped like NT v1, saved as on the Hub."""
    torch.manual_seed(0)
    config = EsmConfig(
        vocab_size=4105,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=130,
        position_embedding_type="absolute",
        token_dropout=True,
        pad_token_id=PAD,
        mask_token_id=MASK,
        layer_norm_eps=1e-12,
        emb_layer_norm_before=False,
        tie_word_embeddings=False,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **overrides,
    )
    reference = EsmForMaskedLM(config).eval()
    with torch.no_grad():  # make biases and norms non-trivial so a wrong mapping cannot hide
        for name, param in reference.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return reference


@pytest.mark.parametrize("safe_serialization", [True, False], ids=["safetensors", "pytorch_model.bin"])
@pytest.mark.parametrize("masks", [(), ((2, 5), (1, 9), (0, 1))], ids=["no-mask", "with-mask"])
def test_v1_matches_transformers_esm(tmp_path, safe_serialization, masks):
    reference = esm_v1_reference(tmp_path)
    reference.save_pretrained(tmp_path, safe_serialization=safe_serialization)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "esm"
    model = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.mlp_type == "gelu" and model.config.token_dropout
    input_ids, attention_mask = padded_batch(masks=masks)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def test_v1_token_dropout_changes_logits_with_masks(tmp_path):
    """Guards the parity test above: the mask scaling is real, so dropping it would be caught."""
    esm_v1_reference(tmp_path).save_pretrained(tmp_path)
    model = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path).eval()
    input_ids, attention_mask = padded_batch(masks=((0, 3),))
    with torch.no_grad():
        with_dropout = model(input_ids=input_ids, attention_mask=attention_mask).logits
        model.config.token_dropout = False
        without = model(input_ids=input_ids, attention_mask=attention_mask).logits
    assert (with_dropout - without).abs().max() > 1e-3


def write_v2_checkpoint(path, weights, config, safe=True):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    if safe:
        save_file(weights, str(path / "model.safetensors"))
    else:
        torch.save(weights, path / "pytorch_model.bin")


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "pytorch_model.bin"])
def test_v2_matches_independent_reference(tmp_path, safe):
    weights, config = random_v2_checkpoint()
    write_v2_checkpoint(tmp_path, weights, config, safe)
    model = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.mlp_type == "swiglu" and not model.config.mlp_bias
    assert model.config.position_embedding_type == "rotary"
    input_ids, attention_mask = padded_batch(vocab_size=4107, masks=())
    expected = reference_logits(
        weights, input_ids, attention_mask, config["num_hidden_layers"], config["num_attention_heads"]
    )
    with torch.no_grad():
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-4, rtol=0)


def test_v2_converted_model_saves_in_dna_zoo_layout(tmp_path):
    weights, config = random_v2_checkpoint()
    write_v2_checkpoint(tmp_path / "hub", weights, config)
    model = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path / "hub")
    model.save_pretrained(tmp_path / "ours")
    saved = load_file(tmp_path / "ours" / "model.safetensors")
    assert set(saved) == set(model.state_dict())
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["model_type"] == "nucleotide_transformer"
    reloaded = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path / "ours")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reloaded.state_dict()[name]), name


def test_plain_esm_cannot_load_v2_but_dna_zoo_can(tmp_path):
    """The known trap: transformers' ESM fails on the [2I, H] SwiGLU weight."""
    weights, config = random_v2_checkpoint()
    write_v2_checkpoint(tmp_path, weights, config)
    esm_config = EsmConfig(**{k: v for k, v in config.items() if k not in ("auto_map", "architectures")})
    with pytest.raises(Exception, match="(?i)size|shape"):
        EsmForMaskedLM.from_pretrained(tmp_path, config=esm_config)
    NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


# ---------------------------------------------------------------- strict loading


def test_unknown_checkpoint_key_is_an_error_naming_it(tmp_path):
    weights, config = random_v2_checkpoint()
    weights["esm.encoder.layer.0.attention.self.gate.weight"] = torch.zeros(4, 4)
    write_v2_checkpoint(tmp_path, weights, config)
    with pytest.raises(CheckpointKeyError, match=r"attention\.self\.gate"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


def test_missing_backbone_weight_is_an_error_naming_it(tmp_path):
    weights, config = random_v2_checkpoint()
    del weights["esm.encoder.layer.1.output.dense.weight"]
    write_v2_checkpoint(tmp_path, weights, config)
    with pytest.raises(CheckpointKeyError, match=r"layers\.1\.mlp\.down_proj\.weight"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "dropped", ["lm_head.dense.weight", "lm_head.bias", "lm_head.layer_norm.weight", "lm_head.decoder.weight"]
)
def test_a_head_missing_in_part_is_an_error_not_random(tmp_path, dropped):
    weights, config = random_v2_checkpoint()
    del weights[dropped]
    write_v2_checkpoint(tmp_path, weights, config)
    with pytest.raises(CheckpointKeyError, match=re.escape(dropped)):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


def test_the_head_of_the_checkpoints_own_architecture_must_load(tmp_path):
    weights, config = random_v2_checkpoint()
    assert config["architectures"] == ["EsmForMaskedLM"]
    for key in [key for key in weights if key.startswith("lm_head.")]:
        del weights[key]
    write_v2_checkpoint(tmp_path, weights, config)
    with pytest.raises(CheckpointKeyError, match="its own architecture's head missing: lm_head"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)
    NucleotideTransformerModel.from_pretrained(tmp_path)  # the encoder alone is all there


def test_a_v2_config_resaved_with_model_type_esm_is_still_v2(tmp_path):
    """InstaDeep's remote EsmConfig writes model_type "esm" on a re-save: the SwiGLU layout must still be found."""
    weights, config = random_v2_checkpoint()
    write_v2_checkpoint(tmp_path, weights, {**config, "model_type": "esm"})
    model = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.mlp_type == "swiglu" and model.config.position_embedding_type == "rotary"
    input_ids, attention_mask = padded_batch(vocab_size=4107, masks=())
    expected = reference_logits(
        weights, input_ids, attention_mask, config["num_hidden_layers"], config["num_attention_heads"]
    )
    with torch.no_grad():
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(actual[attention_mask.bool()], expected[attention_mask.bool()], atol=1e-4, rtol=0)


def test_new_head_on_pretrained_backbone_is_allowed(tmp_path):
    weights, config = random_v2_checkpoint()
    write_v2_checkpoint(tmp_path, weights, config)
    model = NucleotideTransformerForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    assert model.classifier.out_features == 2
    torch.testing.assert_close(
        model.model.embeddings.word_embeddings.weight, weights["esm.embeddings.word_embeddings.weight"]
    )


# ---------------------------------------------------------------- pinned key names


def test_state_dict_keys_are_pinned():
    """A rename of any module breaks every saved checkpoint: these names must not change silently."""
    model = NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny"))
    layer0 = sorted(k.removeprefix("model.layers.0.") for k in model.state_dict() if k.startswith("model.layers.0."))
    assert layer0 == [
        "attention.k_proj.bias",
        "attention.k_proj.weight",
        "attention.o_proj.bias",
        "attention.o_proj.weight",
        "attention.q_proj.bias",
        "attention.q_proj.weight",
        "attention.v_proj.bias",
        "attention.v_proj.weight",
        "attention_norm.bias",
        "attention_norm.weight",
        "mlp.down_proj.weight",
        "mlp.gate_up_proj.weight",
        "mlp_norm.bias",
        "mlp_norm.weight",
    ]
    rest = sorted(k for k in model.state_dict() if not k.startswith("model.layers."))
    assert rest == [
        "lm_head.bias",
        "lm_head.decoder.weight",
        "lm_head.dense.bias",
        "lm_head.dense.weight",
        "lm_head.layer_norm.bias",
        "lm_head.layer_norm.weight",
        "model.embeddings.word_embeddings.weight",
        "model.final_norm.bias",
        "model.final_norm.weight",
    ]


def test_every_published_esm_key_is_mapped(tmp_path):
    """Every key transformers' ESM writes for an NT-v1 model lands on a dna_zoo weight, none left over."""
    reference = esm_v1_reference(tmp_path)
    reference.save_pretrained(tmp_path)
    published = set(load_file(tmp_path / "model.safetensors"))
    assert "esm.encoder.layer.0.attention.self.query.weight" in published
    _, info = NucleotideTransformerForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"]
    assert not info["unexpected_keys"]  # the contact head is ignored by pattern, nothing else is left over


# ---------------------------------------------------------------- config, presets, sizes


def test_parameter_count_of_v2_50m_matches_published():
    """Published 55,904,972 counts the unused [2050, 512] position table and the ESM contact head (12*16 + 1)."""
    config = NucleotideTransformerConfig.from_preset("InstaDeepAI/nucleotide-transformer-v2-50m-multi-species")
    with torch.device("meta"):
        model = NucleotideTransformerForMaskedLM(config)
    ours = sum(p.numel() for p in model.parameters())
    unused_position_table = 2050 * 512
    contact_head = 12 * 16 + 1
    assert ours + unused_position_table + contact_head == 55_904_972


@pytest.mark.parametrize(
    "name,published_millions",
    [
        ("InstaDeepAI/nucleotide-transformer-500m-human-ref", 500),
        ("InstaDeepAI/nucleotide-transformer-2.5b-multi-species", 2500),
        ("InstaDeepAI/nucleotide-transformer-v2-100m-multi-species", 100),
        ("InstaDeepAI/nucleotide-transformer-v2-250m-multi-species", 250),
        ("InstaDeepAI/nucleotide-transformer-v2-500m-multi-species", 500),
    ],
)
def test_preset_sizes_are_near_their_names(name, published_millions):
    with torch.device("meta"):
        model = NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset(name))
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    assert 0.85 * published_millions < millions < 1.1 * published_millions


def test_presets_are_listed_and_unknown_names_rejected():
    names = list_presets()["nucleotide_transformer"]
    assert len([n for n in names if n.startswith("InstaDeepAI/")]) == 8 and "tiny" in names
    with pytest.raises(KeyError, match="unknown NucleotideTransformerConfig preset .nucleotide-transformer-9b."):
        NucleotideTransformerConfig.from_preset("nucleotide-transformer-9b")


def test_long_input_is_refused_by_learned_positions():
    model = NucleotideTransformerModel(NucleotideTransformerConfig.from_preset("tiny-v1"))
    too_long = torch.full((1, model.config.max_tokens + 1), 10)
    with pytest.raises(ValueError, match="longer than"):
        model(input_ids=too_long)


# ---------------------------------------------------------------- heads and losses


def classifier(**config_overrides):
    torch.manual_seed(0)
    config = NucleotideTransformerConfig.from_preset("tiny", **config_overrides)
    return NucleotideTransformerForSequenceClassification(config)


@pytest.mark.parametrize(
    "labels", [torch.tensor([0.5, -1.0, 2.0]), torch.tensor([[0.5], [-1.0], [2.0]]), torch.tensor([1, 0, 2])]
)
def test_regression_with_one_label_accepts_every_label_shape(labels):
    model = classifier(num_labels=1)
    input_ids, attention_mask = padded_batch(4107)
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert model.config.problem_type == "regression" and out.logits.shape == (3, 1)
    expected = torch.nn.functional.mse_loss(out.logits.view(-1), labels.float().view(-1))
    torch.testing.assert_close(out.loss, expected)


def test_single_and_multi_label_losses():
    input_ids, attention_mask = padded_batch(4107)
    single = classifier(num_labels=3)
    out = single(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 2, 1]))
    assert single.config.problem_type == "single_label_classification"
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 2, 1])))
    multi = classifier(num_labels=3, problem_type="multi_label_classification")
    targets = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 1]])
    out = multi(input_ids=input_ids, attention_mask=attention_mask, labels=targets)
    torch.testing.assert_close(
        out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, targets.float())
    )


@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_pooled_logits_ignore_padding(pooling):
    model = classifier(num_labels=2, classifier_pooling=pooling).eval()
    input_ids, attention_mask = padded_batch(4107)
    with torch.no_grad():
        batched = model(input_ids=input_ids, attention_mask=attention_mask).logits
        alone = model(input_ids=input_ids[2:, :7], attention_mask=attention_mask[2:, :7]).logits
    torch.testing.assert_close(batched[2:], alone, atol=1e-5, rtol=1e-5)


def test_masked_lm_loss_honours_num_items_in_batch():
    """Trainer passes num_items_in_batch under gradient accumulation: the loss must be sum / that number."""
    model = NucleotideTransformerForMaskedLM(NucleotideTransformerConfig.from_preset("tiny"))
    input_ids, attention_mask = padded_batch(4107)
    labels = torch.full_like(input_ids, -100)
    labels[0, 3], labels[1, 4] = 100, 200
    mean = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
    scaled = model(
        input_ids=input_ids, attention_mask=attention_mask, labels=labels, num_items_in_batch=torch.tensor(8)
    ).loss
    torch.testing.assert_close(scaled, mean * 2 / 8)


def test_token_classification_ignores_minus_100():
    torch.manual_seed(0)
    model = NucleotideTransformerForTokenClassification(NucleotideTransformerConfig.from_preset("tiny", num_labels=2))
    input_ids, attention_mask = padded_batch(4107)
    labels = torch.where(attention_mask.bool(), 1, -100)
    labels[:, 0] = -100
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    keep = labels != -100
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits[keep], labels[keep]))


def test_a_saved_esm_base_model_loads(tmp_path):
    """transformers saves a base EsmModel without the "esm." prefix."""
    from transformers import EsmModel

    reference = EsmModel(esm_v1_reference(tmp_path).config, add_pooling_layer=False).eval()
    reference.save_pretrained(tmp_path)
    model = NucleotideTransformerModel.from_pretrained(tmp_path).eval()
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        actual = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def test_loads_are_quiet_unless_a_head_is_new_or_something_is_wrong(tmp_path):
    """transformers' LOAD REPORT (known-unused keys, new heads) is held back: a good load says nothing, a new head
    gets one notice naming its weights, and a refused load still shows the report."""
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging as transformers_logging

    from dna_zoo.models import pretrained

    weights, config = random_v2_checkpoint()  # with the unused contact head and position table
    write_v2_checkpoint(tmp_path / "good", weights, config)
    report = transformers_logging.get_logger("transformers.modeling_utils")
    with CaptureLogger(report) as table, CaptureLogger(pretrained.logger) as notice:
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path / "good")
        NucleotideTransformerModel.from_pretrained(tmp_path / "good")  # the LM head's keys are unused here
    assert table.out == "" and notice.out == ""
    with CaptureLogger(report) as table, CaptureLogger(pretrained.logger) as notice:
        NucleotideTransformerForSequenceClassification.from_pretrained(tmp_path / "good", num_labels=2)
    assert table.out == "" and "newly initialised (a new task head): classifier.bias, classifier.weight" in notice.out
    del weights["lm_head.bias"]
    write_v2_checkpoint(tmp_path / "bad", weights, config)
    with CaptureLogger(report) as table, pytest.raises(CheckpointKeyError):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path / "bad")
    assert "LOAD REPORT" in table.out and "lm_head.bias" in table.out
