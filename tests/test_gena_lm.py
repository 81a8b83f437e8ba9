import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BigBirdConfig,
    BigBirdForMaskedLM,
    BigBirdForPreTraining,
)

from dna_zoo import (
    CheckpointKeyError,
    GenaLMConfig,
    GenaLMForMaskedLM,
    GenaLMForSequenceClassification,
    GenaLMForTokenClassification,
    GenaLMModel,
)
from dna_zoo.models.attention import BlockSparseLayout, block_sparse_attention

from model_tester import FamilyModelTests
from reference_gena_bert import random_gena_checkpoint, reference_logits

PAD = 3


def padded_batch(lengths, vocab_size=100, seed=1):
    torch.manual_seed(seed)
    input_ids = torch.full((len(lengths), max(lengths)), PAD)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(5, vocab_size, (length,))
    return input_ids, (input_ids != PAD).long()


class TestGenaLMFamily(FamilyModelTests):
    config_class = GenaLMConfig
    base_class = GenaLMModel
    model_classes = {
        GenaLMModel: AutoModel,
        GenaLMForMaskedLM: AutoModelForMaskedLM,
        GenaLMForSequenceClassification: AutoModelForSequenceClassification,
        GenaLMForTokenClassification: AutoModelForTokenClassification,
    }

    def make_model(self, cls, **overrides):
        return super().make_model(cls, vocab_size=100, hidden_dropout=0.0, attention_dropout=0.0, **overrides)

    def make_batch(self, config):
        return padded_batch([40, 23, 9])


class TestGenaLMBigBirdFamily(TestGenaLMFamily):
    """Block-sparse (post-LN) variant on sequences long enough to be sparse."""

    preset = "tiny-bigbird"

    def make_batch(self, config):
        return padded_batch([300, 250, 170])

    def test_outputs_do_not_depend_on_padding(self):
        pytest.skip(
            "BigBird's layout depends on the padded length (its last block is global), so a row alone and in a "
            "longer batch attend differently, in transformers' BigBird as here; padding itself is masked "
            "(see test_bigbird_matches_transformers)"
        )


# ---------------------------------------------------------------- parity with transformers' BigBird


def bigbird_reference():
    torch.manual_seed(0)
    config = BigBirdConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=1024,
        block_size=16,
        num_random_blocks=3,
        attention_type="block_sparse",
        pad_token_id=PAD,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    reference = BigBirdForMaskedLM(config).eval()
    with torch.no_grad():  # non-trivial norms and biases, so that a wrong mapping cannot hide
        for name, param in reference.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return reference


@pytest.mark.parametrize(
    "lengths", [(400, 400), (400, 290), (333, 250)], ids=["no-padding", "padding", "not-a-block-multiple"]
)
def test_bigbird_matches_transformers(tmp_path, lengths):
    reference = bigbird_reference()
    reference.save_pretrained(tmp_path)
    model = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.attention_type == "block_sparse" and not model.config.pre_layer_norm
    input_ids, attention_mask = padded_batch(lengths)
    assert model.model.uses_block_sparse(input_ids.shape[1])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-4, rtol=0)


