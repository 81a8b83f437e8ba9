"""Bad input gets a clear error naming where it is (file, line, record, sequence index, position), or a documented
normalisation; each case here is a row of the README's bad-input table."""

import gzip

import numpy as np
import pytest
import torch

import dna_zoo
from dna_zoo import embed
from dna_zoo.data import read_fasta, read_intervals
from dna_zoo.data.fasta import FastaError
from dna_zoo.inference import read_variants


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = dna_zoo.config_from_preset("nucleotide_transformer", "tiny")
    return dna_zoo.NucleotideTransformerModel(config).eval(), dna_zoo.NucleotideTransformerTokenizer()


@pytest.mark.parametrize(
    "text, message",
    [
        ("ACGT\n>r1\nACGT\n", r"line 1: expected a '>' header before any sequence, found 'ACGT'"),
        (">r1\nACGT\n>r2\n>r3\nAC\n", r"line 3: record 'r2' has no sequence"),
        (">r1\nACGTAC\nAC GT\n", r"line 3 column 3: whitespace inside the sequence of record 'r1'"),
        (">r1\nACGTAC\nAC\0GT\n", r"line 3 column 3: a NUL byte"),  # htslib would silently end the record there
        ("", r"no FASTA records \(the file is empty\)"),
        (">\nACGT\n", r"line 1: a '>' header with no record name"),
        (">r1\nAC\n>r2\nGT\n>r1 again\nTT\n", r"line 5: record 'r1' again \(first at line 1\)"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_malformed_fasta_names_the_line(tmp_path, text, message, compressed):
    path = tmp_path / ("bad.fa.gz" if compressed else "bad.fa")
    with (gzip.open if compressed else open)(path, "wt") as handle:
        handle.write(text)
    with pytest.raises(FastaError, match=message):
        list(read_fasta(path))


def test_malformed_vcf_names_the_line(tmp_path):
    path = tmp_path / "bad.vcf"
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    path.write_text(header + "chr1\t3\t.\tA\tG\t.\t.\t.\nchr1\tabc\t.\tA\tG\t.\t.\t.\n")
    with pytest.raises(ValueError, match=r"bad.vcf line 5: malformed VCF record"):
        list(read_variants(path))


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("genes.bed", "chr1\t10\t20\nchr1\tten\t30\n", r"genes.bed line 2: malformed BED"),
        ("genes.gff", "##gff-version 3\nchr1\tprodigal\tCDS\t5\t2\t.\t+\t0\t.\n", r"genes.gff line 2: interval start"),
        ("genes.gff", "chr1\tprodigal\tCDS\t5\n", r"genes.gff line 1: malformed GFF"),
        ("genes.txt", "chr1\t1\t2\n", r"must be .bed or .gff"),
    ],
)
def test_malformed_intervals_name_the_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        read_intervals(tmp_path / name)


def test_embed_refuses_empty_sequences_by_index(tiny):
    with pytest.raises(ValueError, match="sequence 2 is empty"):
        embed(*tiny, ["ACGT", "AC", ""], progress=False)


def test_sequences_longer_than_the_context_error_truncate_or_window(tiny):
    model, tokenizer = tiny
    long = "ACGTTG" * 200  # 200 tokens + <cls>, the tiny context is 128
    with pytest.raises(ValueError, match=r"sequence 1 \(1200 bases\) is 201 tokens, longer than the model's context"):
        embed(model, tokenizer, ["ACGT", long], progress=False)
    with pytest.warns(UserWarning, match="1 sequences longer than 128 tokens were truncated"):
        truncated = embed(model, tokenizer, [long], too_long="truncate", progress=False)
    np.testing.assert_allclose(truncated, embed(model, tokenizer, [long[: 127 * 6]], progress=False), atol=1e-5)
    windowed = embed(model, tokenizer, [long], window=600, overlap=120, progress=False)
    assert windowed.shape == (1, 32)


def test_a_tokenizer_of_another_model_is_refused(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="a GenaLMTokenizer does not belong to a nucleotide_transformer model"):
        embed(model, dna_zoo.GenaLMTokenizer(), ["ACGT"], progress=False)
    trinity = dna_zoo.TrinityDNAModel(dna_zoo.config_from_preset("trinity_dna", "tiny"))
    shrunk = dna_zoo.TrinityDNATokenizer()
    trinity.resize_token_embeddings(len(shrunk) - 2)
    with pytest.raises(ValueError, match=r"has 10 tokens but the model \(TrinityDNAModel\) embeds 8"):
        embed(trinity, shrunk, ["ACGT"], progress=False)


def test_variant_windows_longer_than_the_context_are_refused(tmp_path):
    model = dna_zoo.NucleotideTransformerForMaskedLM(dna_zoo.config_from_preset("nucleotide_transformer", "tiny"))
    with pytest.raises(ValueError, match=r"a window of 1200 bases is 201 tokens, longer than the model's context"):
        dna_zoo.score_variants(model, dna_zoo.NucleotideTransformerTokenizer(), "ref.fa", [], window=1200)


def test_pretraining_windows_longer_than_the_context_warn(tmp_path):
    from pathlib import Path

    from dna_zoo.training import PretrainConfig, pretrain

    lambda_phage = str(Path(__file__).parent / "data" / "lambda_phage.fa.gz")
    config = PretrainConfig(
        "nucleotide_transformer", "tiny", [lambda_phage], str(tmp_path / "run"), window=1200, steps=1
    )
    with pytest.warns(UserWarning, match="windows of 1200 bases are up to 201 tokens: truncated to 128"):
        pretrain(config)


@pytest.mark.parametrize(
    "command",
    [
        ["embed", "--out", "{tmp}/e.npz", "--fasta"],
        ["embed", "--out", "{tmp}/e.parquet", "--fasta"],
        ["train-tokenizer", "--out", "{tmp}/tok", "--fasta"],
        ["pretrain", "--family", "nucleotide_transformer", "--output-dir", "{tmp}/run", "--fasta"],
    ],
    ids=["embed-npz", "embed-parquet", "train-tokenizer", "pretrain"],
)
def test_an_empty_fasta_is_refused_in_one_line_naming_it(tmp_path, command):
    from dna_zoo.cli import main

    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main([part.format(tmp=tmp_path) for part in command] + [str(empty)])
    assert str(exit_info.value.code).endswith(f"FastaError: {empty}: no FASTA records (the file is empty)")
    assert not (tmp_path / "tok").exists() and not (tmp_path / "e.npz").exists()


@pytest.mark.parametrize("text,message", [("", "the table is empty"), ("sequence,label\n", "the table has no rows")])
def test_an_empty_table_is_refused_naming_it(tmp_path, text, message):
    from dna_zoo.data import read_table
    from dna_zoo.data.tables import DataError

    path = tmp_path / "train.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=f"{path}: {message}"):
        read_table(str(path))


def test_a_bad_character_names_the_input_index_not_the_sorted_batch_row(tiny):
    model, tokenizer = tiny
    sequences = ["ACGTACGTACGTACGT", "ACGTACGTXCGT", "AC"]  # run sorted by length: the bad one is batch row 1 of 3
    with pytest.raises(dna_zoo.InvalidSequenceError, match=r"sequence 1: invalid character 'X' at position 8") as info:
        embed(model, tokenizer, sequences + ["ACGTACGTACGTACGTACGTAC"], batch_size=8)
    assert info.value.index == 1


def test_embed_command_names_the_fasta_record_of_a_bad_character(tmp_path):
    from dna_zoo.cli import main

    fasta = tmp_path / "reads.fa"
    fasta.write_text(">first\nACGTACGTACGT\n>second\nACGTACGTACGTACGTACGTAXGT\n>third\nACG\n")
    for out, chunk in (("e.npz", "1024"), ("e.parquet", "2")):
        with pytest.raises(SystemExit) as exit_info:
            main(["embed", "--fasta", str(fasta), "--out", str(tmp_path / out), "--chunk-size", chunk])
        assert f"{fasta}: record 2 ('second'): invalid character 'X' at position 21" in str(exit_info.value.code)
        assert not list(tmp_path.glob("e.*"))  # nothing half-written is left


def test_a_gap_in_a_gena_sequence_is_an_error_not_the_n_run_token():
    tokenizer = dna_zoo.GenaLMTokenizer()
    with pytest.raises(dna_zoo.InvalidSequenceError, match=r"sequence 0: invalid character '-' .*alignment gap"):
        tokenizer("ACGT-ACGT")
    assert tokenizer.convert_tokens_to_ids("-") in tokenizer("ACGT" + "N" * 12 + "ACGT")["input_ids"]


@pytest.mark.parametrize(
    "text,message",
    [
        ("junk\n>chr1\nACGT\n", "line 1: expected a '>' header"),
        (">chr1\n>chr2\nACGT\n", "line 1: record 'chr1' has no sequence"),
        (">chr1\nACGT\n>chr1\nACGT\n", "line 3: record 'chr1' again"),
    ],
)
def test_a_defective_reference_fasta_is_a_fasta_error_not_htslib_stderr(tmp_path, tiny, text, message):
    model, _ = tiny
    reference = tmp_path / "ref.fa"
    reference.write_text(text)
    with pytest.raises(FastaError, match=f"{reference} {message}"):
        dna_zoo.score_variants(model, dna_zoo.NucleotideTransformerTokenizer(), reference, [], window=60)


@pytest.mark.parametrize("tokenizer_class", [dna_zoo.NucleotideTransformerTokenizer, dna_zoo.GenaLMTokenizer])
def test_a_sequence_far_longer_than_the_context_is_clipped_before_tokenizing(tokenizer_class):
    """Memory bounded by the context, not the record (a 50 Mb record cost 5.5 GB to refuse): the tokenizer sees at
    most context_bases(...) bases, and truncation gives exactly the tokens of the whole sequence truncated."""
    from dna_zoo.inference.embeddings import context_bases, tokenize_within_context

    tokenizer = tokenizer_class()
    rng = np.random.default_rng(0)
    long = "".join(rng.choice(list("ACGT"), 400_000))
    seen = []
    original = tokenizer._encode_plus

    def spy(text, *args, **kwargs):
        seen.extend(len(t) for t in ([text] if isinstance(text, str) else text))
        return original(text, *args, **kwargs)

    tokenizer._encode_plus = spy
    batch, too_long = tokenize_within_context(tokenizer, [long, "ACGTAC"], 64, truncate=True)
    assert too_long == [0] and max(seen) <= context_bases(tokenizer, 64) < 400_000
    expected = tokenizer([long], truncation=True, max_length=64)["input_ids"][0]
    assert batch["input_ids"][0].tolist() == expected


@pytest.mark.parametrize(
    "name,content,message",
    [
        (
            "t.jsonl",
            b'{"sequence": "ACGT", "label": 1}\n{"sequence": "AC", label: 2}\n',
            "cannot be read as a jsonl table",
        ),
        ("t.csv", b"sequence,label\nACGT,1\n\xff\xfeAC,0\n", "cannot be read as a csv table .*utf-8"),
    ],
)
def test_an_unreadable_table_names_the_file(tmp_path, name, content, message):
    from dna_zoo.data import read_table
    from dna_zoo.data.tables import DataError

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"{path}: {message}"):
        read_table(str(path))
