"""DNA tokenizers backed by the Rust `tokenizers` library, with one input policy for every family.

The policy (shared by every dna_zoo tokenizer through `DNATokenizer`):
- lowercase (soft-masked) bases are upper-cased, never turned into an unknown token;
- IUPAC ambiguity codes (R Y S W K M B D H V) raise an error, or become N with `iupac="n"`;
- any other character raises `InvalidSequenceError` naming the sequence index, the position and the character;
- special tokens written in the text (e.g. "<mask>") are kept as they are.

This file travels to the Hub as remote code: it imports only transformers and tokenizers.
"""

import itertools
import os
import re

from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers.tokenization_utils_tokenizers import TokenizersBackend

IUPAC_AMBIGUITY_CODES = "RYSWKMBDHV"


class InvalidSequenceError(ValueError):
    """A sequence holds a character the tokenizer's alphabet cannot represent."""


class DNATokenizer(TokenizersBackend):
    """Base of the dna_zoo tokenizers: cleans and checks every sequence before the Rust tokenizer sees it.

    Subclasses set `alphabet` (upper-case letters a sequence may contain) and build `self._tokenizer`.
    """

    alphabet = "ACGTN"

    def _setup_input_policy(self, iupac: str) -> None:
        if iupac not in ("error", "n"):
            raise ValueError(f"iupac must be 'error' or 'n', got {iupac!r}")
        self.iupac = iupac
        table = {ord(c.lower()): c for c in self.alphabet}
        if iupac == "n":
            table.update({ord(c): "N" for c in IUPAC_AMBIGUITY_CODES + IUPAC_AMBIGUITY_CODES.lower()})
        self._translation = table
        self._invalid = re.compile(f"[^{re.escape(self.alphabet)}]")

    def _special_token_pattern(self) -> re.Pattern:
        specials = sorted({str(t) for t in self.added_tokens_encoder}, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, specials))) if specials else re.compile(r"(?!x)x")

    def clean_sequence(self, text: str, index: int = 0, special_tokens: re.Pattern | None = None) -> str:
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
        bad = self._invalid.search(cleaned)
        if bad is not None:
            char = piece[bad.start()]
            hint = " (an IUPAC ambiguity code: pass iupac='n' to read it as N)" if char.upper() in IUPAC_AMBIGUITY_CODES else ""
            raise InvalidSequenceError(
                f"sequence {index}: invalid character {char!r} at position {offset + bad.start()}{hint}; "
                f"allowed are {', '.join(self.alphabet)} in upper or lower case"
            )
        return cleaned

    def _clean_batch(self, texts):
        if texts is None:
            return None
        special = self._special_token_pattern()
        if isinstance(texts, str):
            return self.clean_sequence(texts, 0, special)
        return [
            self.clean_sequence(t, i, special) if isinstance(t, str) else [self.clean_sequence(w, i, special) for w in t]
            for i, t in enumerate(texts)
        ]

    def _encode_plus(self, text, text_pair=None, *args, **kwargs):
        return super()._encode_plus(self._clean_batch(text), self._clean_batch(text_pair), *args, **kwargs)


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


def _read_vocab_file(path: str) -> dict[str, int]:
    with open(path, encoding="utf-8") as handle:
        return {line.strip(): i for i, line in enumerate(handle.read().splitlines())}


class NucleotideTransformerTokenizer(DNATokenizer):
    """Nucleotide Transformer 6-mer tokenizer (Rust-backed WordLevel).

    Each sequence is cut into k-mers from the left; a run of N splits it, each N is a token of its own, and a
    leftover shorter than k becomes single-base tokens. `<cls>` is prepended, no `<eos>` is appended:
    `ATTCCGATTCCGATTCCGACGTACGTNACGT` -> `<cls> ATTCCG ATTCCG ATTCCG ACGTAC G T N A C G T`.

    Args:
        vocab: token -> id mapping or the path of a published `vocab.txt`; built from `layout` when omitted.
        layout: "v2" (default, 4107 tokens) or "v1" (ids of the 500m / 2.5b checkpoints).
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
        vocab_file = kwargs.pop("vocab_file", None)
        if isinstance(vocab, str):
            vocab = _read_vocab_file(vocab)
        elif vocab is None and vocab_file is not None and os.path.isfile(vocab_file):
            vocab = _read_vocab_file(vocab_file)
        elif vocab is None:
            vocab = {token: i for i, token in enumerate(kmer_vocabulary(layout, k))}
        self.layout = layout
        self.k = k
        self._setup_input_policy(iupac)

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

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        """Also write `vocab.txt` (one token per line, by id), the file the published checkpoints ship."""
        name = (filename_prefix + "-" if filename_prefix else "") + "vocab.txt"
        path = os.path.join(save_directory, name)
        vocab = self._tokenizer.get_vocab(with_added_tokens=False)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sorted(vocab, key=vocab.get)))
        return (path,)


__all__ = [
    "DNATokenizer",
    "InvalidSequenceError",
    "NucleotideTransformerTokenizer",
    "kmer_vocabulary",
]
