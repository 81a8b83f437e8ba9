"""Zero-shot variant scoring on a small FASTA and VCF written by the test."""

import gzip
import math

import numpy as np
import pysam
import pytest
import torch

import dna_zoo
from dna_zoo.cli import main as cli
from dna_zoo.inference import read_variants, score_variants


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(0)
    chr1 = "".join(rng.choice(list("ACGT"), 2000))
    fasta = tmp_path / "ref.fa"
    fasta.write_text(f">chr1\n{chr1}\n>chr2\n{'ACGT' * 250}\n")
    pysam.faidx(str(fasta))
    base = chr1[999]  # 1-based position 1000
    wrong = next(b for b in "ACGT" if b != base)
    vcf = tmp_path / "calls.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=2000>\n##contig=<ID=chr2,length=1000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t1000\tsnv\t{base}\t{wrong}\t.\t.\t.\n"
        f"chr1\t1000\tmismatch\t{wrong}\t{base}\t.\t.\t.\n"
        f"chr1\t500\tmulti\t{chr1[499]}\t{','.join(b for b in 'ACGT' if b != chr1[499])}\t.\t.\t.\n"
        f"chr1\t1500\tins\t{chr1[1499]}\t{chr1[1499]}GGA\t.\t.\t.\n"
        f"chr1\t1700\tdel\t{chr1[1699:1703]}\t{chr1[1699]}\t.\t.\t.\n"
        "chr2\t10\tedge\tC\tT\t.\t.\t.\n"
    )
    return fasta, vcf, chr1


def tiny(model_class, config_class):
    torch.manual_seed(0)
    return model_class(config_class.from_preset("tiny")).eval()


def test_multi_allelic_records_are_split(genome):
    _, vcf, _ = genome
    ids = [v.id for v in read_variants(vcf)]
    assert ids.count("multi") == 3 and len(ids) == 8


@pytest.mark.parametrize(
    "model_class,config_class,tokenizer_class,score",
    [
        (
            dna_zoo.NucleotideTransformerForMaskedLM,
            dna_zoo.NucleotideTransformerConfig,
            dna_zoo.NucleotideTransformerTokenizer,
            "llr",
        ),
        (dna_zoo.TrinityDNAForMaskedLM, dna_zoo.TrinityDNAConfig, dna_zoo.TrinityDNATokenizer, "llr"),
        (dna_zoo.MistralDNAForCausalLM, dna_zoo.MistralDNAConfig, dna_zoo.MistralDNATokenizer, "delta_loglik"),
    ],
)
def test_scores_every_variant_and_reports_ref_mismatches(genome, model_class, config_class, tokenizer_class, score):
    fasta, vcf, _ = genome
    rows = score_variants(tiny(model_class, config_class), tokenizer_class(), fasta, vcf, window=200, progress=False)
    by_id = {}
    for row in rows:
        by_id.setdefault(row["ID"], []).append(row)
    assert len(rows) == 8 and len(by_id["multi"]) == 3
    assert by_id["mismatch"][0]["status"].startswith("REF mismatch") and score not in by_id["mismatch"][0]
    for name in ("snv", "multi", "ins", "del", "edge"):
        for row in by_id[name]:
            assert row["status"] == "ok", row
            assert all(
                math.isfinite(row[key]) for key in (score, f"{score}_per_token", "cosine_distance", "l2_distance")
            )
            assert row["cosine_distance"] >= -1e-6 and row["l2_distance"] > 0
    with pytest.raises(ValueError, match="REF mismatch"):
        score_variants(
            tiny(model_class, config_class), tokenizer_class(), fasta, vcf, window=200, strict=True, progress=False
        )


def test_masked_llr_is_computed_from_one_masked_distribution(genome):
    """For an SNV the masked inputs of the ref and alt windows are identical, so llr = log p(alt k-mer) - log p(ref
    k-mer) under that one distribution: recompute it by hand."""
    fasta, vcf, chr1 = genome
    model, tokenizer = (
        tiny(dna_zoo.NucleotideTransformerForMaskedLM, dna_zoo.NucleotideTransformerConfig),
        dna_zoo.NucleotideTransformerTokenizer(),
    )
    snv = next(v for v in read_variants(vcf) if v.id == "snv")
    row = score_variants(model, tokenizer, fasta, [snv], window=200, progress=False)[0]
    ref_window = chr1[899:1099]  # 200 bases centred on position 1000 (0-based 999), variant at offset 100
    alt_window = ref_window[:100] + snv.alt + ref_window[101:]
    ids_ref, ids_alt = tokenizer(ref_window)["input_ids"], tokenizer(alt_window)["input_ids"]
    position = 1 + 100 // 6  # <cls>, then the 6-mer holding base 100 of the window
    masked = torch.tensor([ids_ref])
    masked[0, position] = tokenizer.mask_token_id
    with torch.no_grad():
        log_probs = model(input_ids=masked).logits[0, position].log_softmax(-1)
    expected = (log_probs[ids_alt[position]] - log_probs[ids_ref[position]]).item()
    assert abs(row["llr"] - expected) < 1e-4


def test_both_strands_and_the_cli(genome, tmp_path, capsys):
    fasta, vcf, _ = genome
    model, tokenizer = tiny(dna_zoo.TrinityDNAForMaskedLM, dna_zoo.TrinityDNAConfig), dna_zoo.TrinityDNATokenizer()
    forward = score_variants(model, tokenizer, fasta, vcf, window=200, progress=False)
    both = score_variants(model, tokenizer, fasta, vcf, window=200, strand="both", progress=False)
    assert [r["ID"] for r in both] == [r["ID"] for r in forward]
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    out = tmp_path / "scores.tsv"
    cli(
        [
            "score-variants",
            "--model",
            str(tmp_path / "model"),
            "--fasta",
            str(fasta),
            "--vcf",
            str(vcf),
            "--out",
            str(out),
            "--window",
            "200",
            "--strand",
            "both",
        ]
    )
    lines = out.read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:6] == ["CHROM", "POS", "ID", "REF", "ALT", "status"] and {
        "llr",
        "cosine_distance",
        "l2_distance",
    } <= set(header)
    assert len(lines) == 9 and "1 REF mismatches" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="overwrite"):
        cli(
            [
                "score-variants",
                "--model",
                str(tmp_path / "model"),
                "--fasta",
                str(fasta),
                "--vcf",
                str(vcf),
                "--out",
                str(out),
            ]
        )


@pytest.mark.parametrize("compression", ["gzip", "bgzip"])
def test_a_compressed_reference_gives_the_same_scores(genome, tmp_path, compression):
    """Every other command reads plain gzip: score-variants too (htslib indexes bgzip only, so a plain gzip file is
    decompressed into a temporary folder); nothing is written beside the input."""
    fasta, vcf, _ = genome
    compressed = tmp_path / "inputs" / "ref.fa.gz"
    compressed.parent.mkdir()
    if compression == "gzip":
        compressed.write_bytes(gzip.compress(fasta.read_bytes()))
    else:
        pysam.tabix_compress(str(fasta), str(compressed))
    model, tokenizer = tiny(dna_zoo.TrinityDNAForMaskedLM, dna_zoo.TrinityDNAConfig), dna_zoo.TrinityDNATokenizer()
    plain = score_variants(model, tokenizer, fasta, vcf, window=200, progress=False)
    assert score_variants(model, tokenizer, compressed, vcf, window=200, progress=False) == plain
    if compression == "gzip":
        assert sorted(p.name for p in compressed.parent.iterdir()) == ["ref.fa.gz"]
