from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from dna_zoo import (
    InvalidSequenceError,
    TrinityDNAConfig,
    TrinityDNAForMaskedLM,
    TrinityDNAForSequenceClassification,
    TrinityDNAForTokenClassification,
    TrinityDNAModel,
    TrinityDNATokenizer,
)
from dna_zoo.models.attention import MultiWindowAttention, RotaryEmbedding
from dna_zoo.models.modeling_trinity_dna import GrooveFusion

from model_tester import FamilyModelTests

TOKENIZER = TrinityDNATokenizer()


def padded_batch(sequences):
    batch = TOKENIZER(sequences, padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


def random_sequences(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return ["".join("ACGTN"[i] for i in torch.randint(0, 5, (n,), generator=generator)) for n in lengths]


class TestTrinityDNAFamily(FamilyModelTests):
    config_class = TrinityDNAConfig
    base_class = TrinityDNAModel
    model_classes = {
        TrinityDNAModel: AutoModel,
        TrinityDNAForMaskedLM: AutoModelForMaskedLM,
        TrinityDNAForSequenceClassification: AutoModelForSequenceClassification,
        TrinityDNAForTokenClassification: AutoModelForTokenClassification,
    }

    def make_batch(self, config):
        return padded_batch(random_sequences([150, 97, 33]))  # several 64-token query blocks, ragged ends


class TestTrinityDNASingleStrandFamily(TestTrinityDNAFamily):
    def make_model(self, cls, **overrides):
        return super().make_model(cls, reverse_complement="none", **overrides)


# ---------------------------------------------------------------- reverse-complement symmetry


def reverse_complement(sequence: str) -> str:
    return sequence.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def tiny(cls, **overrides):
    torch.manual_seed(0)
    return cls(TrinityDNAConfig.from_preset("tiny", num_labels=3, **overrides)).eval()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="ACGTN", min_size=1, max_size=90), min_size=1, max_size=4))
