import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    MistralConfig,
    MistralForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    Trainer,
    TrainingArguments,
)

from dna_zoo import (
    CheckpointKeyError,
    MistralDNAConfig,
    MistralDNAForCausalLM,
    MistralDNAForSequenceClassification,
    MistralDNAModel,
)
from dna_zoo.models import layers
from dna_zoo.models.modeling_mistral_dna import CACHE_FIELD

from model_tester import FamilyModelTests

PAD = 3


def padded_batch(vocab_size=100, lengths=(14, 9, 5), seed=1):
    torch.manual_seed(seed)
    input_ids = torch.full((len(lengths), max(lengths)), PAD)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(5, vocab_size, (length,))
    return input_ids, (input_ids != PAD).long()


class TestMistralDNAFamily(FamilyModelTests):
    config_class = MistralDNAConfig
    base_class = MistralDNAModel
    model_classes = {
        MistralDNAModel: AutoModel,
        MistralDNAForCausalLM: AutoModelForCausalLM,
        MistralDNAForSequenceClassification: AutoModelForSequenceClassification,
    }

    def make_model(self, cls, **overrides):
        return super().make_model(cls, vocab_size=100, **overrides)

    def make_batch(self, config):
        return padded_batch(config.vocab_size)


class TestMistralDNADenseFamily(TestMistralDNAFamily):
    """Dense SwiGLU, grouped-query attention and a sliding window shorter than the inputs."""

    preset = "tiny-dense"


# ---------------------------------------------------------------- parity with transformers' Mixtral / Mistral


def mixtral_reference(top_k, **overrides):
    torch.manual_seed(0)
    config = MixtralConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=top_k,
        max_position_embeddings=64,
        pad_token_id=PAD,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        **overrides,
    )
    return MixtralForCausalLM(config).eval()


@pytest.mark.parametrize("top_k", [1, 2])
def test_matches_transformers_mixtral(tmp_path, top_k):
    reference = mixtral_reference(top_k)
    reference.save_pretrained(tmp_path)
    assert any(".block_sparse_moe.experts.0.w1." in key for key in load_file(tmp_path / "model.safetensors"))
    model = MistralDNAForCausalLM.from_pretrained(tmp_path).eval()
    assert model.config.num_local_experts == 4 and model.config.num_experts_per_tok == top_k
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask, output_router_logits=True)
        actual = model(input_ids=input_ids, attention_mask=attention_mask, output_router_logits=True)
    torch.testing.assert_close(actual.logits, expected.logits, atol=1e-4, rtol=0)
    for ours, theirs in zip(actual.router_logits, expected.router_logits, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(actual.aux_loss, expected.aux_loss, atol=1e-6, rtol=0)
    prompt = input_ids[:1, :5]
    generated = model.generate(prompt, max_new_tokens=32, do_sample=False)
    assert generated.shape == (1, 37)
    assert torch.equal(generated, reference.generate(prompt, max_new_tokens=32, do_sample=False))


def mistral_reference():
    """A random transformers MistralForCausalLM (dense) with grouped-query attention and a sliding window."""
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        sliding_window=4,
        max_position_embeddings=64,
        pad_token_id=PAD,
        tie_word_embeddings=False,
    )
    return MistralForCausalLM(config).eval()


def test_matches_transformers_mistral_with_gqa_and_sliding_window(tmp_path):
    reference = mistral_reference()
    reference.save_pretrained(tmp_path)
    model = MistralDNAForCausalLM.from_pretrained(tmp_path).eval()
    assert not model.config.is_moe and model.config.sliding_window == 4 and model.config.num_key_value_heads == 2
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
        full_window = model.config.sliding_window
        model.config.sliding_window = None  # guard: the window really changes the result at these lengths
        without_window = model(input_ids=input_ids, attention_mask=attention_mask).logits
        model.config.sliding_window = full_window
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)
    assert (without_window - expected).abs().max() > 1e-3
    prompt = input_ids[:1, :5]
    assert torch.equal(
        model.generate(prompt, max_new_tokens=32, do_sample=False),
        reference.generate(prompt, max_new_tokens=32, do_sample=False),
    )


