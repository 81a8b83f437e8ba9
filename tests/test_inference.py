"""dna_zoo.embed and per-base outputs, for every family."""

import numpy as np
import pytest
import torch

import dna_zoo
from dna_zoo import embed, tokens_to_bases
from dna_zoo.inference import reverse_complement

FAMILIES = {
    "nucleotide_transformer": (
        dna_zoo.NucleotideTransformerModel,
        dna_zoo.NucleotideTransformerConfig,
        dna_zoo.NucleotideTransformerTokenizer,
    ),
    "mistral_dna": (dna_zoo.MistralDNAModel, dna_zoo.MistralDNAConfig, dna_zoo.MistralDNATokenizer),
    "gena_lm": (dna_zoo.GenaLMModel, dna_zoo.GenaLMConfig, dna_zoo.GenaLMTokenizer),
    "trinity_dna": (dna_zoo.TrinityDNAModel, dna_zoo.TrinityDNAConfig, dna_zoo.TrinityDNATokenizer),
    "dnabert2": (dna_zoo.DNABERT2Model, dna_zoo.DNABERT2Config, dna_zoo.DNABERT2Tokenizer),
    "hyena_dna": (dna_zoo.HyenaDNAModel, dna_zoo.HyenaDNAConfig, dna_zoo.HyenaDNATokenizer),
    "caduceus_dna": (dna_zoo.CaduceusModel, dna_zoo.CaduceusConfig, dna_zoo.CaduceusTokenizer),
    "ntv3_dna": (dna_zoo.NTv3Model, dna_zoo.NTv3Config, dna_zoo.NTv3Tokenizer),
}
SEQUENCES = [
    "ACGTACGTTGCAAGGCT",  # 17 bases: not a multiple of 6
    "acgtnnnnACGTAGGCTAGCTAGCTAGCATCGATTTTGCAGG",
    "ACGT" + "N" * 14 + "ACGTTGCA",  # a long N run (one GENA token)
    "A",
]


def family(name):
    model_class, config_class, tokenizer_class = FAMILIES[name]
    torch.manual_seed(0)
    overrides = {"hidden_dropout": 0.0, "attention_dropout": 0.0} if name in ("gena_lm", "dnabert2") else {}
    overrides = {"embedding_dropout": 0.0} if name == "hyena_dna" else overrides
    return model_class(config_class.from_preset("tiny", **overrides)).eval(), tokenizer_class()


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooled_vector_does_not_depend_on_the_batch(name, pooling):
    model, tokenizer = family(name)
    together = embed(model, tokenizer, SEQUENCES, pooling=pooling, batch_size=4, progress=False)
    for i, sequence in enumerate(SEQUENCES):
        alone = embed(model, tokenizer, [sequence], pooling=pooling, progress=False)
        np.testing.assert_allclose(alone[0], together[i], atol=1e-5, rtol=1e-5)
    assert together.shape == (len(SEQUENCES), model.config.embedding_size)