def test_bigbird_attention_weights_match_transformers(tmp_path):
    """Block-sparse weights as one (B, H, L, L) array, as transformers' BigBird returns them, except at key block 0
    of the non-global query blocks: in eval each of the r random slots is block 0 again, and transformers writes
    one copy's weight there where the value gets r + 1 copies; ours is that sum, so weights @ values = output."""
    reference = bigbird_reference()
    reference.save_pretrained(tmp_path)
    model = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
    model.set_attn_implementation("eager")
    input_ids, attention_mask = padded_batch([400, 400])
    with torch.no_grad():
        expected = torch.stack(reference(input_ids, attention_mask, output_attentions=True).attentions)
        outputs = model(input_ids, attention_mask, output_attentions=True)
        plain = model(input_ids, attention_mask).logits
    actual = torch.stack(outputs.attentions)  # (layers, B, H, L, L)
    assert actual.shape == expected.shape == (2, 2, 4, 400, 400)
    torch.testing.assert_close(outputs.logits, plain)  # asking for the weights changes nothing
    size, r = 16, 3
    middle = slice(size, 400 - size - 400 % size)  # the query blocks between the global first and last
    copies = torch.ones_like(expected)
    copies[..., middle, :size] = 1 + r
    torch.testing.assert_close(actual, expected * copies, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(actual.sum(-1), torch.ones_like(actual.sum(-1)), atol=1e-5, rtol=0)


def test_bigbird_short_sequences_fall_back_to_full_attention(tmp_path):
    reference = bigbird_reference()
    reference.save_pretrained(tmp_path)
    model = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
    threshold = (5 + 2 * 3) * 16
    input_ids, attention_mask = padded_batch([threshold, threshold - 30])
    assert not model.model.uses_block_sparse(threshold) and model.model.uses_block_sparse(threshold + 1)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-4, rtol=0)