def test_saved_files_load_in_transformers_mixtral(tmp_path):
    """dna_zoo saves Mistral-DNA in the published Mixtral layout, so transformers' own class reads it."""
    torch.manual_seed(0)
    config = MistralDNAConfig.from_preset("tiny", vocab_size=100)
    model = MistralDNAForCausalLM(config).eval()
    model.save_pretrained(tmp_path)
    mixtral_config = MixtralConfig(
        **{k: getattr(config, k) for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers")},
        num_attention_heads=4,
        num_key_value_heads=4,
        num_local_experts=4,
        num_experts_per_tok=2,
        rope_theta=config.rope_theta,
        tie_word_embeddings=False,
    )
    reference = MixtralForCausalLM.from_pretrained(tmp_path, config=mixtral_config).eval()
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(
            model(input_ids=input_ids, attention_mask=attention_mask).logits,
            reference(input_ids=input_ids, attention_mask=attention_mask).logits,
            atol=1e-4,
            rtol=0,
        )


def test_unknown_key_in_mixtral_checkpoint_is_refused(tmp_path):
    mixtral_reference(2).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["model.layers.0.block_sparse_moe.shared_expert.weight"] = torch.zeros(4, 4)
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointKeyError, match="shared_expert"):
        MistralDNAForCausalLM.from_pretrained(tmp_path)


# ---------------------------------------------------------------- decoding, routing, losses


def tiny_lm(preset="tiny", **overrides):
    torch.manual_seed(0)
    return MistralDNAForCausalLM(MistralDNAConfig.from_preset(preset, vocab_size=100, **overrides)).eval()


@pytest.mark.parametrize("cache_argument", ["cache", "past_key_values"])  # transformers >= 5.24 / earlier name
@pytest.mark.parametrize("preset", ["tiny", "tiny-dense"])
def test_kv_cache_decoding_equals_full_recomputation(preset, cache_argument):
    model = tiny_lm(preset)
    input_ids, _ = padded_batch(lengths=(14,))
    with torch.no_grad():
        full = model(input_ids=input_ids, use_cache=False).logits
        out = model(input_ids=input_ids[:, :6], use_cache=True)
        steps = [out.logits]
        cache = getattr(out, CACHE_FIELD)
        for position in range(6, 14):
            out = model(input_ids=input_ids[:, position : position + 1], use_cache=True, **{cache_argument: cache})
            cache = getattr(out, CACHE_FIELD)
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("preset", ["tiny", "tiny-dense"])
def test_greedy_generation_with_the_cache_equals_generation_without(preset):
    """generate() hands the cache over under the installed release's name; a model that missed it would decode
    later tokens without their past and differ from full recomputation."""
    model = tiny_lm(preset)
    prompt = padded_batch(lengths=(5,))[0]
    with_cache = model.generate(prompt, max_new_tokens=12, do_sample=False, use_cache=True)
    without = model.generate(prompt, max_new_tokens=12, do_sample=False, use_cache=False)
    assert torch.equal(with_cache, without)


def test_sampling_generation_runs_and_respects_length():
    model = tiny_lm()
    torch.manual_seed(0)
    out = model.generate(padded_batch(lengths=(4, 4))[0], max_new_tokens=10, do_sample=True, top_k=20)
    assert out.shape == (2, 14) and out.max() < 100


def test_aux_loss_ignores_padding():
    model = tiny_lm()
    input_ids, _ = padded_batch(lengths=(9, 9))
    padded = torch.cat([input_ids, torch.full((2, 5), PAD)], dim=1)
    mask = (padded != PAD).long()
    with torch.no_grad():
        plain = model(input_ids=input_ids, output_router_logits=True).aux_loss
        with_padding = model(input_ids=padded, attention_mask=mask, output_router_logits=True).aux_loss
        unmasked = model(input_ids=padded, output_router_logits=True).aux_loss
    torch.testing.assert_close(with_padding, plain)
    assert (unmasked - plain).abs() > 1e-6  # guard: padding tokens would change it if they counted


