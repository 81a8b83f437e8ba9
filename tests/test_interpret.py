"""Explaining predictions: in-silico mutagenesis (the masked-marginal fast path equals one forward per mutant,
scores agree with score_variants, both strands, fine-tuned heads) and its table."""

import numpy as np
import pytest
import torch
import transformers

import dna_zoo
from dna_zoo.inference import reverse_complement, score_variants
from dna_zoo.inference.variants import Variant
from dna_zoo.interpret import saturation_mutagenesis

MASKED_LMS = {
    "nucleotide_transformer": (dna_zoo.NucleotideTransformerForMaskedLM, dna_zoo.NucleotideTransformerTokenizer),
    "trinity_dna": (dna_zoo.TrinityDNAForMaskedLM, dna_zoo.TrinityDNATokenizer),
    "gena_lm": (dna_zoo.GenaLMForMaskedLM, dna_zoo.GenaLMTokenizer),
    "ntv3_dna": (dna_zoo.NTv3ForMaskedLM, dna_zoo.NTv3Tokenizer),  # the bundled demo's family: single bases
}
SEQUENCE = "".join(np.random.default_rng(0).choice(list("ACGT"), 90))


def tiny(family: str, model_class, **overrides):
    torch.manual_seed(0)
    return model_class(dna_zoo.config_from_preset(family, "tiny", **overrides)).eval()


@pytest.mark.parametrize("family", MASKED_LMS)
def test_masked_marginals_equal_one_forward_per_mutant(family):
    """The fast path reads each substitution from one masked forward per token; BPE mutants that re-tokenize are
    scored by their own forward: the result equals scoring every mutant on its own."""
    model_class, tokenizer_class = MASKED_LMS[family]
    model, tokenizer = tiny(family, model_class), tokenizer_class()
    fast = saturation_mutagenesis(model, tokenizer, SEQUENCE, progress=False)
    exact = saturation_mutagenesis(model, tokenizer, SEQUENCE, method="exact", progress=False)
    assert fast.scores.shape == (90, 4) and fast.score_name == "llr"
    np.testing.assert_allclose(fast.scores, exact.scores, atol=1e-4)
    reference = np.array([[base == ref for base in "ACGT"] for ref in SEQUENCE])
    assert (fast.scores[reference] == 0).all() and (fast.scores[~reference] != 0).all()


def test_ism_scores_are_score_variants_llr(tmp_path):
    """A substitution and a deletion scored by ISM equal the llr of the same VCF records under score_variants."""
    model, tokenizer = (
        tiny("nucleotide_transformer", dna_zoo.NucleotideTransformerForMaskedLM),
        dna_zoo.NucleotideTransformerTokenizer(),
    )
    fasta = tmp_path / "chr.fa"
    fasta.write_text(f">chr\n{SEQUENCE}\n")
    ism = saturation_mutagenesis(model, tokenizer, SEQUENCE, deletions=True, progress=False)
    alt = "A" if SEQUENCE[40] != "A" else "C"
    variants = [
        Variant("chr", 41, "snv", SEQUENCE[40], alt),
        Variant("chr", 30, "del", SEQUENCE[29:31], SEQUENCE[29]),  # deletes base 30 (0-based)
    ]
    rows = score_variants(model, tokenizer, fasta, variants, window=200, progress=False)
    assert rows[0]["llr"] == pytest.approx(ism.scores[40, "ACGT".index(alt)], abs=1e-4)
    assert rows[1]["llr"] == pytest.approx(ism.deletions[30], abs=1e-4)


def test_both_strands_give_the_same_map_for_a_sequence_and_its_reverse_complement():
    model, tokenizer = tiny("trinity_dna", dna_zoo.TrinityDNAForMaskedLM), dna_zoo.TrinityDNATokenizer()
    forward = saturation_mutagenesis(model, tokenizer, SEQUENCE, strand="both", deletions=True, progress=False)
    reverse = saturation_mutagenesis(
        model, tokenizer, reverse_complement(SEQUENCE), strand="both", deletions=True, progress=False
    )
    complement = ["ACGT".index(base) for base in "TGCA"]
    np.testing.assert_allclose(forward.scores, reverse.scores[::-1][:, complement], atol=1e-5)
    np.testing.assert_allclose(forward.deletions, reverse.deletions[::-1], atol=1e-5)