def test_hidden_states_of_the_reverse_complement_are_the_flipped_hidden_states(sequences):
    model = tiny(TrinityDNAModel)
    ids, mask = padded_batch(sequences)
    rc_ids, rc_mask = padded_batch([reverse_complement(s) for s in sequences])
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        rc_hidden = model(input_ids=rc_ids, attention_mask=rc_mask).last_hidden_state
    for row, sequence in enumerate(sequences):
        n = len(sequence)
        torch.testing.assert_close(rc_hidden[row, :n], hidden[row, :n].flip(0), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rc_gate", ["identity", "sigmoid"])
def test_classification_is_reverse_complement_invariant_for_any_gate_weights(rc_gate):
    model = tiny(TrinityDNAForSequenceClassification, rc_gate=rc_gate)
    with torch.no_grad():
        model.model.rc_fusion.weight.add_(torch.randn_like(model.model.rc_fusion.weight) * 0.3)  # W_G != I
    sequences = random_sequences([120, 77, 8], seed=3)
    ids, mask = padded_batch(sequences)
    rc_ids, rc_mask = padded_batch([reverse_complement(s) for s in sequences])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        rc_logits = model(input_ids=rc_ids, attention_mask=rc_mask).logits
    torch.testing.assert_close(rc_logits, logits, atol=1e-5, rtol=1e-5)


def test_symmetry_is_not_a_tautology():
    """A single-strand model, or a learned W_G with the sigmoid gate, is not symmetric: the tests above can fail."""
    sequences = random_sequences([60], seed=5)
    ids, mask = padded_batch(sequences)
    rc_ids, _ = padded_batch([reverse_complement(sequences[0])])
    for model in (tiny(TrinityDNAModel, reverse_complement="none"), tiny(TrinityDNAModel, rc_gate="sigmoid")):
        with torch.no_grad():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            rc_hidden = model(input_ids=rc_ids).last_hidden_state
        assert (rc_hidden[0] - hidden[0].flip(0)).abs().max() > 1e-3


def test_reverse_complement_ids_keep_padding_in_place():
    model = tiny(TrinityDNAModel)
    ids, mask = padded_batch(["ACGTN", "AAC"])
    rc = model.reverse_complement_ids(ids, mask)
    assert TOKENIZER.batch_decode(rc, skip_special_tokens=True) == ["NACGT", "GTT"]
    assert rc[1, 3:].tolist() == [TOKENIZER.pad_token_id] * 2


# ---------------------------------------------------------------- multi-window attention


def dense_band_reference(module, hidden, mask, cos_sin):
    """Full attention with an explicit (B, H, L, L) band mask per head: |i - j| <= width // 2, real keys only."""
    batch, length, _ = hidden.shape
    q, k, v = (
        proj(hidden).view(batch, length, -1, module.head_dim).transpose(1, 2)
        for proj in (module.q_proj, module.k_proj, module.v_proj)
    )
    cos, sin = cos_sin

    def rotate(x):  # half-split rotary, written out independently of dna_zoo
        half = x.shape[-1] // 2
        return x * cos.unsqueeze(1) + torch.cat([-x[..., half:], x[..., :half]], -1) * sin.unsqueeze(1)

    q, k = rotate(q), rotate(k)
    positions = torch.arange(length)
    distance = (positions[:, None] - positions[None, :]).abs()
    radius = torch.tensor(module.config.head_windows)[:, None, None] // 2  # (H, 1, 1)
    allowed = (distance[None] <= radius)[None] & mask.bool()[:, None, None, :]  # (B, H, L, L)
    allowed = allowed | torch.eye(length, dtype=torch.bool)
    scores = (q @ k.transpose(-1, -2)) / module.head_dim**0.5
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)  # (B, H, L, L)
    out = weights @ v
    return module.o_proj(out.transpose(1, 2).reshape(batch, length, -1)), weights


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("length", [1, 63, 64, 200, 301])
def test_blocked_multi_window_attention_equals_dense_band_masks(implementation, length):
    torch.manual_seed(0)
    config = SimpleNamespace(
        hidden_size=48,
        num_attention_heads=6,
        head_windows=[2, 8, 8, 30, 130, 600],
        attention_bias=False,
        attention_dropout=0.0,
        _attn_implementation=implementation,
    )
    module = MultiWindowAttention(config)
    hidden = torch.randn(2, length, 48)
    mask = torch.ones(2, length, dtype=torch.long)
    mask[1, max(1, length - length // 3) :] = 0  # a padded row
    cos_sin = RotaryEmbedding(8)(hidden, torch.arange(length)[None])
    with torch.no_grad():
        blocked = module(hidden, mask, cos_sin)[0]
        blocked_again, blocked_weights = module(hidden, mask, cos_sin, output_attentions=True)
        dense, dense_weights = dense_band_reference(module, hidden, mask, cos_sin)
    real = mask.bool()
    torch.testing.assert_close(blocked[real], dense[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(blocked_again, blocked, atol=1e-5, rtol=1e-5)  # asking for weights changes nothing
    queries = real[:, None, :].expand(-1, 6, -1)  # (B, H, L): the weights of real queries, band and zeros alike
    torch.testing.assert_close(blocked_weights[queries], dense_weights[queries], atol=1e-6, rtol=1e-5)


def test_a_change_outside_every_window_does_not_move_a_token():
    """Receptive field of one layer: a token sees at most the widest window's radius."""
    torch.manual_seed(0)
    config = SimpleNamespace(
        hidden_size=16,
        num_attention_heads=2,
        head_windows=[4, 10],
        attention_bias=False,
        attention_dropout=0.0,
        _attn_implementation="sdpa",
    )
    module = MultiWindowAttention(config)
    hidden = torch.randn(1, 200, 16)
    changed = hidden.clone()
    changed[0, 100] += 1.0
    with torch.no_grad():
        moved = (module(hidden, None, None)[0] - module(changed, None, None)[0]).abs().amax(-1)[0] > 1e-7
    assert moved.nonzero().squeeze(1).tolist() == list(range(95, 106))


# ---------------------------------------------------------------- groove fusion


def test_groove_fusion_is_local_and_ignores_padding():
    torch.manual_seed(0)
    config = TrinityDNAConfig.from_preset("tiny")
    groove = GrooveFusion(config)
    embeddings = torch.randn(1, 50, 32)
    changed = embeddings.clone()
    changed[0, 20] += 1.0
    with torch.no_grad():
        moved = (groove(embeddings, None) - groove(changed, None)).abs().amax(-1)[0] > 1e-7
    reach = max(config.groove_kernel_sizes) // 2
    assert moved.nonzero().squeeze(1).tolist() == list(range(20 - reach, 20 + reach + 1))
    mask = torch.ones(1, 50, dtype=torch.long)
    mask[0, 30:] = 0
    garbage = embeddings.clone()
    garbage[0, 30:] = 100.0  # whatever sits in the padding must not reach real tokens
    with torch.no_grad():
        torch.testing.assert_close(groove(embeddings, mask)[0, :30], groove(garbage, mask)[0, :30])
        torch.testing.assert_close(groove(embeddings[:, :30], None)[0], groove(embeddings, mask)[0, :30])


# ---------------------------------------------------------------- tokenizer and config


def test_tokenizer_is_one_token_per_base():
    ids = TOKENIZER("ACGTNacgtn")["input_ids"]
    assert TOKENIZER.convert_ids_to_tokens(ids) == list("ACGTNACGTN") and len(ids) == 10
    assert TOKENIZER.reverse_complement("AACGn") == "NCGTT"
    with pytest.raises(InvalidSequenceError, match=r"sequence 1: invalid character 'U' at position 2"):
        TOKENIZER(["ACGT", "ACU"])
    with pytest.raises(InvalidSequenceError, match="IUPAC"):
        TOKENIZER("ACGR")
    assert TrinityDNATokenizer(iupac="n")("ACGR")["input_ids"] == TOKENIZER("ACGN")["input_ids"]


def test_tokenizer_save_and_auto_round_trip(tmp_path):
    TrinityDNATokenizer(iupac="n").save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is TrinityDNATokenizer and loaded.iupac == "n"
    assert loaded(["ACGTRN", "a"])["input_ids"] == TrinityDNATokenizer(iupac="n")(["ACGTRN", "a"])["input_ids"]


def test_config_and_presets():
    for name, millions in (("trinity-dna-6m", 6), ("trinity-dna-100m", 100), ("trinity-dna-1b", 1000)):
        with torch.device("meta"):
            model = TrinityDNAForMaskedLM(TrinityDNAConfig.from_preset(name))
        assert 0.9 * millions < sum(p.numel() for p in model.parameters()) / 1e6 < 1.1 * millions
    assert TrinityDNAConfig.from_preset("trinity-dna-6m").head_windows == [128, 128, 512, 512, 2048, 2048, 8192, 8192]
    with pytest.raises(ValueError, match="one width per head"):
        TrinityDNAConfig(num_attention_heads=4, head_windows=[8, 8])
    with pytest.raises(ValueError, match="odd"):
        TrinityDNAConfig(groove_kernel_sizes=(3, 4))
