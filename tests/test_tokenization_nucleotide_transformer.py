import random

import pytest
from transformers import AutoTokenizer, EsmTokenizer

from dna_zoo import InvalidSequenceError, NucleotideTransformerConfig, NucleotideTransformerTokenizer
from dna_zoo.models import tokenization_dna
from dna_zoo.models.tokenization_dna import kmer_token_ids, kmer_vocabulary


def esm_reference(tmp_path, layout):
    """transformers' EsmTokenizer on the published vocabulary file: the reference for ids (no <eos> appended)."""
    vocab_file = tmp_path / f"vocab-{layout}.txt"
    vocab_file.write_text("\n".join(kmer_vocabulary(layout)))
    return EsmTokenizer(str(vocab_file), eos_token=None)


def sequences_to_compare():
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGT") for _ in range(n)) for n in range(1, 51)]  # every length 1..50
    for _ in range(40):  # N runs of every size at random places, leftovers before and after them
        bases = [rng.choice("ACGT") for _ in range(rng.randint(1, 60))]
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(bases))
            bases[at:at] = ["N"] * rng.randint(1, 12)
        seqs.append("".join(bases))
    seqs += ["N", "NNNNNN", "ATTCCGATTCCGATTCCGACGTACGTNACGT", "ACGTACN" * 5]
    return seqs


@pytest.mark.parametrize("layout", ["v2", "v1"])
def test_ids_match_esm_tokenizer(tmp_path, layout):
    reference = esm_reference(tmp_path, layout)
    tokenizer = NucleotideTransformerTokenizer(layout=layout)
    for seq in sequences_to_compare():
        assert tokenizer(seq)["input_ids"] == reference(seq)["input_ids"], seq
    batch = sequences_to_compare()
    assert tokenizer(batch)["input_ids"] == reference(batch)["input_ids"]


def test_documented_example():
    tokenizer = NucleotideTransformerTokenizer()
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("ATTCCGATTCCGATTCCGACGTACGTNACGT")["input_ids"])
    assert tokens == ["<cls>", "ATTCCG", "ATTCCG", "ATTCCG", "ACGTAC", "G", "T", "N", "A", "C", "G", "T"]


@pytest.mark.parametrize(
    "layout,specials,first_kmer,bases",
    [
        ("v2", {"<unk>": 0, "<pad>": 1, "<mask>": 2, "<cls>": 3, "<eos>": 4, "<bos>": 5}, 6, 4102),
        ("v1", {"<unk>": 0, "<pad>": 1, "<mask>": 2, "<cls>": 3, "<eos>": 4105, "<bos>": 4106}, 4, 4100),
    ],
)
def test_id_layouts(layout, specials, first_kmer, bases):
    vocab = NucleotideTransformerTokenizer(layout=layout).get_vocab()
    assert {k: vocab[k] for k in specials} == specials
    assert [vocab[k] for k in ("AAAAAA", "AAAAAT", "AAAAAC", "AAAAAG", "AAAATA")] == list(
        range(first_kmer, first_kmer + 5)
    )
    assert [vocab[b] for b in "ATCGN"] == list(range(bases, bases + 5))
    assert len(vocab) == 4107


def test_default_is_v2_and_matches_the_default_config():
    tokenizer = NucleotideTransformerTokenizer()
    assert tokenizer.layout == "v2" and len(tokenizer) == NucleotideTransformerConfig().vocab_size
    assert tokenizer.pad_token_id == 1 and tokenizer.mask_token_id == 2 and tokenizer.cls_token_id == 3


def test_lowercase_is_upper_cased_not_unknown():
    tokenizer = NucleotideTransformerTokenizer()
    assert tokenizer("acgtacGGnt")["input_ids"] == tokenizer("ACGTACGGNT")["input_ids"]
    assert tokenizer.unk_token_id not in tokenizer("acgtacggnt")["input_ids"]


@pytest.mark.parametrize(
    "batch,index,position,char",
    [(["ACGTAC", "ACGTXC"], 1, 4, "X"), (["ACG TAC"], 0, 3, " "), (["ACGU"], 0, 3, "U"), (["acgt\nacgt"], 0, 4, "\n")],
)
def test_bad_character_error_names_sequence_position_and_character(batch, index, position, char):
    tokenizer = NucleotideTransformerTokenizer()
    with pytest.raises(InvalidSequenceError) as error:
        tokenizer(batch)
    message = str(error.value)
    assert f"sequence {index}" in message and f"position {position}" in message and repr(char) in message


def test_iupac_codes_are_errors_by_default_or_n_by_option():
    with pytest.raises(InvalidSequenceError, match="IUPAC"):
        NucleotideTransformerTokenizer()("ACGTRYACGT")
    tokenizer = NucleotideTransformerTokenizer(iupac="n")
    assert tokenizer("ACGTRYacgtky")["input_ids"] == tokenizer("ACGTNNACGTNN")["input_ids"]


def test_special_tokens_in_text_are_kept():
    tokenizer = NucleotideTransformerTokenizer()
    tokens = tokenizer.tokenize("ACGTAC<mask>acgtac")
    assert tokens == ["ACGTAC", "<mask>", "ACGTAC"]


