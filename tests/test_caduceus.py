"""Caduceus: the shared family checks (ps and ph), parity on the authors' published layout with a reference written
from their code around transformers' own MambaMixer, exact reverse-complement equivariance, and the chunked scan
against the step-by-step recurrence."""

import json

import pytest
import torch
from reference_caduceus import ReferenceCaduceus
from safetensors.torch import save_file
from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

from dna_zoo import (
    CaduceusConfig,
    CaduceusForMaskedLM,
    CaduceusForSequenceClassification,
    CaduceusModel,
    CaduceusTokenizer,
    load_model,
)
from dna_zoo.checkpoints import detect_checkpoint
from dna_zoo.models.modeling_caduceus import selective_scan

from model_tester import FamilyModelTests

TOKENIZER = CaduceusTokenizer()


def padded_batch(sequences=("ACGTACGTTTGACCAGGCTAGCTAGGATCGATCG", "TTGACCAGGCATCG", "GGGCCCAAATTTACGTNACGT")):
    batch = TOKENIZER(list(sequences), padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


class TestCaduceusPSFamily(FamilyModelTests):
    config_class = CaduceusConfig
    base_class = CaduceusModel
    model_classes = {
        CaduceusModel: AutoModel,
        CaduceusForMaskedLM: AutoModelForMaskedLM,
        CaduceusForSequenceClassification: AutoModelForSequenceClassification,
    }

    def make_batch(self, config):
        return padded_batch()

    def test_eager_and_sdpa_agree(self):
        """No attention: asking for an attention implementation is refused, never silently ignored."""
        model = self.make_model(CaduceusModel)
        with pytest.raises(ValueError):
            model.set_attn_implementation("sdpa")

    def test_left_padding_is_invisible_too(self):
        """Both directions read the sequence, so padding on either side must stay out of the state."""
        model = self.make_model(CaduceusForSequenceClassification)
        right_ids, right_mask = padded_batch()
        TOKENIZER.padding_side = "left"
        try:
            left_ids, left_mask = padded_batch()
        finally:
            TOKENIZER.padding_side = "right"
        with torch.no_grad():
            right = model(input_ids=right_ids, attention_mask=right_mask).logits
            left = model(input_ids=left_ids, attention_mask=left_mask).logits
        torch.testing.assert_close(left, right, atol=1e-5, rtol=1e-5)


class TestCaduceusPHFamily(TestCaduceusPSFamily):
    head_kwargs = {"num_labels": 3, "rcps": False}


# ------------------------------------------------------------------ reverse-complement equivariance


def random_bases(length=45, rows=2, seed=0):
    return torch.randint(7, 12, (rows, length), generator=torch.Generator().manual_seed(seed))  # A C G T N


def test_ps_is_exactly_reverse_complement_equivariant():
    """For the RC of the input: the MLM logits are the logits flipped over length with each base's logit moved to
    its complement's; the hidden states are flipped over length and channels; the classification is the same."""
    torch.manual_seed(0)
    config = CaduceusConfig.from_preset("tiny", num_labels=2)
    lm, classifier = CaduceusForMaskedLM(config).eval(), CaduceusForSequenceClassification(config).eval()
    ids = random_bases()
    complement = torch.tensor(config.complement_map)
    rc_ids = complement[ids.flip(1)]
    with torch.no_grad():
        out, rc_out = lm(input_ids=ids, output_hidden_states=True), lm(input_ids=rc_ids, output_hidden_states=True)
        assert torch.equal(rc_out.logits, out.logits.flip(1)[..., complement])
        for hidden, rc_hidden in zip(out.hidden_states, rc_out.hidden_states):
            assert torch.equal(rc_hidden, hidden.flip(1, 2))
        assert torch.equal(classifier(input_ids=rc_ids).logits, classifier(input_ids=ids).logits)
    assert out.logits.std() > 0.05  # guard: not trivially symmetric
    assert CaduceusConfig.from_preset("tiny").complement_map[7:11] == [10, 9, 8, 7]  # A<->T, C<->G


def test_ph_is_not_equivariant_by_construction():
    """The same check fails for ph (a plain bidirectional Mamba): the property above is the architecture's."""
    torch.manual_seed(0)
    config = CaduceusConfig.from_preset("tiny", rcps=False)
    lm = CaduceusForMaskedLM(config).eval()
    ids = random_bases()
    complement = torch.tensor(config.complement_map)
    with torch.no_grad():
        logits, rc_logits = lm(input_ids=ids).logits, lm(input_ids=complement[ids.flip(1)]).logits
    assert (rc_logits - logits.flip(1)[..., complement]).abs().max() > 1e-3


# ------------------------------------------------------------------ the selective scan


def step_by_step_scan(x, dt, A, B, C, D, z):
    """h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t, y_t = C_t . h_t + D x_t, times silu(z_t), one position at a time."""
    state = torch.zeros(x.shape[0], x.shape[1], A.shape[1], dtype=torch.float64)
    ys = []
    for t in range(x.shape[-1]):
        state = torch.exp(dt[..., t, None] * A) * state + (dt[..., t] * x[..., t])[..., None] * B[:, None, t]
        ys.append((state * C[:, None, t]).sum(-1))
    y = torch.stack(ys, -1) + x * D[:, None]
    return y * torch.nn.functional.silu(z)


@pytest.mark.parametrize("length,chunk,block", [(1, 4, 8), (37, 4, 8), (64, 8, 32), (100, 32, 1024)])
def test_chunked_scan_is_the_recurrence(length, chunk, block):
    g = torch.Generator().manual_seed(length)
    b, e, n = 2, 5, 3
    x, z = torch.randn(b, e, length, generator=g), torch.randn(b, e, length, generator=g)
    dt = torch.nn.functional.softplus(torch.randn(b, e, length, generator=g))
    A = -torch.rand(e, n, generator=g) * 8  # strong decays: the chunked form must not overflow
    B, C, D = (
        torch.randn(b, length, n, generator=g),
        torch.randn(b, length, n, generator=g),
        torch.randn(e, generator=g),
    )
    expected = step_by_step_scan(*(t.double() for t in (x, dt, A, B, C, D, z)))
    torch.testing.assert_close(
        selective_scan(x, dt, A, B, C, D, z, chunk, block).double(), expected, atol=1e-5, rtol=1e-4
    )


def test_scan_sizes_do_not_change_the_model():
    torch.manual_seed(0)
    ids = random_bases(length=300, rows=1)
    outputs = []
    for chunk, block in ((32, 1024), (4, 16), (16, 64)):
        torch.manual_seed(0)
        model = CaduceusModel(CaduceusConfig.from_preset("tiny", scan_chunk_size=chunk, scan_block_size=block))
        with torch.no_grad():
            outputs.append(model.eval()(input_ids=ids).last_hidden_state)
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0], atol=1e-5, rtol=1e-5)