def test_aux_loss_is_added_to_the_lm_loss_in_training():
    model = tiny_lm().train()
    input_ids, attention_mask = padded_batch()
    labels = torch.where(attention_mask.bool(), input_ids, -100)
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert out.aux_loss is not None
    lm_loss = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 100), labels[:, 1:].reshape(-1))
    torch.testing.assert_close(out.loss, lm_loss + model.config.router_aux_loss_coef * out.aux_loss)
    assert model.eval()(input_ids=input_ids, attention_mask=attention_mask, labels=labels).aux_loss is None


def test_router_z_loss_is_added_when_asked():
    model = tiny_lm(router_z_loss_coef=0.5).train()
    input_ids, attention_mask = padded_batch()
    labels = torch.where(attention_mask.bool(), input_ids, -100)
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, output_router_logits=True)
    lm_loss = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 100), labels[:, 1:].reshape(-1))
    z = layers.router_z_loss(out.router_logits, attention_mask)
    torch.testing.assert_close(out.loss, lm_loss + model.config.router_aux_loss_coef * out.aux_loss + 0.5 * z)


def test_jitter_noise_only_in_training():
    model = tiny_lm(router_jitter_noise=0.5)
    input_ids, _ = padded_batch()
    with torch.no_grad():
        assert torch.equal(model(input_ids=input_ids).logits, model(input_ids=input_ids).logits)
        model.train()
        assert not torch.equal(model(input_ids=input_ids).logits, model(input_ids=input_ids).logits)