def test_offsets_cover_each_base_once():
    tokenizer = NucleotideTransformerTokenizer()
    seq = "ACGTACGTNNACGTACGTACGTA"
    encoding = tokenizer(seq, return_offsets_mapping=True, add_special_tokens=False)
    covered = [i for start, end in encoding["offset_mapping"] for i in range(start, end)]
    assert covered == list(range(len(seq)))
    for (start, end), token in zip(encoding["offset_mapping"], tokenizer.convert_ids_to_tokens(encoding["input_ids"])):
        assert seq[start:end] == token


def test_decode_gives_the_sequence_back():
    tokenizer = NucleotideTransformerTokenizer()
    seq = "ACGTACGTNNACGTACGTACGTA"
    assert tokenizer.decode(tokenizer(seq)["input_ids"], skip_special_tokens=True) == seq


@pytest.mark.parametrize("layout", ["v2", "v1"])
def test_save_and_auto_tokenizer_round_trip(tmp_path, layout):
    tokenizer = NucleotideTransformerTokenizer(layout=layout, iupac="n")
    tokenizer.save_pretrained(tmp_path)
    for loaded in (NucleotideTransformerTokenizer.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert type(loaded) is NucleotideTransformerTokenizer
        assert loaded.layout == layout and loaded.iupac == "n"
        assert loaded.get_vocab() == tokenizer.get_vocab()
        for seq in sequences_to_compare()[:60] + ["acgtRY<mask>ACGTAC"]:
            assert loaded(seq)["input_ids"] == tokenizer(seq)["input_ids"]


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_a_published_vocab_file_names_its_layout_and_takes_the_vectorised_path(tmp_path, layout, monkeypatch):
    """A Hub directory of the original models ships vocab.txt (EsmTokenizer); it loads as ours, recognised as the
    v1 or v2 vocabulary whatever layout is asked for, so plain calls take the vectorised k-mer path."""
    (tmp_path / "vocab.txt").write_text("\n".join(kmer_vocabulary(layout)))
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "EsmTokenizer", "do_lower_case": false}')
    tokenizer = NucleotideTransformerTokenizer.from_pretrained(tmp_path)
    assert tokenizer.layout == layout and tokenizer.model_max_length == (1000 if layout == "v1" else 2048)
    calls = []
    monkeypatch.setattr(tokenization_dna, "kmer_token_ids", lambda *a: calls.append(1) or kmer_token_ids(*a))
    reference = esm_reference(tmp_path, layout)
    batch = sequences_to_compare()
    assert tokenizer(batch)["input_ids"] == reference(batch)["input_ids"]
    padded = tokenizer(batch, padding=True, return_tensors="pt")
    assert calls == [1, 1] and padded["input_ids"].shape[0] == len(batch)


def test_padding_to_a_batch_tensor():
    tokenizer = NucleotideTransformerTokenizer()
    batch = tokenizer(["ACGTACGTACGTACGTAC", "A"], padding=True, return_tensors="pt")
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["input_ids"][1, 2:].tolist() == [tokenizer.pad_token_id] * 2


# ---------------------------------------------------------------- the vectorised path equals the Rust pipeline

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DNA = st.text(alphabet="ACGTNacgtn", max_size=80)


def rust_only(layout="v2"):
    tokenizer = NucleotideTransformerTokenizer(layout=layout)
    tokenizer._standard_vocab = False  # disables the vectorised path
    return tokenizer


CALLS = [
    {},
    {"padding": True},
    {"padding": "max_length", "max_length": 12},
    {"padding": True, "pad_to_multiple_of": 8},
    {"padding": True, "padding_side": "left"},
    {"truncation": True, "max_length": 5},
    {"truncation": True, "max_length": 5, "padding": True},
    {"add_special_tokens": False, "padding": True},
    {"padding": True, "return_tensors": "pt"},
    {"padding": True, "return_tensors": "np"},
    {"return_attention_mask": False},
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "plain")
@pytest.mark.parametrize("layout", ["v2", "v1"])
def test_vectorised_path_equals_rust_pipeline(call, layout):
    fast, slow = NucleotideTransformerTokenizer(layout=layout), rust_only(layout)
    batches = [sequences_to_compare(), ["ACGT"], ["", "NNNN", "acgtacgtacgtA"]]
    for batch in batches:
        a, b = fast(batch, **call), slow(batch, **call)
        assert a.keys() == b.keys()
        for key in a:
            assert (a[key] == b[key]).all() if call.get("return_tensors") else a[key] == b[key], (key, batch)
    single_call = {k: v for k, v in call.items() if k != "return_tensors"}
    assert fast("ACGTACGTNNAC", **single_call) == slow("ACGTACGTNNAC", **single_call)


def test_left_truncation_equals_rust_pipeline():
    fast, slow = NucleotideTransformerTokenizer(), rust_only()
    fast.truncation_side = slow.truncation_side = "left"
    batch = sequences_to_compare()
    assert (
        fast(batch, truncation=True, max_length=4)["input_ids"]
        == slow(batch, truncation=True, max_length=4)["input_ids"]
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(DNA, min_size=1, max_size=6), st.sampled_from([0, 2, 16]))
def test_vectorised_path_equals_rust_pipeline_on_any_batch(batch, most_n_runs_one_by_one):
    """The generic tokenizer properties live in test_tokenizer_properties.py; this one is NT's own. Sequences with
    N are cut at their N runs up to a number of runs, and tokenized in one pass beyond: both ways are checked."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokenization_dna, "_MOST_N_RUNS_ONE_BY_ONE", most_n_runs_one_by_one)
        assert NucleotideTransformerTokenizer()(batch)["input_ids"] == rust_only()(batch)["input_ids"]