def test_a_fine_tuned_head_is_scored_on_its_target_output():
    model = tiny("nucleotide_transformer", dna_zoo.NucleotideTransformerForSequenceClassification, num_labels=3)
    tokenizer = dna_zoo.NucleotideTransformerTokenizer()
    ism = saturation_mutagenesis(model, tokenizer, SEQUENCE[:30], target=2, progress=False)
    assert ism.score_name == "delta_probability[LABEL_2]"
    mutant = SEQUENCE[:7] + ("A" if SEQUENCE[7] != "A" else "G") + SEQUENCE[8:30]
    probabilities = dna_zoo.inference.predict(model, tokenizer, [SEQUENCE[:30], mutant], progress=False)
    column = "ACGT".index(mutant[7])
    assert ism.scores[7, column] == pytest.approx(probabilities[1, 2] - probabilities[0, 2], abs=1e-6)
    with pytest.raises(ValueError, match="target 5: the model has 3 outputs"):
        saturation_mutagenesis(model, tokenizer, SEQUENCE[:30], target=5, progress=False)
    with pytest.raises(ValueError, match="method='marginal' needs a masked LM"):
        saturation_mutagenesis(model, tokenizer, SEQUENCE[:30], method="marginal", progress=False)


def test_the_table_has_a_row_per_mutant_and_importance_is_the_mean_drop():
    model, tokenizer = tiny("trinity_dna", dna_zoo.TrinityDNAForMaskedLM), dna_zoo.TrinityDNATokenizer()
    ism = saturation_mutagenesis(
        model, tokenizer, SEQUENCE[:20], deletions=True, progress=False, name="chr", offset=100
    )
    rows = ism.table()
    assert len(rows) == 20 * 4 and rows[0]["name"] == "chr" and rows[0]["position"] == 100
    assert {row["alt"] for row in rows if row["position"] == 100} == set("ACGT-") - {SEQUENCE[0]}
    first = [row["score"] for row in rows if row["position"] == 100 and row["alt"] != "-"]
    assert ism.importance()[0] == pytest.approx(-np.mean(first))


def test_bad_input_is_named():
    model, tokenizer = tiny("trinity_dna", dna_zoo.TrinityDNAForMaskedLM), dna_zoo.TrinityDNATokenizer()
    with pytest.raises(ValueError, match="invalid character 'X' at position 3"):
        saturation_mutagenesis(model, tokenizer, "ACGXT", progress=False)
    with pytest.raises(ValueError, match="needs a masked or causal LM or a fine-tuned head"):
        saturation_mutagenesis(dna_zoo.TrinityDNAModel(model.config), tokenizer, "ACGT", progress=False)
    with pytest.raises(ValueError, match="longer than the model's context"):
        saturation_mutagenesis(model, tokenizer, "A" * (model.config.max_tokens + 1), progress=False)


MOTIF = "GTCACGTGACTAGCATTGCGATCC"  # planted in real phage windows: a classifier must find it, and so must ISM


@pytest.fixture(scope="module")
def motif_classifier(tmp_path_factory):
    """The demo model fine-tuned (6 epochs, a few seconds) to tell lambda phage windows with MOTIF planted at a
    random position from windows without it. Returns (model, tokenizer, held-out windows with their motif start)."""
    from pathlib import Path

    from datasets import Dataset

    from dna_zoo.data import read_fasta
    from dna_zoo.training import FinetuneConfig, finetune

    ((_, genome),) = list(read_fasta(Path(__file__).parent / "data" / "lambda_phage.fa.gz"))
    rng = np.random.default_rng(0)
    rows = []
    for begin in range(0, len(genome) - 150, 150):
        window, label = genome[begin : begin + 150], int(rng.random() < 0.5)
        start = int(rng.integers(10, 150 - len(MOTIF) - 10))
        planted = window[:start] + MOTIF + window[start + len(MOTIF) :]
        rows.append({"sequence": planted if label else window, "label": label, "start": start if label else -1})
    train = Dataset.from_list([{"sequence": r["sequence"], "label": r["label"]} for r in rows[:260]])
    config = FinetuneConfig(
        model="demo", train=train, output_dir=str(tmp_path_factory.mktemp("motif")), epochs=6, learning_rate=3e-4
    )
    model = finetune(config)["trainer"].model.eval()
    return model, dna_zoo.load_tokenizer("demo"), rows[260:]


