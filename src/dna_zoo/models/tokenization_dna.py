"""DNA tokenizers backed by the Rust `tokenizers` library, with one input policy for every family.

The policy (shared by every dna_zoo tokenizer through `DNATokenizer`):
- lowercase (soft-masked) bases are upper-cased, never turned into an unknown token;
- IUPAC ambiguity codes (R Y S W K M B D H V) raise an error, or become N with `iupac="n"`;
- U (RNA) raises an error, or becomes T with `rna="t"`; whitespace and line breaks inside a sequence raise an
  error (removing them would shift every position after them);
- any other character raises `InvalidSequenceError` naming the sequence index, the position and the character;
- special tokens written in the text (e.g. "<mask>") are kept as they are.

This file travels to the Hub as remote code: it imports only torch, transformers and tokenizers.
"""

import functools
import itertools
import json
import os
import re

import torch
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, WordLevel
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from .configuration_trinity_dna import COMPLEMENT, VOCABULARY
from .pretrained import HUB_KWARGS, ensure_resolvable, write_remote_code

IUPAC_AMBIGUITY_CODES = "RYSWKMBDHV"


class InvalidSequenceError(ValueError):
    """A sequence holds a character the tokenizer's alphabet cannot represent; `index` (the sequence's index in
    the call), `position` and `character` say where, `reason` says what without the index."""

    def __init__(self, index: int, position: int, character: str, reason: str):
        super().__init__(f"sequence {index}: {reason}")
        self.index, self.position, self.character, self.reason = index, position, character, reason


class SpecialTokens:
    """The special tokens a text may hold, found by one regex; `search` first checks (at C speed) that the text
    holds the first character of one of them at all, which plain DNA never does."""

    def __init__(self, tokens: frozenset[str]):
        ordered = sorted(tokens, key=len, reverse=True)  # the longest first: "<mask>" before "<m"
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.first_characters = {token[0] for token in tokens}

    def search(self, text: str) -> re.Match | None:
        if self.pattern is None or not any(character in text for character in self.first_characters):
            return None
        return self.pattern.search(text)

    def finditer(self, text: str):
        return iter(()) if self.search(text) is None else self.pattern.finditer(text)


_special_tokens = functools.lru_cache(maxsize=64)(SpecialTokens)  # one per set of special tokens


