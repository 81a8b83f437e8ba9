"""Properties every dna_zoo tokenizer must have, on any DNA string (hypothesis)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dna_zoo import GenaLMTokenizer, MistralDNATokenizer, NucleotideTransformerTokenizer, TrinityDNATokenizer

TOKENIZERS = {
    "nucleotide_transformer_v2": NucleotideTransformerTokenizer(),
    "nucleotide_transformer_v1": NucleotideTransformerTokenizer(layout="v1"),
    "mistral_dna": MistralDNATokenizer(),
    "trinity_dna": TrinityDNATokenizer(),
    "gena_lm": GenaLMTokenizer(),
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