@pytest.mark.parametrize("global_blocks,window_blocks", [(1, 3), (2, 5), (3, 3)])
def test_block_sparse_equals_dense_attention_over_the_same_key_sets(global_blocks, window_blocks):
    """Eval layout (random blocks = block 0): the sparse kernel equals dense attention with the layout's mask and
    the multiplicity of block 0 (r extra copies for non-global query blocks) written out explicitly."""
    torch.manual_seed(0)
    batch, heads, blocks, size, dim, r = 2, 3, 14, 4, 8, 2
    length = blocks * size
    q, k, v = (torch.randn(batch, heads, length, dim) for _ in range(3))
    valid = torch.ones(batch, length, dtype=torch.bool)
    valid[1, -7:] = False
    layout = BlockSparseLayout(size, global_blocks=global_blocks, window_blocks=window_blocks, random_blocks=r)
    random_blocks = layout.sample_random(heads, length, training=False)
    sparse, sparse_weights = block_sparse_attention(
        q, k, v, valid, layout, random_blocks, dim**-0.5, return_weights=True
    )
    sparse = sparse.transpose(1, 2)
    # dense reference: counts[i, j] = how many times key block j enters query block i's softmax
    g, half = global_blocks, window_blocks // 2
    counts = torch.zeros(blocks, blocks)
    for i in range(blocks):
        if i < g or i >= blocks - g:
            counts[i] = 1
            continue
        for j in {*range(g), *range(i - half, i + half + 1), *range(blocks - g, blocks)}:
            counts[i, j] += 1
        counts[i, 0] += r
    weights = counts.repeat_interleave(size, 0).repeat_interleave(size, 1)  # (L, L)
    scores = (q @ k.transpose(-1, -2)) * dim**-0.5 + weights.log()
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    dense_weights = scores.softmax(-1) * valid[:, None, :, None]
    dense = dense_weights @ v
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sparse_weights, dense_weights, atol=1e-6, rtol=1e-5)  # block 0 counted r + 1 times
    fast, _ = block_sparse_attention(q, k, v, valid, layout, random_blocks, dim**-0.5)  # SDPA, no weights
    torch.testing.assert_close(fast.transpose(1, 2), dense, atol=1e-5, rtol=1e-5)
    import dna_zoo.models.attention as attention

    for rows_per_chunk in (1, 3):  # long inputs run the query-block rows chunk by chunk
        with pytest.MonkeyPatch.context() as patch:
            per_row = (2 * global_blocks + window_blocks + r) * size
            patch.setattr(attention, "SLOT_CHUNK_ELEMENTS", rows_per_chunk * batch * heads * per_row * dim)
            chunked, chunked_weights = block_sparse_attention(
                q, k, v, valid, layout, random_blocks, dim**-0.5, return_weights=True
            )
        torch.testing.assert_close(chunked.transpose(1, 2), dense, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(chunked_weights, dense_weights, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("global_blocks,window_blocks,rows_per_chunk", [(1, 3, 100), (2, 5, 3), (1, 3, 1)])
def test_block_sparse_gradients_equal_dense_attention_over_the_same_key_sets(
    global_blocks, window_blocks, rows_per_chunk, monkeypatch
):
    """Training layout (distinct random blocks per head): the gradients of q, k and v through the block-sparse
    kernel, whose gathered key slots have their own backward, equal those of dense attention masked to each
    query block's key set."""
    import dna_zoo.models.attention as attention

    torch.manual_seed(0)
    batch, heads, blocks, size, dim, r = 2, 3, 14, 4, 8, 2
    length = blocks * size
    q, k, v = (torch.randn(batch, heads, length, dim, dtype=torch.float64, requires_grad=True) for _ in range(3))
    valid = torch.ones(batch, length, dtype=torch.bool)
    valid[1, -7:] = False
    layout = BlockSparseLayout(size, global_blocks=global_blocks, window_blocks=window_blocks, random_blocks=r)
    random_blocks = layout.sample_random(heads, length, training=True)
    per_row = (2 * global_blocks + window_blocks + r) * size
    monkeypatch.setattr(attention, "SLOT_CHUNK_ELEMENTS", rows_per_chunk * batch * heads * per_row * dim)
    sparse, _ = block_sparse_attention(q, k, v, valid, layout, random_blocks, dim**-0.5)
    g, half = global_blocks, window_blocks // 2
    allowed = torch.zeros(heads, blocks, blocks, dtype=torch.bool)
    for i in range(blocks):
        if i < g or i >= blocks - g:
            allowed[:, i] = True
            continue
        allowed[:, i, [*range(g), *range(i - half, i + half + 1), *range(blocks - g, blocks)]] = True
        allowed[torch.arange(heads)[:, None], i, random_blocks[:, i - g]] = True
    allowed = allowed.repeat_interleave(size, 1).repeat_interleave(size, 2) & valid[:, None, None, :]
    scores = ((q @ k.transpose(-1, -2)) * dim**-0.5).masked_fill(~allowed, float("-inf"))
    dense = (scores.softmax(-1) @ v) * valid[:, None, :, None]
    torch.testing.assert_close(sparse.transpose(1, 2), dense)
    upstream = torch.randn_like(dense)
    sparse_grads = torch.autograd.grad(sparse.transpose(1, 2), (q, k, v), upstream)
    dense_grads = torch.autograd.grad(dense, (q, k, v), upstream)
    for name, ours, reference in zip("qkv", sparse_grads, dense_grads):
        torch.testing.assert_close(ours, reference, msg=lambda m, name=name: f"grad of {name}: {m}")


def test_training_samples_random_blocks_outside_window_and_globals():
    blocks = BlockSparseLayout(8, random_blocks=3).sample_random(heads=4, length=12 * 8, training=True)
    assert blocks.shape == (4, 10, 3)
    for row in range(10):
        query_block = row + 1
        chosen = blocks[:, row]
        assert not torch.isin(chosen, torch.tensor([0, 11, query_block - 1, query_block, query_block + 1])).any()
        assert all(len(set(c.tolist())) == 3 for c in chosen)


# ---------------------------------------------------------------- the GENA pre-LN BERT fork


def write_checkpoint(path, weights, config):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    save_file(weights, str(path / "model.safetensors"))


@pytest.mark.parametrize("architecture", ["BertForMaskedLM", "BertForPreTraining"])  # no pooler / pooler + NSP head
@pytest.mark.parametrize("last_layer_norm", [False, True])
def test_gena_bert_fork_matches_independent_reference(tmp_path, last_layer_norm, architecture):
    weights, config = random_gena_checkpoint(last_layer_norm, architecture=architecture)
    write_checkpoint(tmp_path, weights, config)
    model = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.pre_layer_norm and model.config.last_layer_norm is last_layer_norm
    input_ids, attention_mask = padded_batch([30, 17])
    expected = reference_logits(weights, input_ids, attention_mask, 2, 4, 1e-12, last_layer_norm)
    with torch.no_grad():
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-4, rtol=0)


def test_a_masked_lm_save_without_pooler_loads_for_every_head(tmp_path):
    """The original code's BertForMaskedLM / BertForTokenClassification have no pooler (as in HF BERT)."""
    weights, config = random_gena_checkpoint(False)
    assert not any("pooler" in key for key in weights)
    write_checkpoint(tmp_path, weights, config)
    assert GenaLMForMaskedLM.from_pretrained(tmp_path).model.pooler is None
    assert GenaLMForTokenClassification.from_pretrained(tmp_path, num_labels=3).model.pooler is None
    classifier = GenaLMForSequenceClassification.from_pretrained(tmp_path, num_labels=2)  # a new head: pooler too
    assert classifier.model.pooler is not None
    mean_pooled = GenaLMForSequenceClassification.from_pretrained(tmp_path, num_labels=2, classifier_pooling="mean")
    assert mean_pooled.model.pooler is None


def test_a_pretraining_save_keeps_its_pooler_for_the_classifier(tmp_path):
    weights, config = random_gena_checkpoint(False, architecture="BertForPreTraining")
    write_checkpoint(tmp_path, weights, config)
    classifier = GenaLMForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    torch.testing.assert_close(classifier.model.pooler.weight, weights["bert.pooler.dense.weight"])


@pytest.mark.parametrize("rotary_dim", [2, 4, 8], ids=["partial-2", "partial-4", "whole-head"])
def test_gena_rotary_checkpoint_matches_independent_reference(tmp_path, rotary_dim):
    weights, config = random_gena_checkpoint(True, rotary_dim=rotary_dim)  # head dim 8
    write_checkpoint(tmp_path, weights, config)
    model = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
    assert model.config.position_embedding_type == "rotary" and model.config.rotary_dim == rotary_dim
    input_ids, attention_mask = padded_batch([30, 17])
    expected = reference_logits(weights, input_ids, attention_mask, 2, 4, 1e-12, True, rotary_dim=rotary_dim)
    with torch.no_grad():
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-4, rtol=0)


