"""In-silico saturation mutagenesis (ISM): every base of a sequence changed to each of the three others (and,
asked, deleted), each mutant scored by the model.

Scores, by what the model is:
- masked LM: the log-likelihood ratio of `score_variants` (log p of the tokens overlapping the change, masked, in
  the mutant minus in the reference). Fast path ("marginal"): one masked forward per token of the reference gives
  the distribution at that token, and every substitution whose mutant keeps the reference's tokenization except
  for that token reads its score from it, so a 1 kb window costs about one forward per token instead of 3,000.
  This is exact, not an approximation: a mutant whose tokenization changes elsewhere (BPE can re-segment) is
  scored by its own forward.
- causal LM: the change in the sequence's total log-likelihood.
- fine-tuned sequence model: the change in the `target` output (a class probability, a multi-label probability,
  a regression value); token (per-base) model: the change in the mean `target` probability over the bases.
"""

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..inference.embeddings import check_vocabulary, reverse_complement
from ..inference.likelihood import causal_log_likelihoods, masked_span_log_likelihoods, selected_logits
from ..inference.predict import predict

BASES = "ACGT"
COMPLEMENT = dict(zip("ACGT", "TGCA"))


@dataclass
class Mutagenesis:
    """ISM result of one sequence. `scores[i, j]`: the score of changing base i to BASES[j] (0 for the reference
    base itself; all four scored where the reference is N); `deletions[i]`: of deleting base i (when asked)."""

    sequence: str
    scores: np.ndarray  # (L, 4): A, C, G, T
    score_name: str  # what a score is: "llr", "delta_loglik", "delta_probability[label]", ...
    deletions: np.ndarray | None = None  # (L,)
    name: str = "sequence"
    offset: int = 0  # 0-based position of base 0 in its record (a region of a chromosome), for tables and plots

    def importance(self) -> np.ndarray:
        """(L,) how much the score drops when the base is mutated, averaged over its alternatives (positive where
        mutations hurt: conserved or motif bases)."""
        changed = np.array([[base != ref for base in BASES] for ref in self.sequence])  # (L, 4)
        return -(self.scores * changed).sum(1) / changed.sum(1)

    def table(self) -> list[dict]:
        """One row per mutant: name, position (0-based, in the record), ref, alt ("-" a deletion), score."""
        rows = []
        for index, ref in enumerate(self.sequence):
            position = self.offset + index
            for column, alt in enumerate(BASES):
                if alt != ref:
                    rows.append(
                        dict(name=self.name, position=position, ref=ref, alt=alt, score=self.scores[index, column])
                    )
            if self.deletions is not None:
                rows.append(dict(name=self.name, position=position, ref=ref, alt="-", score=self.deletions[index]))
        return rows


def _head(model) -> str:
    name = type(model).__name__
    for suffix, head in (
        ("ForMaskedLM", "masked"),
        ("ForCausalLM", "causal"),
        ("ForSequenceClassification", "sequence"),
        ("ForTokenClassification", "token"),
    ):
        if name.endswith(suffix):
            return head
    raise ValueError(
        f"in-silico mutagenesis needs a masked or causal LM or a fine-tuned head to score mutants; {name} has none "
        "(load the model with task='lm', or a fine-tuned folder)"
    )


def _mutants(sequence: str, deletions: bool) -> list[tuple[int, str, str]]:
    """(position, alt, mutant) for every substitution (then every deletion, alt "-")."""
    mutants = [
        (index, alt, sequence[:index] + alt + sequence[index + 1 :])
        for index, ref in enumerate(sequence)
        for alt in BASES
        if alt != ref
    ]
    if deletions:
        mutants += [(index, "-", sequence[:index] + sequence[index + 1 :]) for index in range(len(sequence))]
    return mutants