def test_ism_puts_the_top_scores_on_a_planted_motif(motif_classifier):
    model, tokenizer, held_out = motif_classifier
    probabilities = dna_zoo.inference.predict(model, tokenizer, [r["sequence"] for r in held_out], progress=False)
    accuracy = ((probabilities[:, 1] > 0.5) == np.array([r["label"] for r in held_out])).mean()
    assert accuracy > 0.75  # the classifier learnt the motif
    hits = []
    for row in [r for r in held_out if r["label"]][:8]:
        ism = saturation_mutagenesis(model, tokenizer, row["sequence"], target=1, progress=False)
        top = np.argsort(-ism.importance())[: len(MOTIF)]  # the bases whose mutation lowers P(motif) most
        hits.append(np.mean((top >= row["start"]) & (top < row["start"] + len(MOTIF))))
    assert np.mean(hits) > 0.45, hits  # chance: 24 / 150 = 0.16; measured 0.61 (2026-12-05)


def test_ism_command_writes_the_table_and_plots(tmp_path):
    import csv

    from dna_zoo.cli import main

    model, tokenizer = tiny("trinity_dna", dna_zoo.TrinityDNAForMaskedLM), dna_zoo.TrinityDNATokenizer()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    fasta = tmp_path / "chr.fa"
    fasta.write_text(f">chr one\n{SEQUENCE}\n>other\nACGTAC\n")
    genes = tmp_path / "genes.gff"
    genes.write_text("chr\tprodigal\tCDS\t21\t60\t.\t+\t0\t.\n")
    out = tmp_path / "ism.tsv"
    command = ["ism", "--model", str(tmp_path / "model"), "--fasta", str(fasta), "--out", str(out)]
    main([*command, "--region", "chr:11-40", "--gff", str(genes), "--deletions"])
    with open(out) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 30 * 4 and rows[0] == {**rows[0], "name": "chr:11-40", "position": "10"}
    for kind in ("heatmap", "logo", "track"):
        assert (tmp_path / f"ism.chr_11-40.{kind}.png").stat().st_size > 5_000
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        main([*command, "--region", "chr:11-40"])
    (tmp_path / "bad.fa").write_text(f">chr\n{SEQUENCE[:50]}X{SEQUENCE[51:]}\n")
    bad = [
        "ism",
        "--model",
        str(tmp_path / "model"),
        "--fasta",
        str(tmp_path / "bad.fa"),
        "--out",
        str(tmp_path / "b.tsv"),
    ]
    with pytest.raises(SystemExit, match=r"chr:41-60: character 'X' at position 50 \(0-based\)"):
        main([*bad, "--region", "chr:41-60"])
    with pytest.raises(SystemExit, match="write it as RECORD:START-END"):
        main([*bad, "--region", "chr:60-"])
    with pytest.raises(SystemExit, match="past the end of chr"):
        main([*bad, "--region", "chr:60-900"])
    assert not (tmp_path / "b.tsv").exists()


ATTRIBUTED = {
    "nucleotide_transformer": dna_zoo.NucleotideTransformerForSequenceClassification,
    "gena_lm": dna_zoo.GenaLMForSequenceClassification,
    "mistral_dna": dna_zoo.MistralDNAForSequenceClassification,
    "trinity_dna": dna_zoo.TrinityDNAForSequenceClassification,  # through both strands' embeddings
    # extends its 90 bases with N to 92 (a multiple of its downsampling): the filler takes no share
    "ntv3_dna": dna_zoo.NTv3ForSequenceClassification,
}