ORIGINAL_CONFIGS = Path(__file__).parent / "data" / "gena_lm" / "configs"
EXPECTED_TRANSLATIONS = {  # the original code's configs (AIRI, MIT): what each must become
    "L12-H768-A12-V32k-preln.json": dict(pre_layer_norm=True, last_layer_norm=False, layer_norm_eps=1e-12),
    "L12-H768-A12-V32k-preln-lastln.json": dict(pre_layer_norm=True, last_layer_norm=True, layer_norm_eps=1e-12),
    "L24-H1024-A16-V32k-preln-lastln.json": dict(
        pre_layer_norm=True, last_layer_norm=True, layer_norm_eps=1e-5, num_hidden_layers=24, hidden_size=1024
    ),
    "hf_bigbird_L12-H768-A12-V32k-L4096.json": dict(
        pre_layer_norm=False,
        last_layer_norm=False,
        attention_type="block_sparse",
        block_size=64,
        num_random_blocks=3,
        max_position_embeddings=4096,
        hidden_act="gelu_new",
    ),
}
SPARSE_CONFIGS = [
    "L12-H768-A12-V32k-L4096-preln-lastln-sparse-ln1e-05.json",
    "L12-H768-A12-V32k-L4096-preln-sparse-rope.json",
]


def test_every_original_config_is_covered():
    assert {path.name for path in ORIGINAL_CONFIGS.glob("*.json")} == {*EXPECTED_TRANSLATIONS, *SPARSE_CONFIGS}