class _Scorer:
    """Scores of mutants of one sequence under one model, in the module docstring's terms."""

    def __init__(self, model, tokenizer, sequence: str, target, batch_size: int, bar):
        self.model, self.tokenizer, self.sequence, self.batch_size, self.bar = (
            model,
            tokenizer,
            sequence,
            batch_size,
            bar,
        )
        self.head = _head(model)
        self.target, self.score_name = None, {"masked": "llr", "causal": "delta_loglik"}.get(self.head)
        if self.head in ("sequence", "token"):
            self.target, self.score_name = _target(model, target, self._outputs([sequence])[0])
        self.reference = None if self.head == "masked" else self._values([sequence])[0]

    def _outputs(self, sequences):
        return predict(self.model, self.tokenizer, sequences, batch_size=self.batch_size, progress=False)

    def _values(self, sequences: list[str], spans=None) -> np.ndarray:
        """One number per sequence: the masked log p over its span, the log-likelihood, or the target output."""
        self.bar.update(len(sequences))
        if self.head == "masked":
            return masked_span_log_likelihoods(self.model, self.tokenizer, sequences, spans, self.batch_size)[:, 0]
        if self.head == "causal":
            return causal_log_likelihoods(self.model, self.tokenizer, sequences, self.batch_size)[:, 0]
        outputs = self._outputs(sequences)
        if self.head == "token":
            return np.array([output[:, self.target].mean() for output in outputs])
        return np.asarray(outputs)[:, self.target]

    def exact(self, mutants) -> np.ndarray:
        """Each mutant scored by its own forward (batched)."""
        sequences = [mutant for _, _, mutant in mutants]
        if self.head != "masked":
            return self._values(sequences) - self.reference
        # as in score_variants: a substitution at i spans [i, i+1) in both; deleting base i is the VCF record
        # REF = bases i-1..i, ALT = base i-1 (at the start: REF = bases 0..1, ALT = base 1)
        alt_spans = [(i, i + 1) if alt != "-" else (max(i - 1, 0), max(i - 1, 0) + 1) for i, alt, _ in mutants]
        ref_spans = [(i, i + 1) if alt != "-" else (max(i - 1, 0), max(i - 1, 0) + 2) for i, alt, _ in mutants]
        unique = sorted(set(ref_spans))
        reference = dict(zip(unique, self._values([self.sequence] * len(unique), unique)))
        return self._values(sequences, alt_spans) - np.array([reference[span] for span in ref_spans])

    @torch.no_grad()
    def marginal(self, mutants) -> np.ndarray:
        """Masked LM, substitutions: one masked forward per reference token; mutants that re-tokenize differently
        fall back to `exact`."""
        tokenizer, model = self.tokenizer, self.model
        encoded = tokenizer([self.sequence], return_offsets_mapping=True, return_tensors="pt", verbose=False)
        offsets = encoded.pop("offset_mapping")[0]  # (T, 2)
        ids = encoded["input_ids"][0]
        owner = np.full(len(self.sequence), -1)  # the token covering each base
        for token, (start, end) in enumerate(offsets.tolist()):
            owner[start:end] = token if end > start else owner[start:end]
        scores = np.full(len(mutants), np.nan)
        kept = []  # (mutant index, token, mutant token id)
        reference_ids = ids.numpy()
        for first in range(0, len(mutants), 256):  # mutants tokenized a chunk at a time
            chunk = mutants[first : first + 256]
            mutant_ids = tokenizer([m for _, _, m in chunk], verbose=False)["input_ids"]
            for index, ((position, _, _), row) in enumerate(zip(chunk, mutant_ids), start=first):
                token = owner[position]
                if len(row) == len(ids):
                    differing = np.flatnonzero(np.asarray(row) != reference_ids)
                    if set(differing.tolist()) <= {token}:
                        kept.append((index, token, row[token]))
        tokens = sorted({token for _, token, _ in kept})
        log_probs = {}
        device = next(model.parameters()).device
        inputs = {key: value.to(device) for key, value in encoded.items() if key != "input_ids"}
        for first in range(0, len(tokens), self.batch_size):
            group = tokens[first : first + self.batch_size]
            rows, columns = torch.arange(len(group)), torch.tensor(group)
            masked = ids.repeat(len(group), 1)
            masked[rows, columns] = tokenizer.mask_token_id
            expanded = {key: value.expand(len(group), -1) for key, value in inputs.items()}
            # (B, V): row b's masked token, the vocabulary projected there only
            selection = (rows.to(device), columns.to(device))
            logits = selected_logits(model, {"input_ids": masked.to(device), **expanded}, selection)
            for token, row in zip(group, logits.float().log_softmax(-1).cpu()):
                log_probs[token] = row
            self.bar.update(len(group))
        for index, token, mutant_id in kept:
            scores[index] = float(log_probs[token][mutant_id] - log_probs[token][ids[token]])
        rest = np.flatnonzero(np.isnan(scores))
        if len(rest):
            scores[rest] = self.exact([mutants[i] for i in rest])
        return scores


