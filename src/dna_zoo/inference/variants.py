"""Zero-shot variant effect scores from a VCF and a reference FASTA (plain, gzip or bgzip; pysam), for every family."""

import csv
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pysam
import torch
from tqdm.auto import tqdm

from ..data.fasta import indexed_fasta, numbered_lines
from .embeddings import check_vocabulary, embed, reverse_complement

VCF_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT")


@dataclass
class Variant:
    chrom: str
    pos: int  # 1-based, as in VCF
    id: str
    ref: str
    alt: str


def read_variants(path: str | os.PathLike) -> Iterator[Variant]:
    """Variants of a VCF/BCF (plain or bgzipped); multi-allelic records are split into one variant per ALT."""
    with pysam.VariantFile(str(path)) as records:
        count = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (OSError, ValueError) as error:  # htslib says "unable to parse next record"
                if str(path).endswith(".bcf"):
                    where = f"record {count + 1}"
                else:
                    header_lines = sum(1 for _, line in numbered_lines(str(path)) if line.startswith("#"))
                    where = f"line {header_lines + count + 1}"
                raise ValueError(f"{path} {where}: malformed VCF record ({error})") from None
            count += 1
            for alt in record.alts or ():
                yield Variant(record.chrom, record.pos, record.id or ".", record.ref, alt)


def _masked_llr(model, tokenizer, window: str, start: int, end: int, allele_window: str):
    """Sum and mean log p of the tokens overlapping [start, end) in `allele_window`, those tokens masked."""
    encoded = tokenizer(allele_window, return_offsets_mapping=True, return_tensors="pt")
    offsets = encoded.pop("offset_mapping")[0]
    overlapping = (offsets[:, 0] < end) & (offsets[:, 1] > start) & (offsets[:, 1] > offsets[:, 0])
    targets = encoded["input_ids"][0][overlapping]
    masked = encoded["input_ids"].clone()
    masked[0, overlapping] = tokenizer.mask_token_id
    inputs = {key: value for key, value in encoded.items() if key in ("attention_mask", "token_type_ids")}
    with torch.no_grad():
        log_probs = model(input_ids=masked, **inputs).logits[0, overlapping].float().log_softmax(-1)
    token_log_probs = log_probs.gather(-1, targets[:, None]).squeeze(-1)
    return token_log_probs.sum().item(), token_log_probs.mean().item()


def _causal_loglik(model, tokenizer, window: str):
    """Total and per-token log-likelihood of a window under a causal LM."""
    encoded = tokenizer(window, return_tensors="pt")
    inputs = {key: value for key, value in encoded.items() if key in ("input_ids", "attention_mask")}
    with torch.no_grad():
        logits = model(**inputs, use_cache=False).logits[0, :-1].float()
    token_log_probs = logits.log_softmax(-1).gather(-1, encoded["input_ids"][0, 1:, None]).squeeze(-1)
    return token_log_probs.sum().item(), token_log_probs.mean().item()


def _scores(model, tokenizer, ref_window: str, alt_window: str, offset: int, ref: str, alt: str) -> dict:
    name = type(model).__name__
    scores = {}
    if name.endswith("ForMaskedLM"):
        ref_sum, ref_mean = _masked_llr(model, tokenizer, ref_window, offset, offset + len(ref), ref_window)
        alt_sum, alt_mean = _masked_llr(model, tokenizer, alt_window, offset, offset + len(alt), alt_window)
        scores.update(llr=alt_sum - ref_sum, llr_per_token=alt_mean - ref_mean)
    elif name.endswith("ForCausalLM"):
        ref_sum, ref_mean = _causal_loglik(model, tokenizer, ref_window)
        alt_sum, alt_mean = _causal_loglik(model, tokenizer, alt_window)
        scores.update(delta_loglik=alt_sum - ref_sum, delta_loglik_per_token=alt_mean - ref_mean)
    vectors = embed(model, tokenizer, [ref_window, alt_window], progress=False)
    cosine = 1 - float(np.dot(vectors[0], vectors[1]) / (np.linalg.norm(vectors[0]) * np.linalg.norm(vectors[1])))
    scores.update(cosine_distance=cosine, l2_distance=float(np.linalg.norm(vectors[0] - vectors[1])))
    return scores


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
    `strand="both"` averages each score with that of the reverse-complement windows. A REF that does not match the
    FASTA is reported in `status` (scores left empty), or raises with `strict=True`.
    """
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
    rows = []
    with indexed_fasta(fasta) as reference:
        for variant in tqdm(list(variants), desc="scoring variants", disable=not progress, unit="variant"):
            row = dict(zip(VCF_COLUMNS, (variant.chrom, variant.pos, variant.id, variant.ref, variant.alt)))
            start0 = variant.pos - 1
            begin = max(0, start0 - window // 2)
            end = min(reference.get_reference_length(variant.chrom), begin + window)
            ref_window = reference.fetch(variant.chrom, begin, end).upper()
            offset = start0 - begin
            found = ref_window[offset : offset + len(variant.ref)]
            if found != variant.ref.upper():
                message = f"REF mismatch: the FASTA has {found!r} at {variant.chrom}:{variant.pos}"
                if strict:
                    raise ValueError(f"{variant.chrom}:{variant.pos} {variant.id}: {message}")
                rows.append({**row, "status": message})
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
            rows.append({**row, "status": "ok", **scores})
    return rows


def write_scores(rows: list[dict], path: str | os.PathLike, overwrite: bool = False) -> None:
    """TSV with the VCF columns, `status` and every score column; written atomically, never over a file unasked."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    columns = list(VCF_COLUMNS) + ["status"]
    columns += sorted({key for row in rows for key in row} - set(columns))
    temporary = f"{path}.partial"
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, delimiter="\t", restval="", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()}
            )
    os.replace(temporary, path)