@pytest.mark.parametrize("name", FAMILIES)
def test_per_base_outputs_have_the_sequence_length(name):
    model, tokenizer = family(name)
    rows = embed(model, tokenizer, SEQUENCES, pooling="none", per_base=True, progress=False)
    assert [row.shape[0] for row in rows] == [len(s) for s in SEQUENCES]
    tokens = embed(model, tokenizer, SEQUENCES[:1], pooling="none", progress=False)[0]
    assert tokens.shape[0] == len(tokenizer(SEQUENCES[0], add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("name", FAMILIES)
def test_both_strands_give_the_same_result_for_a_sequence_and_its_reverse_complement(name):
    model, tokenizer = family(name)
    sequences = SEQUENCES[:3]
    reverse = [reverse_complement(s) for s in sequences]
    pooled = embed(model, tokenizer, sequences, strand="both", progress=False)
    np.testing.assert_allclose(embed(model, tokenizer, reverse, strand="both", progress=False), pooled, atol=1e-5)
    per_base = embed(model, tokenizer, sequences, pooling="none", per_base=True, strand="both", progress=False)
    per_base_rc = embed(model, tokenizer, reverse, pooling="none", per_base=True, strand="both", progress=False)
    for forward, backward in zip(per_base, per_base_rc):
        np.testing.assert_allclose(backward[::-1], forward, atol=1e-5)
    if name != "trinity_dna":  # guard (TrinityDNA is strand-symmetric by construction, even on one strand)
        single = embed(model, tokenizer, sequences, progress=False)
        assert not np.allclose(single, embed(model, tokenizer, reverse, progress=False), atol=1e-5)


def test_layer_index_and_cls_pooling():
    model, tokenizer = family("nucleotide_transformer")
    first = embed(model, tokenizer, SEQUENCES, layer=0, progress=False)
    last = embed(model, tokenizer, SEQUENCES, layer=-1, progress=False)
    assert not np.allclose(first, last)
    np.testing.assert_allclose(embed(model, tokenizer, SEQUENCES, layer=2, progress=False), last, atol=1e-6)
    assert embed(model, tokenizer, SEQUENCES, pooling="cls", progress=False).shape == (4, 32)
    trinity, trinity_tokenizer = family("trinity_dna")
    with pytest.raises(ValueError, match="cls"):
        embed(trinity, trinity_tokenizer, SEQUENCES, pooling="cls", progress=False)


def test_tokens_to_bases_maps_kmers_and_refuses_gaps():
    values = np.arange(3)[:, None].astype(float)
    bases = tokens_to_bases(values, [(0, 6), (6, 7), (7, 8)], 8)
    assert bases[:, 0].tolist() == [0, 0, 0, 0, 0, 0, 1, 2]
    with pytest.raises(ValueError, match="base 7 of 9"):
        tokens_to_bases(values, [(0, 6), (6, 7), (8, 9)], 9)


def test_stitched_windows_equal_one_pass_where_windows_give_full_context():
    """TrinityDNA with small windows has a bounded receptive field (2 layers x radius 16 + groove reach 3 = 35
    bases), so with 200-base windows overlapping by 100, every base's chosen window gives it full context."""
    model, tokenizer = family("trinity_dna")
    model.config.max_position_embeddings = 1024  # the single reference pass needs a context of 700 tokens
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), 700))
    one_pass = embed(model, tokenizer, [sequence], pooling="none", per_base=True, progress=False)[0]
    stitched = embed(
        model, tokenizer, [sequence], pooling="none", per_base=True, window=200, overlap=100, progress=False
    )[0]
    assert stitched.shape == one_pass.shape == (700, 32)
    np.testing.assert_allclose(stitched, one_pass, atol=1e-5)
    no_overlap = embed(model, tokenizer, [sequence], pooling="none", per_base=True, window=200, progress=False)[0]
    assert not np.allclose(no_overlap, one_pass, atol=1e-5)  # guard: cuts without overlap lose context
    pooled = embed(model, tokenizer, [sequence], window=200, overlap=100, progress=False)[0]
    np.testing.assert_allclose(pooled, one_pass.mean(0), atol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_windows_work_for_every_family(name):
    model, tokenizer = family(name)
    long = "ACGTTGCAGGCTAAGTACGTAGCTAGCTAGGAT" * 20  # 660 bases
    rows = embed(
        model, tokenizer, [long, "ACGT"], pooling="none", per_base=True, window=150, overlap=30, progress=False
    )
    assert [r.shape[0] for r in rows] == [660, 4]


def test_windows_cover_the_sequence():
    from dna_zoo.inference.embeddings import owned_ranges, windows

    spans = windows(1000, 300, 100)
    assert spans[0][0] == 0 and spans[-1][1] == 1000 and all(b - a == 300 for a, b in spans)
    ranges = owned_ranges(1000, spans)
    assert ranges[0][0] == 0 and ranges[-1][1] == 1000 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError, match="overlap"):
        windows(1000, 300, 300)


def test_embed_command_writes_npz_and_never_overwrites(tmp_path, capsys):
    from dna_zoo.cli import main

    model, tokenizer = family("nucleotide_transformer")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    fasta = tmp_path / "reads.fa"
    fasta.write_text(">one\nACGTACGTTGCA\nAGGCT\n>two\nacgtnnACGT\n")
    out = str(tmp_path / "vectors.npz")
    main(["embed", "--model", str(tmp_path / "model"), "--fasta", str(fasta), "--out", out])
    saved = np.load(out)
    assert saved["names"].tolist() == ["one", "two"] and saved["embeddings"].shape == (2, 32)
    expected = embed(model, tokenizer, ["ACGTACGTTGCAAGGCT", "acgtnnACGT"], progress=False)
    np.testing.assert_allclose(saved["embeddings"], expected, atol=1e-6)
    with pytest.raises(SystemExit, match="overwrite"):
        main(["embed", "--model", str(tmp_path / "model"), "--fasta", str(fasta), "--out", out])


@pytest.mark.parametrize("name", FAMILIES)
def test_per_base_labels_map_to_tokens_and_back(name):
    from dna_zoo.inference import bases_to_tokens

    _, tokenizer = family(name)
    sequence = "ACGTTGCAGGCTAAGT" + "N" * 12 + "ACGTAGCTAGGATC"
    labels = np.array([1] * 16 + [0] * 12 + [1] * 14)  # e.g. coding / non-coding per base
    encoded = tokenizer(sequence, return_offsets_mapping=True)
    token_labels = bases_to_tokens(labels, encoded["offset_mapping"])
    assert len(token_labels) == len(encoded["input_ids"])
    specials = set(tokenizer.all_special_ids)
    assert all(
        (label == -100) == (token in specials and start == end)
        for label, token, (start, end) in zip(token_labels, encoded["input_ids"], encoded["offset_mapping"])
    )
    real = [(label, span) for label, span in zip(token_labels, encoded["offset_mapping"]) if span[1] > span[0]]
    back = tokens_to_bases(np.array([label for label, _ in real]), [span for _, span in real], len(sequence))
    assert (back == labels).mean() > 0.8  # tokens straddling the boundary take their majority label