def _target(model, target, reference_output) -> tuple[int, str]:
    """The output a fine-tuned model's mutants are scored on: a label name or index; by default the reference's
    predicted class (the value itself for a single regression output)."""
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    regression = model.config.problem_type == "regression"
    if target is None:
        output = reference_output.mean(0) if reference_output.ndim == 2 else reference_output
        target = 0 if regression or len(labels) == 1 else int(np.argmax(output))
    elif isinstance(target, str):
        if target not in labels:
            raise ValueError(f"target {target!r} is not a label of the model; its labels are {', '.join(labels)}")
        target = labels.index(target)
    elif not 0 <= target < len(labels):
        raise ValueError(f"target {target}: the model has {len(labels)} outputs (0 .. {len(labels) - 1})")
    kind = "value" if regression else "probability"
    return target, f"delta_{kind}[{labels[target]}]"


def _one_strand(model, tokenizer, sequence, target, deletions, method, batch_size, bar):
    scorer = _Scorer(model, tokenizer, sequence, target, batch_size, bar)
    mutants = _mutants(sequence, deletions)
    substitutions = [m for m in mutants if m[1] != "-"]
    fast = method == "marginal" or (method == "auto" and scorer.head == "masked")
    if fast and scorer.head != "masked":
        raise ValueError(f"method='marginal' needs a masked LM; {type(model).__name__} is scored with method='exact'")
    values = np.concatenate(
        [
            scorer.marginal(substitutions) if fast else scorer.exact(substitutions),
            scorer.exact(mutants[len(substitutions) :]) if deletions else [],
        ]
    )
    scores = np.zeros((len(sequence), 4))
    for (position, alt, _), value in zip(substitutions, values):
        scores[position, BASES.index(alt)] = value
    deleted = values[len(substitutions) :] if deletions else None
    return scores, deleted, scorer.score_name, scorer.target


def saturation_mutagenesis(
    model,
    tokenizer,
    sequence: str,
    target: int | str | None = None,
    strand: str = "forward",
    deletions: bool = False,
    method: str = "auto",
    batch_size: int = 32,
    progress: bool = True,
    name: str = "sequence",
    offset: int = 0,
) -> Mutagenesis:
    """ISM of `sequence` (it must fit the model's context; cut a region of a longer record).

    target: for a fine-tuned model, the output scored (label name or index; default the reference's predicted
        class). strand: "both" averages each mutant's score with that of its reverse complement mutant.
    deletions: also score deleting each base. method: "auto" (masked LMs: "marginal", the fast path of the module
        docstring; others: "exact"), "marginal" or "exact" (one forward per mutant, batched).
    name, offset: where the sequence comes from (record name, 0-based start), for `table()` and plots.
    """
    if strand not in ("forward", "both"):
        raise ValueError(f"strand must be 'forward' or 'both', got {strand!r}")
    if method not in ("auto", "marginal", "exact"):
        raise ValueError(f"method must be 'auto', 'marginal' or 'exact', got {method!r}")
    check_vocabulary(model, tokenizer)
    tokens = len(tokenizer(sequence, verbose=False)["input_ids"])  # a bad character is an error naming its position
    if tokens > model.config.max_tokens:
        raise ValueError(
            f"{name}: {len(sequence)} bases are {tokens} tokens, longer than the model's context "
            f"({model.config.max_tokens}): mutate a shorter region"
        )
    sequence = sequence.upper()
    model = model.eval()
    strands = [sequence] if strand == "forward" else [sequence, reverse_complement(sequence)]
    forwards = len(strands) * (4 * len(sequence) + (3 * len(sequence) if deletions else 0))  # at most
    with tqdm(total=forwards, desc="mutagenesis", unit="forward", disable=not progress) as bar:
        results = []
        for text in strands:  # the reverse strand is scored on the forward strand's target
            results.append(_one_strand(model, tokenizer, text, target, deletions, method, batch_size, bar))
            target = results[0][3]
        bar.total = bar.n  # the fast path needs far fewer forwards than the bound
        bar.refresh()
    scores, deleted, score_name, _ = results[0]
    if strand == "both":  # base i of the forward strand is base L-1-i of the reverse, complemented
        reverse_scores, reverse_deleted, _, _ = results[1]
        complement = [BASES.index(COMPLEMENT[base]) for base in BASES]
        scores = (scores + reverse_scores[::-1][:, complement]) / 2
        deleted = (deleted + reverse_deleted[::-1]) / 2 if deletions else None
    return Mutagenesis(sequence, scores, score_name, deleted, name, offset)
