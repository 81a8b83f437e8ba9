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
        (dna_zoo.DNABERT2ForMaskedLM, dna_zoo.DNABERT2Config, dna_zoo.DNABERT2Tokenizer, "llr"),
        (dna_zoo.HyenaDNAForCausalLM, dna_zoo.HyenaDNAConfig, dna_zoo.HyenaDNATokenizer, "delta_loglik"),
        (dna_zoo.CaduceusForMaskedLM, dna_zoo.CaduceusConfig, dna_zoo.CaduceusTokenizer, "llr"),
        (dna_zoo.NTv3ForMaskedLM, dna_zoo.NTv3Config, dna_zoo.NTv3Tokenizer, "llr"),
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
    mismatch = by_id["mismatch"][0]
    assert mismatch["status"].startswith("skipped: REF mismatch: the FASTA has") and score not in mismatch
    assert mismatch["status"].endswith(f"({vcf} line 6)")
    for name in ("snv", "multi", "ins", "del", "edge"):
        for row in by_id[name]:
            assert row["status"] == "ok", row
            assert all(
                math.isfinite(row[key]) for key in (score, f"{score}_per_token", "cosine_distance", "l2_distance")
            )
            assert row["cosine_distance"] >= -1e-6 and row["l2_distance"] > 0
    with pytest.raises(ValueError, match=f"{vcf} line 6: REF mismatch"):
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
    assert len(lines) == 9 and "7 variants scored, 1 skipped" in capsys.readouterr().out
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


ODD_RECORDS = {  # ID: (CHROM, POS, REF, ALT, the reason in `status`)
    "missing_contig": ("chrZ", 10, "A", "T", "contig 'chrZ' is not in the reference FASTA"),
    "past_end": ("chr2", 5000, "A", "T", "position 5000 is past the end of chr2 (1000 bases)"),
    "symbolic": ("chr1", 100, "{ref100}", "<DEL>", "symbolic ALT <DEL>"),
    "breakend": ("chr1", 100, "{ref100}", "{ref100}[chr2:20[", "breakend ALT"),
    "star": ("chr1", 100, "{ref100}", "*", "ALT * (an allele deleted by an overlapping deletion)"),
    "iupac": ("chr1", 100, "{ref100}", "R", "ALT R has letters other than A C G T N"),
    "long_deletion": ("chr1", 600, "{ref600_900}", "{ref600}", "an allele of 300 bases does not fit in the 200-base"),
}


def test_odd_vcf_records_are_skipped_with_their_reason_and_line_and_the_run_goes_on(genome, tmp_path):
    fasta, _, chr1 = genome
    values = {"ref100": chr1[99], "ref600": chr1[599], "ref600_900": chr1[599:899]}
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=2000>",
        "##contig=<ID=chr2,length=1000>",
        "##contig=<ID=chrZ,length=100>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for name, (chrom, pos, ref, alt, _) in ODD_RECORDS.items():
        lines.append(f"{chrom}\t{pos}\t{name}\t{ref.format(**values)}\t{alt.format(**values)}\t.\t.\t.")
    lines.append(f"chr1\t1000\tgood\t{chr1[999]}\t{'A' if chr1[999] != 'A' else 'C'}\t.\t.\t.")
    vcf = tmp_path / "odd.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    model, tokenizer = tiny(dna_zoo.TrinityDNAForMaskedLM, dna_zoo.TrinityDNAConfig), dna_zoo.TrinityDNATokenizer()
    rows = {row["ID"]: row for row in score_variants(model, tokenizer, fasta, vcf, window=200, progress=False)}
    for line, (name, (*_, reason)) in enumerate(ODD_RECORDS.items(), start=6):
        assert rows[name]["status"].startswith(f"skipped: {reason}"), rows[name]["status"]
        assert rows[name]["status"].endswith(f"({vcf} line {line})") and "llr" not in rows[name]
    assert rows["good"]["status"] == "ok" and math.isfinite(rows["good"]["llr"])
    with pytest.raises(ValueError, match=f"{vcf} line 6: contig 'chrZ' is not in the reference FASTA"):
        score_variants(model, tokenizer, fasta, vcf, window=200, strict=True, progress=False)


def test_scores_are_written_as_they_are_computed(genome, tmp_path):
    """A run that stops half way leaves the rows scored so far (in OUT.partial), never nothing."""
    from dna_zoo.inference import write_scores

    def rows_then_crash():
        yield {"CHROM": "chr1", "POS": 1, "ID": "a", "REF": "A", "ALT": "T", "status": "ok", "llr": -1.5}
        raise KeyboardInterrupt

    out = tmp_path / "scores.tsv"
    with pytest.raises(KeyboardInterrupt):
        write_scores(rows_then_crash(), out, columns=["llr"])
    partial = (tmp_path / "scores.tsv.partial").read_text().splitlines()
    assert not out.exists() and partial[1].split("\t") == ["chr1", "1", "a", "A", "T", "ok", "-1.5"]