class DNATokenizer(TokenizersBackend):
    """Base of the dna_zoo tokenizers: cleans and checks every sequence before the Rust tokenizer sees it.

    Subclasses set `alphabet` (upper-case letters a sequence may contain) and build `self._tokenizer`.
    """

    alphabet = "ACGTN"

    def _setup_input_policy(self, iupac: str, rna: str = "error") -> None:
        if iupac not in ("error", "n"):
            raise ValueError(f"iupac must be 'error' or 'n', got {iupac!r}")
        if rna not in ("error", "t"):
            raise ValueError(f"rna must be 'error' or 't', got {rna!r}")
        self.iupac, self.rna = iupac, rna
        table = {ord(c.lower()): c for c in self.alphabet}
        if iupac == "n":
            table.update({ord(c): "N" for c in IUPAC_AMBIGUITY_CODES + IUPAC_AMBIGUITY_CODES.lower()})
        if rna == "t":  # RNA read as DNA: the same length, so offsets still index the input
            table.update({ord("U"): "T", ord("u"): "T"})
        self._translation = table
        self._invalid = re.compile(f"[^{re.escape(self.alphabet)}]")
        self._alphabet_bytes = self.alphabet.encode("ascii")

    @functools.cached_property
    def longest_token_bases(self) -> int:
        """The most bases one token covers (6 for 6-mers, the longest merge for BPE, 1 per base)."""
        specials = set(self.all_special_tokens)
        return max(len(token) for token in self._tokenizer.get_vocab(with_added_tokens=False) if token not in specials)

    def _special_token_pattern(self) -> "SpecialTokens":
        """Special tokens written in the text (`<mask>`, `[MASK]`) are kept; a one-character one (GENA's N-run
        token "-") is not: typed in a sequence it is an alignment gap, not a run of N."""
        return _special_tokens(frozenset(str(t) for t in self.added_tokens_encoder if len(str(t)) > 1))

    def clean_sequence(self, text: str, index: int = 0, special_tokens: SpecialTokens | None = None) -> str:
        """Upper-case and map a sequence by the input policy; raise on a character outside the alphabet."""
        if not isinstance(text, str):
            raise TypeError(f"sequence {index}: expected a string, got {type(text).__name__}")
        special_tokens = special_tokens or self._special_token_pattern()
        pieces, start = [], 0
        for special in special_tokens.finditer(text):
            pieces += [self._clean_piece(text[start : special.start()], index, start), special.group()]
            start = special.end()
        pieces.append(self._clean_piece(text[start:], index, start))
        return "".join(pieces)

    def _clean_piece(self, piece: str, index: int, offset: int) -> str:
        cleaned = piece.translate(self._translation)
        if cleaned.isascii() and not cleaned.encode("ascii").translate(None, self._alphabet_bytes):
            return cleaned  # every character in the alphabet (a C-speed check; the regex below finds the culprit)
        bad = self._invalid.search(cleaned)
        if bad is not None:
            char = piece[bad.start()]
            hint = ""
            if bad.group() == "N":
                hint = " (this tokenizer's vocabulary has no N)"
            elif char.upper() in IUPAC_AMBIGUITY_CODES:
                hint = " (an IUPAC ambiguity code: pass iupac='n' to read it as N)"
            elif char.upper() == "U":
                hint = " (RNA: pass rna='t' to read U as T)"
            elif char == "-":
                hint = " (an alignment gap: remove gaps first; runs of N need no marking)"
            elif char.isspace():
                hint = " (whitespace or a line break inside a sequence: join FASTA lines, e.g. with read_fasta)"
            position = offset + bad.start()
            raise InvalidSequenceError(
                index,
                position,
                char,
                f"invalid character {char!r} at position {position}{hint}; "
                f"allowed are {', '.join(self.alphabet)} in upper or lower case",
            )
        return cleaned

    def _clean_batch(self, texts):
        if texts is None:
            return None
        special = self._special_token_pattern()
        if isinstance(texts, str):
            return self.clean_sequence(texts, 0, special)
        return [
            self.clean_sequence(t, i, special)
            if isinstance(t, str)
            else [self.clean_sequence(w, i, special) for w in t]
            for i, t in enumerate(texts)
        ]

    @classmethod
    def convert_to_native_format(cls, trust_remote_code=False, **kwargs):
        """dna_zoo tokenizers read their files themselves (`tokenizer_file`, `vocab_file`), the same way on every
        transformers release and with or without remote code: the files' paths reach `__init__` unchanged."""
        return kwargs

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`from_pretrained`, refusing a name it cannot find (transformers would build a default tokenizer)."""
        hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if key in kwargs}
        files = ["tokenizer_config.json", *cls.vocab_files_names.values()]
        ensure_resolvable(pretrained_model_name_or_path, files, **hub_kwargs)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also writes this file (and the sibling files it imports) and an `auto_map`, so the folder loads with
        `AutoTokenizer.from_pretrained(path, trust_remote_code=True)` where dna_zoo is not installed."""
        files = super().save_pretrained(save_directory, *args, **kwargs)
        auto_map = {"AutoTokenizer": [None, f"{__name__.rsplit('.', 1)[-1]}.{type(self).__name__}"]}
        write_remote_code(save_directory, __name__, "tokenizer_config.json", auto_map)
        return files

    def _encode_plus(self, text, text_pair=None, *args, **kwargs):
        return self._encode_cleaned(self._clean_batch(text), self._clean_batch(text_pair), *args, **kwargs)

    def _encode_cleaned(self, text, text_pair=None, *args, **kwargs):
        """Encode sequences the input policy has already cleaned (the Rust pipeline)."""
        return super()._encode_plus(text, text_pair, *args, **kwargs)


def kmer_vocabulary(layout: str = "v2", k: int = 6) -> list[str]:
    """Token strings by id of the Nucleotide Transformer 6-mer vocabularies.

    k-mers follow `itertools.product("ATCG", repeat=k)`. v2: <unk> <pad> <mask> <cls> <eos> <bos>, k-mers, A T C G N.
    v1: <unk> <pad> <mask> <cls>, k-mers, A T C G N, <eos> <bos> (the last two beyond the 4105-row embedding).
    """
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=k)]
    bases = list("ATCGN")
    if layout == "v2":
        return ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>", *kmers, *bases]
    if layout == "v1":
        return ["<unk>", "<pad>", "<mask>", "<cls>", *kmers, *bases, "<eos>", "<bos>"]
    raise ValueError(f"layout must be 'v1' or 'v2', got {layout!r}")


# Byte -> base code in itertools.product("ATCG") order; N is 4 (cleaned sequences hold nothing else).
_BASE_CODES = bytes.maketrans(b"ATCGN", bytes(range(5)))