@pytest.mark.parametrize("name", sorted(EXPECTED_TRANSLATIONS))
def test_original_config_translates(tmp_path, name):
    shutil.copy(ORIGINAL_CONFIGS / name, tmp_path / "config.json")
    config = GenaLMConfig.from_pretrained(tmp_path)
    for field, value in EXPECTED_TRANSLATIONS[name].items():
        assert getattr(config, field) == value, field
    assert config.vocab_size == 32000 and config.pad_token_id == 3 and config.position_embedding_type == "absolute"


@pytest.mark.parametrize("name", SPARSE_CONFIGS)
def test_deepspeed_sparse_configs_are_refused_at_config_time(tmp_path, name):
    shutil.copy(ORIGINAL_CONFIGS / name, tmp_path / "config.json")
    with pytest.raises(NotImplementedError, match="not supported.*sparse_config_cls='deepspeed.ops.sparse_attention"):
        GenaLMConfig.from_pretrained(tmp_path)


def test_the_rotary_original_config_without_its_sparse_attention_translates(tmp_path):
    raw = json.loads((ORIGINAL_CONFIGS / "L12-H768-A12-V32k-L4096-preln-sparse-rope.json").read_text())
    del raw["sparse_config_cls"], raw["sparse_attention"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    config = GenaLMConfig.from_pretrained(tmp_path)
    assert (config.position_embedding_type, config.rotary_dim, config.rotary_base) == ("rotary", 32, 10000)
    assert config.max_position_embeddings == 4096 and config.attention_type == "full"


def test_last_layer_norm_defaults_to_pre_layer_norm_when_absent(tmp_path):
    weights, config = random_gena_checkpoint(True)
    del config["last_layer_norm"]
    write_checkpoint(tmp_path, weights, config)
    assert GenaLMConfig.from_pretrained(tmp_path).last_layer_norm is True
    assert GenaLMConfig(pre_layer_norm=False).last_layer_norm is False


def test_unknown_key_in_gena_checkpoint_is_refused(tmp_path):
    weights, config = random_gena_checkpoint(False)
    weights["bert.encoder.layer.0.attention.self.distance_embedding.weight"] = torch.zeros(4, 4)
    write_checkpoint(tmp_path, weights, config)
    with pytest.raises(CheckpointKeyError, match="distance_embedding"):
        GenaLMForMaskedLM.from_pretrained(tmp_path)


@pytest.mark.parametrize("key,value", [("sparse_config_file", "sparse.json"), ("sparse_attention", {"block": 64})])
def test_gena_sparse_checkpoints_are_refused_clearly(tmp_path, key, value):
    weights, config = random_gena_checkpoint(False)
    config[key] = value
    write_checkpoint(tmp_path, weights, config)
    with pytest.raises(NotImplementedError, match="DeepSpeed"):
        GenaLMForMaskedLM.from_pretrained(tmp_path)


def test_bigbird_pretraining_save_loads_as_masked_lm_and_base_model(tmp_path):
    torch.manual_seed(0)
    reference = BigBirdForPreTraining(bigbird_reference().config).eval()
    reference.save_pretrained(tmp_path)
    input_ids, attention_mask = padded_batch([400, 290])
    model = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
    base = GenaLMModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask)
        actual = model(input_ids=input_ids, attention_mask=attention_mask).logits
        pooled = base(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected.prediction_logits[real], atol=1e-4, rtol=0)
    torch.testing.assert_close(pooled, reference.bert(input_ids, attention_mask).pooler_output, atol=1e-4, rtol=0)


# ---------------------------------------------------------------- heads


def tiny_classifier(**overrides):
    torch.manual_seed(0)
    config = GenaLMConfig.from_preset(
        "tiny", **{"vocab_size": 100, "num_labels": 3, "hidden_dropout": 0.0, **overrides}
    )
    return GenaLMForSequenceClassification(config).eval()