@pytest.mark.parametrize("family", ATTRIBUTED)
def test_integrated_gradients_per_base_sum_to_the_change_in_output(family):
    """Completeness: the per-base attributions (each token's shared by its bases) sum to f(x) - f(baseline)."""
    from dna_zoo.interpret import attribute

    tokenizer_class = {**{k: v[1] for k, v in MASKED_LMS.items()}, "mistral_dna": dna_zoo.MistralDNATokenizer}[family]
    dense = {"num_local_experts": 0, "num_experts_per_tok": 0} if family == "mistral_dna" else {}
    model = tiny(family, ATTRIBUTED[family], num_labels=2, **dense)  # top-k routing is not differentiable
    result = attribute(model, tokenizer_class(), SEQUENCE, target=1, steps=32, shuffles=2)
    assert result.values.shape == (90,) and result.score_name == "log_odds[LABEL_1]"
    change = result.output - result.baseline_output
    assert abs(result.values.sum() - change) <= 0.01 * abs(change)
    gradient = attribute(model, tokenizer_class(), SEQUENCE, method="gradient_x_input", target=1)
    assert gradient.values.shape == (90,) and np.isfinite(gradient.values).all()


def test_attributions_of_a_token_model_and_the_limits():
    from dna_zoo.interpret import attribute

    tokenizer = dna_zoo.NucleotideTransformerTokenizer()
    model = tiny("nucleotide_transformer", dna_zoo.NucleotideTransformerForTokenClassification, num_labels=2)
    result = attribute(model, tokenizer, SEQUENCE, target=0, steps=32, shuffles=2)
    change = result.output - result.baseline_output
    assert abs(result.values.sum() - change) <= 0.01 * abs(change)
    assert len(result.table()) == 90 and result.table()[0]["base"] == SEQUENCE[0]
    with pytest.raises(ValueError, match="explain a fine-tuned head's output"):
        attribute(tiny("trinity_dna", dna_zoo.TrinityDNAForMaskedLM), dna_zoo.TrinityDNATokenizer(), SEQUENCE)


def test_attributions_through_both_strands_follow_the_reverse_complement():
    """TrinityDNA's classifier is reverse-complement invariant and embeds both strands: the per-base attributions
    of RC(S) are those of S reversed, which holds only if each reverse-strand token is credited to its own base."""
    from dna_zoo.interpret import attribute

    tokenizer = dna_zoo.TrinityDNATokenizer()
    model = tiny("trinity_dna", dna_zoo.TrinityDNAForSequenceClassification, num_labels=2)
    with torch.no_grad():
        model.model.rc_fusion.weight.add_(torch.randn_like(model.model.rc_fusion.weight) * 0.3)  # W_G != I
    reverse = SEQUENCE.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    forward = attribute(model, tokenizer, SEQUENCE, method="gradient_x_input", target=1)
    backward = attribute(model, tokenizer, reverse, method="gradient_x_input", target=1)
    np.testing.assert_allclose(backward.values, forward.values[::-1], atol=1e-5)
    token_model = tiny("trinity_dna", dna_zoo.TrinityDNAForTokenClassification, num_labels=2)
    result = attribute(token_model, tokenizer, SEQUENCE, target=0, steps=32, shuffles=2)
    change = result.output - result.baseline_output
    assert abs(result.values.sum() - change) <= 0.01 * abs(change)


def test_integrated_gradients_put_the_top_scores_on_a_planted_motif(motif_classifier):
    from dna_zoo.interpret import attribute

    model, tokenizer, held_out = motif_classifier
    hits = []
    for row in [r for r in held_out if r["label"]][:8]:
        result = attribute(model, tokenizer, row["sequence"], target=1, steps=32)
        top = np.argsort(-result.values)[: len(MOTIF)]
        hits.append(np.mean((top >= row["start"]) & (top < row["start"] + len(MOTIF))))
    assert np.mean(hits) > 0.45, hits  # chance: 0.16; measured 0.57 (2026-12-05)


def test_attribute_command_writes_the_table_and_plots(tmp_path):
    import csv

    from dna_zoo.cli import main

    model = tiny("nucleotide_transformer", dna_zoo.NucleotideTransformerForSequenceClassification, num_labels=2)
    model.save_pretrained(tmp_path / "model")
    dna_zoo.NucleotideTransformerTokenizer().save_pretrained(tmp_path / "model")
    fasta = tmp_path / "reads.fa"
    fasta.write_text(f">read one\n{SEQUENCE}\n")
    out = tmp_path / "attributions.tsv"
    main(["attribute", "--model", str(tmp_path / "model"), "--fasta", str(fasta), "--out", str(out), "--shuffles", "2"])
    with open(out) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [row["base"] for row in rows] == list(SEQUENCE) and rows[0]["name"] == "read"
    for kind in ("logo", "track"):
        assert (tmp_path / f"attributions.read.{kind}.png").stat().st_size > 5_000
    with pytest.raises(SystemExit, match="explain a fine-tuned head's output"):
        lm = tmp_path / "lm"
        tiny("nucleotide_transformer", dna_zoo.NucleotideTransformerForMaskedLM).save_pretrained(lm)
        dna_zoo.NucleotideTransformerTokenizer().save_pretrained(lm)
        main(["attribute", "--model", str(lm), "--fasta", str(fasta), "--out", str(tmp_path / "a.tsv")])