_N_RUN = re.compile("N+")
_MOST_N_RUNS_ONE_BY_ONE = 16  # a sequence with more N runs is tokenized in one vectorised pass instead


def kmer_token_ids(sequences: list[str], k: int, first_kmer_id: int, first_base_id: int) -> list[torch.Tensor]:
    """Vectorised k-mer tokenization of cleaned sequences: for each, the (T,) ids of its tokens without <cls>.

    The tokens are those of the Rust pipeline: k-mers from the left of each N-free run, the run's leftover bases
    one by one, and each N alone. An N-free run costs a handful of tensor operations (its k-mers are one (m, k) x
    (k,) product of base codes and powers of 4); a sequence with many N runs takes one pass over all its bases.
    """
    powers = 4 ** torch.arange(k - 1, -1, -1)  # (k,)
    n_id = first_base_id + 4
    ids = []
    for sequence in sequences:
        if not sequence:
            ids.append(torch.zeros(0, dtype=torch.long))
            continue
        codes = torch.frombuffer(bytearray(sequence.encode("ascii").translate(_BASE_CODES)), dtype=torch.uint8)
        codes = codes.long()  # (L,) 0-3 for A T C G, 4 for N
        n_runs = list(_N_RUN.finditer(sequence)) if "N" in sequence else []
        if len(n_runs) > _MOST_N_RUNS_ONE_BY_ONE:
            ids.append(_ids_with_n_runs(codes, k, powers, first_kmer_id, first_base_id))
            continue
        pieces, start = [], 0
        for run in n_runs:
            pieces += [_run_ids(codes[start : run.start()], k, powers, first_kmer_id, first_base_id)]
            pieces += [torch.full((run.end() - run.start(),), n_id)]
            start = run.end()
        pieces.append(_run_ids(codes[start:], k, powers, first_kmer_id, first_base_id))
        ids.append(torch.cat(pieces) if len(pieces) > 1 else pieces[0])
    return ids


def _run_ids(codes: torch.Tensor, k: int, powers, first_kmer_id: int, first_base_id: int) -> torch.Tensor:
    """(L,) codes of an N-free run -> ids of its k-mers from the left, then of its leftover bases."""
    m = codes.numel() // k
    return torch.cat([codes[: m * k].view(m, k) @ powers + first_kmer_id, codes[m * k :] + first_base_id])


def _ids_with_n_runs(codes: torch.Tensor, k: int, powers, first_kmer_id: int, first_base_id: int) -> torch.Tensor:
    """The ids of one sequence holding N: each base's place in its N-free run decides whether it starts a k-mer,
    is a leftover base (or an N: single tokens both) or lies inside a k-mer."""
    length = codes.numel()
    index = torch.arange(length)
    is_base = codes < 4
    previous_break = torch.cummax(torch.where(is_base, -1, index), 0).values  # last N at or before i
    next_break = torch.cummin(torch.where(is_base, length, index).flip(0), 0).values.flip(0)
    offset = index - previous_break - 1  # position of a base within its N-free run
    run_length = next_break - previous_break - 1
    in_kmers = offset < run_length - run_length % k
    kmer_start = is_base & in_kmers & (offset % k == 0)
    positions = torch.nonzero(kmer_start | ~in_kmers).squeeze(1)  # (T,) each token's start (an N is never in_kmers)
    ids = first_base_id + codes[positions]
    starts = kmer_start[positions]
    windows = torch.nn.functional.pad(codes, (0, k - 1)).unfold(0, k, 1)  # (L, k) view: k codes from each base
    ids[starts] = windows[positions[starts]] @ powers + first_kmer_id
    return ids


# Options of a tokenizer call the vectorised path handles (any other value goes through the Rust pipeline).
_FAST_OPTIONS = {
    "add_special_tokens": None,
    "padding_strategy": None,
    "truncation_strategy": (
        TruncationStrategy.DO_NOT_TRUNCATE,
        TruncationStrategy.LONGEST_FIRST,
        TruncationStrategy.ONLY_FIRST,
    ),
    "max_length": None,
    "stride": (0,),
    "is_split_into_words": (False,),
    "pad_to_multiple_of": None,
    "padding_side": (None, "left", "right"),
    "return_tensors": (None, "pt", "np"),
    "return_token_type_ids": (None, False),
    "return_attention_mask": (None, True, False),
    "return_overflowing_tokens": (False,),
    "return_special_tokens_mask": (False,),
    "return_offsets_mapping": (False,),
    "return_length": (False,),
    "split_special_tokens": None,
    "verbose": None,
}