def test_embed_command_streams_parquet(tmp_path):
    import pyarrow.parquet as pq

    from dna_zoo.cli import main

    model, tokenizer = family("trinity_dna")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    sequences = {f"r{i}": "ACGTTGCA" * (i + 1) for i in range(7)}
    fasta = tmp_path / "reads.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in sequences.items()))
    out = tmp_path / "vectors.parquet"
    main(["embed", "--model", str(tmp_path / "model"), "--fasta", str(fasta), "--out", str(out), "--chunk-size", "3"])
    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_row_groups == 3  # written chunk by chunk (3 + 3 + 1 records)
    table = parquet.read().to_pydict()
    assert table["name"] == list(sequences) and table["length"] == [len(s) for s in sequences.values()]
    expected = embed(model, tokenizer, list(sequences.values()), progress=False)
    np.testing.assert_allclose(np.array(table["embedding"]), expected, atol=1e-6)
    # an empty FASTA is refused naming the file (test_bad_input), never an empty Parquet reported as success


def test_gena_recurrent_memory_embeds_a_sequence_longer_than_the_context():
    """An RMT model reads the whole sequence segment by segment: per-base output covers every base; its vectors are
    the last hidden states the recurrent run gives at each token."""
    config = dna_zoo.GenaLMConfig.from_preset("tiny", hidden_dropout=0.0, attention_dropout=0.0, rmt_segment_size=64)
    torch.manual_seed(0)
    model, tokenizer = dna_zoo.GenaLMRMTForTokenClassification(config).eval(), dna_zoo.GenaLMTokenizer()
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), 3000))
    tokens = len(tokenizer(sequence)["input_ids"])
    assert tokens > config.max_tokens // 4 and tokens > 3 * config.rmt_segment_size  # several segments
    per_base = embed(model, tokenizer, [sequence], pooling="none", per_base=True, progress=False)[0]
    assert per_base.shape == (3000, config.hidden_size) and np.isfinite(per_base).all()
    pooled = embed(model, tokenizer, [sequence], progress=False)
    assert pooled.shape == (1, config.hidden_size)
    with pytest.raises(ValueError, match="last layer only"):
        embed(model, tokenizer, [sequence], layer=0, progress=False)


def test_owned_ranges_take_each_base_from_the_window_where_it_is_farthest_from_a_cut():
    from dna_zoo.inference.embeddings import owned_ranges, windows

    rng = np.random.default_rng(0)
    for _ in range(300):
        length, window = int(rng.integers(20, 400)), int(rng.integers(2, 60))
        spans = windows(length, window, int(rng.integers(0, window)))
        positions = np.arange(length, dtype=float)
        margins = []  # the definition, window by window (memory: windows x length)
        for start, end in spans:
            left = positions - start if start > 0 else np.full(length, np.inf)
            right = end - 1 - positions if end < length else np.full(length, np.inf)
            margin = np.minimum(left, right)
            margin[(positions < start) | (positions >= end)] = -np.inf
            margins.append(margin)
        owners = np.concatenate(
            [np.full(end - start, index) for index, (start, end) in enumerate(owned_ranges(length, spans))]
        )
        np.testing.assert_array_equal(owners, np.argmax(np.stack(margins), axis=0))


def test_a_window_longer_than_the_context_is_fitted_to_it_with_a_note():
    """The README's call: demo model (context 1024 bases), window=6000, overlap=1000."""
    model, tokenizer = dna_zoo.load_model("demo", task="base"), dna_zoo.load_tokenizer("demo")
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), 14000))
    with pytest.warns(UserWarning, match=r"windows of 6000 bases .* using windows of 1024 bases \(overlap 170, shrunk"):
        per_base = embed(model, tokenizer, [sequence], pooling="none", per_base=True, window=6000, overlap=1000)
    assert per_base[0].shape == (14000, 64)
    fitted = embed(model, tokenizer, [sequence], pooling="none", per_base=True, window=1024, overlap=170)
    np.testing.assert_array_equal(per_base[0], fitted[0])  # the fitted window and overlap, nothing else