def test_multi_label_with_pos_weight():
    model = tiny_classifier(problem_type="multi_label_classification", classifier_pos_weight=[1.0, 5.0, 0.5])
    input_ids, attention_mask = padded_batch([20, 11, 6])
    targets = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1]])
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=targets)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        out.logits, targets.float(), pos_weight=torch.tensor([1.0, 5.0, 0.5])
    )
    torch.testing.assert_close(out.loss, expected)


@pytest.mark.parametrize("num_labels,labels", [(3, torch.tensor([0, 2, 1])), (1, torch.tensor([0.5, -1.0, 2.0]))])
def test_single_label_and_regression(num_labels, labels):
    model = tiny_classifier(num_labels=num_labels)
    input_ids, attention_mask = padded_batch([20, 11, 6])
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert out.logits.shape == (3, num_labels) and torch.isfinite(out.loss)


def test_token_classification_label_mask():
    torch.manual_seed(0)
    config = GenaLMConfig.from_preset("tiny", vocab_size=100, num_labels=2, hidden_dropout=0.0)
    model = GenaLMForTokenClassification(config).eval()
    input_ids, attention_mask = padded_batch([20, 11])
    labels = torch.ones_like(input_ids)
    labels_mask = attention_mask.clone()
    labels_mask[:, :3] = 0
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, labels_mask=labels_mask)
    keep = labels_mask.bool()
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits[keep], labels[keep]))


def test_presets_sizes():
    for name, millions in (
        ("AIRI-Institute/gena-lm-bert-base-t2t", 110),
        ("AIRI-Institute/gena-lm-bert-large-t2t", 336),
        ("AIRI-Institute/gena-lm-bigbird-base-t2t", 110),
    ):
        with torch.device("meta"):
            model = GenaLMForMaskedLM(GenaLMConfig.from_preset(name))
        params = sum(p.numel() for p in model.parameters()) / 1e6
        assert 0.85 * millions < params < 1.15 * millions, (name, params)


# ---------------------------------------------------------------- recurrent memory (RMT) for 100 kb and more

from dna_zoo import GenaLMRMTForSequenceClassification, GenaLMRMTForTokenClassification, GenaLMTokenizer  # noqa: E402
from dna_zoo.data import read_fasta  # noqa: E402

LAMBDA = __import__("pathlib").Path(__file__).parent / "data" / "lambda_phage.fa.gz"


def rmt(cls, **overrides):
    torch.manual_seed(0)
    config = GenaLMConfig.from_preset(
        "tiny",
        **{"num_labels": 2, "hidden_dropout": 0.0, "attention_dropout": 0.0, "rmt_memory_tokens": 4, **overrides},
    )
    return cls(config)


def test_rmt_runs_100_kb_forward_and_backward_on_cpu():
    sequence = next(read_fasta(LAMBDA))[1] * 3  # 145 kb of real phage DNA
    batch = GenaLMTokenizer()(sequence[:100_000], return_tensors="pt", verbose=False)
    model = rmt(GenaLMRMTForTokenClassification).train()
    labels = torch.randint(0, 2, batch["input_ids"].shape)
    labels[:, [0, -1]] = -100  # [CLS] and [SEP] of the whole input
    out = model(**batch, labels=labels)
    assert out.logits.shape == (*batch["input_ids"].shape, 2) and batch["input_ids"].shape[1] > 10_000
    assert out.logits[0, 0].abs().sum() == 0  # the input's own [CLS] gets no prediction
    out.loss.backward()
    assert model.memory.grad.abs().sum() > 0  # gradients flow back to the first segment


def test_rmt_processes_segments_one_at_a_time(monkeypatch):
    model = rmt(GenaLMRMTForTokenClassification).eval()
    seen = []
    forward = type(model.model).forward

    def recording_forward(self, *args, **kwargs):
        seen.append(kwargs["inputs_embeds"].shape[1])
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model.model), "forward", recording_forward)
    input_ids = torch.randint(6, 4096, (2, 3000))
    input_ids[1, 2000:] = PAD
    with torch.no_grad():
        model(input_ids=input_ids, attention_mask=(input_ids != PAD).long())
    assert seen == [512] * 6  # ceil(3000 / (512 - 4 - 3)) segments of the segment size, never the whole input