def _read_vocab_file(path: str) -> dict[str, int]:
    with open(path, encoding="utf-8") as handle:
        return {line.strip(): i for i, line in enumerate(handle.read().splitlines())}


def _read_tokenizer_json(path: str, model_type: str) -> dict:
    """The "model" section of a tokenizer.json, which must be of `model_type` (BPE, WordLevel)."""
    with open(path, encoding="utf-8") as handle:
        model = json.load(handle)["model"]
    if model.get("type") != model_type:
        raise ValueError(f"{path} holds a {model.get('type')} tokenizer; a {model_type} one is expected here")
    return model


class NucleotideTransformerTokenizer(DNATokenizer):
    """Nucleotide Transformer 6-mer tokenizer (Rust-backed WordLevel).

    Each sequence is cut into k-mers from the left; a run of N splits it, each N is a token of its own, and a
    leftover shorter than k becomes single-base tokens. `<cls>` is prepended, no `<eos>` is appended:
    `ATTCCGATTCCGATTCCGACGTACGTNACGT` -> `<cls> ATTCCG ATTCCG ATTCCG ACGTAC G T N A C G T`.

    Like every dna_zoo tokenizer it also takes `rna="t"` to read U as T (default "error").

    Args:
        vocab: token -> id mapping or the path of a published `vocab.txt`; built from `layout` when omitted.
        layout: "v2" (default, 4107 tokens) or "v1" (ids of the 500m / 2.5b checkpoints); a published v1 or v2
            vocabulary (vocab.txt, tokenizer.json) sets the layout itself.
        k: k-mer length (6 in every published model).
        iupac: "error" (default) or "n" to read IUPAC ambiguity codes as N.
    """

    vocab_files_names = {"vocab_file": "vocab.txt", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    model = WordLevel

    def __init__(
        self,
        vocab: dict[str, int] | str | None = None,
        layout: str = "v2",
        k: int = 6,
        iupac: str = "error",
        unk_token: str = "<unk>",
        pad_token: str = "<pad>",
        mask_token: str = "<mask>",
        cls_token: str = "<cls>",
        eos_token: str = "<eos>",
        bos_token: str = "<bos>",
        **kwargs,
    ):
        vocab_file, tokenizer_file = kwargs.pop("vocab_file", None), kwargs.pop("tokenizer_file", None)
        if isinstance(vocab, str):
            vocab = _read_vocab_file(vocab)
        elif vocab is None and tokenizer_file is not None and os.path.isfile(tokenizer_file):
            vocab = _read_tokenizer_json(tokenizer_file, "WordLevel")["vocab"]
        elif vocab is None and vocab_file is not None and os.path.isfile(vocab_file):
            vocab = _read_vocab_file(vocab_file)
        elif vocab is None:
            vocab = {token: i for i, token in enumerate(kmer_vocabulary(layout, k))}
        # The published vocabularies name their layout (the v1 vocab.txt of the 500m / 2.5b models, or v2); any other
        # vocabulary keeps the layout asked for and is tokenized by the Rust pipeline only.
        standard = [name for name in ("v2", "v1") if vocab == {t: i for i, t in enumerate(kmer_vocabulary(name, k))}]
        self._standard_vocab = bool(standard)
        layout = standard[0] if standard else layout
        self.layout = layout
        self.k = k
        self._setup_input_policy(iupac, kwargs.setdefault("rna", "error"))
        self._first_ids = (vocab.get("A" * k), vocab.get("A"))  # first k-mer and first single-base ids

        unk, cls = str(unk_token), str(cls_token)  # AddedToken objects on reload
        self._tokenizer = Tokenizer(WordLevel(vocab, unk_token=unk))
        # Leftmost-first regex: a k-mer of ACGT where one starts, else a single character. This is exactly
        # "split on N, cut each piece into k-mers from the left, leftovers as single bases".
        self._tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|."), behavior="isolated")
        self._tokenizer.decoder = decoders.Fuse()
        self._tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0",
            pair=f"{cls}:0 $A:0 $B:1",
            special_tokens=[(cls, vocab[cls])],
        )
        kwargs.setdefault("model_max_length", 1000 if layout == "v1" else 2048)
        super().__init__(
            layout=layout,
            k=k,
            iupac=iupac,
            unk_token=unk_token,
            pad_token=pad_token,
            mask_token=mask_token,
            cls_token=cls_token,
            eos_token=eos_token,
            bos_token=bos_token,
            **kwargs,
        )

    def _encode_cleaned(self, text, text_pair=None, *args, **kwargs):
        """Plain calls (strings in; ids, attention mask, padding, truncation out) take a vectorised path with the
        same ids; pairs, offsets, special-token masks and the like take the Rust pipeline."""
        encoded = None
        if self._standard_vocab and text_pair is None and not args:
            encoded = self._encode_kmers(text, kwargs)
        return encoded if encoded is not None else super()._encode_cleaned(text, text_pair, *args, **kwargs)

    def _encode_kmers(self, text, options: dict) -> BatchEncoding | None:
        batched = not isinstance(text, str)
        texts = list(text) if batched else [text]
        if not texts or not all(isinstance(t, str) for t in texts):
            return None
        if any(
            key not in _FAST_OPTIONS or (_FAST_OPTIONS[key] and value not in _FAST_OPTIONS[key])
            for key, value in options.items()
        ):
            return None
        special_tokens = self._special_token_pattern()
        if any(special_tokens.search(t) for t in texts):
            return None
        rows = kmer_token_ids(texts, self.k, *self._first_ids)  # (T_i,) each, without <cls>

        specials = 1 if options.get("add_special_tokens", True) else 0
        max_length = options.get("max_length")
        truncate = (
            options.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE) != TruncationStrategy.DO_NOT_TRUNCATE
        )
        if truncate and max_length is not None:
            limit = max(max_length - specials, 0)
            rows = [row[max(len(row) - limit, 0) :] if self.truncation_side == "left" else row[:limit] for row in rows]
        lengths = [len(row) + specials for row in rows]
        longest = max(lengths)
        if not truncate or max_length is None:
            self._eventual_warn_about_too_long_sequence(range(longest), max_length, options.get("verbose", True))

        # Each row is padded up to the target (rows already longer stay as they are, as in `tokenizers`).
        padding = options.get("padding_strategy", PaddingStrategy.DO_NOT_PAD)
        target = 0
        if padding != PaddingStrategy.DO_NOT_PAD:
            target = max_length if padding == PaddingStrategy.MAX_LENGTH and max_length is not None else longest
            multiple = options.get("pad_to_multiple_of")
            target = -(-target // multiple) * multiple if multiple else target
        pad_left = (options.get("padding_side") or self.padding_side) == "left"
        padded = [max(target, length) for length in lengths]
        return_tensors = options.get("return_tensors")
        if return_tensors is not None:
            if len(set(padded)) > 1:
                return None  # the Rust path raises transformers' own error for ragged tensors
            input_ids = torch.full((len(rows), padded[0]), self.pad_token_id, dtype=torch.long)
            attention_mask = torch.zeros_like(input_ids)
            for index, (row, length) in enumerate(zip(rows, lengths)):
                start = padded[0] - length if pad_left else 0
                input_ids[index, start + specials : start + length] = row
                input_ids[index, start : start + specials] = self.cls_token_id
                attention_mask[index, start : start + length] = 1
        else:
            cls = [self.cls_token_id] * specials
            input_ids, attention_mask = [], []
            for row, length, width in zip(rows, lengths, padded):
                pad, ids, real = width - length, cls + row.tolist(), [1] * length
                input_ids.append([self.pad_token_id] * pad + ids if pad_left else ids + [self.pad_token_id] * pad)
                attention_mask.append([0] * pad + real if pad_left else real + [0] * pad)

        data = {"input_ids": input_ids}
        if options.get("return_attention_mask") is not False and "attention_mask" in self.model_input_names:
            data["attention_mask"] = attention_mask
        if return_tensors is not None:
            return BatchEncoding(data, tensor_type=return_tensors)
        return BatchEncoding(data if batched else {key: value[0] for key, value in data.items()})

    @property
    def embedded_vocab_size(self) -> int:
        """Embedding rows a model needs for the ids this tokenizer gives: the v1 vocabulary's <eos> and <bos> come
        after the 4105 rows of the published v1 models and are never given (no <eos> is appended)."""
        return len(self) - 2 if self._standard_vocab and self.layout == "v1" else len(self)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        """Also write `vocab.txt` (one token per line, by id), the file the published checkpoints ship."""
        name = (filename_prefix + "-" if filename_prefix else "") + "vocab.txt"
        path = os.path.join(save_directory, name)
        vocab = self._tokenizer.get_vocab(with_added_tokens=False)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sorted(vocab, key=vocab.get)))
        return (path,)