def test_scan_sizes_are_checked():
    with pytest.raises(ValueError, match="multiple of scan_chunk_size"):
        CaduceusConfig(scan_chunk_size=32, scan_block_size=100)


# ------------------------------------------------------------------ the authors' published layout


def published_checkpoint(folder, rcps=True, fused=True, hidden=16, layers=2, state=4, seed=0, rev_copies=True):
    """A folder as the authors publish Caduceus (their config.json, weights under their names, with the
    complement-map buffers they save), random weights; returns (weights, config)."""
    generator = torch.Generator().manual_seed(seed)
    inner, rank = 2 * hidden, -(-hidden // 16)

    def rand(*shape, around=0.0, scale=0.3):
        return around + scale * torch.randn(*shape, generator=generator)

    backbone = "caduceus.backbone."
    embedding = backbone + "embeddings.word_embeddings." + ("embedding.weight" if rcps else "weight")
    weights = {embedding: rand(16, hidden, scale=1.0)}
    wrapped = "submodule." if rcps and not fused else ""
    for i in range(layers):
        layer = f"{backbone}layers.{i}."
        weights[f"{layer}norm.{wrapped}weight"] = rand(hidden, around=1.0)
        for direction in ("mamba_fwd", "mamba_rev"):
            mixer = f"{layer}mixer.{'submodule.' if rcps else ''}{direction}."
            weights.update(
                {
                    mixer + "conv1d.weight": rand(inner, 1, 4),
                    mixer + "conv1d.bias": rand(inner),
                    mixer + "x_proj.weight": rand(rank + 2 * state, inner),
                    mixer + "dt_proj.weight": rand(inner, rank),
                    mixer + "dt_proj.bias": rand(inner, around=-3.0),
                    mixer + "A_log": torch.log(torch.arange(1, state + 1).float()).repeat(inner, 1)
                    + rand(inner, state),
                    mixer + "D": rand(inner, around=1.0),
                }
            )
            if direction == "mamba_fwd":
                weights[mixer + "in_proj.weight"] = rand(2 * inner, hidden)
                weights[mixer + "out_proj.weight"] = rand(hidden, inner)
            elif rev_copies:  # tied: the same tensors again under the reverse mixer's names
                source = mixer.replace("mamba_rev", "mamba_fwd")
                weights[mixer + "in_proj.weight"] = weights[source + "in_proj.weight"].clone()
                weights[mixer + "out_proj.weight"] = weights[source + "out_proj.weight"].clone()
    weights[f"{backbone}norm_f.{wrapped}weight"] = rand(hidden, around=1.0)
    complement = {str(i): i for i in range(16)} | {"7": 10, "8": 9, "9": 8, "10": 7}
    if rcps:
        weights[backbone + "embeddings.word_embeddings.complement_map"] = torch.tensor(list(complement.values()))
        weights["lm_head.complement_map"] = torch.tensor(list(complement.values()))
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"))
    config = {
        "model_type": "caduceus",
        "architectures": ["CaduceusForMaskedLM"],
        "auto_map": {"AutoModelForMaskedLM": "modeling_caduceus.CaduceusForMaskedLM"},
        "d_model": hidden,
        "n_layer": layers,
        "vocab_size": 16,  # saved after the authors' code pads it to a multiple of 8
        "ssm_cfg": {"d_state": state, "d_conv": 4, "expand": 2, "dt_rank": "auto", "conv_bias": True, "bias": False},
        "rms_norm": True,
        "residual_in_fp32": False,
        "fused_add_norm": fused,
        "pad_vocab_size_multiple": 8,
        "norm_epsilon": 1e-5,
        "initializer_cfg": {"initializer_range": 0.02, "rescale_prenorm_residual": True, "n_residuals_per_layer": 1},
        "bidirectional": True,
        "bidirectional_strategy": "add",
        "bidirectional_weight_tie": True,
        "rcps": rcps,
        "complement_map": complement,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return weights, config


@pytest.mark.parametrize(
    "rcps,fused,rev_copies",
    [(True, True, True), (True, True, False), (True, False, True), (False, True, True), (False, False, False)],
    ids=["ps", "ps-no-rev-copies", "ps-unfused", "ph", "ph-unfused-no-rev-copies"],
)
def test_published_layout_matches_the_reference(tmp_path, rcps, fused, rev_copies):
    weights, raw = published_checkpoint(tmp_path / "published", rcps=rcps, fused=fused, rev_copies=rev_copies)
    reference = ReferenceCaduceus(weights, raw)
    ours = load_model(str(tmp_path / "published")).eval()
    assert isinstance(ours, CaduceusForMaskedLM) and ours.config.rcps == rcps
    assert detect_checkpoint(str(tmp_path / "published")).layout == "caduceus"
    ids = random_bases(length=50, seed=1)
    with torch.no_grad():
        hidden = ours.model(input_ids=ids).last_hidden_state
        logits = ours(input_ids=ids).logits
    expected_hidden = reference.hidden_states(ids)
    assert expected_hidden.std() > 0.5  # guard: the outputs are not trivially equal
    assert (hidden - expected_hidden).abs().max() <= 1e-4
    assert (logits - reference.logits(ids)).abs().max() <= 1e-4
    assert logits.shape == (*ids.shape, 16)


def test_the_fused_swap_matters(tmp_path):
    """Reading a fused-trained ps checkpoint without the authors' half swap gives different outputs: the loader
    must take the swap from the config (fused_add_norm, true when absent)."""
    weights, raw = published_checkpoint(tmp_path / "published")
    ids = random_bases(length=30, seed=2)
    unswapped = load_model(str(tmp_path / "published"), rcps_swap_halves=False).eval()
    with torch.no_grad():
        assert (
            unswapped.model(input_ids=ids).last_hidden_state - ReferenceCaduceus(weights, raw).hidden_states(ids)
        ).abs().max() > 1e-2


def test_a_published_classifier_loads_with_its_head(tmp_path):
    weights, raw = published_checkpoint(tmp_path / "published")
    weights["score.weight"] = torch.randn(2, 16)
    save_file(weights, str(tmp_path / "published" / "model.safetensors"))
    raw.update(architectures=["CaduceusForSequenceClassification"], num_labels=2)
    (tmp_path / "published" / "config.json").write_text(json.dumps(raw))
    model = load_model(str(tmp_path / "published"))
    assert isinstance(model, CaduceusForSequenceClassification)
    assert torch.equal(model.score.weight, weights["score.weight"])


def test_tokenizer_appends_sep_as_the_authors():
    ids = TOKENIZER("ACGTN")["input_ids"]
    assert ids == [7, 8, 9, 10, 11, 1]
    assert TOKENIZER("ACGTN", add_special_tokens=False)["input_ids"] == [7, 8, 9, 10, 11]
