import json
import random
from pathlib import Path

import pytest
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import AutoTokenizer

from dna_zoo import GenaLMConfig, GenaLMForMaskedLM, GenaLMTokenizer, InvalidSequenceError
from dna_zoo.cli import main as cli
from dna_zoo.data import read_fasta

LAMBDA = Path(__file__).parent / "data" / "lambda_phage.fa.gz"
TOKENIZER = GenaLMTokenizer()


def published_pipeline(tokenizer: GenaLMTokenizer) -> Tokenizer:
    """The GENA pipeline built from its published description, on the same vocabulary and merges."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    backend = Tokenizer(
        models.BPE(
            model["vocab"],
            [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]],
            unk_token="[UNK]",
        )
    )
    backend.normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.Replace(Regex("N{10,}"), "-")])
    backend.pre_tokenizer = pre_tokenizers.Split("-", behavior="isolated")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", model["vocab"]["[CLS]"]), ("[SEP]", model["vocab"]["[SEP]"])],
    )
    backend.decoder = decoders.BPEDecoder()
    backend.add_special_tokens(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "-"])
    return backend


SEQUENCES = [
    "ACGTTGCAGGCTAAGTACGT",
    "ACGTNNNNNNNNNACGT",  # 9 N: ordinary tokens
    "ACGTNNNNNNNNNNACGT",  # 10 N: one "-"
    "NNNNNNNNNNNNNNNNNNNNNNNNNACGTAGCTAGGN",
    "ACGTRYSWKMBACGTTTT",
    "A",
]


def test_ids_and_offsets_match_the_published_pipeline():
    reference = published_pipeline(TOKENIZER)
    for seq in SEQUENCES:
        ours = TOKENIZER(seq, return_offsets_mapping=True)
        theirs = reference.encode(seq)
        assert ours["input_ids"] == theirs.ids, seq
        dash = TOKENIZER.convert_tokens_to_ids("-")
        for token, mine, published in zip(ours["input_ids"], ours["offset_mapping"], theirs.offsets):
            if token == dash:  # widened to the whole N run; it ends where the published one ends
                assert mine[1] == published[1] and set(seq[mine[0] : mine[1]]) == {"N"} and mine[1] - mine[0] >= 10
            else:
                assert tuple(mine) == tuple(published), seq


def test_pairs_have_token_types():
    reference = published_pipeline(TOKENIZER)
    ours = TOKENIZER("ACGTTGCA", "NNNNNNNNNNNNGGCT")
    theirs = reference.encode("ACGTTGCA", "NNNNNNNNNNNNGGCT")
    assert ours["input_ids"] == theirs.ids and ours["token_type_ids"] == theirs.type_ids
    assert ours["token_type_ids"][-1] == 1 and ours["token_type_ids"][0] == 0


def test_n_runs():
    tokens = TOKENIZER.tokenize("ACGT" + "N" * 30 + "ACGT")
    assert tokens.count("-") == 1 and "N" not in "".join(t for t in tokens if t != "-")
    assert "-" not in TOKENIZER.tokenize("ACGT" + "N" * 9 + "ACGT")


def test_input_policy():
    assert TOKENIZER("acgtnnnnnnnnnnacgt")["input_ids"] == TOKENIZER("ACGTNNNNNNNNNNACGT")["input_ids"]
    assert TOKENIZER.unk_token_id not in TOKENIZER("acgtRYacgt")["input_ids"]  # IUPAC codes are in the vocabulary
    with pytest.raises(InvalidSequenceError, match=r"sequence 1: invalid character 'D' at position 2"):
        TOKENIZER(["ACGT", "ACD"])  # D is an IUPAC code the GENA vocabulary does not hold
    with pytest.raises(InvalidSequenceError, match=r"invalid character '\*' at position 0"):
        TOKENIZER("*ACGT")


def test_offsets_cover_every_base_once():
    seq = "ACGTTGCA" + "N" * 14 + "ACGTRYAAGGCTN"
    offsets = TOKENIZER(seq, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    assert [i for start, end in offsets for i in range(start, end)] == list(range(len(seq)))


def test_default_vocabulary_and_tiny_preset():
    assert len(TOKENIZER) == 4096 == GenaLMConfig.from_preset("tiny").vocab_size
    assert TOKENIZER.convert_ids_to_tokens(list(range(6))) == ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "-"]
    batch = TOKENIZER(["ACGTTGCAGG", "ACGTNNNNNNNNNNNNNNNACGT"], padding=True, return_tensors="pt")
    model = GenaLMForMaskedLM(GenaLMConfig.from_preset("tiny"))
    assert model(**batch).logits.shape[-1] == 4096


def test_save_and_auto_round_trip(tmp_path):
    TOKENIZER.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is GenaLMTokenizer
    assert loaded(SEQUENCES)["input_ids"] == TOKENIZER(SEQUENCES)["input_ids"]
    assert loaded("ACGT", "GGCC")["token_type_ids"] == TOKENIZER("ACGT", "GGCC")["token_type_ids"]


def test_train_from_fasta_with_the_cli(tmp_path):
    cli(
        [
            "train-tokenizer",
            "--family",
            "gena_lm",
            "--fasta",
            str(LAMBDA),
            "--vocab-size",
            "300",
            "--out",
            str(tmp_path),
        ]
    )
    tokenizer = GenaLMTokenizer.from_pretrained(tmp_path)
    assert len(tokenizer) == 300 and tokenizer.convert_tokens_to_ids("-") == 5
    assert "-" in tokenizer.tokenize("ACGT" + "N" * 12)


# ---------------------------------------------------------------- AIRI's published tokenizer files

PUBLISHED = Path(__file__).parents[2] / "shared" / "data" / "gena_lm" / "tokenizers"
GENOMES = Path(__file__).parents[2] / "shared" / "data" / "genomes"
PUBLISHED_TOKENIZERS = ["t2t_1000h_multi_32k", "human/BPE_32k"]


def published(name: str) -> Path:
    folder = PUBLISHED / name
    if not (folder / "tokenizer.json").is_file():
        pytest.skip(f"AIRI's published tokenizers are not beside this checkout ({folder})")
    return folder


def genome_windows(count=60, seed=0) -> list[str]:
    """Windows of 50 bp to 5 kb of real genomes: the lambda phage here, and the shared bacteria where present."""
    rng = random.Random(seed)
    paths = [LAMBDA, *sorted(GENOMES.glob("[ehsv]*.fa.gz"))[:2]]
    genomes = [sequence for path in paths for _, sequence in read_fasta(path)]
    windows = []
    for _ in range(count):
        genome = rng.choice(genomes)
        length = rng.randint(50, 5000)
        start = rng.randint(0, len(genome) - length)
        windows.append(genome[start : start + length])
    return windows


@pytest.mark.parametrize("name", PUBLISHED_TOKENIZERS)
def test_published_tokenizer_gives_the_ids_of_the_tokenizers_library_on_real_genomes(name):
    folder = published(name)
    ours, reference = GenaLMTokenizer.from_pretrained(folder), Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert len(ours) == reference.get_vocab_size() == 32000
    windows = genome_windows()
    if "N" in ours.alphabet:  # N runs shorter and longer than the 10 of the t2t normalizer
        windows += [w[:300] + "N" * n + w[300:600] for w, n in zip(windows, (3, 9, 10, 11, 40, 1000))]
    encoded = ours(windows)["input_ids"]
    assert encoded == [e.ids for e in reference.encode_batch(windows)]
    # soft-masked (lowercase) bases: our policy reads them as upper case; the published pipeline would give [UNK]
    assert ours([w.lower() for w in windows[:10]])["input_ids"] == encoded[:10]
    pair = ours(windows[0][:200], windows[1][:200])
    theirs = reference.encode(windows[0][:200], windows[1][:200])
    assert pair["input_ids"] == theirs.ids and pair["token_type_ids"] == theirs.type_ids


def test_published_t2t_tokenizer_offsets_and_padding():
    folder = published("t2t_1000h_multi_32k")
    ours, reference = GenaLMTokenizer.from_pretrained(folder), Tokenizer.from_file(str(folder / "tokenizer.json"))
    window = genome_windows(1)[0][:400]
    encoded = ours(window, return_offsets_mapping=True)
    assert [tuple(o) for o in encoded["offset_mapping"]] == reference.encode(window).offsets
    batch = ours([window, window[:50]], padding=True, return_tensors="pt")
    assert batch["input_ids"][1, -1].item() == ours.pad_token_id == 3


def test_human_bpe_32k_has_no_n_and_refuses_it_by_name():
    ours = GenaLMTokenizer.from_pretrained(published("human/BPE_32k"))
    assert ours.alphabet == "ACGT" and "-" not in ours.all_special_tokens
    with pytest.raises(InvalidSequenceError, match="'N' at position 4 .*vocabulary has no N"):
        ours("ACGTNACGT")
