"""Zero-shot variant effect scores from a VCF and a reference FASTA (plain, gzip or bgzip; pysam), for every family."""

import csv
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pysam
from tqdm.auto import tqdm

from ..data.fasta import indexed_fasta, numbered_lines
from ..outputs import writing
from .embeddings import check_vocabulary, embed, reverse_complement
from .likelihood import causal_log_likelihoods, masked_span_log_likelihoods

VCF_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT")


@dataclass
class Variant:
    chrom: str
    pos: int  # 1-based, as in VCF
    id: str
    ref: str
    alt: str
    where: str | None = None  # "FILE line N" (VCF) or "FILE record N" (BCF), for messages


def read_variants(path: str | os.PathLike) -> Iterator[Variant]:
    """Variants of a VCF/BCF (plain or bgzipped); multi-allelic records are split into one variant per ALT. Each
    knows where it is (`where`: the VCF line, or the BCF record number), for the messages about it."""
    path = str(path)
    is_bcf = path.endswith(".bcf")
    header_lines = 0 if is_bcf else next(n for n, line in numbered_lines(path) if not line.startswith("#")) - 1
    with pysam.VariantFile(path) as records:
        count = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (OSError, ValueError) as error:  # htslib says "unable to parse next record"
                where = f"record {count + 1}" if is_bcf else f"line {header_lines + count + 1}"
                raise ValueError(f"{path} {where}: malformed VCF record ({error})") from None
            count += 1
            where = f"{path} record {count}" if is_bcf else f"{path} line {header_lines + count}"
            for alt in record.alts or ():
                yield Variant(record.chrom, record.pos, record.id or ".", record.ref, alt, where)


def _scores(model, tokenizer, ref_window: str, alt_window: str, offset: int, ref: str, alt: str) -> dict:
    name = type(model).__name__
    scores = {}
    if name.endswith("ForMaskedLM"):  # every token overlapping the allele masked, in each window
        spans = [(offset, offset + len(ref)), (offset, offset + len(alt))]
        (ref_sum, ref_mean), (alt_sum, alt_mean) = masked_span_log_likelihoods(
            model, tokenizer, [ref_window, alt_window], spans, batch_size=1
        )
        scores.update(llr=alt_sum - ref_sum, llr_per_token=alt_mean - ref_mean)
    elif name.endswith("ForCausalLM"):
        (ref_sum, ref_mean), (alt_sum, alt_mean) = causal_log_likelihoods(
            model, tokenizer, [ref_window, alt_window], batch_size=1
        )
        scores.update(delta_loglik=alt_sum - ref_sum, delta_loglik_per_token=alt_mean - ref_mean)
    vectors = embed(model, tokenizer, [ref_window, alt_window], progress=False)
    cosine = 1 - float(np.dot(vectors[0], vectors[1]) / (np.linalg.norm(vectors[0]) * np.linalg.norm(vectors[1])))
    scores.update(cosine_distance=cosine, l2_distance=float(np.linalg.norm(vectors[0] - vectors[1])))
    return scores


def score_columns(model) -> list[str]:
    """The score columns `score_variants` gives for `model` (a masked or causal LM, or any other model)."""
    name = type(model).__name__
    scores = {"ForMaskedLM": ["llr", "llr_per_token"], "ForCausalLM": ["delta_loglik", "delta_loglik_per_token"]}
    return next((columns for suffix, columns in scores.items() if name.endswith(suffix)), []) + [
        "cosine_distance",
        "l2_distance",
    ]


def unscorable(variant: Variant, reference, window: int) -> str | None:
    """Why a variant cannot be scored on this reference with this window (None when it can)."""
    alt = variant.alt
    if variant.chrom not in reference.references:
        return f"contig {variant.chrom!r} is not in the reference FASTA"
    length = reference.get_reference_length(variant.chrom)
    if not 1 <= variant.pos <= length or variant.pos + len(variant.ref) - 1 > length:
        return f"position {variant.pos} is past the end of {variant.chrom} ({length} bases)"
    if alt.startswith("<"):
        return f"symbolic ALT {alt} (no sequence to score)"
    if "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return f"breakend ALT {alt}"
    if alt == "*":
        return "ALT * (an allele deleted by an overlapping deletion)"
    if re.search("[^ACGTN]", alt.upper()):
        return f"ALT {alt} has letters other than A C G T N"
    if len(variant.ref) >= window or len(alt) >= window:
        longer = max(len(variant.ref), len(alt))
        return f"an allele of {longer} bases does not fit in the {window}-base window: pass a larger window"
    return None