def test_the_progress_bar_counts_sequences_and_is_hidden_for_one(capsys):
    model, tokenizer = family("nucleotide_transformer")
    embed(model, tokenizer, ["ACGTACGTAC", "GGCCTTAA", "ACGT"], batch_size=2)
    assert "3/3" in capsys.readouterr().err
    embed(model, tokenizer, ["ACGTACGTAC"])
    assert "embedding" not in capsys.readouterr().err


def test_no_length_warning_for_lengths_embed_handles_itself():
    """embed checks lengths itself: transformers' 'Token indices sequence length is longer than...' is not shown."""
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging as transformers_logging

    model, tokenizer = dna_zoo.load_model("demo", task="base"), dna_zoo.load_tokenizer("demo")
    logger = transformers_logging.get_logger("transformers.tokenization_utils_base")
    with CaptureLogger(logger) as captured, pytest.warns(UserWarning, match="were truncated"):
        embed(model, tokenizer, ["ACGT" * 2000], too_long="truncate")
    assert "Token indices sequence length" not in captured.out


@pytest.mark.parametrize("name", FAMILIES)
def test_iter_per_base_streams_what_embed_returns_window_by_window(name):
    from dna_zoo.inference import iter_per_base

    model, tokenizer = family(name)
    rng = np.random.default_rng(1)
    sequences = ["ACGTTGCA", "".join(rng.choice(list("ACGT"), 660)), "GGCATTAC", "".join(rng.choice(list("ACGT"), 401))]
    options = dict(strand="both", batch_size=2, progress=False, window=150, overlap=30)
    expected = embed(model, tokenizer, sequences, pooling="none", per_base=True, **options)
    pieces = list(iter_per_base(model, tokenizer, sequences, **options))
    assert [index for index, *_ in pieces] == sorted(index for index, *_ in pieces)  # input order
    assert max(len(piece) for *_, piece in pieces) <= 150  # never more than a window at a time
    for index, sequence in enumerate(sequences):
        mine = [(start, piece) for i, start, piece in pieces if i == index]
        starts = np.cumsum([0] + [len(piece) for _, piece in mine])
        assert [start for start, _ in mine] == starts[:-1].tolist() and starts[-1] == len(sequence)
        np.testing.assert_allclose(np.concatenate([piece for _, piece in mine]), expected[index], atol=1e-5)


def test_per_base_memory_is_one_batch_of_windows_not_the_sequence():
    """The stitched stream holds one batch of windows: numpy's peak (tracemalloc) stays far below the (L, H)
    output a whole-sequence array would need."""
    import tracemalloc

    from dna_zoo.inference import iter_per_base

    model, tokenizer = family("nucleotide_transformer")
    sequence = "".join(np.random.default_rng(2).choice(list("ACGT"), 120_000))
    whole = len(sequence) * model.config.hidden_size * 4  # bytes of the float32 (L, H) output
    tracemalloc.start()
    bases = sum(len(piece) for *_, piece in iter_per_base(model, tokenizer, [sequence], window=600, overlap=60))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert bases == len(sequence) and peak < whole / 4, f"peak {peak / 1e6:.1f} MB for a {whole / 1e6:.1f} MB output"


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_embed_command_streams_per_base_embeddings(tmp_path, monkeypatch, suffix):
    import pyarrow.parquet as pq

    from dna_zoo.cli import main
    from dna_zoo.inference import embedding_files

    monkeypatch.setattr(embedding_files, "PARQUET_ROWS", 100)  # a row group every 100 bases
    model, tokenizer = family("nucleotide_transformer")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    records = {"short": "ACGTACGTTGCA", "long": "".join(np.random.default_rng(3).choice(list("ACGT"), 700))}
    fasta = tmp_path / "reads.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records.items()))
    out = tmp_path / f"bases{suffix}"
    options = ["--pooling", "base", "--window", "200", "--overlap", "50", "--strand", "both"]
    main(["embed", "--model", str(tmp_path / "model"), "--fasta", str(fasta), "--out", str(out)] + options)
    expected = embed(
        model, tokenizer, list(records.values()), pooling="none", per_base=True, window=200, overlap=50, strand="both"
    )
    if suffix == ".npz":
        saved = np.load(out)  # no pickles: loads with numpy's defaults
        assert saved["names"].tolist() == list(records) and saved["lengths"].tolist() == [12, 700]
        arrays = [saved[f"embeddings_{i}"] for i in range(2)]
    else:
        parquet = pq.ParquetFile(out)
        assert parquet.metadata.num_row_groups >= 4  # streamed, not written at the end
        table = parquet.read().to_pydict()
        assert table["name"] == ["short"] * 12 + ["long"] * 700
        assert table["position"] == list(range(12)) + list(range(700))
        vectors = np.array(table["embedding"], dtype=np.float32)
        arrays = [vectors[:12], vectors[12:]]
    for array, reference in zip(arrays, expected):
        assert array.dtype == np.float32
        np.testing.assert_allclose(array, reference, atol=1e-5)