BERT_SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")


def bpe_vocab_and_merges(model: dict) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) of the "model" section of a BPE tokenizer.json (merges as "a b" strings or pairs)."""
    return model["vocab"], [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def train_dna_bpe(sequences, vocab_size: int, alphabet: str = "ACGTN", special_tokens=BERT_SPECIAL_TOKENS):
    """Train a BPE vocabulary on DNA strings with the `tokenizers` trainer; returns (vocab, merges).

    Ids: the special tokens first (in order), then the alphabet, then merges; no byte fallback, no prefixes.
    """
    tokenizer = Tokenizer(BPE(unk_token=special_tokens[0]))
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=list(alphabet),
        limit_alphabet=len(alphabet),
        show_progress=False,
    )
    tokenizer.train_from_iterator(sequences, trainer)
    return bpe_vocab_and_merges(json.loads(tokenizer.to_str())["model"])


class DNABPETokenizer(DNATokenizer):
    """Byte-pair encoding over DNA (Rust-backed), BERT template `[CLS] A [SEP]` (pairs `[CLS] A [SEP] B [SEP]`).

    The alphabet is the set of single letters (A C G T N and IUPAC codes) the vocabulary holds: a letter outside
    it is an error, not `[UNK]`. Loaded from a tokenizer.json (a published one, or a save), the whole Rust pipeline
    is the file's own, so ids equal those of the `tokenizers` library on the same file; the input policy runs
    before it. Subclasses set `default_vocabulary` (a tokenizer.json shipped beside this file, used when the
    tokenizer is built with no vocabulary), `special_tokens` and `configure_pipeline` (the pipeline of a tokenizer
    built from a vocabulary).
    """

    vocab_files_names = {"tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    model = BPE
    default_vocabulary: str | None = None
    special_tokens = BERT_SPECIAL_TOKENS

    @staticmethod
    def configure_pipeline(tokenizer: Tokenizer) -> None:
        """Normalizer, pre-tokenizer and decoder of the published pipeline (DNABERT-2 style by default)."""
        tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tokenizer.decoder = decoders.Fuse()

    def __init__(
        self,
        vocab: dict[str, int] | None = None,
        merges: list[tuple[str, str]] | None = None,
        iupac: str = "error",
        unk_token: str = "[UNK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        mask_token: str = "[MASK]",
        **kwargs,
    ):
        tokenizer_file = kwargs.pop("tokenizer_file", None)
        published = vocab is None and tokenizer_file is not None and os.path.isfile(tokenizer_file)
        if published:
            vocab, merges = bpe_vocab_and_merges(_read_tokenizer_json(tokenizer_file, "BPE"))
        elif vocab is None:
            vocab, merges = self._read_default_vocabulary()
        self.alphabet = "".join(base for base in "ACGTN" + IUPAC_AMBIGUITY_CODES if base in vocab)
        self._setup_input_policy(iupac, kwargs.setdefault("rna", "error"))
        if published:  # normalizer, pre-tokenizer, post-processor and decoder exactly as the file has them
            self._tokenizer = Tokenizer.from_file(tokenizer_file)
        else:
            unk, cls, sep = str(unk_token), str(cls_token), str(sep_token)
            self._tokenizer = Tokenizer(BPE(vocab, merges or [], unk_token=unk))
            self.configure_pipeline(self._tokenizer)
            self._tokenizer.post_processor = processors.TemplateProcessing(
                single=f"{cls}:0 $A:0 {sep}:0",
                pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
                special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])],
            )
        super().__init__(
            iupac=iupac,
            unk_token=unk_token,
            cls_token=cls_token,
            sep_token=sep_token,
            pad_token=pad_token,
            mask_token=mask_token,
            **kwargs,
        )

    @classmethod
    def _read_default_vocabulary(cls):
        if cls.default_vocabulary is None:
            raise ValueError(f"{cls.__name__} needs a vocabulary: pass vocab/merges or use from_pretrained")
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), cls.default_vocabulary)
        with open(path, encoding="utf-8") as handle:
            return bpe_vocab_and_merges(json.load(handle)["model"])

    @classmethod
    def train(cls, sequences, vocab_size: int = 4096, alphabet: str = "ACGTN", **kwargs):
        """A new tokenizer with a BPE vocabulary trained on `sequences` (an iterable of DNA strings)."""
        vocab, merges = train_dna_bpe(sequences, vocab_size, alphabet, cls.special_tokens)
        return cls(vocab=vocab, merges=merges, **kwargs)


class MistralDNATokenizer(DNABPETokenizer):
    """Mistral-DNA tokenizer: the DNABERT-2-style BPE (`[UNK] [CLS] [SEP] [PAD] [MASK]`, then bases and merges).

    `MistralDNATokenizer.from_pretrained(path)` reads a published tokenizer.json. With no arguments it loads
    dna_zoo's own 4096-token vocabulary, trained with `dna-zoo train-tokenizer` on bacterial genomes (see the
    model card); it is NOT the vocabulary of the published checkpoints.
    """

    default_vocabulary = "mistral_dna_bpe.json"

    def __init__(self, *args, bos_token: str = "[CLS]", eos_token: str = "[SEP]", **kwargs):
        super().__init__(*args, bos_token=bos_token, eos_token=eos_token, **kwargs)


class DNABERT2Tokenizer(DNABPETokenizer):
    """DNABERT-2 tokenizer: BPE over DNA (`[UNK] [CLS] [SEP] [PAD] [MASK]`, then bases and merges), whitespace
    pre-tokenizer, template `[CLS] A [SEP]`.

    `DNABERT2Tokenizer.from_pretrained(path)` reads the published tokenizer.json with its own pipeline. With no
    arguments it loads dna_zoo's own 4096-token vocabulary of the same layout (trained on bacterial genomes, shared
    with Mistral-DNA), NOT the published one: a model trained with one vocabulary needs that vocabulary.
    """

    default_vocabulary = "mistral_dna_bpe.json"


class GenaLMTokenizer(DNABPETokenizer):
    """GENA-LM tokenizer: BPE with `[UNK] [CLS] [SEP] [PAD] [MASK]` and "-" (special), the published pipeline:
    strip, runs of 10 or more N become one "-" token, split on "-", BERT template with token type ids for pairs.

    `GenaLMTokenizer.from_pretrained(path)` reads a published GENA tokenizer.json with its own pipeline: the t2t
    models' (32,000 tokens, A C G T N and IUPAC B K M R S W Y, the N-run rule above) or the first human-only
    models' BPE_32k (A C G T only, no N-run rule). With no arguments it loads dna_zoo's own 4096-token vocabulary
    trained on bacterial genomes (see the model card), NOT the published one. Unlike the published tokenizers,
    lowercase is upper-cased instead of becoming `[UNK]`. Offsets map every token, "-" included, back to its bases.
    """

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    default_vocabulary = "gena_lm_bpe.json"
    special_tokens = (*BERT_SPECIAL_TOKENS, "-")

    @staticmethod
    def configure_pipeline(tokenizer: Tokenizer) -> None:
        tokenizer.normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.Replace(Regex("N{10,}"), "-")])
        tokenizer.pre_tokenizer = pre_tokenizers.Split("-", behavior="isolated")
        tokenizer.decoder = decoders.BPEDecoder()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("model_max_length", 512)
        super().__init__(*args, **kwargs)
        self._n_run_token_id = self._tokenizer.token_to_id("-")  # None in vocabularies without it (human BPE_32k)
        if self._n_run_token_id is not None and "-" not in self.all_special_tokens:
            self.add_special_tokens({"additional_special_tokens": ["-"]})

    def _encode_cleaned(self, text, text_pair=None, *args, **kwargs):
        if not kwargs.get("return_offsets_mapping") or self._n_run_token_id is None:
            return super()._encode_cleaned(text, text_pair, *args, **kwargs)
        return_tensors = kwargs.pop("return_tensors", None)
        encoded = super()._encode_cleaned(text, text_pair, *args, **kwargs)
        batched = bool(encoded["input_ids"]) and isinstance(encoded["input_ids"][0], list)
        rows = (
            zip(encoded["input_ids"], encoded["offset_mapping"])
            if batched
            else [(encoded["input_ids"], encoded["offset_mapping"])]
        )
        for ids, offsets in rows:
            self._widen_n_run_offsets(ids, offsets)
        return encoded.convert_to_tensors(return_tensors) if return_tensors else encoded

    def _widen_n_run_offsets(self, ids: list[int], offsets: list[tuple[int, int]]) -> None:
        """tokenizers gives a "-" token (a run of N) the offsets of the run's last base; widen them to the run."""
        dash, sep = self._n_run_token_id, self.sep_token_id
        previous_end = 0
        for position, token in enumerate(ids):
            if token == sep:
                previous_end = 0  # the second sequence of a pair counts from 0 again
            elif token == dash:
                offsets[position] = (previous_end, offsets[position][1])
            if token != sep and offsets[position][1] > 0:
                previous_end = offsets[position][1]