def test_attention_maps_per_base_share_each_key_token_among_its_bases():
    from dna_zoo.interpret import attention_maps

    model, tokenizer = (
        tiny("nucleotide_transformer", dna_zoo.NucleotideTransformerModel),
        dna_zoo.NucleotideTransformerTokenizer(),
    )
    sequence = SEQUENCE[:20]  # <cls>, three 6-mers, then A C as single-base tokens
    maps = attention_maps(model, tokenizer, sequence)
    assert maps.shape == (model.config.num_hidden_layers, model.config.num_attention_heads, 20, 20)
    model.set_attn_implementation("eager")
    inputs = tokenizer([sequence], return_tensors="pt")
    weights = torch.stack(model(**inputs, output_attentions=True).attentions)[:, 0].detach().numpy()
    np.testing.assert_allclose(maps[:, :, 0, 7], weights[:, :, 1, 2] / 6, atol=1e-6)  # 6-mer 1 on 6-mer 2
    np.testing.assert_allclose(maps[:, :, 19, 18], weights[:, :, 5, 4], atol=1e-6)  # single-base tokens
    np.testing.assert_allclose(maps.sum(-1), weights[..., 1:, 1:].sum(-1).repeat([6, 6, 6, 1, 1], axis=-1), atol=1e-5)


@pytest.mark.parametrize(
    "family,preset,bases",
    [
        ("gena_lm", "tiny", 300),
        ("gena_lm", "tiny-bigbird", 1500),
        ("trinity_dna", "tiny", 120),
        ("mistral_dna", "tiny", 90),
        ("dnabert_2", "tiny", 200),
    ],
    ids=["gena-dense", "gena-block-sparse", "trinity-windows", "mistral", "dnabert2-alibi"],
)
def test_attention_maps_of_every_family(family, preset, bases):
    """Each family returns its weights (block-sparse and windowed ones as dense arrays): every base's row sums to
    the weight its token gives the sequence's own tokens, and the model keeps its attention implementation."""
    from dna_zoo.interpret import attention_maps

    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(dna_zoo.config_from_preset(family, preset)).eval()
    tokenizers = {
        "gena_lm": dna_zoo.GenaLMTokenizer,
        "trinity_dna": dna_zoo.TrinityDNATokenizer,
        "dnabert_2": dna_zoo.DNABERT2Tokenizer,
    }
    tokenizer = tokenizers.get(family, dna_zoo.MistralDNATokenizer)()
    sequence = "".join(np.random.default_rng(1).choice(list("ACGT"), bases))
    implementation = model.config._attn_implementation
    maps = attention_maps(model, tokenizer, sequence)
    assert model.config._attn_implementation == implementation
    assert maps.shape == (model.config.num_hidden_layers, model.config.num_attention_heads, bases, bases)
    assert np.isfinite(maps).all() and (maps >= 0).all()
    assert ((maps.sum(-1) > 0.2) & (maps.sum(-1) <= 1 + 1e-5)).all()  # special tokens take the rest
    if family == "gena_lm" and preset == "tiny-bigbird":
        assert model.uses_block_sparse(len(tokenizer(sequence)["input_ids"]))
    if family == "trinity_dna":  # one token per base: a head of width w sees w // 2 bases on either side
        distance = np.abs(np.arange(bases)[:, None] - np.arange(bases)[None])
        for head, width in enumerate(model.config.head_windows):
            assert (maps[:, head][:, distance > width // 2] == 0).all()
            assert (maps[:, head][:, distance <= width // 2] > 0).all()
