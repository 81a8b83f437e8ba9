"""Properties every dna_zoo tokenizer must have, on any DNA string (hypothesis)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dna_zoo import (
    CaduceusTokenizer,
    DNABERT2Tokenizer,
    GenaLMTokenizer,
    HyenaDNATokenizer,
    MistralDNATokenizer,
    NTv3Tokenizer,
    NucleotideTransformerTokenizer,
    TrinityDNATokenizer,
)

TOKENIZERS = {
    "nucleotide_transformer_v2": NucleotideTransformerTokenizer(),
    "nucleotide_transformer_v1": NucleotideTransformerTokenizer(layout="v1"),
    "mistral_dna": MistralDNATokenizer(),
    "trinity_dna": TrinityDNATokenizer(),
    "gena_lm": GenaLMTokenizer(),
    "dnabert2": DNABERT2Tokenizer(),
    "hyena_dna": HyenaDNATokenizer(),
    "caduceus_dna": CaduceusTokenizer(),
    "ntv3_dna": NTv3Tokenizer(),
}
# What decode(encode(s), skip_special_tokens=True) gives back: s upper-cased, except GENA's runs of 10 or more N,
# which are one special "-" token.
EXPECTED_DECODE = {"gena_lm": lambda s: re.sub("N{10,}", "", s.upper())}
DNA = st.text(alphabet="ACGTNacgtn", max_size=120)


@pytest.mark.parametrize("name", TOKENIZERS)
@settings(max_examples=150, deadline=None)
@given(batch=st.lists(DNA, min_size=1, max_size=5))
def test_tokenizer_properties(name, batch):
    tokenizer = TOKENIZERS[name]
    ids = tokenizer(batch)["input_ids"]
    assert ids == [tokenizer(seq)["input_ids"] for seq in batch]  # batch == one by one
    for seq, row in zip(batch, ids):
        assert all(0 <= i < len(tokenizer) for i in row) and tokenizer.unk_token_id not in row
        expected = EXPECTED_DECODE.get(name, str.upper)(seq)
        assert tokenizer.decode(row, skip_special_tokens=True) == expected  # decode(encode(s)) == s
        spans = tokenizer(seq, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
        assert [i for start, end in spans for i in range(start, end)] == list(range(len(seq)))  # each base once


@pytest.mark.parametrize("name", TOKENIZERS)
def test_rna_and_whitespace_policy(name):
    """U is an error naming its position (or T with rna="t", kept after save/load); whitespace inside a sequence is
    an error saying what to do, never silently dropped (that would shift every later position)."""
    tokenizer = TOKENIZERS[name]
    with pytest.raises(ValueError, match=r"sequence 1: invalid character 'u' at position 2 \(RNA: pass rna='t'"):
        tokenizer(["ACGT", "ACuG"])
    with pytest.raises(ValueError, match=r"invalid character '\\n' at position 4 \(whitespace or a line break"):
        tokenizer("ACGT\nACGT")
    as_dna = type(tokenizer)(**{**tokenizer.init_kwargs, "rna": "t"})
    assert as_dna("ACGUUGCAuu")["input_ids"] == tokenizer("ACGTTGCATT")["input_ids"]
    assert (
        as_dna("ACGUUGCAuu", return_offsets_mapping=True)["offset_mapping"]
        == tokenizer("ACGTTGCATT", return_offsets_mapping=True)["offset_mapping"]
    )
