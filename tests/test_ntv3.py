"""Nucleotide Transformer v3: the shared family checks, parity on the authors' published PyTorch layout with a
reference written from their JAX code (tests/reference_ntv3.py), output length equal to input length at base
resolution for any length, and the refusals (post-trained checkpoints, left padding)."""

import json

import numpy as np
import pytest
import torch
from reference_ntv3 import reference_ntv3
from safetensors.torch import save_file
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from dna_zoo import (
    NTv3Config,
    NTv3ForMaskedLM,
    NTv3ForSequenceClassification,
    NTv3ForTokenClassification,
    NTv3Model,
    NTv3Tokenizer,
    load_model,
)
from dna_zoo.checkpoints import detect_checkpoint

from model_tester import FamilyModelTests

TOKENIZER = NTv3Tokenizer()


def padded_batch(sequences=("ACGTACGTTTGACCAGGCTAGCTAGGATCGATCG", "TTGACCAGGCATCG", "GGGCCCAAATTTACGTNACGT")):
    batch = TOKENIZER(list(sequences), padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


class TestNTv3Family(FamilyModelTests):
    config_class = NTv3Config
    base_class = NTv3Model
    model_classes = {
        NTv3Model: AutoModel,
        NTv3ForMaskedLM: AutoModelForMaskedLM,
        NTv3ForSequenceClassification: AutoModelForSequenceClassification,
        NTv3ForTokenClassification: AutoModelForTokenClassification,
    }

    def make_batch(self, config):
        return padded_batch()  # 34, 14 and 21 bases: none a multiple of the tiny preset's 4

    def test_hidden_states_cover_every_layer(self):
        """The Transformer's input and each layer's output at 1 / 2^num_downsamples of the length, then the per-base
        output (last_hidden_state)."""
        model = self.make_model(NTv3Model)
        input_ids, attention_mask = self.make_batch(model.config)
        with torch.no_grad():
            out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        config = model.config
        coarse = -(-input_ids.shape[1] // config.length_multiple)
        assert len(out.hidden_states) == config.num_hidden_layers + 2
        assert all(h.shape == (3, coarse, config.hidden_size) for h in out.hidden_states[:-1])
        assert out.last_hidden_state.shape == (3, input_ids.shape[1], config.stem_hidden_size)
        assert torch.equal(out.hidden_states[-1], out.last_hidden_state)


# ------------------------------------------------------------------ the authors' published layout


POST_TRAINED = dict(
    conv_init_embed_dim=32,  # the authors' track heads are built at embed_dim: post-trained stems are that wide
    conditions_vocab_size=[9],
    conditions_names=["species"],
    bigwigs_per_species={"human": ["a", "b", "c"], "fly": [], "mouse": ["d", "e"]},
    bed_elements_names=["exon", "intron"],
    species_to_token_id={"human": 6, "mouse": 7, "fly": 8},
    keep_target_center_fraction=0.5,
    num_species_special_tokens=6,
)


def published_checkpoint(folder, upsample="conv_transpose", seed=0, **fields):
    """Random weights in the authors' HF PyTorch layout (`core.*`, as their JAX loader reads them) and a config.json
    with their field names, pre-trained or (with the POST_TRAINED fields) post-trained; returns (weights, config)."""
    raw = dict(alphabet_size=11, pad_token_id=1, mask_token_id=2, num_downsamples=3, attention_heads=2,
               token_embed_dim=8, conv_init_embed_dim=16, embed_dim=32, ffn_embed_dim=48, num_layers=2,
               deconv_upsample_type=upsample)  # fmt: skip
    raw.update(fields)
    stem, hidden, conditioned = raw["conv_init_embed_dim"], raw["embed_dim"], "conditions_vocab_size" in raw
    widths = list(np.linspace(stem, hidden, raw["num_downsamples"] + 1).astype(int))
    g = torch.Generator().manual_seed(seed)
    weights = {}

    def add(name, *shape, scale=0.2, bias=True, outputs=None):
        """A weight (norms: around 1) and a bias of `outputs` (default: the first dimension) entries."""
        weights[name + ".weight"] = torch.randn(*shape, generator=g) * scale + (1.0 if len(shape) == 1 else 0.0)
        if bias:
            weights[name + ".bias"] = torch.randn(outputs or shape[0], generator=g) * 0.1

    def norm(name, width):  # a LayerNorm; post-trained: adaptive, with its (shift, scale) modulation
        add(name, width)
        if conditioned:
            add(name + ".modulation_layers.0", 2 * width, 8)

    def gate(name, width):  # post-trained: the gate of a residual branch
        if conditioned:
            add(name + ".modulation_layers.0", width, 8)

    def conv_tower(tower, pairs, upsampling):
        for i, (a, b) in enumerate(pairs):
            prefix = f"core.{tower}.{i}"
            norm(prefix + ".conv.layer_norm", a)
            # Conv1d (out, in, k); the transposed convolution (in, out, k), as torch's ConvTranspose1d
            transposed = upsampling and upsample == "conv_transpose"
            add(prefix + ".conv.conv", *((a, b, 5) if transposed else (b, a, 5)), outputs=b)
            norm(prefix + ".res_conv.conv_block.layer_norm", b)
            add(prefix + ".res_conv.conv_block.conv", b, b, 1)
            gate(prefix + ".res_conv", b)

    add("core.embed_layer", 11, 8, scale=1.0, bias=False)
    add("core.stem.conv", stem, 8, 15)
    conv_tower("conv_tower_blocks", list(zip(widths[:-1], widths[1:])), False)
    up = widths[::-1]
    conv_tower("deconv_tower_blocks", list(zip(up[:-1], up[1:])), True)
    for i in range(raw["num_layers"]):
        prefix = f"core.transformer_blocks.{i}"
        norm(prefix + ".self_attention_layer_norm", hidden)
        norm(prefix + ".final_layer_norm", hidden)
        gate(prefix, hidden)
        for head in ("query_head", "key_head", "value_head"):
            add(f"{prefix}.sa_layer.{head}.linear", hidden, hidden)
        add(prefix + ".sa_layer.mha_output", hidden, hidden)
        add(prefix + ".fc1", 96, hidden, bias=False)
        add(prefix + ".fc2", hidden, 48, bias=False)
    add("core.lm_head.head", 11, stem)
    if conditioned:
        add("core.cond_tables.0", 9, 8, scale=1.0, bias=False)
        add("core.conditions_heads.0", 9, hidden)
        for rank, count in enumerate((3, 2)):  # human, mouse (fly has no tracks: no head)
            add(f"core.bigwig_head.species_heads.{rank}.layer_norm", stem)
            add(f"core.bigwig_head.species_heads.{rank}.head", count, stem)
        add("core.bed_head.layer_norm", stem)
        add("core.bed_head.head", 4, stem)
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({**raw, "architectures": ["NTv3ForMaskedLM"]}))
    return weights, raw


def random_bases(rows, length, seed=1):
    return torch.randint(6, 11, (rows, length), generator=torch.Generator().manual_seed(seed))  # A T C G N


@pytest.mark.parametrize("upsample", ["conv_transpose", "repeat+conv"])
def test_published_layout_loads_through_the_one_loader_and_matches_the_reference(tmp_path, upsample):
    weights, raw = published_checkpoint(tmp_path, upsample)
    checkpoint = detect_checkpoint(tmp_path)
    assert (checkpoint.family, checkpoint.layout) == ("ntv3_dna", "ntv3")
    model = load_model(tmp_path).eval()
    assert isinstance(model, NTv3ForMaskedLM)
    assert model.config.tower_widths == [16, 21, 26, 32] and model.config.upsample_type == upsample
    tokens = random_bases(2, 64)
    with torch.no_grad():
        ours = model(input_ids=tokens, output_hidden_states=True)
    expected = reference_ntv3(weights, raw, tokens)
    torch.testing.assert_close(ours.logits, expected["logits"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.hidden_states[-1], expected["embedding"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.hidden_states[-2], expected["after_transformer_embedding"], atol=1e-4, rtol=1e-4)
    assert expected["logits"].std() > 0.5  # guard: the comparison is not between two near-constant outputs
    # saved again, it is a dna_zoo folder that gives the same outputs
    model.save_pretrained(tmp_path / "saved")
    assert detect_checkpoint(tmp_path / "saved").layout == "dna_zoo"
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "saved").eval()(input_ids=tokens).logits, ours.logits)


def test_a_padded_row_gives_what_the_reference_gives_for_it_alone(tmp_path):
    """The authors' model lets its convolutions read <pad> positions (a row's output depends on its batch); dna_zoo
    gives each row of a padded batch the reference's output for that row alone."""
    weights, raw = published_checkpoint(tmp_path)
    model = load_model(tmp_path).eval()
    tokens = random_bases(2, 64)
    tokens[1, 40:] = raw["pad_token_id"]
    with torch.no_grad():
        batched = model(input_ids=tokens, attention_mask=(tokens != 1).long()).logits
    alone = reference_ntv3(weights, raw, tokens[1:, :40])["logits"]
    torch.testing.assert_close(batched[1:, :40], alone, atol=1e-4, rtol=1e-4)


def test_output_length_equals_input_length_at_base_resolution():
    """Any length, including lengths that are not multiples of 2^num_downsamples: one output per input base, and a
    row extended with N to the next multiple gives the same outputs at its own positions."""
    torch.manual_seed(0)
    config = NTv3Config.from_preset("tiny", num_downsamples=3, num_labels=4)
    lm, tagger = NTv3ForMaskedLM(config).eval(), NTv3ForTokenClassification(config).eval()
    for length in (1, 5, 8, 13, 64, 100):
        ids = random_bases(2, length)
        with torch.no_grad():
            out = lm(input_ids=ids, output_hidden_states=True)
            assert out.logits.shape == (2, length, config.vocab_size)
            assert out.hidden_states[-1].shape == (2, length, config.stem_hidden_size)
            assert tagger(input_ids=ids).logits.shape == (2, length, 4)
            extended = torch.cat([ids, torch.full((2, -length % 8), 10)], dim=1)  # N up to a multiple of 8
            torch.testing.assert_close(lm(input_ids=extended).logits[:, :length], out.logits, atol=1e-5, rtol=1e-5)


def test_tower_widths_are_the_authors_linspace():
    for start, stop, steps in ((16, 32, 3), (64, 256, 7), (256, 768, 7), (512, 1536, 5), (100, 101, 4)):
        config = NTv3Config(stem_hidden_size=start, hidden_size=stop, num_downsamples=steps, num_attention_heads=1)
        assert config.tower_widths == list(np.linspace(start, stop, steps + 1).astype(int))


def test_post_trained_layout_loads_and_matches_the_reference_heads_included(tmp_path):
    """Species-conditioned norms and gates, the species head, each species' BigWig tracks and the BED annotation
    over the centre of the input, against the reference (itself checked against InstaDeep's JAX NTv3PostTrained)."""
    weights, raw = published_checkpoint(tmp_path, **POST_TRAINED)
    model = load_model(tmp_path).eval()
    tokens, species = random_bases(3, 64), model.model.species_ids_of(["human", "mouse", "fly"])
    assert species.tolist() == [6, 7, 8]
    with torch.no_grad():
        ours = model(input_ids=tokens, species_ids=species)
        unconditioned_logits = model(input_ids=tokens, species_ids=torch.tensor([7, 7, 7])).logits
    expected = reference_ntv3(weights, raw, tokens, species)
    assert ours.bigwig_tracks_logits.shape == (3, 32, 3) and ours.bed_tracks_logits.shape == (3, 32, 2, 2)
    for name in ("logits", "bigwig_tracks_logits", "bed_tracks_logits"):
        torch.testing.assert_close(getattr(ours, name), expected[name], atol=1e-4, rtol=1e-4, msg=name)
    torch.testing.assert_close(ours.conditions_logits[0], expected["species_logits"], atol=1e-4, rtol=1e-4)
    assert (ours.bigwig_tracks_logits[2] == 0).all() and (ours.bigwig_tracks_logits[1, :, 2] == 0).all()
    assert (unconditioned_logits[0] - ours.logits[0]).abs().max() > 1e-3  # the species changes the output
    model.save_pretrained(tmp_path / "saved")  # saved again: a dna_zoo folder with the same heads and outputs
    with torch.no_grad():
        again = load_model(tmp_path / "saved").eval()(input_ids=tokens, species_ids=species)
    assert torch.equal(again.bigwig_tracks_logits, ours.bigwig_tracks_logits)
    with pytest.raises(ValueError, match="conditioned on the species: pass species_ids"):
        model(input_ids=tokens)
    with pytest.raises(ValueError, match="unknown species"):
        model.model.species_ids_of(["cat"])


def test_left_padding_is_refused_with_a_clear_error():
    model = NTv3Model(NTv3Config.from_preset("tiny")).eval()
    TOKENIZER.padding_side = "left"
    try:
        batch = TOKENIZER(["ACGTACGT", "ACG"], padding=True, return_tensors="pt")
    finally:
        TOKENIZER.padding_side = "right"
    with pytest.raises(ValueError, match="row 1 of attention_mask is not right-padded"):
        model(**batch)


def test_tokenizer_uses_the_authors_ids():
    assert TOKENIZER("ATCGN")["input_ids"] == [6, 7, 8, 9, 10]  # no special tokens added
    assert (TOKENIZER.unk_token_id, TOKENIZER.pad_token_id, TOKENIZER.mask_token_id) == (0, 1, 2)
    config = NTv3Config()
    assert (config.vocab_size, config.pad_token_id, config.mask_token_id, config.length_padding_token_id) == (
        11,
        1,
        2,
        TOKENIZER.convert_tokens_to_ids("N"),
    )