class TrinityDNATokenizer(DNATokenizer):
    """Single-nucleotide tokenizer of TrinityDNA: one token per base (A C G T N), no special tokens added, so
    token i is base i. `complement` maps each base to its complement for reverse-complement work.
    """

    vocab_files_names = {"tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    model = WordLevel
    complement = dict(COMPLEMENT, N="N")
    vocabulary = VOCABULARY  # the tokens in id order
    template = ("$A:0", "$A:0 $B:1")  # the post-processor's single and pair templates: no special tokens

    def __init__(
        self,
        vocab: dict[str, int] | None = None,
        iupac: str = "error",
        pad_token: str = "[PAD]",
        unk_token: str = "[UNK]",
        mask_token: str = "[MASK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        **kwargs,
    ):
        vocab = vocab or {token: i for i, token in enumerate(self.vocabulary)}
        self.alphabet = "".join(base for base in "ACGTN" if base in vocab)
        self._setup_input_policy(iupac, kwargs.setdefault("rna", "error"))
        self._tokenizer = Tokenizer(WordLevel(vocab, unk_token=str(unk_token)))
        self._tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
        self._tokenizer.decoder = decoders.Fuse()
        single, pair = self.template
        special = [(token, vocab[token]) for token in ("[SEP]",) if token in single + pair]
        self._tokenizer.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=special)
        super().__init__(
            iupac=iupac,
            pad_token=pad_token,
            unk_token=unk_token,
            mask_token=mask_token,
            cls_token=cls_token,
            sep_token=sep_token,
            **kwargs,
        )

    def reverse_complement(self, sequence: str) -> str:
        """Reverse complement of a DNA string (cleaned by the input policy first)."""
        return "".join(self.complement[base] for base in reversed(self.clean_sequence(sequence)))