def iter_scores(
    model,
    tokenizer,
    fasta: str | os.PathLike,
    variants: str | os.PathLike | Iterable[Variant],
    window: int = 512,
    strand: str = "forward",
    strict: bool = False,
    progress: bool = True,
) -> Iterator[dict]:
    """`score_variants`, one row at a time, as each variant is scored."""
    if strand not in ("forward", "both"):
        raise ValueError(f"strand must be 'forward' or 'both', got {strand!r}")
    check_vocabulary(model, tokenizer)
    tokens = len(tokenizer("A" * window)["input_ids"])
    if tokens > model.config.max_tokens:
        raise ValueError(
            f"a window of {window} bases is {tokens} tokens, longer than the model's context "
            f"({model.config.max_tokens}): pass a smaller window"
        )
    model = model.eval()
    if not isinstance(variants, Iterable) or isinstance(variants, (str, os.PathLike)):
        variants = read_variants(variants)
    with indexed_fasta(fasta) as reference:
        for variant in tqdm(variants, desc="scoring variants", disable=not progress, unit="variant"):
            row = dict(zip(VCF_COLUMNS, (variant.chrom, variant.pos, variant.id, variant.ref, variant.alt)))
            where = variant.where or f"{variant.chrom}:{variant.pos} {variant.id}"
            reason = unscorable(variant, reference, window)
            if reason is None:
                start0 = variant.pos - 1
                begin = max(0, start0 - window // 2)
                end = min(reference.get_reference_length(variant.chrom), begin + window)
                ref_window = reference.fetch(variant.chrom, begin, end).upper()
                offset = start0 - begin
                found = ref_window[offset : offset + len(variant.ref)]
                if found != variant.ref.upper():
                    reason = f"REF mismatch: the FASTA has {found!r} at {variant.chrom}:{variant.pos}"
            if reason is not None:
                if strict:
                    raise ValueError(f"{where}: {reason}")
                yield {**row, "status": f"skipped: {reason} ({where})"}
                continue
            alt_window = ref_window[:offset] + variant.alt.upper() + ref_window[offset + len(variant.ref) :]
            scores = _scores(model, tokenizer, ref_window, alt_window, offset, variant.ref, variant.alt)
            if strand == "both":
                rc_ref, rc_alt = reverse_complement(ref_window), reverse_complement(alt_window)
                rc_offset = len(ref_window) - offset - len(variant.ref)
                reverse = _scores(
                    model,
                    tokenizer,
                    rc_ref,
                    rc_alt,
                    rc_offset,
                    reverse_complement(variant.ref),
                    reverse_complement(variant.alt),
                )
                scores = {key: (value + reverse[key]) / 2 for key, value in scores.items()}
            yield {**row, "status": "ok", **scores}


def score_variants(
    model,
    tokenizer,
    fasta: str | os.PathLike,
    variants: str | os.PathLike | Iterable[Variant],
    window: int = 512,
    strand: str = "forward",
    strict: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Score each variant on a window of `window` bases of the reference centred on it.

    Scores: masked LMs `llr` (log-likelihood ratio alt vs ref, every token overlapping the variant masked; k-mer
    and BPE aware) and `llr_per_token` (length-normalised, for indels); causal LMs `delta_loglik` (total
    log-likelihood of the alt window minus the ref window) and `delta_loglik_per_token`; every model
    `cosine_distance` and `l2_distance` between the mean-pooled embeddings of the two windows (as in the NT paper).
    `strand="both"` averages each score with that of the reverse-complement windows.

    A variant that cannot be scored (a REF that does not match the FASTA, a contig the FASTA lacks, a position past
    its end, a symbolic, breakend or `*` ALT, an ALT with IUPAC letters, an allele longer than the window) gets
    `status` "skipped: why (FILE line N)" and no scores, and the run goes on; with `strict=True` it is an error
    naming the VCF line.
    """
    return list(iter_scores(model, tokenizer, fasta, variants, window, strand, strict, progress))


def write_scores(
    rows: Iterable[dict], path: str | os.PathLike, overwrite: bool = False, columns: list[str] | None = None
) -> int:
    """TSV with the VCF columns, `status` and the score columns (`columns`, else every one the rows have); never
    over a file unasked. Rows are written as they come (to PATH.partial, renamed to PATH at the end), so a run that
    stops leaves the variants scored so far (a full disk removes PATH.partial: its last row may be cut). Returns the
    number of rows."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    if columns is None:
        rows = list(rows)
        columns = sorted({key for row in rows for key in row} - set(VCF_COLUMNS) - {"status"})
    count = 0
    with (
        writing(str(path), keep_on_error=True) as temporary,
        open(temporary, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.DictWriter(
            handle, [*VCF_COLUMNS, "status", *columns], delimiter="\t", restval="", lineterminator="\n"
        )
        writer.writeheader()
        for count, row in enumerate(rows, start=1):
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()}
            )
            handle.flush()
    return count
