import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoTokenizer

from dna_zoo import InvalidSequenceError, MistralDNAConfig, MistralDNAForCausalLM, MistralDNATokenizer
from dna_zoo.cli import main as cli

LAMBDA = Path(__file__).parent / "data" / "lambda_phage.fa.gz"


def published_style_tokenizer_json(path):
    """A DNABERT-2-style tokenizer.json as the published checkpoints ship: BPE, BERT specials, A C G T, no N."""
    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4, "A": 5, "C": 6, "G": 7, "T": 8}
    merges = [("T", "G"), ("A", "A"), ("C", "A"), ("TG", "CA"), ("G", "G"), ("AA", "T")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    backend = Tokenizer(models.BPE(vocab, merges, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    path.mkdir(parents=True, exist_ok=True)
    backend.save(str(path / "tokenizer.json"))
    return backend


def test_default_vocabulary_is_shipped_and_fits_the_tiny_preset():
    tokenizer = MistralDNATokenizer()
    assert len(tokenizer) == 4096 == MistralDNAConfig.from_preset("tiny").vocab_size
    assert tokenizer.convert_ids_to_tokens(list(range(5))) == ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token_id) == ("[CLS]", "[SEP]", 3)
    batch = tokenizer(["ACGTTGCAGGCTAAGTACGT", "acgtaggct"], padding=True, return_tensors="pt")
    model = MistralDNAForCausalLM(MistralDNAConfig.from_preset("tiny"))
    assert model(**batch).logits.shape[-1] == len(tokenizer)


def test_loads_a_published_tokenizer_json_with_identical_ids(tmp_path):
    backend = published_style_tokenizer_json(tmp_path)
    tokenizer = MistralDNATokenizer.from_pretrained(tmp_path)
    assert tokenizer.alphabet == "ACGT"
    for seq in ["TGCAAATGGCA", "ACGTACGT", "AAT", "G", "TGCATGCAGGAATCA" * 5]:
        assert tokenizer(seq)["input_ids"] == backend.encode(seq).ids, seq
    pair = tokenizer("TGCA", "AAT")
    assert pair["input_ids"] == backend.encode("TGCA", "AAT").ids


def test_base_outside_the_vocabulary_is_an_error_not_unk(tmp_path):
    published_style_tokenizer_json(tmp_path)
    tokenizer = MistralDNATokenizer.from_pretrained(tmp_path)  # this vocabulary has no N
    with pytest.raises(InvalidSequenceError, match=r"sequence 1: invalid character 'N' at position 2.*has no N"):
        tokenizer(["ACGT", "ACNT"])
    tokenizer = MistralDNATokenizer.from_pretrained(tmp_path, iupac="n")
    with pytest.raises(InvalidSequenceError, match=r"invalid character 'R' at position 1.*has no N"):
        tokenizer("ARGT")


def test_input_policy():
    tokenizer = MistralDNATokenizer()
    assert tokenizer("acgtTTGCa")["input_ids"] == tokenizer("ACGTTTGCA")["input_ids"]
    with pytest.raises(InvalidSequenceError, match=r"sequence 0: invalid character 'X' at position 3"):
        tokenizer("ACGXT")
    with pytest.raises(InvalidSequenceError, match="IUPAC"):
        tokenizer("ACGRT")
    mapped = MistralDNATokenizer(iupac="n")
    assert mapped("ACGRYT")["input_ids"] == mapped("ACGNNT")["input_ids"]


def test_offsets_map_every_base_once():
    tokenizer = MistralDNATokenizer()
    seq = "ACGTTGCAGGCTAAGTACGTNNNNACGTAGCTAGCTAGGGATCCA"
    encoding = tokenizer(seq, return_offsets_mapping=True, add_special_tokens=False)
    assert [i for start, end in encoding["offset_mapping"] for i in range(start, end)] == list(range(len(seq)))
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert "".join(tokens) == seq and tokenizer.decode(encoding["input_ids"]) == seq


def test_save_and_auto_round_trip(tmp_path):
    tokenizer = MistralDNATokenizer(iupac="n")
    tokenizer.save_pretrained(tmp_path)
    for loaded in (MistralDNATokenizer.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert type(loaded) is MistralDNATokenizer and loaded.iupac == "n"
        assert loaded.get_vocab() == tokenizer.get_vocab()
        seqs = ["ACGTTGCAGGCTAAGTACGT", "acgtRYnnACGT", "A"]
        assert loaded(seqs)["input_ids"] == tokenizer(seqs)["input_ids"]


def test_train_from_fasta_with_the_cli(tmp_path):
    cli(["train-tokenizer", "--fasta", str(LAMBDA), "--vocab-size", "300", "--out", str(tmp_path / "tok")])
    tokenizer = MistralDNATokenizer.from_pretrained(tmp_path / "tok")
    assert len(tokenizer) == 300 and tokenizer.alphabet == "ACGTN"
    assert max(len(t) for t in tokenizer.get_vocab()) > 4  # merges were learned
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "MistralDNATokenizer"