class HyenaDNATokenizer(TrinityDNATokenizer):
    """Single-nucleotide tokenizer of HyenaDNA, in the id order of the authors' character tokenizer: `[CLS]`0
    `[SEP]`1 `[BOS]`2 `[MASK]`3 `[PAD]`4 `[RESERVED]`5 `[UNK]`6, then A C G T N (7-11). No special token is added,
    so token i is base i; pad on the right (the model is causal)."""

    vocabulary = ("[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N")


class CaduceusTokenizer(HyenaDNATokenizer):
    """Single-nucleotide tokenizer of Caduceus: HyenaDNA's vocabulary and ids, with `[SEP]` (id 1) appended to each
    sequence, as the authors' tokenizer does. A reverse complement tokenized this way is not the token-level
    reverse complement (the `[SEP]` stays at the end): pass add_special_tokens=False where exact strand symmetry
    matters."""

    template = ("$A:0 [SEP]:0", "$A:0 [SEP]:0 $B:1 [SEP]:1")


class NTv3Tokenizer(TrinityDNATokenizer):
    """Single-nucleotide tokenizer of Nucleotide Transformer v3, in the id order of the authors' tokenizer: `<unk>`0
    `<pad>`1 `<mask>`2 `<cls>`3 `<eos>`4 `<bos>`5, then A T C G N (6-10). No special token is added, so token i is
    base i; pad on the right (the model extends each row on the right to its downsampling multiple)."""

    vocabulary = ("<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>", "A", "T", "C", "G", "N")

    def __init__(
        self,
        vocab: dict[str, int] | None = None,
        iupac: str = "error",
        pad_token: str = "<pad>",
        unk_token: str = "<unk>",
        mask_token: str = "<mask>",
        cls_token: str = "<cls>",
        sep_token: str = "<eos>",
        **kwargs,
    ):
        super().__init__(vocab, iupac, pad_token, unk_token, mask_token, cls_token, sep_token, **kwargs)


# The tokenizer of each family (model_type), registered with AutoTokenizer by dna_zoo.auto.
TOKENIZERS = {
    "caduceus_dna": CaduceusTokenizer,
    "dnabert_2": DNABERT2Tokenizer,
    "hyena_dna": HyenaDNATokenizer,
    "ntv3_dna": NTv3Tokenizer,
    "gena_lm": GenaLMTokenizer,
    "mistral_dna": MistralDNATokenizer,
    "nucleotide_transformer": NucleotideTransformerTokenizer,
    "trinity_dna": TrinityDNATokenizer,
}


__all__ = [
    "TOKENIZERS",
    "CaduceusTokenizer",
    "DNABERT2Tokenizer",
    "HyenaDNATokenizer",
    "NTv3Tokenizer",
    "GenaLMTokenizer",
    "TrinityDNATokenizer",
    "BERT_SPECIAL_TOKENS",
    "DNABPETokenizer",
    "MistralDNATokenizer",
    "train_dna_bpe",
    "DNATokenizer",
    "InvalidSequenceError",
    "NucleotideTransformerTokenizer",
    "kmer_vocabulary",
]