def test_rmt_memory_carries_information_across_segments():
    """Changing only the first segment's tokens changes the second segment's predictions and the pooled logits:
    only the memory connects them (the computation is deterministic, so without it the difference is exactly 0)."""
    input_ids = torch.randint(6, 4096, (1, 900), generator=torch.Generator().manual_seed(1))  # two segments
    changed = input_ids.clone()
    changed[0, :100] = torch.randint(6, 4096, (100,), generator=torch.Generator().manual_seed(2))
    for cls in (GenaLMRMTForTokenClassification, GenaLMRMTForSequenceClassification):
        model = rmt(cls, initializer_range=0.2).eval()
        with torch.no_grad():
            logits, logits_changed = model(input_ids=input_ids).logits, model(input_ids=changed).logits
        second_segment = slice(600, 900) if logits.dim() == 3 else slice(None)
        assert (logits[:, second_segment] - logits_changed[:, second_segment]).abs().max() > 1e-6, cls.__name__


def test_rmt_truncated_backpropagation():
    input_ids = torch.randint(6, 4096, (1, 1500))  # three segments
    for depth, reaches_first_segment in ((-1, True), (1, False)):
        model = rmt(GenaLMRMTForSequenceClassification, rmt_bptt_depth=depth).train()
        model(input_ids=input_ids, labels=torch.tensor([1])).loss.backward()
        assert bool(model.memory.grad is not None and model.memory.grad.abs().sum() > 0) is reaches_first_segment


def test_rmt_loads_a_pretrained_backbone(tmp_path):
    backbone = GenaLMForMaskedLM(GenaLMConfig.from_preset("tiny"))
    backbone.save_pretrained(tmp_path)
    model = GenaLMRMTForSequenceClassification.from_pretrained(tmp_path, rmt_memory_tokens=4, num_labels=3)
    for name, weight in backbone.model.state_dict().items():  # a masked LM has no pooler: the head initialises it
        torch.testing.assert_close(model.model.state_dict()[name], weight, msg=name)
    assert backbone.model.pooler is None and model.model.pooler is not None
    assert model.memory.shape == (4, 32) and model.classifier.out_features == 3


def test_a_saved_bigbird_base_model_loads(tmp_path):
    """transformers saves a base BigBirdModel without the "bert." prefix."""
    from transformers import BigBirdModel

    reference = BigBirdModel(bigbird_reference().config).eval()
    reference.save_pretrained(tmp_path)
    model = GenaLMModel.from_pretrained(tmp_path).eval()
    input_ids, attention_mask = padded_batch([400, 300])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        actual = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    real = attention_mask.bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-4, rtol=0)


@pytest.mark.parametrize("preset", ["tiny", "tiny-bigbird"])
def test_rotary_positions_option(tmp_path, preset):
    torch.manual_seed(0)
    config = GenaLMConfig.from_preset(
        preset, vocab_size=100, position_embedding_type="rotary", hidden_dropout=0.0, initializer_range=0.3
    )
    model = GenaLMForMaskedLM(config).eval()
    assert not any("position_embeddings" in key for key in model.state_dict())
    input_ids, attention_mask = padded_batch([300, 200])
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        rotary, model.model.rotary = model.model.rotary, None  # guard: without positions the output changes
        assert (model(input_ids=input_ids, attention_mask=attention_mask).logits - logits).abs().max() > 1e-4
        model.model.rotary = rotary
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        reloaded = GenaLMForMaskedLM.from_pretrained(tmp_path).eval()
        assert torch.equal(reloaded(input_ids=input_ids, attention_mask=attention_mask).logits, logits)