def test_grouped_and_expert_by_expert_paths_agree():
    torch.manual_seed(0)
    experts = layers.SwiGLUExperts(8, 12, num_experts=4)
    for param in experts.parameters():
        torch.nn.init.normal_(param, std=0.3)
    x = torch.randn(30, 8)
    weights = torch.rand(30, 2)
    chosen = torch.stack([torch.zeros(30, dtype=torch.long), torch.randint(2, 4, (30,))], dim=1)  # expert 1 idle
    order = chosen.reshape(-1).argsort(stable=True)
    args = (x, order // 2, weights.reshape(-1)[order, None], torch.bincount(chosen.reshape(-1), minlength=4))
    grouped = experts.grouped_forward(*args)
    one_by_one = experts.expert_by_expert_forward(*args)
    torch.testing.assert_close(grouped, one_by_one, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # inference takes the expert-by-expert path on CPU, training the grouped one
        torch.testing.assert_close(experts(x, weights, chosen), one_by_one, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(experts(x, weights, chosen), grouped, atol=1e-5, rtol=1e-5)
    unaligned = layers.SwiGLUExperts(8, 6, num_experts=4)  # 6 fp32 values = 24 bytes: no grouped kernel
    assert layers.grouped_mm_usable(x, unaligned.gate_up_proj, unaligned.down_proj) is False
    assert unaligned(x, weights, chosen).shape == (30, 8)


@pytest.mark.parametrize("row_block", [256, 7])  # one block, and blocks that split experts with a short last one
def test_grouped_swiglu_backward_equals_autograd_through_the_same_multiplies(row_block, monkeypatch):
    monkeypatch.setattr(layers, "ROW_BLOCK", row_block)
    torch.manual_seed(0)
    experts = layers.SwiGLUExperts(8, 12, num_experts=4)
    for param in experts.parameters():
        torch.nn.init.normal_(param, std=0.3)
    counts = torch.tensor([9, 0, 14, 7])  # expert 1 idle
    x = torch.randn(int(counts.sum()), 8, requires_grad=True)
    grad_output = torch.randn(len(x), 8)

    def gradients(run):
        for tensor in (x, *experts.parameters()):
            tensor.grad = None
        run().backward(grad_output)
        return [tensor.grad.clone() for tensor in (x, experts.gate_up_proj, experts.down_proj)]

    offsets = counts.cumsum(0).to(torch.int32)

    def autograd():
        gate, up = layers.grouped_linear(x, experts.gate_up_proj, offsets).chunk(2, dim=-1)
        return layers.grouped_linear(torch.nn.functional.silu(gate) * up, experts.down_proj, offsets)

    written_out = gradients(lambda: layers.GroupedSwiGLU.apply(x, experts.gate_up_proj, experts.down_proj, offsets))
    for ours, reference in zip(written_out, gradients(autograd)):
        torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    assert written_out[2][1].abs().sum() == 0  # the idle expert gets no gradient
    with torch.no_grad():
        torch.testing.assert_close(
            layers.GroupedSwiGLU.apply(x, experts.gate_up_proj, experts.down_proj, offsets), autograd()
        )


def test_routing_sends_each_token_to_its_top_k_experts():
    """The MoE output is the renormalised weighted sum of the chosen experts, computed token by token."""
    torch.manual_seed(0)
    moe = layers.SparseMoE(MistralDNAConfig.from_preset("tiny", router_jitter_noise=0.0))
    for param in moe.parameters():
        torch.nn.init.normal_(param, std=0.2)
    x = torch.randn(1, 6, 32)
    out, logits = moe(x)
    probs = logits.softmax(-1)
    for t in range(6):
        weights, chosen = probs[t].topk(2)
        weights = weights / weights.sum()
        expected = 0
        for w, e in zip(weights, chosen):
            gate, up = (moe.experts.gate_up_proj[e] @ x[0, t]).chunk(2)
            expected = expected + w * (moe.experts.down_proj[e] @ (torch.nn.functional.silu(gate) * up))
        torch.testing.assert_close(out[0, t], expected, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- sequence classification


def tiny_classifier(**overrides):
    torch.manual_seed(0)
    config = MistralDNAConfig.from_preset("tiny", **{"vocab_size": 100, "num_labels": 2, **overrides})
    return MistralDNAForSequenceClassification(config).eval()


def test_classification_uses_last_real_token_with_left_or_right_padding():
    model = tiny_classifier()
    right_ids, right_mask = padded_batch()
    left_ids, left_mask = torch.full_like(right_ids, PAD), torch.zeros_like(right_mask)
    for row, length in enumerate(right_mask.sum(1).tolist()):
        left_ids[row, -length:] = right_ids[row, :length]
        left_mask[row, -length:] = 1
    with torch.no_grad():
        right = model(input_ids=right_ids, attention_mask=right_mask).logits
        left = model(input_ids=left_ids, attention_mask=left_mask).logits
        alone = model(input_ids=right_ids[2:, :5]).logits
    torch.testing.assert_close(left, right, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(right[2:], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "num_labels,labels,problem",
    [
        (3, torch.tensor([0, 2, 1]), "single_label_classification"),
        (3, torch.tensor([[1.0, 0, 1], [0, 0, 0], [1, 1, 1]]), "multi_label_classification"),
        (1, torch.tensor([0.5, -1.0, 2.0]), "regression"),
    ],
)
def test_classification_problem_types(num_labels, labels, problem):
    model = tiny_classifier(num_labels=num_labels)
    input_ids, attention_mask = padded_batch()
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert model.config.problem_type == problem and out.logits.shape == (3, num_labels) and out.loss > 0


def test_classification_loss_falls_with_trainer(tmp_path):
    """A tiny learnable task: does the sequence contain token 7?"""
    torch.manual_seed(0)
    examples = []
    for i in range(64):
        ids = torch.randint(10, 100, (12,))
        label = i % 2
        if label:
            ids[torch.randint(0, 12, (1,))] = 7
        examples.append({"input_ids": ids, "attention_mask": torch.ones(12, dtype=torch.long), "labels": label})
    model = tiny_classifier().train()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=16,
        num_train_epochs=8,
        learning_rate=3e-3,
        logging_steps=4,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=examples)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) >= 4 and losses[-1] < 0.7 * losses[0]


def test_presets():
    for name in MistralDNAConfig.presets:
        config = MistralDNAConfig.from_preset(name)
        assert config.num_key_value_heads <= config.num_attention_heads
    big = MistralDNAConfig.from_preset("RaphaelMourad/Mistral-DNA-v1-422M-hg38")
    with torch.device("meta"):
        params = sum(p.numel() for p in MistralDNAForCausalLM(big).parameters())
    assert 400e6 < params < 440e6
