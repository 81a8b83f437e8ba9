"""HyenaDNA: the shared family checks, parity with multimolecule's native HyenaDna (an implementation nobody here
wrote) on the same weights in the authors' published layout, causality, and the FFT convolution against a direct
one."""

import json

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from dna_zoo import (
    HyenaDNAConfig,
    HyenaDNAForCausalLM,
    HyenaDNAForSequenceClassification,
    HyenaDNAModel,
    HyenaDNATokenizer,
    load_model,
)
from dna_zoo.checkpoints import detect_checkpoint
from dna_zoo.models.modeling_hyena_dna import fft_causal_conv

from model_tester import FamilyModelTests

TOKENIZER = HyenaDNATokenizer()


def padded_batch(sequences=("ACGTACGTTTGACCAGGCTAGCTAGGATCGATCG", "TTGACCAGGCATCG", "GGGCCCAAATTTACGTNACGT")):
    batch = TOKENIZER(list(sequences), padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


class TestHyenaDNAFamily(FamilyModelTests):
    config_class = HyenaDNAConfig
    base_class = HyenaDNAModel
    model_classes = {
        HyenaDNAModel: AutoModel,
        HyenaDNAForCausalLM: AutoModelForCausalLM,
        HyenaDNAForSequenceClassification: AutoModelForSequenceClassification,
    }

    def make_batch(self, config):
        return padded_batch()

    def test_eager_and_sdpa_agree(self):
        """No attention: asking for an attention implementation is refused, never silently ignored."""
        model = self.make_model(HyenaDNAModel)
        with pytest.raises(ValueError):
            model.set_attn_implementation("sdpa")


def test_fft_convolution_is_the_causal_convolution():
    generator = torch.Generator().manual_seed(0)
    u, kernel = torch.randn(2, 3, 50, generator=generator), torch.randn(3, 50, generator=generator)
    skip = torch.randn(3, generator=generator)
    direct = torch.zeros_like(u)
    for t in range(50):
        direct[..., t] = (kernel[:, : t + 1].flip(-1) * u[..., : t + 1]).sum(-1)
    torch.testing.assert_close(fft_causal_conv(u, kernel, skip), direct + u * skip[:, None], atol=1e-4, rtol=1e-4)


def test_a_position_never_sees_a_later_one():
    torch.manual_seed(0)
    model = HyenaDNAModel(HyenaDNAConfig.from_preset("tiny", embedding_dropout=0.0)).eval()
    ids, _ = padded_batch(["ACGTACGTTTGACCAGGCTAGCTAGG"])
    changed = ids.clone()
    changed[0, 15:] = TOKENIZER.convert_tokens_to_ids("A")
    with torch.no_grad():
        a, b = model(input_ids=ids).last_hidden_state, model(input_ids=changed).last_hidden_state
    torch.testing.assert_close(a[0, :15], b[0, :15], atol=1e-5, rtol=1e-5)
    assert (a[0, 15:] - b[0, 15:]).abs().max() > 1e-3


def test_an_input_longer_than_the_context_is_refused():
    model = HyenaDNAModel(HyenaDNAConfig.from_preset("tiny", max_position_embeddings=8)).eval()
    ids, _ = padded_batch(["ACGTACGTACGT"])
    with pytest.raises(ValueError, match="12 tokens is longer than this model's context \\(8 tokens"):
        model(input_ids=ids)


# ------------------------------------------------------------------ the authors' published layout


def published_checkpoint(folder, hidden=32, layers=2, filter_order=16, context=64, seed=0):
    """A folder as the authors publish HyenaDNA (config.json of their HF remote code, weights under their names,
    with the buffers they save), random weights; returns the state dict."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, around=0.0):
        return around + 0.3 * torch.randn(*shape, generator=generator)

    weights = {"hyena.backbone.embeddings.word_embeddings.weight": rand(16, hidden)}
    for i in range(layers):
        layer, mixer = f"hyena.backbone.layers.{i}.", f"hyena.backbone.layers.{i}.mixer."
        implicit = mixer + "filter_fn.implicit_filter."
        weights.update(
            {
                layer + "norm1.weight": rand(hidden, around=1.0),
                layer + "norm1.bias": rand(hidden),
                layer + "norm2.weight": rand(hidden, around=1.0),
                layer + "norm2.bias": rand(hidden),
                mixer + "in_proj.weight": rand(3 * hidden, hidden),
                mixer + "in_proj.bias": rand(3 * hidden),
                mixer + "out_proj.weight": rand(hidden, hidden),
                mixer + "out_proj.bias": rand(hidden),
                mixer + "short_filter.weight": rand(3 * hidden, 1, 3),
                mixer + "short_filter.bias": rand(3 * hidden),
                mixer + "filter_fn.bias": rand(hidden),
                implicit + "0.weight": rand(filter_order, 5),
                implicit + "0.bias": rand(filter_order),
                implicit + "1.freq": rand(1, filter_order, around=10.0),
                implicit + "2.weight": rand(filter_order, filter_order),
                implicit + "2.bias": rand(filter_order),
                implicit + "4.weight": rand(filter_order, filter_order),
                implicit + "4.bias": rand(filter_order),
                implicit + "6.weight": rand(hidden, filter_order),
                mixer + "filter_fn.pos_emb.z": torch.zeros(1, context, 5),  # recomputed on load
                mixer + "filter_fn.pos_emb.t": torch.zeros(1, context, 1),
                mixer + "filter_fn.modulation.deltas": torch.zeros(1, 1, hidden),
                layer + "mlp.fc1.weight": rand(4 * hidden, hidden),
                layer + "mlp.fc1.bias": rand(4 * hidden),
                layer + "mlp.fc2.weight": rand(hidden, 4 * hidden),
                layer + "mlp.fc2.bias": rand(hidden),
            }
        )
    weights["hyena.backbone.ln_f.weight"] = rand(hidden, around=1.0)
    weights["hyena.backbone.ln_f.bias"] = rand(hidden)
    weights["lm_head.weight"] = weights["hyena.backbone.embeddings.word_embeddings.weight"]  # tied
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(weights, folder / "pytorch_model.bin")
    config = {
        "model_type": "hyenadna",
        "architectures": ["HyenaDNAForCausalLM"],
        "auto_map": {"AutoModelForCausalLM": "modeling_hyena.HyenaDNAForCausalLM"},
        "d_model": hidden,
        "n_layer": layers,
        "d_inner": 4 * hidden,
        "vocab_size": 12,
        "max_seq_len": context,
        "emb_dim": 5,
        "filter_order": filter_order,
        "short_filter_order": 3,
        "num_inner_mlps": 2,
        "activation_freq": 10,
        "train_freq": True,
        "use_bias": True,
        "pad_vocab_size_multiple": 8,
        "layer_norm_epsilon": 1e-5,
        "embed_dropout": 0.1,
        "hyena_dropout": 0.0,
        "hyena_filter_dropout": 0.0,
        "hyena_order": 2,
        "initializer_range": 0.02,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return weights, config


def test_published_layout_matches_multimolecule_on_the_same_weights(tmp_path):
    """multimolecule's converter reads the authors' layout into its own HyenaDna; the one loader reads it into
    dna_zoo's: the same hidden states for the same input embeddings (multimolecule reorders the vocabulary)."""
    import multimolecule.models as multimolecule  # the dev extra: a test-only reference
    from multimolecule.models.hyenadna.convert_checkpoint import _convert_checkpoint, original_vocab_list

    weights, raw = published_checkpoint(tmp_path / "published")
    config = multimolecule.HyenaDnaConfig(
        vocab_size=raw["vocab_size"],
        hidden_size=raw["d_model"],
        num_hidden_layers=raw["n_layer"],
        intermediate_size=raw["d_inner"],
        max_position_embeddings=raw["max_seq_len"],
        filter_order=raw["filter_order"],
        embedding_dropout=0.0,
    )
    reference = multimolecule.HyenaDnaForCausalLM(config).eval()
    reference.load_state_dict(_convert_checkpoint(config, weights, original_vocab_list, original_vocab_list))
    ours = load_model(str(tmp_path / "published")).eval()
    assert isinstance(ours, HyenaDNAForCausalLM)
    assert detect_checkpoint(str(tmp_path / "published")).layout == "hyenadna"
    embeddings = torch.randn(2, 40, raw["d_model"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference.model(inputs_embeds=embeddings).last_hidden_state
        hidden = ours.model(inputs_embeds=embeddings).last_hidden_state
    assert (hidden - expected).abs().max() <= 1e-4
    assert expected.std() > 0.5  # guard: the outputs are not trivially equal
    ids, _ = padded_batch()
    assert torch.equal(ours.get_input_embeddings().weight, weights["hyena.backbone.embeddings.word_embeddings.weight"])
    with torch.no_grad():  # the published ids index the published embedding rows
        logits = ours(input_ids=ids).logits
    assert logits.shape == (*ids.shape, 16)
